"""color_stats: RGB frames → per-frame CIELAB statistics.

Outputs per frame: the Lab mean and covariance (the grade as a Gaussian, enough for a
Reinhard 2001 or Pitié 2007 transfer), eleven quantiles of L* (the tone curve), the mean
chroma (saturation), luma mean / std / near-black-or-white share (Rec. 709 Y'), and a
4×8×8 Lab histogram with the Lab sum of each bin (the palette).
"""

from __future__ import annotations

import numpy as np
import torch

from pipelines.colorspace import rgb_to_lab
from pipelines.triton_adapter import triton_python_model

QUANTILES = torch.linspace(0, 1, 11)
L_BINS, AB_BINS, AB_RANGE = 4, 8, 128.0
MAX_PIXELS = 320 * 240  # statistics are taken on at most this many pixels per frame


class ColorStatsModel:
    def __init__(self, device: str = "cpu") -> None:
        self.device = torch.device(device)

    @torch.inference_mode()
    def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        frames = inputs["FRAMES"]
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"FRAMES: expected uint8 [N, H, W, 3], got {list(frames.shape)}")
        x = torch.from_numpy(np.ascontiguousarray(frames)).to(self.device)
        n, h, w, _ = x.shape
        step = max(1, int(np.ceil(np.sqrt(h * w / MAX_PIXELS))))
        x = x[:, ::step, ::step, :].reshape(n, -1, 3)
        rgb = x.float() / 255.0
        lab = rgb_to_lab(rgb)  # [N, P, 3]

        mean = lab.mean(dim=1)
        centred = lab - mean[:, None, :]
        cov = centred.transpose(1, 2) @ centred / max(1, lab.shape[1] - 1)
        quantiles = torch.quantile(lab[..., 0], QUANTILES.to(self.device), dim=1).T
        chroma = torch.hypot(lab[..., 1], lab[..., 2]).mean(dim=1, keepdim=True)
        # Rec. 709 luma on the gamma-encoded values, as video levels are judged.
        luma = rgb @ torch.tensor([0.2126, 0.7152, 0.0722], device=self.device)
        extreme = ((luma < 0.08) | (luma > 0.92)).float().mean(dim=1)
        luma_stats = torch.stack([luma.mean(dim=1), luma.std(dim=1), extreme], dim=1)

        l_bin = (lab[..., 0] / 100 * L_BINS).long().clamp(0, L_BINS - 1)
        ab = ((lab[..., 1:] + AB_RANGE) / (2 * AB_RANGE) * AB_BINS).long().clamp(0, AB_BINS - 1)
        index = (l_bin * AB_BINS + ab[..., 0]) * AB_BINS + ab[..., 1]
        bins = L_BINS * AB_BINS * AB_BINS
        count = torch.zeros(n, bins, device=self.device)
        count.scatter_add_(1, index, torch.ones_like(index, dtype=torch.float32))
        lab_sum = torch.zeros(n, bins, 3, device=self.device)
        lab_sum.scatter_add_(1, index[..., None].expand(-1, -1, 3), lab)

        def out(t: torch.Tensor) -> np.ndarray:
            return t.float().cpu().numpy()

        return {
            "LAB_MEAN": out(mean),
            "LAB_COV": out(cov),
            "L_QUANTILES": out(quantiles),
            "CHROMA_MEAN": out(chroma),
            "LUMA_STATS": out(luma_stats),
            "HIST_COUNT": out(count / lab.shape[1]),
            "HIST_LAB_SUM": out(lab_sum / lab.shape[1]),
        }


def create_model(device: str = "cpu") -> ColorStatsModel:
    return ColorStatsModel(device)


# Triton's python backend instantiates this; in-process runs call create_model.
TritonPythonModel = triton_python_model(create_model)
