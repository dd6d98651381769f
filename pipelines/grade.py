"""Colour transfer: one grade per shot, fitted in CIELAB and applied as a 3D LUT.

The transform is the linear Monge–Kantorovich map between two Gaussians (Pitié and Kokaram,
"The linear Monge-Kantorovitch linear colour mapping for example-based colour transfer",
2007): it moves the footage's Lab mean and covariance onto the template's exactly, which
Reinhard et al. 2001 do only per axis. Its singular values are bounded so that flat footage
is not blown up into noise. Baked into a 33³ RGB LUT, it costs one trilinear lookup a pixel
on any device.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from pipelines.colorspace import lab_to_rgb, rgb_to_lab

LUT_SIZE = 33
MAX_GAIN = 3.0
COV_FLOOR = 1.0  # Lab units²: a covariance floor, so a flat shot still gets a finite map


@dataclass(frozen=True)
class LabGaussian:
    mean: np.ndarray  # [3]
    cov: np.ndarray  # [3, 3]


def _sqrtm(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def transfer_matrix(source: LabGaussian, target: LabGaussian) -> np.ndarray:
    """The 3×3 linear map T with T Σs Tᵀ = Σt (Pitié 2007, eq. 11), gain-bounded."""
    eye = np.eye(3)
    cs = source.cov + COV_FLOOR * eye
    ct = target.cov + COV_FLOOR * eye
    cs_half = _sqrtm(cs)
    cs_half_inv = np.linalg.inv(cs_half)
    t = cs_half_inv @ _sqrtm(cs_half @ ct @ cs_half) @ cs_half_inv
    u, s, vt = np.linalg.svd(t)
    return (u * np.clip(s, 1 / MAX_GAIN, MAX_GAIN)) @ vt


class Grade:
    """A fitted shot grade; ``apply`` maps uint8 RGB frames through its LUT."""

    def __init__(
        self, source: LabGaussian, target: LabGaussian, strength: float = 1.0,
        device: str | torch.device = "cpu",
    ) -> None:  # fmt: skip
        self.device = torch.device(device)
        self.matrix = transfer_matrix(source, target)
        self.source, self.target, self.strength = source, target, strength
        self.lut = self._bake()

    def _bake(self) -> torch.Tensor:
        axis = torch.linspace(0, 1, LUT_SIZE)
        # LUT[r, g, b] → RGB; grid_sample's volume is indexed [D=b, H=g, W=r].
        b, g, r = torch.meshgrid(axis, axis, axis, indexing="ij")
        rgb = torch.stack([r, g, b], dim=-1)
        lab = rgb_to_lab(rgb).double()
        matrix = torch.from_numpy(self.matrix)
        mapped = (lab - torch.from_numpy(self.source.mean)) @ matrix.T + torch.from_numpy(
            self.target.mean
        )
        mapped = lab + self.strength * (mapped - lab)
        out = lab_to_rgb(mapped.float())
        return out.permute(3, 0, 1, 2)[None].contiguous().to(self.device)  # [1, 3, D, H, W]

    @torch.inference_mode()
    def apply(self, frames: torch.Tensor) -> torch.Tensor:
        """float RGB [N, H, W, 3] in [0, 1] → graded float RGB, same shape."""
        n, h, w, _ = frames.shape
        grid = (frames.reshape(1, n * h, w, 1, 3) * 2 - 1).permute(0, 3, 1, 2, 4)
        out = F.grid_sample(
            self.lut, grid.reshape(1, 1, n * h, w, 3), mode="bilinear",
            padding_mode="border", align_corners=True,
        )  # fmt: skip
        return out[0, :, 0].permute(1, 2, 0).reshape(n, h, w, 3)
