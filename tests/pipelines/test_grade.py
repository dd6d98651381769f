"""Colour transfer: the fitted map moves the Lab statistics onto the template's."""

from __future__ import annotations

import numpy as np
import torch

from pipelines.colorspace import delta_e_2000, lab_to_rgb, rgb_to_lab
from pipelines.grade import (
    MAX_GAIN,
    VISIBLE_NOISE,
    Grade,
    LabGaussian,
    noise_level,
    pixel_sample,
    transfer_matrix,
)


def _gaussian(frames: torch.Tensor) -> LabGaussian:
    lab = rgb_to_lab(frames).reshape(-1, 3).double().numpy()
    return LabGaussian(lab.mean(axis=0), np.cov(lab.T))


def test_lab_round_trip_and_known_values():
    rgb = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.5, 0.5, 0.5]])
    lab = rgb_to_lab(rgb)
    # Reference values for sRGB white, red and mid-grey under D65.
    assert torch.allclose(lab[0], torch.tensor([100.0, 0.0, 0.0]), atol=0.01)
    assert torch.allclose(lab[1], torch.tensor([53.24, 80.09, 67.20]), atol=0.02)
    assert torch.allclose(lab[2], torch.tensor([53.39, 0.0, 0.0]), atol=0.02)
    assert torch.allclose(lab_to_rgb(lab), rgb, atol=1e-4)


def test_delta_e_2000_matches_published_pairs():
    # Pairs 1, 7 and 17 of Sharma, Wu and Dalal's CIEDE2000 test data.
    lab1 = torch.tensor([[50.0, 2.6772, -79.7751], [50.0, 0.0, 0.0], [50.0, 2.5, 0.0]])
    lab2 = torch.tensor([[50.0, 0.0, -82.7485], [50.0, -1.0, 2.0], [73.0, 25.0, -18.0]])
    expected = torch.tensor([2.0425, 2.3669, 27.1492])
    assert torch.allclose(delta_e_2000(lab1, lab2), expected, atol=1e-4)


def test_grade_moves_mean_and_covariance_onto_target():
    rng = np.random.default_rng(7)
    frames = torch.from_numpy(rng.uniform(0.2, 0.8, (2, 40, 60, 3)).astype(np.float32))
    source = _gaussian(frames)
    target = LabGaussian(source.mean + np.array([6.0, 8.0, -5.0]), source.cov * 0.6)
    grade = Grade(source, target, frames.reshape(-1, 3).numpy())
    exact = _gaussian(grade.exact(frames))
    assert np.abs(exact.mean - target.mean).max() < 0.05
    assert np.abs(exact.cov - target.cov).max() < 0.01 * np.abs(target.cov).max()
    # The fitted RGB matrix that renders it is close on the shot's own colours.
    fitted = _gaussian(grade.apply(frames))
    assert np.abs(fitted.mean - target.mean).max() < 1.0
    assert np.abs(fitted.cov - target.cov).max() < 0.15 * np.abs(target.cov).max()


def test_identity_grade_changes_nothing_and_strength_zero_too():
    rng = np.random.default_rng(1)
    frames = torch.from_numpy(rng.uniform(0, 1, (1, 30, 30, 3)).astype(np.float32))
    source = _gaussian(frames)
    sample = frames.reshape(-1, 3).numpy()
    assert torch.allclose(Grade(source, source, sample).apply(frames), frames, atol=2e-3)
    other = LabGaussian(source.mean + 20, source.cov)
    unchanged = Grade(source, other, sample, strength=0.0).apply(frames)
    assert torch.allclose(unchanged, frames, atol=2e-3)


def test_flat_footage_gain_is_bounded():
    flat = LabGaussian(np.array([50.0, 0.0, 0.0]), np.zeros((3, 3)))
    busy = LabGaussian(np.array([50.0, 0.0, 0.0]), np.diag([400.0, 300.0, 300.0]))
    singular = np.linalg.svd(transfer_matrix(flat, busy), compute_uv=False)
    assert singular.max() <= MAX_GAIN + 1e-9


def test_clean_footage_may_take_more_gain_than_grainy_footage():
    """The bound is the footage's noise, amplified, at a just-noticeable difference: clean
    footage may go past MAX_GAIN, grainy footage may not, and no noise ends up visible."""
    flat = LabGaussian(np.array([50.0, 0.0, 0.0]), np.diag([100.0, 2.0, 2.0]))
    vivid = LabGaussian(np.array([50.0, 0.0, 0.0]), np.diag([100.0, 400.0, 600.0]))
    clean, grainy = np.array([0.2, 0.2, 0.2]), np.array([0.2, 2.0, 2.0])

    _, s_clean, vt = np.linalg.svd(transfer_matrix(flat, vivid, clean))
    assert s_clean.max() > 2 * MAX_GAIN
    amplified = s_clean * np.sqrt(np.square(vt) @ np.square(clean))
    assert amplified.max() <= VISIBLE_NOISE + 1e-9
    assert np.linalg.svd(transfer_matrix(flat, vivid, grainy), compute_uv=False).max() <= (
        MAX_GAIN + 1e-9
    )


def _lab_jacobian_at(rgb: list[float]) -> np.ndarray:
    centre = torch.tensor(rgb, dtype=torch.float64)
    return torch.autograd.functional.jacobian(rgb_to_lab, centre).numpy()


def test_noise_level_measures_known_grain_and_not_smooth_content():
    rng = np.random.default_rng(3)
    sigma = 3.0  # 8-bit codes, independent per channel
    grainy = np.clip(np.round(128 + sigma * rng.standard_normal((4, 200, 300, 3))), 0, 255)
    expected = np.sqrt(np.square(_lab_jacobian_at([128 / 255] * 3)).sum(axis=1)) * sigma / 255
    measured = noise_level(grainy.astype(np.uint8))
    assert np.allclose(measured, expected, rtol=0.1), (measured, expected)

    # A smooth gradient has no noise: what is left is the 8-bit rounding, a tenth of the above.
    ramp = np.linspace(40, 220, 300)[None, None, :, None] * np.array([1.0, 0.8, 0.6])
    smooth = np.broadcast_to(np.round(ramp), (4, 200, 300, 3)).astype(np.uint8)
    assert noise_level(smooth).max() < 0.25 * expected.min()


def test_pixel_sample_is_seeded_and_not_one_column_set():
    pixels = np.arange(320 * 100 * 3, dtype=np.float64).reshape(-1, 3)
    first, again = pixel_sample(pixels, 4000), pixel_sample(pixels, 4000)
    assert np.array_equal(first, again) and len(first) == 4000
    columns = (first[:, 0] // 3).astype(int) % 320
    # A stride of 8 would keep 40 of the 320 columns; a random draw keeps almost all.
    assert len(np.unique(columns)) > 300
