"""Clipzy Engine pipelines: the six stages that turn a template into a Style DNA and footage
into a styled MP4 (ingest, decode, analyze, style_dna, apply, encode)."""

import logging

# Libraries under pipelines/ never print and stay silent until the application opts in.
logging.getLogger(__name__).addHandler(logging.NullHandler())

__version__ = "0.1.0"
