"""Colour transfer: one grade per shot, defined in CIELAB, applied as a fitted RGB matrix.

The grade is the linear Monge–Kantorovich map between two Gaussians in Lab (Pitié and
Kokaram, "The linear Monge-Kantorovitch linear colour mapping for example-based colour
transfer", 2007): it moves the footage's Lab mean and covariance onto the template's,
which Reinhard et al. 2001 do only per axis. Its singular values are bounded so that flat
footage is not blown up into noise.

Evaluating Lab per pixel costs two power functions a channel; on a CPU that is the whole
render budget. So the exact Lab map is evaluated only on a sample of the shot's own pixels,
and a 3×4 affine map in display RGB is fitted to it by least squares (a colour-correction
matrix, as in camera pipelines): one matrix product a pixel on any device, and exact on
the colours the shot really contains. When the template's darkest tone is known, the
offset is pinned so that black lands there: a Gaussian map alone lifts black.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pipelines.colorspace import lab_to_rgb, rgb_to_lab

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
    """A fitted shot grade; ``apply`` maps float RGB frames through it."""

    def __init__(
        self, source: LabGaussian, target: LabGaussian, sample: np.ndarray,
        strength: float = 1.0, device: str | torch.device = "cpu",
        black_l: float | None = None,
    ) -> None:  # fmt: skip
        if sample.ndim != 2 or sample.shape[1] != 3:
            raise ValueError(f"expected a pixel sample [P, 3], got {list(sample.shape)}")
        self.device = torch.device(device)
        self.matrix = transfer_matrix(source, target)
        self.source, self.target, self.strength = source, target, strength
        self.black_l = black_l
        self.affine = self._fit(sample)

    def exact(self, rgb: torch.Tensor) -> torch.Tensor:
        """The Lab map itself on float RGB [..., 3] in [0, 1] (slow; used to fit)."""
        lab = rgb_to_lab(rgb).double()
        matrix = torch.from_numpy(self.matrix)
        mapped = (lab - torch.from_numpy(self.source.mean)) @ matrix.T
        mapped = mapped + torch.from_numpy(self.target.mean)
        mapped = lab + self.strength * (mapped - lab)
        return lab_to_rgb(mapped.float())

    def _fit(self, sample: np.ndarray) -> torch.Tensor:
        rgb = torch.from_numpy(np.ascontiguousarray(sample)).float()
        if sample.dtype == np.uint8:
            rgb = rgb / 255.0
        wanted = self.exact(rgb).double()
        x = rgb.double()
        # A little ridge towards identity keeps colours the sample lacks where they were.
        ridge = 1e-3 * len(rgb)
        if self.black_l is not None:
            # Black stays the template's black: pin the offset there and fit only the matrix.
            # A Gaussian map alone lifts black (a fade to black would end on a grey card).
            offset = self._black_target().double()
            gram = x.T @ x + ridge * torch.eye(3, dtype=torch.float64)
            rhs = x.T @ (wanted - offset) + ridge * torch.eye(3, dtype=torch.float64)
            matrix = torch.linalg.solve(gram, rhs)
            return torch.cat([matrix, offset[None]]).float().to(self.device)
        design = torch.cat([x, torch.ones(len(rgb), 1, dtype=torch.float64)], dim=1)
        identity = torch.cat([torch.eye(3), torch.zeros(1, 3)]).double()
        gram = design.T @ design + ridge * torch.eye(4, dtype=torch.float64)
        solution = torch.linalg.solve(gram, design.T @ wanted + ridge * identity)
        return solution.float().to(self.device)  # [4, 3]

    def _black_target(self) -> torch.Tensor:
        """Where black goes: the template's darkest L*, with the map's tint for black faded in
        proportion (no colour at all at L* = 0)."""
        mapped = rgb_to_lab(self.exact(torch.zeros(1, 3)))[0]
        level = float(self.black_l)
        scale = min(1.0, level / max(float(mapped[0]), 1e-3))
        lab = torch.tensor([level, float(mapped[1]) * scale, float(mapped[2]) * scale])
        return lab_to_rgb(lab)

    def apply(self, frames: torch.Tensor) -> torch.Tensor:
        """float RGB [..., 3] in [0, 1] → graded float RGB in [0, 1], same shape."""
        # One 2-D product: a batched 3-D matmul here makes the CPU BLAS keep ~1 GB of buffers.
        flat = frames.reshape(-1, 3)
        out = torch.addmm(self.affine[3], flat, self.affine[:3])
        return out.clamp_(0.0, 1.0).reshape(frames.shape)
