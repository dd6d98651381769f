"""Motion: camera moves (static, pan, tilt, zoom) and how busy the picture is, over time.

Consecutive frames go to the ``motion`` model in batches as grey images at half the analysis
size. Per pair it returns the camera's similarity motion and the change that motion does not
explain (moving subjects). Pairs across a hard cut are recognised by their residual and left
out, so a cut is not mistaken for violent motion.
"""

from __future__ import annotations

import numpy as np

from pipelines.analyzers.base import AnalyzerResult, FrameAnalyzer
from pipelines.decode import FrameChunk
from pipelines.inference import InferenceBackend, batches

MODEL = "motion"
MOTION_WIDTH = 160
# A residual this large after compensation means the two frames show different shots.
CUT_RESIDUAL = 0.12
# Speeds per second: 2% of the frame per second is below what a viewer reads as a move.
STATIC_SPEED = 0.02
STATIC_ZOOM = 0.01
# Scales of the intensity: a fast pan crosses half the frame a second; 0.05 mean residual at
# 30 fps is a lot of subject motion.
FAST_SPEED = 0.5
BUSY_RESIDUAL = 0.05
CLASSES = ("static", "pan", "tilt", "zoom")


def to_grey(frames: np.ndarray, width: int = MOTION_WIDTH) -> np.ndarray:
    """uint8 RGB [N, H, W, 3] → float32 luma [N, h, w] in [0, 1], box-downscaled to ``width``."""
    step = max(1, frames.shape[2] // width)
    n, h, w, _ = frames.shape
    h2, w2 = h // step, w // step
    cropped = frames[:, : h2 * step, : w2 * step].astype(np.float32)
    small = cropped.reshape(n, h2, step, w2, step, 3).mean(axis=(2, 4))
    return (small @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)) / 255.0


class MotionAnalyzer(FrameAnalyzer):
    name = "motion"

    def __init__(self, backend: InferenceBackend, fps: float) -> None:
        self.backend = backend
        self.fps = fps if fps > 0 else 25.0
        self._last: np.ndarray | None = None
        self._last_time = 0.0
        self._times: list[float] = []
        self._motion: list[np.ndarray] = []
        self._difference: list[np.ndarray] = []

    def update(self, chunk: FrameChunk) -> None:
        grey = to_grey(chunk.frames)
        times = chunk.times_s
        if self._last is not None:
            grey = np.concatenate([self._last[None], grey])
            times = np.concatenate([[self._last_time], times])
        if len(grey) >= 2:
            size = self.backend.config(MODEL).max_batch_size
            for window in batches(len(grey) - 1, size):
                idx = np.arange(window.start, window.stop)
                out = self.backend.infer(MODEL, {"PREV": grey[idx], "CURR": grey[idx + 1]})
                self._motion.append(out["MOTION"])
                self._difference.append(out["DIFFERENCE"])
            self._times.extend(times[1:].tolist())
        self._last, self._last_time = grey[-1], float(times[-1])

    def finish(self) -> AnalyzerResult:
        if not self._motion:
            return AnalyzerResult(
                {"motion": {"mean_intensity": None, "camera_motion": None, "pairs_analyzed": 0}},
                0.0,
            )
        motion = np.concatenate(self._motion).astype(np.float64)
        diff = np.concatenate(self._difference).astype(np.float64)
        times = np.asarray(self._times)
        keep = diff[:, 1] < CUT_RESIDUAL
        if not keep.any():
            keep[:] = True
        motion, diff, times = motion[keep], diff[keep], times[keep]

        # Per-second speeds, so that frame rate does not change the reading.
        dt = np.clip(np.diff(np.concatenate([[times[0] - 1 / self.fps], times])), 1e-3, 1.0)
        speed = np.hypot(motion[:, 0], motion[:, 1]) / dt
        zoom = np.abs(motion[:, 2]) / dt
        residual = diff[:, 1] * (1.0 / 30.0) / dt
        energy = speed / FAST_SPEED + residual / BUSY_RESIDUAL + zoom / (FAST_SPEED / 2)
        intensity = 1.0 - np.exp(-energy)

        labels = np.full(len(motion), "static", dtype=object)
        moving = (speed >= STATIC_SPEED) | (zoom >= STATIC_ZOOM)
        zooming = moving & (zoom * 2 >= speed) & (zoom >= STATIC_ZOOM)
        labels[moving & ~zooming & (np.abs(motion[:, 0]) >= np.abs(motion[:, 1]))] = "pan"
        labels[moving & ~zooming & (np.abs(motion[:, 0]) < np.abs(motion[:, 1]))] = "tilt"
        labels[zooming] = "zoom"
        shares = {c: round(float(np.mean(labels == c)), 4) for c in CLASSES}
        dominant = max(shares, key=shares.get)

        seconds = np.floor(times).astype(int)
        per_second = [
            round(float(intensity[seconds == s].mean()), 4) for s in range(int(seconds.max()) + 1)
            if np.any(seconds == s)
        ]  # fmt: skip
        section = {
            "mean_intensity": round(float(intensity.mean()), 4),
            "median_intensity": round(float(np.median(intensity)), 4),
            "max_intensity": round(float(intensity.max()), 4),
            "intensity_per_second": per_second,
            "camera_motion": shares,
            "dominant_camera_motion": dominant,
            "mean_camera_speed": round(float(speed.mean()), 4),
            "pan_direction": _direction(motion[labels == "pan", 0], "right", "left"),
            "tilt_direction": _direction(motion[labels == "tilt", 1], "down", "up"),
            "zoom_direction": _direction(motion[labels == "zoom", 2], "out", "in"),
            "subject_motion": round(float(np.mean(residual)), 5),
            "pairs_analyzed": len(motion),
        }
        confidence = float(np.clip(len(motion) / 50.0, 0.0, 1.0))
        return AnalyzerResult(
            {"motion": section},
            round(confidence, 4),
            extras={"intensity": intensity, "times_s": times, "labels": labels},
        )


def _direction(values: np.ndarray, negative: str, positive: str) -> str | None:
    """The camera's direction: content moving left (negative) means the camera pans right."""
    if len(values) == 0:
        return None
    return negative if float(np.median(values)) < 0 else positive
