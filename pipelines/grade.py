"""Colour transfer: one grade per shot, defined in CIELAB, applied as a fitted RGB matrix.

The grade is the linear Monge–Kantorovich map between two Gaussians in Lab (Pitié and
Kokaram, "The linear Monge-Kantorovitch linear colour mapping for example-based colour
transfer", 2007): it moves the footage's Lab mean and covariance onto the template's,
which Reinhard et al. 2001 do only per axis. Its gain is bounded so that footage is not
blown up into noise: along each direction of the map, by MAX_GAIN, or further where the
footage's own noise there, amplified, stays under a just-noticeable difference
(``VISIBLE_NOISE``, 2.3 ΔE*ab, Mahy, Van Eycken and Oosterlinck 1994). The noise is
measured on the footage at its own size (Immerkær 1996, "Fast noise variance estimation":
a Laplacian-difference kernel that cancels smooth content; edges and fine texture count as
noise, so the bound errs towards less gain), and never taken below the 8-bit quantisation
noise at the footage's mean colour. Clean, low-chroma footage (a grey street) can then take
the strong colour of a template (~8× in chroma); grainy or flat footage keeps the 3× bound.

Evaluating Lab per pixel costs two power functions a channel; on a CPU that is the whole
render budget. So the grade is rendered as a 3×4 affine map in display RGB (a
colour-correction matrix, as in camera pipelines): one matrix product a pixel on any
device. It is fitted in two steps on a sample of the shot's own pixels:

1. least squares onto the exact Lab map's output (the shape of the map: which colour goes
   where);
2. from there, a few quasi-Newton steps that make the statistics of the *rendered* sample
   (clipped to the display gamut, measured in Lab) equal the ones the Lab map aims at: its
   mean and its covariance ``M Σ Mᵀ``. A least-squares RGB fit alone lands ~1 ΔE off in the
   mean and loses a third of the chroma spread, because the Lab map is not affine in RGB
   and clipping eats the extremes; the second step measures and corrects exactly that.

When the template's darkest tone is known and the shot shows black (a fade, a night scene),
the offset is pinned so that black lands there: a Gaussian map alone lifts black. A shot with
hardly any black is not pinned: holding a colour it barely shows would cost it the
covariance. The fit is deterministic and the matrix is fixed for the shot, so nothing in a
shot flickers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pipelines.colorspace import lab_to_rgb, rgb_to_lab

MAX_GAIN = 3.0  # the gain allowed along any direction, whatever the noise
VISIBLE_NOISE = 2.3  # ΔE*ab: amplified noise up to a just-noticeable difference is allowed
NOISE_PATCH = 64  # pixels a side of the patches noise is measured on
NOISE_PATCHES = 16  # patches per frame at most
COV_FLOOR = 1.0  # Lab units²: a covariance floor, so a flat shot still gets a finite map
MOMENT_PIXELS = 5_000  # sample pixels the statistics are matched on
MOMENT_STEPS = 100  # L-BFGS iterations at most
BLACK_WEIGHT = 25.0  # a Lab unit of black drift costs as much as five of mean error
BLACK_L = 5.0  # L* at or below which a pixel counts as black
BLACK_SHARE = 0.02  # a shot shows black when at least this share of its pixels is black
SAMPLE_SEED = 0  # fixed: the same shot always gets the same sample, so the same grade


def pixel_sample(pixels: np.ndarray, count: int) -> np.ndarray:
    """Up to ``count`` rows of ``pixels`` [P, 3], drawn at random without replacement (seeded).

    Not every k-th row: a raster read with a stride that divides its width keeps the same few
    columns of every row (a stride of 8 on 320-pixel rows: 40 columns), a biased sample that
    cost the moment fit a third of its covariance accuracy on a painting.
    """
    if len(pixels) <= count:
        return pixels
    picked = np.random.default_rng(SAMPLE_SEED).choice(len(pixels), count, replace=False)
    return pixels[np.sort(picked)]


@dataclass(frozen=True)
class LabGaussian:
    mean: np.ndarray  # [3]
    cov: np.ndarray  # [3, 3]


def _sqrtm(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def transfer_matrix(
    source: LabGaussian, target: LabGaussian, noise: np.ndarray | None = None
) -> np.ndarray:
    """The 3×3 linear map T with T Σs Tᵀ = Σt (Pitié 2007, eq. 11), gain-bounded.

    ``noise`` is the footage's noise (Lab standard deviations [3], see :func:`noise_level`);
    without it every direction's gain is bounded by MAX_GAIN.
    """
    eye = np.eye(3)
    cs = source.cov + COV_FLOOR * eye
    ct = target.cov + COV_FLOOR * eye
    cs_half = _sqrtm(cs)
    cs_half_inv = np.linalg.inv(cs_half)
    t = cs_half_inv @ _sqrtm(cs_half @ ct @ cs_half) @ cs_half_inv
    u, s, vt = np.linalg.svd(t)
    limit = np.full(3, MAX_GAIN)
    if noise is not None:
        # The noise along each input direction (a row of Vᵀ), amplified by its gain.
        along = np.sqrt(np.square(vt) @ np.square(np.asarray(noise, dtype=np.float64)))
        limit = np.maximum(limit, VISIBLE_NOISE / np.maximum(along, 1e-6))
    return (u * np.clip(s, 1 / limit, limit)) @ vt


_LAPLACIAN = torch.tensor([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])


def noise_level(frames: np.ndarray) -> np.ndarray:
    """Per-pixel noise of uint8 RGB ``frames`` [N, H, W, 3] at their own size: the standard
    deviation in L*, a*, b* [3] (Immerkær 1996), at least the 8-bit quantisation noise.

    Measured on up to NOISE_PATCHES seeded patches a frame, so a 4K shot costs no more than
    a small one.
    """
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected RGB frames [N, H, W, 3], got {list(frames.shape)}")
    h, w = frames.shape[1:3]
    size = min(NOISE_PATCH, h, w)
    rng = np.random.default_rng(SAMPLE_SEED)
    patches = []
    for frame in frames:
        ys = rng.integers(0, h - size + 1, NOISE_PATCHES)
        xs = rng.integers(0, w - size + 1, NOISE_PATCHES)
        patches += [frame[y : y + size, x : x + size] for y, x in zip(ys, xs, strict=True)]
    lab = rgb_to_lab(torch.from_numpy(np.stack(patches)).float() / 255.0)
    planes = lab.permute(0, 3, 1, 2).reshape(-1, 1, size, size)
    if size < 3:
        measured = torch.zeros(3)
    else:
        residual = torch.nn.functional.conv2d(planes, _LAPLACIAN[None, None])
        # For white noise of deviation σ the kernel's output has mean |r| = 6σ·sqrt(2/π).
        measured = residual.abs().reshape(len(patches), 3, -1).mean(dim=(0, 2))
        measured = measured * float(np.sqrt(np.pi / 2) / 6)
    return np.maximum(measured.double().numpy(), _quantisation_noise(lab.reshape(-1, 3)))


def _quantisation_noise(lab: torch.Tensor) -> np.ndarray:
    """Lab deviation of 8-bit rounding (uniform, 1/√12 of a code) at the mean colour."""
    centre = lab_to_rgb(lab.mean(dim=0).float()).double().clamp(0.02, 0.98)
    jacobian = torch.autograd.functional.jacobian(rgb_to_lab, centre)  # [3 Lab, 3 RGB]
    step = 1.0 / (255.0 * np.sqrt(12.0))
    return (jacobian.square().sum(dim=1).sqrt() * step).numpy()


def shows_black(sample: np.ndarray) -> bool:
    """Whether at least BLACK_SHARE of a pixel sample (RGB, uint8 or float) is black."""
    rgb = torch.from_numpy(np.ascontiguousarray(sample)).float()
    if sample.dtype == np.uint8:
        rgb = rgb / 255.0
    return bool((rgb_to_lab(rgb)[:, 0] <= BLACK_L).float().mean() >= BLACK_SHARE)


class Grade:
    """A fitted shot grade; ``apply`` maps float RGB frames through it."""

    def __init__(
        self, source: LabGaussian, target: LabGaussian, sample: np.ndarray,
        strength: float = 1.0, device: str | torch.device = "cpu",
        black_l: float | None = None, noise: np.ndarray | None = None,
    ) -> None:  # fmt: skip
        if sample.ndim != 2 or sample.shape[1] != 3:
            raise ValueError(f"expected a pixel sample [P, 3], got {list(sample.shape)}")
        self.device = torch.device(device)
        self.matrix = transfer_matrix(source, target, noise)
        self.source, self.target, self.strength = source, target, strength
        self.black_l = black_l if black_l is not None and shows_black(sample) else None
        self.affine = self._match_moments(sample, self._fit(sample))

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

    def aim(self, source: LabGaussian | None = None) -> LabGaussian:
        """The Lab statistics the map gives ``source`` (by default the shot's), before any
        clipping: the target's, blended by strength, as far as the gain bound lets it."""
        source = source or self.source
        blend = (1 - self.strength) * np.eye(3) + self.strength * self.matrix
        goal = self.source.mean + self.strength * (self.target.mean - self.source.mean)
        return LabGaussian(
            goal + blend @ (source.mean - self.source.mean), blend @ source.cov @ blend.T
        )

    def _match_moments(self, sample: np.ndarray, affine: torch.Tensor) -> torch.Tensor:
        """Refine the fitted ``affine`` [4, 3] so the rendered sample has the aim's Lab mean
        and covariance (loss in Lab units², the covariance part scaled like the Bures
        distance), the black pin kept."""
        rgb = torch.from_numpy(np.ascontiguousarray(pixel_sample(sample, MOMENT_PIXELS)))
        x = (rgb.double() / 255.0) if sample.dtype == np.uint8 else rgb.double()
        # The aim for the sample itself (the map applied to the sample's own Gaussian), so the
        # sample's chance departure from the shot's statistics is not fitted into the grade.
        lab = rgb_to_lab(x)
        centred = lab - lab.mean(dim=0)
        own = LabGaussian(lab.mean(dim=0).numpy(), (centred.T @ centred / len(lab)).numpy())
        aim = self.aim(own)
        mean = torch.from_numpy(aim.mean)
        cov = torch.from_numpy(aim.cov)
        # ¼ tr(ΔΣ Σ⁻¹ ΔΣ) is the squared Bures distance to first order: errors count in Lab
        # units along each axis, so a narrow a* spread weighs as much as a wide L* one.
        inverse = torch.from_numpy(np.linalg.inv(aim.cov + COV_FLOOR * np.eye(3)))
        start = affine.detach().cpu().double().contiguous()
        weights = start[:3].clone(memory_format=torch.contiguous_format).requires_grad_(True)
        offset = start[3].clone().requires_grad_(True)
        params = [weights, offset]
        # The pinned black stays where the least-squares step put it, within ~1 ΔE: a hard
        # pin leaves nine unknowns for nine moments, which clipping makes unreachable.
        black = rgb_to_lab(start[3].clamp(0.0, 1.0)) if self.black_l is not None else None
        optimizer = torch.optim.LBFGS(
            params, max_iter=MOMENT_STEPS, line_search_fn="strong_wolfe", tolerance_grad=1e-9
        )

        def loss_fn() -> torch.Tensor:
            optimizer.zero_grad()
            lab = rgb_to_lab(torch.addmm(offset, x, weights).clamp(0.0, 1.0))
            m = lab.mean(dim=0)
            centred = lab - m
            c = centred.T @ centred / len(lab)
            miss = c - cov
            loss = ((m - mean) ** 2).sum() + 0.25 * torch.trace(miss @ inverse @ miss)
            if black is not None:
                drift = rgb_to_lab(offset.clamp(0.0, 1.0)) - black
                loss = loss + BLACK_WEIGHT * (drift**2).sum()
            loss.backward()
            return loss

        with torch.enable_grad():
            optimizer.step(loss_fn)
        refined = torch.cat([weights.detach(), offset.detach()[None]])
        if not torch.isfinite(refined).all():
            return affine  # keep the least-squares fit rather than a diverged one
        return refined.float().to(self.device)

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
