"""Runs a whole job through the six stages, reporting progress and honouring cancellation.

Decoding streams into analysis: the template is read once, in bounded chunks at the analysis
width, and every frame analyzer sees each chunk before the next is decoded; the audio is
decoded once and shared by the audio analyzers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pipelines import style_dna
from pipelines.analyzers.base import AnalyzerResult, AudioAnalyzer, FrameAnalyzer
from pipelines.analyzers.color import ColorAnalyzer
from pipelines.analyzers.motion import MotionAnalyzer
from pipelines.analyzers.picture import PictureAnalyzer
from pipelines.apply import apply_style
from pipelines.decode import STALL_TIMEOUT_S, VideoSource, analysis_size, decode_audio
from pipelines.errors import InputError, JobCancelled
from pipelines.inference import InferenceBackend, get_backend, resolve_device
from pipelines.ingest import MediaInfo, probe
from pipelines.options import JobOptions
from pipelines.settings import Settings, get_settings

logger = logging.getLogger(__name__)

STAGES = ("ingest", "decode", "analyze", "style_dna", "apply", "encode")
Mode = Literal["extract", "extract_apply"]
ProgressCallback = Callable[[str, float], None]  # (stage name, overall percent 0-100)
CancelCheck = Callable[[], bool]

# Where each stage starts and ends on the 0-100 scale, per mode.
_SPANS = {
    "extract": {"ingest": (0, 3), "decode": (3, 8), "analyze": (8, 95), "style_dna": (95, 99)},
    "extract_apply": {
        "ingest": (0, 2), "decode": (2, 4), "analyze": (4, 45), "style_dna": (45, 47),
        "apply": (47, 95), "encode": (95, 99),
    },
}  # fmt: skip
_APPLY_ONLY = {"ingest": (0, 3), "style_dna": (3, 5), "apply": (5, 95), "encode": (95, 99)}


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
    timings_s: dict[str, float] = field(default_factory=dict)
    frames_analyzed: int = 0
    frames_rendered: int = 0


class _Progress:
    """Maps stage-local fractions onto the job's 0-100 scale, never letting it fall."""

    def __init__(self, spans: dict[str, tuple[int, int]], callback: ProgressCallback | None):
        self.spans, self.callback = spans, callback
        self.percent = 0.0
        self.timings: dict[str, float] = {}
        self._stage: str | None = None
        self._since = time.perf_counter()

    def __call__(self, stage: str, fraction: float = 0.0) -> None:
        if stage != self._stage:
            now = time.perf_counter()
            if self._stage is not None:
                self.timings[self._stage] = self.timings.get(self._stage, 0.0) + now - self._since
            self._stage, self._since = stage, now
        low, high = self.spans.get(stage, (self.percent, self.percent))
        self.percent = max(self.percent, low + (high - low) * min(max(fraction, 0.0), 1.0))
        if self.callback:
            self.callback(stage, round(self.percent, 2))

    def close(self) -> None:
        if self._stage is not None:
            self.timings[self._stage] = (
                self.timings.get(self._stage, 0.0) + time.perf_counter() - self._since
            )
            self._stage = None


def _check(should_cancel: CancelCheck | None, where: str) -> None:
    if should_cancel and should_cancel():
        raise JobCancelled(f"the job was cancelled during {where}")


def extract(
    template: MediaInfo, backend: InferenceBackend, *, analysis_width: int,
    progress: Callable[[str, float], None], should_cancel: CancelCheck | None = None,
    stall_timeout_s: float = STALL_TIMEOUT_S,
) -> tuple[dict[str, Any], int]:  # fmt: skip
    """Stages 2-4 on a probed template: the validated Style DNA and the frames analysed."""
    from pipelines.analyzers.cuts import CutAnalyzer
    from pipelines.analyzers.loudness import LoudnessAnalyzer
    from pipelines.analyzers.rhythm import BeatAnalyzer

    progress("decode", 0.0)
    # Point samples beside the scaled frames: the colour statistics are the full picture's.
    source = VideoSource(
        template, analysis_size(template, analysis_width), stall_timeout_s=stall_timeout_s,
        points=True,
    )  # fmt: skip
    audio = decode_audio(template)
    progress("decode", 1.0)

    frame_analyzers: list[FrameAnalyzer] = [
        ColorAnalyzer(backend),
        CutAnalyzer(backend, template.fps),
        MotionAnalyzer(backend, template.fps),
        PictureAnalyzer(),
    ]
    audio_analyzers: list[AudioAnalyzer] = [LoudnessAnalyzer(), BeatAnalyzer(backend)]
    frames = 0
    total = max(1, len(source))
    # Frames take most of the analysis time; the audio and the analyzers' final passes the rest.
    progress("analyze", 0.0)
    # closing(): the decoder stops as soon as the loop ends, raises or is cancelled.
    with contextlib.closing(source.chunks()) as chunks:
        for chunk in chunks:
            _check(should_cancel, "analysis")
            for analyzer in frame_analyzers:
                analyzer.update(chunk)
            frames += len(chunk.frames)
            progress("analyze", 0.7 * frames / total)
    results: dict[str, AnalyzerResult] = {}
    for i, analyzer in enumerate(frame_analyzers):
        results[analyzer.name] = analyzer.finish()
        progress("analyze", 0.7 + 0.2 * (i + 1) / len(frame_analyzers))
        _check(should_cancel, "analysis")
    for analyzer in audio_analyzers:
        results[analyzer.name] = analyzer.analyze(audio)
    progress("analyze", 1.0)

    progress("style_dna", 0.0)
    document = style_dna.build(template, results, frame_count=frames)
    progress("style_dna", 1.0)
    return document, frames


def run_job(
    request: JobRequest,
    *,
    on_progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
    backend: InferenceBackend | None = None,
    settings: Settings | None = None,
) -> JobResult:
    """Run ``request`` under ``settings`` (the environment's by default); raise a
    ``ClipzyError`` (``JobCancelled`` on cancellation)."""
    settings = settings or get_settings()
    backend = backend or get_backend(settings)
    uses_template = request.style_dna is None
    if request.mode == "extract_apply" and not request.footage:
        raise InputError("an extract_apply job needs at least one footage clip")
    if uses_template and request.template is None:
        raise InputError("a job needs a template video or a stored Style DNA")
    spans = _SPANS[request.mode] if uses_template else _APPLY_ONLY
    progress = _Progress(spans, on_progress)
    output_dir = Path(request.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)

    progress("ingest", 0.0)
    template = (
        probe(request.template, max_duration_s=settings.max_duration_s)
        if request.template is not None
        else None
    )
    footage = [probe(p, max_duration_s=settings.max_duration_s) for p in request.footage]
    progress("ingest", 1.0)
    _check(should_cancel, "ingest")

    frames = 0
    if uses_template:
        assert template is not None
        document, frames = extract(
            template, backend, analysis_width=settings.analysis_width, progress=progress,
            should_cancel=should_cancel, stall_timeout_s=settings.decode_stall_s,
        )  # fmt: skip
    else:
        progress("style_dna", 0.0)
        document = style_dna.load(request.style_dna)
        progress("style_dna", 1.0)
    dna_path = style_dna.write(document, output_dir / "style_dna.json")
    _check(should_cancel, "style_dna")

    output_path = None
    rendered = 0
    if request.mode == "extract_apply":
        output_path, plan = apply_style(
            document, footage, output_dir / "output.mp4", backend, request.options,
            template=template, device=resolve_device(settings.device), on_progress=progress,
            should_cancel=should_cancel, stall_timeout_s=settings.decode_stall_s,
        )  # fmt: skip
        rendered = round(plan.duration_s * plan.fps)
        (output_dir / "edit_plan.json").write_text(json.dumps(plan.to_dict(), indent=2))
    progress.close()
    logger.info(
        "job done: %s frames analysed, %s rendered, stages %s",
        frames, rendered, {k: round(v, 2) for k, v in progress.timings.items()},
    )  # fmt: skip
    return JobResult(dna_path, document, output_path, progress.timings, frames, rendered)
