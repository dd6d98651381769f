"""Motion: camera moves (static, pan, tilt, zoom, shake) and how busy the picture is, over time.

Consecutive frames go to the ``motion`` model in batches as grey images at half the analysis
size. Per pair it returns the camera's similarity motion and the change that motion does not
explain (moving subjects). Pairs across a hard cut are recognised by their residual and left
out, so a cut is not mistaken for violent motion.

How a pair is labelled:

- Its camera estimate is trusted only where the picture has texture to track (mean gradient
  at least ``MIN_TEXTURE``) and where the frames are coherent, i.e. what the camera leaves
  unexplained is well below the picture's own contrast. Random noise every frame fails that
  (consecutive frames differ as much as two unrelated pictures); a flat picture fails the
  first. An untrusted pair shows no camera move: it is static, and adds nothing to
  confidence.
- The intended move is the motion averaged over ``SMOOTH_S`` (centred, within a shot); the
  rest is jitter. A pan, tilt or zoom is an intended move of at least ``STATIC_SPEED``
  (``STATIC_ZOOM``) per second that is not dwarfed by the jitter around it; it is a zoom
  where the zoom moves the frame's edges more than the translation does, else a pan or a
  tilt by the larger axis. Otherwise jitter of at least ``SHAKE_SPEED`` per second is shake
  (a handheld camera that wanders with no net direction); otherwise the camera is static.
  ``camera_shake`` is that jitter's mean, in frames per second.

Intensity per pair is ``1 - exp(-energy)``, the energy summing camera speed (jitter
included), zoom rate and the residual, each over the scale at which it reads as a lot.

Confidence is the share of pairs whose reading is trusted, a frozen pair (no change at all:
a still image rather than a shot) counting ``FROZEN_WEIGHT`` since it shows that nothing
moves but not how anything would, times a ramp up to ``FULL_PAIRS`` pairs.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from pipelines.analyzers.base import AnalyzerResult, FrameAnalyzer
from pipelines.decode import FrameChunk
from pipelines.inference import InferenceBackend, batches

MODEL = "motion"
MOTION_WIDTH = 160
# A residual this large after compensation means the two frames show different shots.
CUT_RESIDUAL = 0.12
# Speeds per second: 2% of the frame per second is below what a viewer reads as a move. A
# zoom at rate z moves the frame's edges by z / 2 frames a second, so its threshold is twice
# the pan's, and a zoom is what moves the edges more than the translation does.
STATIC_SPEED = 0.02
STATIC_ZOOM = 2 * STATIC_SPEED
# A move a viewer reads as a pan lasts longer than half a second; oscillation faster than
# about 2 Hz around it is shake (handheld shake sits at 2-10 Hz).
SMOOTH_S = 0.5
SHAKE_SPEED = 0.04
# The intended move must be at least this fraction of the jitter to count as a move.
MOVE_OVER_SHAKE = 0.5
# Trust: mean absolute luma gradient (0-1 per pixel at MOTION_WIDTH) below which nothing can
# be tracked, and the residual as a share of the picture's contrast above which the two
# frames are not the same picture moved (noise: about 1.4; subjects moving: well under 0.5).
MIN_TEXTURE = 0.004
MAX_INCOHERENCE = 0.6
# Mean absolute difference below which a pair is frozen (a quarter of a grey level in 8 bits;
# a real shot held still differs by grain and compression, several times more).
FROZEN_DIFF = 0.001
FROZEN_WEIGHT = 0.4
FULL_PAIRS = 50
# Scales of the intensity: a fast pan crosses half the frame a second; 0.05 mean residual at
# 30 fps is a lot of subject motion.
FAST_SPEED = 0.5
BUSY_RESIDUAL = 0.05
CLASSES = ("static", "pan", "tilt", "zoom", "shake")
_LUMA = torch.tensor([0.2126, 0.7152, 0.0722])  # BT.709


def to_grey(frames: np.ndarray, width: int = MOTION_WIDTH) -> np.ndarray:
    """uint8 RGB [N, H, W, 3] → float32 luma [N, h, w] in [0, 1], box-downscaled to ``width``."""
    step = max(1, frames.shape[2] // width)
    # Luma first, then the box average (both linear: the same picture, a third of the work).
    rgb = torch.from_numpy(np.ascontiguousarray(frames)).float()
    luma = (rgb @ _LUMA)[:, None]  # [N, 1, H, W]
    small = F.avg_pool2d(luma, step) if step > 1 else luma
    return small[:, 0].div_(255.0).numpy()


def picture_stats(grey: np.ndarray) -> np.ndarray:
    """Per frame [N, 2]: mean absolute gradient (texture) and mean absolute deviation (contrast)."""
    texture = np.abs(np.diff(grey, axis=2)).mean(axis=(1, 2)) + np.abs(np.diff(grey, axis=1)).mean(
        axis=(1, 2)
    )
    contrast = np.abs(grey - grey.mean(axis=(1, 2), keepdims=True)).mean(axis=(1, 2))
    return np.stack([texture, contrast], axis=1)


class MotionAnalyzer(FrameAnalyzer):
    name = "motion"

    def __init__(self, backend: InferenceBackend, fps: float) -> None:
        self.backend = backend
        self.fps = fps if fps > 0 else 25.0
        self._last: np.ndarray | None = None
        self._last_stats: np.ndarray | None = None
        self._last_time = 0.0
        self._times: list[float] = []
        self._motion: list[np.ndarray] = []
        self._difference: list[np.ndarray] = []
        self._stats: list[np.ndarray] = []

    def update(self, chunk: FrameChunk) -> None:
        grey = to_grey(chunk.frames)
        stats = picture_stats(grey)
        times = chunk.times_s
        if self._last is not None:
            grey = np.concatenate([self._last[None], grey])
            stats = np.concatenate([self._last_stats[None], stats])
            times = np.concatenate([[self._last_time], times])
        if len(grey) >= 2:
            size = self.backend.config(MODEL).max_batch_size
            for window in batches(len(grey) - 1, size):
                idx = np.arange(window.start, window.stop)
                out = self.backend.infer(MODEL, {"PREV": grey[idx], "CURR": grey[idx + 1]})
                self._motion.append(out["MOTION"])
                self._difference.append(out["DIFFERENCE"])
            # A pair is as trackable as the weaker of its two pictures.
            self._stats.append(np.minimum(stats[:-1], stats[1:]))
            self._times.extend(times[1:].tolist())
        self._last, self._last_stats, self._last_time = grey[-1], stats[-1], float(times[-1])

    def finish(self) -> AnalyzerResult:
        if not self._motion:
            return AnalyzerResult(
                {"motion": {"mean_intensity": None, "camera_motion": None, "pairs_analyzed": 0}},
                0.0,
            )
        motion = np.concatenate(self._motion).astype(np.float64)
        diff = np.concatenate(self._difference).astype(np.float64)
        stats = np.concatenate(self._stats).astype(np.float64)
        times = np.asarray(self._times)
        keep = diff[:, 1] < CUT_RESIDUAL
        if not keep.any():
            keep[:] = True
        # Shots: a new one starts after each pair left out as a cut.
        shot = np.cumsum(~keep)[keep]
        motion, diff, stats, times = motion[keep], diff[keep], stats[keep], times[keep]

        trackable = stats[:, 0] >= MIN_TEXTURE
        coherent = diff[:, 1] <= MAX_INCOHERENCE * np.maximum(stats[:, 1], 1e-6)
        trusted = trackable & coherent
        frozen = diff[:, 0] < FROZEN_DIFF
        motion = np.where(trusted[:, None], motion, 0.0)

        # Per-second speeds, so that frame rate does not change the reading.
        dt = np.clip(np.diff(np.concatenate([[times[0] - 1 / self.fps], times])), 1e-3, 1.0)
        rate = motion[:, :3] / dt[:, None]
        span = round(SMOOTH_S * self.fps) // 2 * 2 + 1
        intended = _smooth(rate, shot, span)
        jitter = np.sqrt(_smooth(np.sum((rate[:, :2] - intended[:, :2]) ** 2, axis=1), shot, span))

        speed = np.hypot(rate[:, 0], rate[:, 1])
        zoom = np.abs(rate[:, 2])
        residual = diff[:, 1] * (1.0 / 30.0) / dt
        energy = speed / FAST_SPEED + residual / BUSY_RESIDUAL + zoom / (FAST_SPEED / 2)
        intensity = 1.0 - np.exp(-energy)

        move_x, move_y, move_z = (
            np.abs(intended[:, 0]),
            np.abs(intended[:, 1]),
            np.abs(intended[:, 2]),
        )
        move_speed = np.hypot(move_x, move_y)
        moving = ((move_speed >= STATIC_SPEED) | (move_z >= STATIC_ZOOM)) & (
            np.maximum(move_speed, move_z / 2) >= MOVE_OVER_SHAKE * jitter
        )
        zooming = moving & (move_z / 2 >= move_speed) & (move_z >= STATIC_ZOOM)
        labels = np.full(len(motion), "static", dtype=object)
        labels[~moving & (jitter >= SHAKE_SPEED)] = "shake"
        labels[moving & ~zooming & (move_x >= move_y)] = "pan"
        labels[moving & ~zooming & (move_x < move_y)] = "tilt"
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
            "camera_shake": round(float(jitter.mean()), 4),
            "pan_direction": _direction(intended[labels == "pan", 0], "right", "left"),
            "tilt_direction": _direction(intended[labels == "tilt", 1], "down", "up"),
            "zoom_direction": _direction(intended[labels == "zoom", 2], "out", "in"),
            "subject_motion": round(float(np.mean(residual)), 5),
            "trackable_share": round(float(np.mean(trusted)), 4),
            "pairs_analyzed": len(motion),
        }
        evidence = np.where(trusted, np.where(frozen, FROZEN_WEIGHT, 1.0), 0.0)
        confidence = float(np.mean(evidence)) * min(1.0, len(motion) / FULL_PAIRS)
        return AnalyzerResult(
            {"motion": section},
            round(float(np.clip(confidence, 0.0, 1.0)), 4),
            extras={"intensity": intensity, "times_s": times, "labels": labels},
        )


def _smooth(values: np.ndarray, shot: np.ndarray, span: int) -> np.ndarray:
    """Centred moving average over ``span`` pairs, never across a shot boundary."""
    out = np.empty_like(values)
    for s in np.unique(shot):
        idx = np.flatnonzero(shot == s)
        part = values[idx]
        # An odd kernel no longer than the shot, so "same" keeps the shot's length.
        kernel = np.ones(min(span, (len(idx) - 1) // 2 * 2 + 1))
        weight = np.convolve(np.ones(len(idx)), kernel, mode="same")
        if part.ndim == 1:
            out[idx] = np.convolve(part, kernel, mode="same") / weight
        else:
            out[idx] = np.stack(
                [np.convolve(col, kernel, mode="same") / weight for col in part.T], axis=1
            )
    return out


def _direction(values: np.ndarray, negative: str, positive: str) -> str | None:
    """The camera's direction: content moving left (negative) means the camera pans right."""
    if len(values) == 0:
        return None
    return negative if float(np.median(values)) < 0 else positive
