"""Whole templates with a known verdict on how trustworthy their Style DNA can be.

Each is made with ffmpeg from one picture source and one sound source, so the only thing
that differs between a clean template and a degenerate one is the thing under test: a held
still image, noise for a picture, silence for music, or a clip of a few frames.
"""

from __future__ import annotations

from pathlib import Path

from support.media import click_track, ffmpeg

SIZE = "480x270"
RATE = 25
SECONDS = 10.0


def _shots(seconds: float) -> str:
    """A lavfi graph of four generated shots with hard cuts between them, one steady look."""
    shot = seconds / 4
    sources = [
        f"testsrc2=s={SIZE}:r={RATE}:d={shot}",
        f"mandelbrot=s={SIZE}:r={RATE}:end_pts={shot}",
        f"smptehdbars=s={SIZE}:r={RATE}:d={shot}",
        f"rgbtestsrc=s={SIZE}:r={RATE}:d={shot},hue=H=t",
    ]
    # Moving pictures: each source already animates (testsrc2 scrolls, mandelbrot zooms).
    parts = [
        f"{src},format=yuv420p,setsar=1,trim=duration={shot}[v{i}]" for i, src in enumerate(sources)
    ]
    return ";".join(parts) + ";" + "".join(f"[v{i}]" for i in range(4)) + "concat=n=4:v=1:a=0[v]"


def template(
    path: Path, *, picture: str = "shots", sound: str = "clicks", seconds: float = SECONDS,
    bpm: float = 120.0, source: Path | None = None,
) -> Path:  # fmt: skip
    """A template MP4.

    ``picture``: ``shots`` (four generated shots with cuts), ``video`` (``source``, a real
    clip), ``still`` (the first frame of ``source`` or of testsrc2, held), ``noise`` (random
    pixels every frame). ``sound``: ``clicks`` (a click on every beat of ``bpm``),
    ``silence`` (an audio track of digital silence) or ``none`` (no audio stream).
    """
    if path.exists():
        return path
    inputs: list[str] = []
    if picture == "shots":
        video = ["-filter_complex", _shots(seconds), "-map", "[v]"]
    elif picture == "video":
        assert source is not None
        inputs += ["-i", str(source)]
        video = ["-map", "0:v:0", "-t", str(seconds)]
    elif picture == "still":
        if source is not None:
            inputs += ["-i", str(source)]
            video = [
                "-filter_complex",
                f"[0:v:0]trim=end_frame=1,loop=-1:1:0,fps={RATE},trim=duration={seconds}[v]",
                "-map",
                "[v]",
            ]
        else:
            inputs += ["-f", "lavfi", "-i", f"testsrc2=s={SIZE}:r={RATE}:d=0.04"]
            video = [
                "-filter_complex",
                f"[0:v]loop=-1:1:0,fps={RATE},trim=duration={seconds}[v]",
                "-map",
                "[v]",
            ]
    elif picture == "noise":
        inputs += ["-f", "lavfi", "-i", f"nullsrc=s={SIZE}:r={RATE}:d={seconds}"]
        video = ["-vf", "geq=lum='random(1)*255':cb=128:cr=128", "-map", "0:v"]
    else:
        raise ValueError(f"unknown picture {picture!r}")
    audio_index = 1 if inputs else 0
    if sound == "clicks":
        wav = click_track(path.with_suffix(".clicks.wav"), bpm=bpm, seconds=seconds)
        inputs += ["-i", str(wav)]
    elif sound == "silence":
        inputs += ["-f", "lavfi", "-i", f"anullsrc=r=44100:cl=stereo:d={seconds}"]
    elif sound != "none":
        raise ValueError(f"unknown sound {sound!r}")
    audio = (
        ["-map", f"{audio_index}:a", "-c:a", "aac", "-t", str(seconds)] if sound != "none" else []
    )
    ffmpeg(
        *inputs,
        *video,
        *audio,
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-r",
        str(RATE),
        str(path),
    )
    return path


def few_frames(path: Path, source: Path | None, *, frames: int = 3) -> Path:
    """The first ``frames`` frames of ``source`` (or of testsrc2), with a click track."""
    if path.exists():
        return path
    seconds = frames / RATE
    wav = click_track(path.with_suffix(".clicks.wav"), bpm=120.0, seconds=max(seconds, 0.5))
    video = ["-i", str(source)] if source else ["-f", "lavfi", "-i", f"testsrc2=s={SIZE}:r={RATE}"]
    ffmpeg(
        *video, "-i", str(wav), "-map", "0:v:0", "-map", "1:a", "-frames:v", str(frames),
        "-t", f"{seconds:.3f}", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
        str(path),
    )  # fmt: skip
    return path
