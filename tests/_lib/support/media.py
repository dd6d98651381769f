"""Generate test media with ffmpeg so each test knows its exact answer."""

from __future__ import annotations

import subprocess
from pathlib import Path


def ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly; raise with its message on failure."""
    done = subprocess.run(
        ["ffmpeg", "-nostdin", "-y", "-v", "error", *args], capture_output=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg {' '.join(args)} failed: {done.stderr.decode()[-2000:]}")


def color_clip(
    path: Path, *, color: str = "gray", size: str = "320x240", rate: int = 25,
    seconds: float = 2.0, audio_hz: float | None = None,
) -> Path:  # fmt: skip
    """A solid-color clip, optionally with a sine tone."""
    args = ["-f", "lavfi", "-i", f"color=c={color}:s={size}:r={rate}:d={seconds}"]
    if audio_hz:
        args += ["-f", "lavfi", "-i", f"sine=frequency={audio_hz}:duration={seconds}"]
    args += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-shortest"]
    if audio_hz:
        args += ["-c:a", "aac"]
    ffmpeg(*args, str(path))
    return path


def click_track(path: Path, *, bpm: float, seconds: float = 20.0, rate: int = 44100) -> Path:
    """A WAV of short 1 kHz clicks, one on every beat of ``bpm``, the first at 0.5 s."""
    period = 60.0 / bpm
    expr = f"if(lt(mod(t-0.5+{period}*100,{period}),0.01)*gte(t,0.5),sin(2*PI*1000*t),0)"
    ffmpeg("-f", "lavfi", "-i", f"aevalsrc='{expr}':s={rate}:d={seconds}", str(path))
    return path
