"""Clips with a known camera move, made with ffmpeg from one detailed still picture.

The still is 2560x1440: testsrc2 averaged with a Mandelbrot set for large structure, with two
scales of blurred noise overlaid so that every 640x360 window of it has texture to track.
Each clip is 640x360 at 25 fps, 3 s, and only the simulated camera moves:

- pan / tilt: a window slid across the still at a constant speed (``crop`` with ``t``);
  ``speed`` is in frame widths (heights for a tilt) per second, up to 1.0.
- zoom: ``zoompan`` on the still at a constant relative rate (``z = exp(rate * t)``), centred;
  ``speed`` is that rate per second. Zooming out runs the same zoom backwards.
- shake: handheld jitter, the window's offset a sum of four sinusoids between 2.3 and 7.9 Hz
  with fixed phases (so it wanders with no net drift); ``speed`` is the offset's amplitude
  as a fraction of the frame.
- still: the window held in the middle. Noise: fresh random pixels every frame (no camera,
  nothing to track); flat: one grey, nothing to track either.

Within one kind and direction a faster speed is a more intense clip, and a still is less
intense than any move, which is the intensity order the benchmark checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipelines.analyzers.base import AnalyzerResult
from pipelines.analyzers.motion import MotionAnalyzer
from pipelines.decode import VideoSource, analysis_size
from pipelines.inference import InferenceBackend
from pipelines.ingest import probe
from support.media import ffmpeg

WIDTH, HEIGHT = 640, 360
SOURCE_W, SOURCE_H = 2560, 1440
FPS = 25
SECONDS = 3.0
FRAMES = int(FPS * SECONDS)
# Handheld jitter: (frequency Hz, weight, phase x, phase y) of each sinusoid.
SHAKE_TERMS = (
    (2.3, 1.0, 0.0, 1.7),
    (3.7, 0.8, 2.1, 0.4),
    (5.3, 0.6, 4.0, 2.9),
    (7.9, 0.4, 1.1, 5.2),
)
X264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "16", "-pix_fmt", "yuv420p"]


@dataclass(frozen=True)
class MotionCase:
    """One generated clip and its exact answer."""

    kind: str  # static, pan, tilt, zoom, shake; "noise" and "flat" have no camera answer
    direction: str | None  # right/left, down/up, in/out (the camera's), else None
    speed: float  # see the module docstring for the unit of each kind; 0 for still ones

    @property
    def name(self) -> str:
        parts = [self.kind] + ([self.direction] if self.direction else [])
        return "_".join(parts + ([f"{self.speed:g}"] if self.speed else []))

    @property
    def group(self) -> str:
        """Clips whose intensity order is known among themselves: one kind and direction."""
        return f"{self.kind}_{self.direction}" if self.direction else self.kind


PAN_SPEEDS = (0.1, 0.25, 0.5, 1.0)
ZOOM_RATES = (0.1, 0.2, 0.4)
SHAKE_AMPLITUDES = (0.005, 0.01, 0.02)


def cases(quick: bool = False) -> list[MotionCase]:
    """Every generated clip: each kind, direction and speed, and the still ones."""
    pans = PAN_SPEEDS[1::2] if quick else PAN_SPEEDS
    zooms = ZOOM_RATES[::2] if quick else ZOOM_RATES
    shakes = SHAKE_AMPLITUDES[::2] if quick else SHAKE_AMPLITUDES
    out = [MotionCase("static", None, 0.0)]
    for kind, directions in (("pan", ("right", "left")), ("tilt", ("down", "up"))):
        out += [MotionCase(kind, d, s) for d in directions for s in pans]
    out += [MotionCase("zoom", d, r) for d in ("in", "out") for r in zooms]
    out += [MotionCase("shake", None, a) for a in shakes]
    return out


def still_picture(work: Path) -> Path:
    """The detailed 2560x1440 still every moving clip is cut from (made once per folder)."""
    path = work / "motion_still.png"
    if path.is_file():
        return path
    size = f"s={SOURCE_W}x{SOURCE_H}"
    graph = (
        "[0]normalize[fine];[1]normalize[coarse];"
        "[fine][coarse]blend=all_mode=average,format=rgb24[texture];"
        "[2][3]blend=all_mode=average,format=rgb24[picture];"
        "[picture][texture]blend=all_mode=overlay,format=rgb24"
    )
    tmp = path.with_suffix(".tmp.png")
    ffmpeg(
        "-f", "lavfi", "-i", f"color=gray:{size},noise=alls=100:allf=0,format=gray,gblur=sigma=5",
        "-f", "lavfi", "-i",
        f"color=gray:{size},noise=alls=100:allf=0:all_seed=7,format=gray,gblur=sigma=24",
        "-f", "lavfi", "-i", f"testsrc2={size}",
        "-f", "lavfi", "-i", f"mandelbrot={size}",
        "-filter_complex", graph, "-frames:v", "1", str(tmp),
    )  # fmt: skip
    tmp.rename(path)
    return path


def _filter(case: MotionCase) -> str:
    """The ffmpeg filter that turns the looped still into ``case``'s camera move."""
    travel_x, travel_y = SOURCE_W - WIDTH, SOURCE_H - HEIGHT
    cx, cy = travel_x // 2, travel_y // 2
    crop = f"format=rgb24,crop={WIDTH}:{HEIGHT}:exact=1"
    if case.kind == "static":
        return f"{crop}:x={cx}:y={cy}"
    if case.kind == "pan":
        step = case.speed * WIDTH
        x = f"{step}*t" if case.direction == "right" else f"{travel_x}-{step}*t"
        return f"{crop}:x='{x}':y={cy}"
    if case.kind == "tilt":
        step = case.speed * HEIGHT
        y = f"{step}*t" if case.direction == "down" else f"{travel_y}-{step}*t"
        return f"{crop}:x={cx}:y='{y}'"
    if case.kind == "zoom":
        t = f"(on/{FPS})"
        if case.direction == "out":
            t = f"({SECONDS}-1/{FPS}-{t})"
        return (
            f"zoompan=z='exp({case.speed}*{t})':x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2'"
            f":d=1:s={WIDTH}x{HEIGHT}:fps={FPS}"
        )
    if case.kind == "shake":
        norm = sum(w for _, w, _, _ in SHAKE_TERMS)

        def wave(axis: int, size: int) -> str:
            terms = "+".join(f"{w}*sin(2*PI*{f}*t+{phases[axis]})" for f, w, *phases in SHAKE_TERMS)
            return f"{case.speed * size / norm:.4f}*({terms})"

        return f"{crop}:x='{cx}+{wave(0, WIDTH)}':y='{cy}+{wave(1, HEIGHT)}'"
    raise ValueError(f"no camera move for kind {case.kind!r}")


def render(case: MotionCase, work: Path) -> Path:
    """``case`` as an H.264 MP4 in ``work`` (cached by name)."""
    path = work / f"motion_{case.name}.mp4"
    if path.is_file():
        return path
    still = still_picture(work)
    tmp = path.with_suffix(".tmp.mp4")
    ffmpeg(
        "-loop", "1", "-framerate", str(FPS), "-i", str(still),
        "-vf", _filter(case), *X264, "-r", str(FPS), "-frames:v", str(FRAMES), str(tmp),
    )  # fmt: skip
    tmp.rename(path)
    return path


def noise_clip(work: Path) -> Path:
    """Fresh random grey pixels every frame: no camera move, and nothing that could show one."""
    path = work / "motion_noise.mp4"
    if not path.is_file():
        tmp = path.with_suffix(".tmp.mp4")
        source = (
            f"nullsrc=s={WIDTH}x{HEIGHT}:r={FPS}:d={SECONDS},geq=lum='random(1)*255':cb=128:cr=128"
        )
        ffmpeg("-f", "lavfi", "-i", source, *X264, str(tmp))
        tmp.rename(path)
    return path


def flat_clip(work: Path) -> Path:
    """One grey, held: a still frame with no texture at all."""
    path = work / "motion_flat.mp4"
    if not path.is_file():
        tmp = path.with_suffix(".tmp.mp4")
        ffmpeg(
            "-f",
            "lavfi",
            "-i",
            f"color=c=gray:s={WIDTH}x{HEIGHT}:r={FPS}:d={SECONDS}",
            *X264,
            str(tmp),
        )
        tmp.rename(path)
    return path


def analyze(path: Path, backend: InferenceBackend, width: int = 320) -> AnalyzerResult:
    """Our motion analyzer on ``path``, fed as the runner feeds it (at the analysis width)."""
    info = probe(path)
    analyzer = MotionAnalyzer(backend, info.fps)
    for chunk in VideoSource(info, analysis_size(info, width)).chunks():
        analyzer.update(chunk)
    return analyzer.finish()


def answer_right(case: MotionCase, motion: dict) -> tuple[bool, bool | None]:
    """Whether ``motion`` (our section) names ``case``'s class, and its direction (None: none)."""
    classed = motion["dominant_camera_motion"] == case.kind
    key = {"pan": "pan_direction", "tilt": "tilt_direction", "zoom": "zoom_direction"}
    if case.kind not in key:
        return classed, None
    return classed, motion[key[case.kind]] == case.direction
