"""How much picture the template really has: distinct frames, and frames that are only noise.

The other frame analyzers assume each frame is a picture and the clip moves on from one to
the next. Two kinds of template break that assumption while every per-part measure looks
healthy: a still image held for the whole clip (a steady grade, no cuts, no motion — all
true, and all from one picture), and noise (random pixels whose statistics are perfectly
steady). This analyzer counts the frames that carry evidence of style, so the overall
``extraction_confidence`` can be scaled by how many there are, just as for a clip of a few
frames (see :func:`pipelines.style_dna.overall_confidence`).

Per frame, on a 64-pixel-wide luma thumbnail (box-averaged, so compression noise and film
grain mostly average out):

- **structure**: the correlation of each pixel with its right and lower neighbours. Natural
  pictures, titles and graphics measure 0.57–0.96 at this size; independent noise measures
  near 0. A frame whose luma spread is over :data:`FLAT_STD` and whose structure is under
  :data:`NOISE_STRUCTURE` is a *noise frame*. A flat frame (black, white, one colour) is not
  noise: it is a card, and counts as a picture.
- **change**: the mean absolute luma difference from the previous frame. A frame that
  changes by less than :data:`STILL_CHANGE` levels is a repeat of the last distinct one.

Emits the counts into the ``template`` section (``distinct_frames``, ``noise_frames``) and
the number the confidence uses, ``evidence_frames``: distinct frames that are not noise.
"""

from __future__ import annotations

import numpy as np

from pipelines.analyzers.base import AnalyzerResult, FrameAnalyzer
from pipelines.decode import FrameChunk

THUMB_W = 64
# ITU-R BT.601 luma, as the decoders' RGB came from it.
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# Luma standard deviation (0-255) below which a frame is a flat card, not noise or picture.
FLAT_STD = 4.0
# Neighbour correlation under which a textured frame is noise. Random pixels measure about
# 0 (−0.06 to 0.0 after box-averaging); the corpus's textured frames measure 0.57 (the
# counter card) to 0.96.
NOISE_STRUCTURE = 0.3
# Mean absolute change (0-255 levels) under which a frame repeats the previous one. A still
# image held and encoded by x264 measures 0.00; the corpus's moving frames mostly measure
# over 0.15 (the counter card, whose only change is its digits, has 95 % of its frames above).
# Black gaps and held frames fall under it, which is right: they repeat.
STILL_CHANGE = 0.15


def thumbnail_luma(frames: np.ndarray, width: int = THUMB_W) -> np.ndarray:
    """Box-averaged luma [N, h, w] float32 of uint8 RGB frames [N, H, W, 3]."""
    n, h, w, _ = frames.shape
    factor = max(1, w // width)
    hh, ww = (h // factor) * factor, (w // factor) * factor
    luma = frames[:, :hh, :ww].astype(np.float32) @ LUMA
    return luma.reshape(n, hh // factor, factor, ww // factor, factor).mean(axis=(2, 4))


def structure(luma: np.ndarray) -> np.ndarray:
    """Mean of the right- and lower-neighbour correlation of each frame [N] (0 for flat)."""
    scores = []
    for a, b in ((luma[:, :, :-1], luma[:, :, 1:]), (luma[:, :-1, :], luma[:, 1:, :])):
        a = a.reshape(len(luma), -1) - a.reshape(len(luma), -1).mean(axis=1, keepdims=True)
        b = b.reshape(len(luma), -1) - b.reshape(len(luma), -1).mean(axis=1, keepdims=True)
        denominator = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
        scores.append(
            np.where(denominator > 0, (a * b).sum(axis=1) / np.maximum(denominator, 1e-9), 0)
        )
    return np.mean(scores, axis=0)


class PictureAnalyzer(FrameAnalyzer):
    name = "picture"

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None
        self.frames = 0
        self.distinct = 0
        self.noise = 0
        self.evidence = 0

    def update(self, chunk: FrameChunk) -> None:
        luma = thumbnail_luma(chunk.frames)
        head = luma[:1] if self._previous is None else self._previous
        change = np.abs(luma - np.concatenate([head, luma[:-1]])).mean(axis=(1, 2))
        if self._previous is None:
            change[0] = np.inf  # the first frame is always new
        noisy = (luma.std(axis=(1, 2)) > FLAT_STD) & (structure(luma) < NOISE_STRUCTURE)
        new = change >= STILL_CHANGE
        self.frames += len(luma)
        self.distinct += int(new.sum())
        self.noise += int(noisy.sum())
        self.evidence += int((new & ~noisy).sum())
        self._previous = luma[-1:]

    def finish(self) -> AnalyzerResult:
        section = {"distinct_frames": self.distinct, "noise_frames": self.noise}
        # Held frames are normal (animation on twos, a pause); noise is not a picture at all.
        picture_share = 1.0 - self.noise / self.frames if self.frames else 0.0
        return AnalyzerResult(
            sections={"picture": section},
            confidence=round(float(min(1.0, max(0.0, picture_share))), 4),
            extras={"evidence_frames": self.evidence},
        )
