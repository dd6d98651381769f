"""Analyzers: each consumes frames or audio, emits Style DNA sections, and says how sure it is."""
