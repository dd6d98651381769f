"""Apply: the edit plan follows the template's rhythm; the render is a real, even-sized MP4."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from support.media import ffmpeg

from pipelines.apply import apply_style, plan_edit, template_boundaries
from pipelines.decode import VideoSource
from pipelines.inference import InProcessBackend
from pipelines.ingest import probe
from pipelines.options import JobOptions

REPO = Path(__file__).resolve().parents[2]


def _dna(duration: float = 8.0) -> dict:
    return {
        "template": {"duration_s": duration},
        "cuts": {"times_s": [2.4, 5.0], "frames": [60, 125], "cuts_per_minute": 15.0},
        "transitions": {
            "counts": {"cut": 2, "dissolve": 1, "fade_in": 1, "fade_out": 1},
            "events": [
                {"type": "fade_in", "start_s": 0.0, "end_s": 0.5},
                {"type": "cut", "start_s": 2.4, "end_s": 2.4},
                {"type": "dissolve", "start_s": 3.6, "end_s": 4.4},
                {"type": "cut", "start_s": 5.0, "end_s": 5.0},
                {"type": "fade_out", "start_s": 7.2, "end_s": 8.0},
            ],
        },
        "rhythm": {
            "tempo_bpm": 120.0,
            "detected_beats": [0.5 * k for k in range(1, 16)],
            "beat_confidence": 0.9,
        },
        "color": {},
        "audio": {"present": False},
    }


@pytest.fixture(scope="module")
def footage(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("apply") / "odd.mp4"
    # Odd size on purpose: H.264 4:2:0 needs even sizes, so the output must be padded.
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=162x122:r=25:d=10,format=yuv444p,crop=161:121:0:0",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=330:duration=10",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv444p",
        "-c:a",
        "aac",
        str(path),
    )
    return path


def test_template_boundaries_keep_types_and_edges():
    boundaries, head, tail = template_boundaries(_dna())
    assert [(round(b.time_s, 2), b.type) for b in boundaries] == [
        (2.4, "cut"),
        (4.0, "dissolve"),
        (5.0, "cut"),
    ]
    assert head == pytest.approx(0.5) and tail == pytest.approx(0.8)


def test_plan_snaps_cuts_to_beats_and_spreads_the_footage(footage):
    info = probe(footage)
    plan = plan_edit(_dna(), [info], JobOptions())
    assert plan.duration_s == pytest.approx(8.0)
    # 2.4 s lies 0.1 s from the beat at 2.5 s: the cut moves onto it.
    assert [round(b.time_s, 3) for b in plan.boundaries] == [2.5, 4.0, 5.0]
    assert [b.type for b in plan.boundaries] == ["cut", "dissolve", "cut"]
    assert (plan.width, plan.height) == (162, 122)
    starts = [s.src_start for s in plan.segments]
    assert starts == sorted(starts) and starts[-1] > starts[0]
    # The 10 s clip's spare 2 s are spread between the shots, so the shots sample all of it.
    assert plan.segments[-1].src_start + 3.0 <= info.duration_s + 1e-6


def test_plan_shares_shots_between_clips(footage):
    info = probe(footage)
    other = replace(info, path=info.path)
    plan = plan_edit(_dna(), [info, other], JobOptions())
    assert {s.clip for s in plan.segments} == {0, 1}
    assert [s.clip for s in plan.segments] == sorted(s.clip for s in plan.segments)


def test_plan_without_recut_keeps_the_footage_order(footage):
    info = probe(footage)
    plan = plan_edit(_dna(), [info, info], JobOptions(recut=False))
    assert plan.duration_s == pytest.approx(2 * info.duration_s)
    assert [s.src_start for s in plan.segments] == [0.0, 0.0]


def test_render_writes_even_h264_aac_with_the_template_grade(tmp_path, footage):
    info = probe(footage)
    dna = _dna()
    # A warm, bright target grade: the output's mean colour must move onto it.
    dna["color"] = {
        "lab_mean": [70.0, 12.0, 25.0],
        "lab_covariance": [[150.0, 0, 0], [0, 80.0, 0], [0, 0, 80.0]],
    }
    backend = InProcessBackend(REPO / "model_repository")
    out, _plan = apply_style(
        dna, [info], tmp_path / "out.mp4", backend, JobOptions(audio="footage")
    )
    streams = json.loads(
        subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-print_format",
                "json",
                "-show_streams",
                "-show_format",
                str(out),
            ],
            capture_output=True,
            check=True,
        ).stdout
    )
    video = next(s for s in streams["streams"] if s["codec_type"] == "video")
    audio = next(s for s in streams["streams"] if s["codec_type"] == "audio")
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 162, 122)
    assert video["pix_fmt"] == "yuv420p" and audio["codec_name"] == "aac"
    assert float(streams["format"]["duration"]) == pytest.approx(8.0, abs=0.1)

    import torch

    from pipelines.colorspace import rgb_to_lab

    rendered = probe(out)
    source = VideoSource(rendered)
    mid = [source.index_at(t) for t in (1.5, 3.0, 6.0)]
    lab = rgb_to_lab(torch.from_numpy(source.get(mid))).reshape(-1, 3).mean(0).numpy()
    assert np.abs(lab - np.array([70.0, 12.0, 25.0])).max() < 4.0, lab


def test_black_stays_black_and_the_frame_rate_stays_ntsc(tmp_path):
    # Footage with a fade to black and a black stretch, at 30000/1001 fps.
    footage = tmp_path / "black.mp4"
    rate = "s=160x120:r=30000/1001"
    ffmpeg(
        "-filter_complex",
        f"testsrc2={rate}:d=1.5,fade=t=out:st=1:d=0.5[a];color=black:{rate}:d=1.5[b];"
        f"testsrc2={rate}:d=1,fade=t=in:st=0:d=0.3[c];[a][b][c]concat=n=3:v=1:a=0",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", str(footage),
    )  # fmt: skip
    dna = _dna(4.0)
    dna["transitions"]["events"] = []
    dna["cuts"] = {"times_s": [], "frames": [], "cuts_per_minute": 0.0}
    dna["color"] = {
        "lab_mean": [62.0, 10.0, 18.0],
        "lab_covariance": [[300.0, 0, 0], [0, 90.0, 0], [0, 0, 90.0]],
        "tone_curve": {"percentiles": list(range(0, 101, 10)), "l_values": [0.0] + [60.0] * 10},
    }
    backend = InProcessBackend(REPO / "model_repository")
    out, _ = apply_style(dna, [probe(footage)], tmp_path / "o.mp4", backend, JobOptions())
    rendered = probe(out)
    assert rendered.fps == pytest.approx(30000 / 1001, rel=1e-6)
    source = VideoSource(rendered)
    black = source.get([source.index_at(2.0)])[0]
    assert black.max() <= 6, black.reshape(-1, 3).mean(axis=0)
