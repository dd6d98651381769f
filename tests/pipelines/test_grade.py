"""Colour transfer: the fitted map moves the Lab statistics onto the template's."""

from __future__ import annotations

import numpy as np
import torch

from pipelines.colorspace import delta_e_2000, lab_to_rgb, rgb_to_lab
from pipelines.grade import MAX_GAIN, Grade, LabGaussian, transfer_matrix


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
