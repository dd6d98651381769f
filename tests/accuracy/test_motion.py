"""The motion goals of the accuracy benchmark (``benchmarks/accuracy/motion.py``) as tests.

Same generated clips as the benchmark (``support.synth_motion``), its short list
(``cases(quick=True)``: two speeds of each kind and direction) to keep the run short; each
clip is generated and analysed once per module. Tolerances are the benchmark's goals.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from scipy.stats import kendalltau
from support import synth_motion as sm

from pipelines.inference import InProcessBackend

REPO = Path(__file__).resolve().parents[2]
CASES = sm.cases(quick=True)
STILL = next(c for c in CASES if c.kind == "static")
STILL_INTENSITY = 0.01
LOW_CONFIDENCE = 0.5


@pytest.fixture(scope="module")
def backend() -> InProcessBackend:
    return InProcessBackend(REPO / "model_repository")


@pytest.fixture(scope="module")
def results(media_dir, backend) -> dict[str, tuple[dict, float]]:
    """Every case's motion section and confidence, by case name."""
    out = {}
    for case in CASES:
        result = sm.analyze(sm.render(case, media_dir), backend)
        out[case.name] = (result.sections["motion"], result.confidence)
    return out


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_class_and_direction(results, case):
    motion, _ = results[case.name]
    classed, directed = sm.answer_right(case, motion)
    assert classed, (motion["dominant_camera_motion"], motion["camera_motion"])
    assert directed in (None, True), {k: v for k, v in motion.items() if "direction" in k}


def test_still_shot_is_static_with_no_intensity(results):
    motion, _ = results[STILL.name]
    assert motion["dominant_camera_motion"] == "static"
    assert motion["mean_intensity"] <= STILL_INTENSITY


@pytest.mark.parametrize("group", sorted({c.group for c in CASES} - {"static"}))
def test_intensity_order_within_kind(results, group):
    members = [STILL, *sorted((c for c in CASES if c.group == group), key=lambda c: c.speed)]
    intensities = [results[c.name][0]["mean_intensity"] for c in members]
    tau = kendalltau([c.speed for c in members], intensities).statistic
    assert tau == pytest.approx(1.0), intensities


@pytest.mark.parametrize("make", [sm.noise_clip, sm.flat_clip], ids=["noise", "flat"])
def test_nothing_to_track_is_no_camera_move(media_dir, backend, make):
    result = sm.analyze(make(media_dir), backend)
    assert result.sections["motion"]["dominant_camera_motion"] == "static"
    assert result.confidence < LOW_CONFIDENCE


def test_still_shot_confidence_is_low(results):
    assert results[STILL.name][1] < LOW_CONFIDENCE
