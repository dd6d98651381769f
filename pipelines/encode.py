"""Stage 6, encode: H.264 + AAC MP4 through ffmpeg, and a check of what was written.

Frames arrive as raw RGB on ffmpeg's standard input while the apply stage renders them, so
no frame is kept longer than one batch; the soundtrack is muxed afterwards. A file is only
reported when ffprobe reads back an H.264 video stream and an AAC audio stream from it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from pipelines.errors import EncodeError

logger = logging.getLogger(__name__)

CRF = 20
PRESET = "veryfast"
AUDIO_RATE = 48000
AUDIO_BITRATE = "192k"


class VideoWriter:
    """Feeds uint8 RGB frames to an ffmpeg libx264 process writing a video-only MP4."""

    def __init__(self, path: Path, width: int, height: int, fps: float) -> None:
        if width % 2 or height % 2:
            raise ValueError(f"H.264 4:2:0 needs even sizes, got {width}x{height}")
        self.path, self.width, self.height = path, width, height
        self.frames_written = 0
        cmd = [
            "ffmpeg", "-nostdin", "-y", "-v", "error",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
            "-r", _rate(fps), "-i", "pipe:0",
            # Convert with the BT.709 matrix the stream is tagged with: tags alone would leave
            # swscale's BT.601 default in the pixels and shift every colour on playback.
            "-vf", "scale=out_color_matrix=bt709:out_range=tv",
            "-c:v", "libx264", "-preset", PRESET, "-crf", str(CRF), "-pix_fmt", "yuv420p",
            "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
            "-an", str(path),
        ]  # fmt: skip
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)

    def write(self, frames: np.ndarray) -> None:
        expected = (self.height, self.width, 3)
        if frames.ndim != 4 or frames.shape[1:] != expected or frames.dtype != np.uint8:
            raise ValueError(
                f"expected uint8 frames [N, {self.height}, {self.width}, 3], got "
                f"{frames.dtype} {list(frames.shape)}"
            )
        try:
            self._proc.stdin.write(np.ascontiguousarray(frames).tobytes())
        except BrokenPipeError as exc:
            raise EncodeError(f"the video encoder stopped: {self._stderr()}") from exc
        self.frames_written += len(frames)

    def close(self) -> Path:
        with contextlib.suppress(BrokenPipeError):
            self._proc.stdin.close()
        message = self._stderr()
        code = self._proc.wait()
        if code != 0:
            raise EncodeError(f"video encoding failed (ffmpeg exit {code}): {message}")
        return self.path

    def abort(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        for pipe in (self._proc.stdin, self._proc.stderr):
            with contextlib.suppress(OSError):
                pipe.close()

    def _stderr(self) -> str:
        if self._proc.stderr is None or self._proc.stderr.closed:
            return "no message"
        data = self._proc.stderr.read()
        self._proc.stderr.close()
        return data.decode(errors="replace").strip()[-500:] or "no message"


def _rate(fps: float) -> str:
    """The frame rate as the small fraction it really is (29.97 → 30000/1001), so the MP4's
    time base stays ordinary."""
    rate = Fraction(fps).limit_denominator(1001)
    return f"{rate.numerator}/{rate.denominator}"


@dataclass(frozen=True)
class AudioInput:
    """Where the soundtrack comes from: a file's first audio stream, raw PCM, or silence."""

    kind: str  # "file", "pcm" or "silence"
    path: Path | None = None
    start_s: float = 0.0
    fade_out_s: float = 0.0


def mux(video: Path, audio: AudioInput, output: Path, duration_s: float) -> Path:
    """Mux ``video`` with ``audio`` (cut to ``duration_s``) into a faststart MP4 at ``output``."""
    cmd = ["ffmpeg", "-nostdin", "-y", "-v", "error", "-i", str(video)]
    if audio.kind == "file":
        cmd += ["-ss", f"{audio.start_s:.6f}", "-i", str(audio.path)]
    elif audio.kind == "pcm":
        cmd += ["-f", "f32le", "-ar", str(AUDIO_RATE), "-ac", "2", "-i", str(audio.path)]
    else:
        cmd += ["-f", "lavfi", "-i", f"anullsrc=r={AUDIO_RATE}:cl=stereo"]
    filters = [f"aresample={AUDIO_RATE}", "aformat=channel_layouts=stereo", "apad"]
    if audio.fade_out_s > 0:
        start = max(0.0, duration_s - audio.fade_out_s)
        filters.append(f"afade=t=out:st={start:.3f}:d={audio.fade_out_s:.3f}")
    cmd += [
        "-map", "0:v:0", "-map", "1:a:0", "-af", ",".join(filters),
        "-c:v", "copy", "-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ac", "2",
        "-t", f"{duration_s:.6f}", "-movflags", "+faststart", str(output),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, timeout=1800, check=False)
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()[-500:]
        raise EncodeError(f"muxing the MP4 failed: {message}")
    verify(output)
    return output


def verify(path: Path) -> dict:
    """Check that ``path`` is a non-empty MP4 with H.264 video and AAC audio; return its probe."""
    if not path.is_file() or path.stat().st_size == 0:
        raise EncodeError(f"the encoder wrote no output at {path}")
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format",
         str(path)],
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise EncodeError(f"the written MP4 cannot be read back: {done.stderr.decode()[-300:]}")
    data = json.loads(done.stdout)
    codecs = {s.get("codec_type"): s.get("codec_name") for s in data.get("streams", [])}
    if codecs.get("video") != "h264" or codecs.get("audio") != "aac":
        raise EncodeError(f"the written MP4 has streams {codecs}, expected h264 video + aac audio")
    return data
