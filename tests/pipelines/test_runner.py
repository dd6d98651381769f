"""Whole jobs through the six stages, on media whose answer the test knows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from support.media import ffmpeg

from pipelines import style_dna
from pipelines.colorspace import rgb_to_lab
from pipelines.decode import VideoSource, analysis_size
from pipelines.errors import InvalidStyleDnaError, JobCancelled
from pipelines.ingest import probe
from pipelines.options import JobOptions
from pipelines.runner import STAGES, JobRequest, run_job

SHIFT = "lutrgb=r='clip(val+28,0,255)':g='clip(val+6,0,255)':b='clip(val-24,0,255)'"


def _clip(path: Path, vf: str | None = None) -> Path:
    args = [
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x240:r=25:d=4",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=4",
    ]
    if vf:
        args += ["-vf", vf]
    ffmpeg(*args, "-c:v", "libx264", "-pix_fmt", "yuv444p", "-qp", "0", "-c:a", "aac", str(path))
    return path


def _mean_lab(path: Path) -> np.ndarray:
    info = probe(path)
    source = VideoSource(info, analysis_size(info, 320))
    sums = [rgb_to_lab(torch.from_numpy(c.frames)).reshape(-1, 3).mean(0) for c in source.chunks()]
    return torch.stack(sums).mean(0).double().numpy()


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("shift")
    return _clip(folder / "neutral.mp4"), _clip(folder / "shifted.mp4", SHIFT)


def test_color_shift_shows_in_the_dna_and_is_transferred(tmp_path, pair):
    neutral, shifted = pair
    seen = []
    a = run_job(JobRequest("extract", tmp_path / "a", template=neutral))
    b = run_job(
        JobRequest("extract_apply", tmp_path / "b", template=shifted, footage=[neutral]),
        on_progress=lambda stage, percent: seen.append((stage, percent)),
    )
    measured = _mean_lab(shifted) - _mean_lab(neutral)
    recorded = np.subtract(b.style_dna["color"]["lab_mean"], a.style_dna["color"]["lab_mean"])
    assert np.linalg.norm(measured) > 5  # the shift is large enough to mean something
    assert np.abs(recorded - measured).max() < 0.5, (recorded, measured)

    # Applying the shifted template's DNA to the neutral clip moves its colour over.
    out = _mean_lab(b.output_path)
    start, goal = _mean_lab(neutral), _mean_lab(shifted)
    assert np.linalg.norm(out - goal) <= 0.5 * np.linalg.norm(start - goal), (out, goal)

    stages = [s for s, _ in seen]
    assert [s for s in STAGES if s in stages] == list(dict.fromkeys(stages))
    percents = [p for _, p in seen]
    assert percents == sorted(percents) and percents[0] >= 0 and percents[-1] < 100


def test_stored_style_dna_replaces_the_template(tmp_path, pair):
    neutral, shifted = pair
    dna = run_job(JobRequest("extract", tmp_path / "x", template=shifted)).style_dna_path
    result = run_job(
        JobRequest(
            "extract_apply",
            tmp_path / "y",
            footage=[neutral],
            style_dna=dna,
            options=JobOptions(audio="footage"),
        )
    )
    assert result.output_path is not None and result.output_path.stat().st_size > 0
    assert result.style_dna["color"] == json.loads(dna.read_text())["color"]


def test_style_dna_from_a_newer_schema_or_broken_is_refused(tmp_path, pair):
    neutral, _ = pair
    good = run_job(JobRequest("extract", tmp_path / "g", template=neutral)).style_dna
    newer = dict(good, schema_version="2.0")
    (tmp_path / "newer.json").write_text(json.dumps(newer))
    with pytest.raises(InvalidStyleDnaError) as info:
        style_dna.load(tmp_path / "newer.json")
    assert info.value.code == "style_dna_version_unsupported"
    broken = dict(good)
    del broken["rhythm"]
    with pytest.raises(InvalidStyleDnaError, match="rhythm"):
        style_dna.validate(broken)


def test_cancellation_stops_the_job(tmp_path, pair):
    neutral, _ = pair
    with pytest.raises(JobCancelled):
        run_job(JobRequest("extract", tmp_path / "c", template=neutral), should_cancel=lambda: True)
