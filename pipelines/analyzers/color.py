"""Color grade: per-frame CIELAB statistics from the ``color_stats`` model, pooled over the clip.

The grade is summarised as a Gaussian in Lab (mean, spread, covariance: what a Reinhard 2001 or
Pitié 2007 transfer needs), a tone curve (quantiles of L*), saturation, contrast, a white
balance shift and a small palette. Its confidence is how steady the grade is over time.

The statistics are the full-size picture's, whatever the analysis width: they are measured on
the decoder's point samples of each frame (``FrameChunk.pixels``: every pixel one pixel of the
picture, converted with the stream's own matrix, see ``pipelines.decode``), not on the
area-scaled frames. Averaging neighbours keeps the mean but narrows the spread by the texture
it averages away (grain, foliage, brush strokes: on a painting 0.67 Lab units of covariance
distance at 320 px), and the mean of Lab is not the Lab of the mean. The footage a grade is
fitted on is sampled the same way (``pipelines.apply``), so both sides of a transfer describe
the same thing. A picture periodic at exactly the sampling step could alias; real video is not.
"""

from __future__ import annotations

import numpy as np

from pipelines.analyzers.base import AnalyzerResult, FrameAnalyzer
from pipelines.decode import FrameChunk
from pipelines.inference import InferenceBackend, batches

MODEL = "color_stats"
PALETTE_SIZE = 5
# Below this ΔE-like spread of per-frame means a grade counts as perfectly steady.
STEADY_SPREAD = 4.0
# A frame whose luma (0-1) varies less than this around a mean below DARK_CARD or above
# LIGHT_CARD is a black or white card.
UNIFORM_STD = 0.03
DARK_CARD = 0.08
LIGHT_CARD = 0.92


def frame_color_stats(backend: InferenceBackend, frames: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame statistics of uint8 RGB ``frames`` [N, H, W, 3], batched to the model's size."""
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected RGB frames [N, H, W, 3], got {list(frames.shape)}")
    size = backend.config(MODEL).max_batch_size
    parts: dict[str, list[np.ndarray]] = {}
    for window in batches(len(frames), size):
        for name, value in backend.infer(MODEL, {"FRAMES": frames[window]}).items():
            parts.setdefault(name, []).append(value)
    return {name: np.concatenate(values) for name, values in parts.items()}


def content_frames(stats: dict[str, np.ndarray]) -> np.ndarray:
    """Which frames show a picture: not a uniform black or white card (a fade's end, a gap).

    Those cards belong to the transitions, not to the grade.
    """
    luma = stats["LUMA_STATS"]
    card = (luma[:, 1] < UNIFORM_STD) & ((luma[:, 0] < DARK_CARD) | (luma[:, 0] > LIGHT_CARD))
    return ~card


def pooled_gaussian(
    stats: dict[str, np.ndarray], keep: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Lab mean and covariance of all pixels of the frames, frames weighted equally."""
    if keep is not None:
        stats = {name: value[keep] for name, value in stats.items()}
    means = stats["LAB_MEAN"].astype(np.float64)
    mean = means.mean(axis=0)
    offsets = means - mean
    cov = stats["LAB_COV"].astype(np.float64).mean(axis=0)
    cov += offsets.T @ offsets / max(1, len(means))
    return mean, cov


class ColorAnalyzer(FrameAnalyzer):
    name = "color"

    def __init__(self, backend: InferenceBackend) -> None:
        self.backend = backend
        self._stats: dict[str, list[np.ndarray]] = {}

    def update(self, chunk: FrameChunk) -> None:
        pixels = chunk.pixels if chunk.pixels is not None else chunk.frames
        for name, value in frame_color_stats(self.backend, pixels).items():
            self._stats.setdefault(name, []).append(value)

    def per_frame(self) -> dict[str, np.ndarray]:
        return {name: np.concatenate(values) for name, values in self._stats.items()}

    def finish(self) -> AnalyzerResult:
        every = self.per_frame()
        if not every:
            return AnalyzerResult({"color": {}}, 0.0)
        keep = content_frames(every)
        if not keep.any():  # all cards: describe them as they are
            keep[:] = True
        stats = {name: value[keep] for name, value in every.items()}
        mean, cov = pooled_gaussian(stats)
        std = np.sqrt(np.clip(np.diag(cov), 0, None))
        quantiles = np.median(stats["L_QUANTILES"], axis=0)
        chroma = float(stats["CHROMA_MEAN"].mean())
        luma = stats["LUMA_STATS"]

        # Steadiness: how far per-frame means wander (in Lab units) relative to a steady grade.
        spread = float(np.sqrt(((stats["LAB_MEAN"] - mean) ** 2).sum(axis=1)).mean())
        steadiness = float(np.clip(STEADY_SPREAD / max(spread, STEADY_SPREAD), 0.0, 1.0))
        # A picture with no tonal range at all (black, flat) says little about a grade.
        tonal_range = float(np.clip((quantiles[9] - quantiles[1]) / 30.0, 0.0, 1.0))
        confidence = float(np.clip(0.6 * steadiness + 0.4 * tonal_range, 0.0, 1.0))

        section = {
            "space": "CIELAB D65",
            "lab_mean": _round(mean),
            "lab_std": _round(std),
            "lab_covariance": [_round(row) for row in cov],
            "tone_curve": {
                "percentiles": [int(p) for p in range(0, 101, 10)],
                "l_values": _round(quantiles),
            },
            "saturation": round(chroma, 3),
            "contrast": round(float(std[0]), 3),
            "luma": {
                "mean": round(float(luma[:, 0].mean()), 4),
                "std": round(float(luma[:, 1].mean()), 4),
            },
            "white_balance_shift": {
                "a": round(float(mean[1]), 3),
                "b": round(float(mean[2]), 3),
                "temperature": _temperature(float(mean[2])),
            },
            "palette": _palette(stats),
            "frame_mean_spread": round(spread, 3),
            "frames_analyzed": len(every["LAB_MEAN"]),
            "card_frames": int((~keep).sum()),
        }
        return AnalyzerResult({"color": section}, round(confidence, 4), extras={"stats": every})


def _temperature(b: float) -> str:
    if b > 3.0:
        return "warm"
    if b < -3.0:
        return "cool"
    return "neutral"


def _palette(stats: dict[str, np.ndarray]) -> list[dict]:
    count = stats["HIST_COUNT"].astype(np.float64).mean(axis=0)
    lab_sum = stats["HIST_LAB_SUM"].astype(np.float64).mean(axis=0)
    order = np.argsort(count)[::-1][:PALETTE_SIZE]
    palette = []
    for index in order:
        if count[index] <= 0:
            break
        lab = lab_sum[index] / count[index]
        palette.append({"lab": _round(lab), "share": round(float(count[index]), 4)})
    return palette


def _round(values: np.ndarray, digits: int = 3) -> list[float]:
    return [round(float(v), digits) for v in values]
