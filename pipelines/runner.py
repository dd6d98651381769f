"""Runs a whole job through the six stages, reporting progress and honouring cancellation."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pipelines.options import JobOptions

logger = logging.getLogger(__name__)

STAGES = ("ingest", "decode", "analyze", "style_dna", "apply", "encode")
Mode = Literal["extract", "extract_apply"]
ProgressCallback = Callable[[str, float], None]  # (stage name, overall percent 0-100)
CancelCheck = Callable[[], bool]


@dataclass
class JobRequest:
    mode: Mode
    output_dir: Path
    template: Path | None = None
    footage: list[Path] = field(default_factory=list)
    style_dna: Path | None = None  # a stored Style DNA used in place of the template
    options: JobOptions = field(default_factory=JobOptions)


@dataclass
class JobResult:
    style_dna_path: Path
    style_dna: dict
    output_path: Path | None = None


def run_job(
    request: JobRequest,
    *,
    on_progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> JobResult:
    """Run ``request``; raise a ``ClipzyError`` (``JobCancelled`` on cancellation)."""
    raise NotImplementedError  # filled in below as the stages land
