"""Stage 2, decode: frames (in bounded chunks, with their real timestamps) and audio (once).

Frames come from an ffmpeg process that writes raw RGB to a pipe, read one frame at a time:
memory is one chunk of frames at the size asked for, whatever the clip's length or
resolution, and a decoder that stops producing frames is killed after a stall bound
(``media_timeout``) instead of hanging the job. ffmpeg turns the picture upright (display
matrix), scales it by area averaging (so analysis frames keep the full picture's colour
mean), converts it to RGB with the matrix the stream states (untagged HD video is BT.709,
untagged SD BT.601, as players assume) and tone-maps HDR (PQ, HLG) to SDR, reference white
to SDR white. Decoder errors are a damaged file (``corrupt_media``), not concealed frames.

Area averaging keeps the mean but narrows the spread: the texture it averages away (grain,
brush strokes, foliage) is part of the picture's colour distribution. So a stream can also
carry, beside each scaled frame, the same frame point-sampled (``pixels``: each pixel one
pixel of the full picture, nearest neighbour), for statistics of the distribution that must
not depend on the size they were measured at.

Times are presentation timestamps in seconds from the first frame: the index comes from the
packets (ffprobe, no decoding), each decoded frame carries its own (ffmpeg's ``showinfo``),
never index / nominal rate.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import re
import select
import subprocess
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from pipelines.errors import CorruptMediaError, DecodeError, MediaTimeoutError
from pipelines.ingest import MediaInfo, read_packets

logger = logging.getLogger(__name__)

CHUNK_FRAMES = 128
AUDIO_RATE = 48000
AUDIO_MAX_CHANNELS = 6
STALL_TIMEOUT_S = 60.0  # longest wait for the next frame before the decode counts as hung
# Pictures up to this size get their point samples' chroma interpolated at full size.
FULL_CHROMA_MAX_PIXELS = 1920 * 1088
SEEK_AHEAD_S = 3.0  # a frame further ahead than this is reached by seeking, not reading on

# ffprobe's names for the YUV matrices, as the scale filter spells them.
_MATRICES = {
    "bt709": "bt709",
    "smpte170m": "smpte170m",
    "bt470bg": "bt470",
    "bt2020nc": "bt2020",
    "bt2020c": "bt2020",
    "smpte240m": "smpte240m",
    "fcc": "fcc",
}
# PQ or HLG to linear light with HDR reference white (203 cd/m2, ITU-R BT.2408) at 1.0,
# BT.2020 to BT.709 primaries, then Mobius's curve: linear up to the knee, so what an SDR
# grade could show keeps its colour, and only the highlights above it are compressed.
_TONE_MAP = (
    "zscale={stated}t=linear:npl=203,format=gbrpf32le,zscale=p=bt709,"
    "tonemap=tonemap=mobius:desat=0,zscale=t=bt709:m=bt709:r=full,format=gbrp"
)


def _tone_map(info: MediaInfo) -> str:
    """The tone-mapping chain, told what the stream leaves unstated: an HDR stream tagged
    with only its transfer is BT.2020 (HDR10 and HLG always are), and zscale refuses to
    convert from primaries or a matrix it is not told."""
    stated = ""
    if not info.color_primaries:
        stated += "pin=bt2020:p=bt2020:"  # and say so on the way out, or the next step asks
    if not info.color_space:
        stated += "min=bt2020nc:"
    return _TONE_MAP.format(stated=stated)


_SHOWINFO = re.compile(r"\bn:\s*(\d+)\s+pts:\s*(\S+)\s+pts_time:(\S+)")
_DECODE_ERROR = "Error while decoding stream"


@dataclass
class FrameChunk:
    """A run of consecutive frames: ``frames`` is uint8 [N, H, W, 3] RGB, upright."""

    frames: np.ndarray
    times_s: np.ndarray  # [N] float64, presentation time of each frame
    first_index: int
    # The same frames point-sampled to the same size (see the module docstring); None when
    # not asked for. Equal to ``frames`` when no scaling was needed.
    pixels: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.frames.ndim != 4 or self.frames.shape[-1] != 3 or self.frames.dtype != np.uint8:
            raise ValueError(
                f"expected uint8 RGB frames [N, H, W, 3], got {self.frames.dtype} "
                f"{list(self.frames.shape)}"
            )
        if len(self.times_s) != len(self.frames):
            raise ValueError(f"{len(self.frames)} frames but {len(self.times_s)} timestamps")
        if self.pixels is not None and self.pixels.shape != self.frames.shape:
            raise ValueError(
                f"point samples {list(self.pixels.shape)} do not match the frames "
                f"{list(self.frames.shape)}"
            )


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


def frame_filters(info: MediaInfo, size: tuple[int, int], *, points: bool = False) -> str:
    """The ffmpeg filter chain from the decoded picture (already upright) to RGB at ``size``.

    Scaling comes first, by area averaging, while the picture is still YUV: the conversion
    to RGB is affine, so averaging before or after it gives the same colour mean, and the
    per-pixel conversion then runs on the small picture. ``gbrp`` is swscale's interpolating,
    unbiased path (its direct ``rgb24`` path rounds every channel down by about a level).

    With ``points`` (and a size that needs scaling) each output frame is two stacked: the
    area-scaled frame on top, the same picture point-sampled (nearest neighbour) below.
    """
    # Interlaced: one frame per frame (not per field), each field's lines filled from both.
    head = "bwdif=mode=send_frame:deint=interlaced" if info.interlaced else ""
    if not (points and needs_scaling(info, size)):
        return ",".join(filter(None, [head, _to_rgb(info, size, "area")]))
    # The point samples are of the picture as shown at full size: chroma interpolated to every
    # pixel first (as a full-size conversion does), then one pixel picked per output pixel.
    # Picking the stored 4:2:0 chroma samples instead overstates the chroma spread (+16 % in
    # a* variance on a painting): the full picture's chroma between samples is interpolated.
    # Above 1080p that interpolation would cost most of the decode (a 4K stream: 69 → 28
    # frames/s), and there the stored chroma (1920×1080 at 4K) is fine enough that picking its
    # samples is nearly the same: on 720p video 0.057 Lab units of covariance off the full
    # picture against 0.049 interpolated. (Taking the picture at its chroma resolution instead,
    # each sample with its luma block's mean, would halve per-pixel grain in luma.)
    full_chroma = "yuv444p" if info.bit_depth <= 8 else "yuv444p16le"
    upsample = ""
    if info.coded_width * info.coded_height <= FULL_CHROMA_MAX_PIXELS:
        upsample = f"scale=flags=bicubic+accurate_rnd+full_chroma_int,format={full_chroma},"
    area, point = _to_rgb(info, size, "area"), _to_rgb(info, size, "neighbor")
    graph = f"split[area][point];[area]{area}[a];[point]{upsample}{point}[p];[a][p]vstack"
    return f"{head},{graph}" if head else graph


def needs_scaling(info: MediaInfo, size: tuple[int, int]) -> bool:
    """Whether ``size`` differs from the upright decoded picture (smaller, or pixels made
    square)."""
    # What the decoder hands over once upright: the stored size, sides swapped if rotated.
    upright = (info.coded_height, info.coded_width)
    upright = upright if info.rotation in (90, 270) else upright[::-1]
    return tuple(size) != upright


def _to_rgb(info: MediaInfo, size: tuple[int, int], scaler: str) -> str:
    width, height = size
    scale = ""
    if needs_scaling(info, size):
        scale = f"scale={width}:{height}:flags={scaler}+accurate_rnd+full_chroma_int"
    if info.hdr:
        return ",".join(filter(None, [scale, _tone_map(info), "format=rgb24"]))
    matrix = _MATRICES.get(info.color_space or "")
    if matrix is None:
        hd = info.coded_width >= 1280 or info.coded_height >= 720
        matrix = "bt709" if hd else "bt601"
    convert = scale or "scale=flags=accurate_rnd+full_chroma_int"
    return f"{convert}:in_color_matrix={matrix},format=gbrp,format=rgb24"


class _FrameStream:
    """One ffmpeg process decoding a clip's frames in display order, from ``start_s`` on.

    ``next()`` returns ``(time, frame)`` with the time in the file's own timeline, or None at
    the end. Frame bytes are read with a stall bound; the timestamps come from ``showinfo``
    on ffmpeg's log, read by a thread so neither pipe can fill and block the other.
    """

    def __init__(
        self, info: MediaInfo, size: tuple[int, int], start_s: float | None, stall_s: float,
        points: bool = False,
    ) -> None:  # fmt: skip
        self.name = Path(info.path).name
        self.path = info.path
        # With point samples, each frame read is the scaled frame over the sampled one.
        self.stacked = points and needs_scaling(info, size)
        self.shape = (size[1] * (2 if self.stacked else 1), size[0], 3)
        self.frame_bytes = self.shape[0] * self.shape[1] * 3
        self.stall_s = stall_s
        cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-loglevel", "info", "-copyts"]
        if start_s is not None:
            cmd += ["-ss", f"{start_s:.6f}"]
        cmd += ["-i", info.path, "-map", "0:v:0", "-an", "-sn", "-dn"]
        chain = frame_filters(info, size, points=points)
        cmd += ["-fps_mode", "passthrough", "-vf", chain + ",showinfo"]
        cmd += ["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            bufsize=0,
        )  # fmt: skip
        self._times: queue.Queue[float | None] = queue.Queue()
        self._log: deque[str] = deque(maxlen=8)
        self.errors = 0
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        self.last_time: float | None = None

    def _read_log(self) -> None:
        # This thread owns stderr: it reads to the end and closes it. Closing it from another
        # thread while this one is inside a read is a race (the read raises on a closed file).
        assert self._proc.stderr is not None
        with self._proc.stderr as log:
            self._parse_log(log)
        self._times.put(None)

    def _parse_log(self, log: IO[bytes]) -> None:
        for raw in log:
            line = raw.decode(errors="replace").rstrip()
            found = _SHOWINFO.search(line)
            if found:
                try:
                    self._times.put(float(found.group(3)))
                except ValueError:
                    self._times.put(float("nan"))  # NOPTS: placed after its neighbour below
            elif line:
                if _DECODE_ERROR in line:
                    self.errors += 1
                # ffmpeg names the file by its full path; a user is shown only its name.
                self._log.append(line.replace(self.path, self.name).strip())

    def _timeout(self, what: str) -> MediaTimeoutError:
        self.close()
        return MediaTimeoutError(
            f"{self.name}: the decoder produced no {what} for {self.stall_s:g} s; the file is "
            "damaged or its stream never ends"
        )

    def _damaged(self) -> CorruptMediaError:
        self.close()
        at = f" near {self.last_time:.2f} s" if self.last_time is not None else ""
        return CorruptMediaError(
            f"{self.name}: frames{at} cannot be decoded; the file is damaged or cut short"
        )

    def next(self) -> tuple[float, np.ndarray] | None:
        assert self._proc.stdout is not None
        frame = bytearray(self.frame_bytes)
        view = memoryview(frame)
        got = 0
        fd = self._proc.stdout.fileno()
        while got < self.frame_bytes:
            ready, _, _ = select.select([fd], [], [], self.stall_s)
            if not ready:
                raise self._timeout("frame")
            n = self._proc.stdout.readinto(view[got:])
            if not n:
                break
            got += n
        if got < self.frame_bytes:
            return self._finish()
        try:
            stamp = self._times.get(timeout=self.stall_s)
        except queue.Empty:
            raise self._timeout("timestamp") from None
        if self.errors:
            raise self._damaged()
        if stamp is None or stamp != stamp:  # no timestamp: just after the previous frame
            stamp = (self.last_time or 0.0) + 1e-3
        self.last_time = stamp
        return stamp, np.frombuffer(frame, dtype=np.uint8).reshape(self.shape)

    def _finish(self) -> None:
        try:
            code = self._proc.wait(timeout=self.stall_s)
        except subprocess.TimeoutExpired:
            raise self._timeout("end of stream") from None
        self._reader.join(timeout=self.stall_s)
        if self.errors:
            raise self._damaged()
        if code != 0:
            reason = self._log[-1] if self._log else f"ffmpeg exited with {code}"
            raise DecodeError(f"{self.name}: video decoding failed: {reason}")
        return None

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=5)
        if self._proc.stdout is not None:
            with contextlib.suppress(OSError):
                self._proc.stdout.close()
        # A dead ffmpeg leaves its stderr at end of file: the reader finishes and closes it.
        self._reader.join(timeout=5)


def _frame_index(info: MediaInfo, stall_s: float) -> np.ndarray:
    """Presentation time of every video packet, in the file's timeline, in display order."""
    stamps = []
    for fields in read_packets(info.path, "pts_time,dts_time,flags", stall_s):
        if len(fields) < 3 or "D" in fields[2]:
            continue  # a packet the demuxer marks to discard (outside an edit list)
        for value in fields[:2]:
            try:
                stamps.append(float(value))
                break
            except ValueError:
                continue
    return np.unique(np.asarray(stamps, dtype=np.float64))


class VideoSource:
    """Sequential and by-time access to a clip's frames, upright, RGB, at a chosen size.

    ``times_s`` (from the packets) says which frames there are; :meth:`chunks` streams them
    all once, :meth:`get` picks frames by index, reading on while they come in order and
    seeking when they jump back or far ahead. Call :meth:`close` (or use ``with``) to stop
    the decoder early. With ``points``, each chunk also carries its frames point-sampled
    (``FrameChunk.pixels``).
    """

    def __init__(
        self, info: MediaInfo, size: tuple[int, int] | None = None, *,
        stall_timeout_s: float = STALL_TIMEOUT_S, points: bool = False,
    ) -> None:  # fmt: skip
        self.info = info
        self.size = size or (info.width, info.height)
        self.points = points
        self.stall_s = stall_timeout_s
        stamps = _frame_index(info, stall_timeout_s)
        if len(stamps) == 0:
            raise CorruptMediaError(f"{Path(info.path).name} holds no decodable frame")
        self._origin = float(stamps[0])
        self.times_s = stamps - self._origin
        steps = np.diff(self.times_s)
        step = float(np.median(steps)) if len(steps) else 1.0 / max(info.fps, 1.0)
        # A decoded frame is "the frame at t" when it starts within this of t: its timestamp
        # may be rounded apart from the packet's, but never by a third of a frame.
        self._slack = 0.3 * step
        self._stream: _FrameStream | None = None
        self._current: tuple[float, np.ndarray] | None = None
        self._ahead: tuple[float, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.times_s)

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
        self._stream, self._current, self._ahead = None, None, None

    def _open(self, start_s: float | None, points: bool = False) -> _FrameStream:
        """A decoder from ``start_s`` (seconds from the first frame; None: the very start)."""
        begin = None if start_s is None or start_s <= 0 else self._origin + start_s
        return _FrameStream(self.info, self.size, begin, self.stall_s, points)

    def chunks(self, size: int = CHUNK_FRAMES) -> Iterator[FrameChunk]:
        """Every frame once, in display order, ``size`` at a time, with its own timestamp."""
        stream = self._open(None, self.points)
        height = self.size[1]
        index = 0
        try:
            while True:
                frames, times = [], []
                while len(frames) < size:
                    item = stream.next()
                    if item is None:
                        break
                    times.append(item[0] - self._origin)
                    frames.append(item[1])
                if not frames:
                    break
                block = np.stack(frames)
                if stream.stacked:
                    chunk = FrameChunk(
                        np.ascontiguousarray(block[:, :height]), np.asarray(times), index,
                        np.ascontiguousarray(block[:, height:]),
                    )  # fmt: skip
                else:
                    chunk = FrameChunk(
                        block, np.asarray(times), index, block if self.points else None
                    )
                yield chunk
                index += len(frames)
                if len(frames) < size:
                    break
        finally:
            stream.close()
        if index == 0:
            raise CorruptMediaError(f"{Path(self.info.path).name} holds no decodable frame")

    def get(self, indices: Sequence[int]) -> np.ndarray:
        """The frames at ``indices`` (in that order, repeats allowed), uint8 [N, H, W, 3]."""
        indices = list(indices)
        if not indices:
            return np.zeros((0, self.size[1], self.size[0], 3), dtype=np.uint8)
        picked = {i: self.frame_at(float(self.times_s[i])) for i in sorted(set(indices))}
        return np.stack([picked[i] for i in indices])

    def frame_at(self, t: float) -> np.ndarray:
        """The frame shown at ``t`` seconds from the first frame."""
        target = t + self._slack
        current = self._current
        if (
            self._stream is None or current is None or current[0] - self._origin > target
            or target - (current[0] - self._origin) > SEEK_AHEAD_S
        ):  # fmt: skip
            self._seek(t)
        assert self._stream is not None and self._current is not None
        while True:
            if self._ahead is None:
                self._ahead = self._stream.next()
            if self._ahead is None or self._ahead[0] - self._origin > target:
                break
            self._current, self._ahead = self._ahead, None
        return self._current[1]

    def _seek(self, t: float) -> None:
        self.close()
        # Seek a little early so the wanted frame is never the one the seek lands past.
        start = t - 2 * self._slack - 0.05 if t > 1.0 else None
        self._stream = self._open(start)
        first = self._stream.next()
        if first is not None and start is not None and first[0] - self._origin > t + self._slack:
            # The container's seek landed past the frame (a bad index): read from the start.
            self._stream.close()
            self._stream = self._open(None)
            first = self._stream.next()
        if first is None:
            self.close()
            raise CorruptMediaError(
                f"{Path(self.info.path).name}: no frame can be decoded at {t:.2f} s; the file "
                "is damaged or cut short"
            )
        self._current, self._ahead = first, None

    def index_at(self, t: float) -> int:
        """Index of the frame shown at time ``t`` (the last one starting at or before it)."""
        i = int(np.searchsorted(self.times_s, t + 1e-6, side="right")) - 1
        return min(max(i, 0), len(self) - 1)


def decode_audio(
    info: MediaInfo, *, sample_rate: int = AUDIO_RATE, channels: int | None = None
) -> AudioTrack | None:
    """The first audio stream as float32, on the video's timeline, or None if there is none.

    Sample 0 is at the first video frame, as frame times are: audio that starts after it is
    preceded by silence, audio before it is dropped, and a gap in the audio's timestamps is
    filled with silence (``aresample`` with ``first_pts=0`` on the file's timeline), so beats
    and cuts are measured against the same clock.
    """
    if not info.has_audio:
        return None
    n_channels = channels or min(info.audio_channels or 2, AUDIO_MAX_CHANNELS)
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", info.path, "-map", "0:a:0"]
    cmd += ["-af", f"aresample={sample_rate}:async=1:first_pts=0", "-ac", str(n_channels)]
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
    samples = samples[: len(samples) - len(samples) % n_channels].reshape(-1, n_channels)
    samples = samples[max(0, round(info.video_lead_s * sample_rate)) :]
    return AudioTrack(samples.T.copy(), sample_rate)
