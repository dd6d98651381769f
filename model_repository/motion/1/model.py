"""motion: pairs of grey frames → global camera motion and the motion it does not explain.

The camera's motion is fitted as a similarity transform (translation, scale, roll) by
inverse-compositional-free Lucas–Kanade (Lucas and Kanade 1981; Baker and Matthews 2004 for
the parametric form), coarse to fine over a three-level pyramid, in one batched solve.

MOTION = [tx, ty, zoom, roll]: content displacement from PREV to CURR as a fraction of the
frame's width and height, the relative scale change per frame, and the rotation in radians.
DIFFERENCE = [raw, residual]: mean absolute difference of the frames before and after the
camera motion is compensated (0-1), i.e. all change, and change from moving subjects.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from pipelines.triton_adapter import triton_python_model

LEVELS = 3
ITERATIONS = 4


class MotionModel:
    def __init__(self, device: str = "cpu") -> None:
        self.device = torch.device(device)

    @torch.inference_mode()
    def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        prev, curr = inputs["PREV"], inputs["CURR"]
        if prev.shape != curr.shape or prev.ndim != 3:
            raise ValueError(
                f"PREV and CURR: expected equal [N, H, W], got {list(prev.shape)} and "
                f"{list(curr.shape)}"
            )
        a = torch.from_numpy(np.ascontiguousarray(prev)).to(self.device)[:, None]
        b = torch.from_numpy(np.ascontiguousarray(curr)).to(self.device)[:, None]
        n, _, h, w = a.shape
        params = torch.zeros(n, 4, device=self.device)  # tx, ty in px of the level; s; r
        pyramid = [(a, b)]
        for _ in range(LEVELS - 1):
            if min(pyramid[-1][0].shape[-2:]) < 32:
                break
            pyramid.append(tuple(F.avg_pool2d(t, 2) for t in pyramid[-1]))
        for level, (pa, pb) in enumerate(reversed(pyramid)):
            if level > 0:
                params[:, :2] *= 2
            for _ in range(ITERATIONS):
                params = params + _step(pa, pb, params)
        warped, valid = _warp(b, params)
        raw = (a - b).abs().mean(dim=(1, 2, 3))
        residual = ((a - warped).abs() * valid).sum(dim=(1, 2, 3)) / valid.sum(
            dim=(1, 2, 3)
        ).clamp_min(1)
        motion = torch.stack([params[:, 0] / w, params[:, 1] / h, params[:, 2], params[:, 3]], 1)
        return {
            "MOTION": motion.float().cpu().numpy(),
            "DIFFERENCE": torch.stack([raw, residual], 1).float().cpu().numpy(),
        }


def _grid(h: int, w: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    ys = torch.arange(h, device=device, dtype=torch.float32) - (h - 1) / 2
    xs = torch.arange(w, device=device, dtype=torch.float32) - (w - 1) / 2
    return torch.meshgrid(ys, xs, indexing="ij")


def _warp(img: torch.Tensor, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``img`` at x + u(x): the frame pulled back by the motion ``params``, and where
    every sample fell inside ``img`` (so no padding leaks into the comparison)."""
    _, _, h, w = img.shape
    y, x = _grid(h, w, img.device)
    tx, ty, s, r = (params[:, i, None, None] for i in range(4))
    u = tx + s * x - r * y
    v = ty + s * y + r * x
    px = x + u + (w - 1) / 2
    py = y + v + (h - 1) / 2
    valid = (px >= 0) & (px <= w - 1) & (py >= 0) & (py <= h - 1)
    grid = torch.stack([(px + 0.5) / w * 2 - 1, (py + 0.5) / h * 2 - 1], dim=-1)
    warped = F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return warped, valid[:, None]


def _step(a: torch.Tensor, b: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    _, _, h, w = a.shape
    warped, valid = _warp(b, params)
    valid = valid.float()
    gx = torch.zeros_like(warped)
    gy = torch.zeros_like(warped)
    gx[..., 1:-1] = (warped[..., 2:] - warped[..., :-2]) / 2
    gy[..., 1:-1, :] = (warped[..., 2:, :] - warped[..., :-2, :]) / 2
    y, x = _grid(h, w, a.device)
    jac = torch.stack([gx, gy, gx * x + gy * y, -gx * y + gy * x], dim=-1)[:, 0]  # [N,H,W,4]
    error = (a - warped)[:, 0] * valid[:, 0]
    jac = jac * valid[:, 0, ..., None]
    jtj = torch.einsum("nhwi,nhwj->nij", jac, jac)
    jte = torch.einsum("nhwi,nhw->ni", jac, error)
    # Scale the rotation/zoom columns' damping to their much larger magnitudes.
    damping = 1e-3 * torch.diagonal(jtj, dim1=1, dim2=2).clamp_min(1e-6)
    jtj = jtj + torch.diag_embed(damping)
    return torch.linalg.solve(jtj, jte)


def create_model(device: str = "cpu") -> MotionModel:
    return MotionModel(device)


# Triton's python backend instantiates this; in-process runs call create_model.
TritonPythonModel = triton_python_model(create_model)
