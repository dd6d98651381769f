"""Stage 2, decode: frames (in bounded chunks, with their real timestamps) and audio (once).

Frames come from decord, opened with one thread (VP9 streams fail with more). Template
frames are decoded at the analysis width; footage frames at their display size. Times are
presentation timestamps in seconds from the first frame, never index / nominal rate.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipelines.errors import CorruptMediaError, DecodeError, MediaTimeoutError
from pipelines.ingest import MediaInfo

logger = logging.getLogger(__name__)

CHUNK_FRAMES = 128
AUDIO_RATE = 48000
AUDIO_MAX_CHANNELS = 6


@dataclass
class FrameChunk:
    """A run of consecutive frames: ``frames`` is uint8 [N, H, W, 3] RGB, upright."""

    frames: np.ndarray
    times_s: np.ndarray  # [N] float64, presentation time of each frame
    first_index: int

    def __post_init__(self) -> None:
        if self.frames.ndim != 4 or self.frames.shape[-1] != 3 or self.frames.dtype != np.uint8:
            raise ValueError(
                f"expected uint8 RGB frames [N, H, W, 3], got {self.frames.dtype} "
                f"{list(self.frames.shape)}"
            )
        if len(self.times_s) != len(self.frames):
            raise ValueError(f"{len(self.frames)} frames but {len(self.times_s)} timestamps")


@dataclass
class AudioTrack:
    """Decoded audio: float32 [channels, samples] in [-1, 1] at ``sample_rate``."""

    samples: np.ndarray
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return self.samples.shape[1] / self.sample_rate

    def mono(self) -> np.ndarray:
        return self.samples.mean(axis=0)


def analysis_size(info: MediaInfo, width: int) -> tuple[int, int]:
    """An even (width, height) no wider than ``width`` that keeps the display aspect."""
    w = min(width, info.width)
    h = max(2, round(info.height * w / info.width))
    return max(2, w - w % 2), h - h % 2


class VideoSource:
    """Random and sequential access to a clip's frames at a chosen size."""

    def __init__(self, info: MediaInfo, size: tuple[int, int] | None = None) -> None:
        import decord

        # FFmpeg's own complaints about a damaged stream would go straight to stderr; the
        # failure reaches the caller as an error instead.
        decord.logging.set_level(decord.logging.QUIET)

        self.info = info
        width, height = size or (info.width, info.height)
        try:
            self._reader = decord.VideoReader(
                info.path, ctx=decord.cpu(0), width=width, height=height, num_threads=1
            )
            self.times_s = self._timestamps()
        except decord.DECORDError as exc:
            # The file passed ingest, so what fails here is its content; decord's message is a
            # C++ trace, which helps no user.
            raise CorruptMediaError(
                f"{Path(info.path).name}: the video stream cannot be read; the file is damaged "
                "or cut short"
            ) from exc
        self.size = (width, height)

    def __len__(self) -> int:
        return len(self.times_s)

    def _timestamps(self) -> np.ndarray:
        n = len(self._reader)
        if n == 0:
            raise CorruptMediaError(f"{Path(self.info.path).name} holds no decodable frame")
        stamps = np.asarray(self._reader.get_frame_timestamp(np.arange(n)), dtype=np.float64)
        starts = stamps[:, 0]
        return starts - starts[0]

    def get(self, indices: Sequence[int]) -> np.ndarray:
        import decord

        indices = list(indices)
        try:
            frames = self._reader.get_batch(indices).asnumpy()
        except decord.DECORDError as exc:
            # decord's message is a C++ trace; the cause a user can act on is the file.
            raise CorruptMediaError(
                f"{Path(self.info.path).name}: frames {min(indices)}-{max(indices)} cannot be "
                "decoded; the file is damaged or cut short"
            ) from exc
        return np.ascontiguousarray(frames)

    def chunks(self, size: int = CHUNK_FRAMES) -> Iterator[FrameChunk]:
        for start in range(0, len(self), size):
            stop = min(len(self), start + size)
            yield FrameChunk(self.get(range(start, stop)), self.times_s[start:stop], start)

    def index_at(self, t: float) -> int:
        """Index of the frame shown at time ``t`` (the last one starting at or before it)."""
        i = int(np.searchsorted(self.times_s, t + 1e-6, side="right")) - 1
        return min(max(i, 0), len(self) - 1)


def decode_audio(
    info: MediaInfo, *, sample_rate: int = AUDIO_RATE, start_s: float = 0.0,
    duration_s: float | None = None, channels: int | None = None,
) -> AudioTrack | None:  # fmt: skip
    """Decode the first audio stream to float32 with ffmpeg, or None if there is none."""
    if not info.has_audio:
        return None
    n_channels = channels or min(info.audio_channels or 2, AUDIO_MAX_CHANNELS)
    cmd = ["ffmpeg", "-nostdin", "-v", "error"]
    if start_s > 0:
        # Only when asked: even "-ss 0" drops the samples of a stream that starts before zero.
        cmd += ["-ss", f"{start_s:.6f}"]
    cmd += ["-i", info.path]
    if duration_s is not None:
        cmd += ["-t", f"{duration_s:.6f}"]
    cmd += ["-map", "0:a:0", "-ac", str(n_channels), "-ar", str(sample_rate)]
    cmd += ["-f", "f32le", "-acodec", "pcm_f32le", "pipe:1"]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=600, check=False)
    except subprocess.TimeoutExpired as exc:
        raise MediaTimeoutError(
            f"{Path(info.path).name}: decoding its audio did not end within 600 s; the file is "
            "damaged"
        ) from exc
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()
        raise DecodeError(
            f"{Path(info.path).name}: audio decoding failed: {reason[-1] if reason else '?'}"
        )
    samples = np.frombuffer(done.stdout, dtype=np.float32)
    samples = samples[: len(samples) - len(samples) % n_channels]
    return AudioTrack(samples.reshape(-1, n_channels).T.copy(), sample_rate)
