"""Generated clips with exact shot boundaries: hard cuts, flashes, fast motion, transitions.

Every clip is 320x180 at 25 fps, H.264, made by ffmpeg from its own test sources (and, where
the shared corpus is present, from stretches of corpus files known to be one shot). The
answer comes from how the clip was made, never from looking at it with a detector:

- a hard cut is where one source ends and the next begins in ``concat`` (the first frame of
  the new shot);
- a flash (one or two white or brightened frames) and fast motion (a fast pan, a fast
  object, a shaking camera) stay inside one shot: no cut at all;
- an ``xfade`` transition from ``offset`` lasting ``n`` frames spans from frame ``offset``
  (the last frame of the old shot, still untouched) to ``offset + n`` (the first frame of the
  new one).

How xfade kinds map to our transition types: ``fade`` and ``dissolve`` (a blend and a
dithered blend of the two shots) are a ``dissolve``; the ``wipe*`` kinds are a ``wipe``;
``fadeblack`` and ``fadewhite`` pass through a uniform frame, so they are two transitions: a
``fade_out`` to that colour from ``offset`` to the first uniform frame, then a ``fade_in``
from the last uniform frame to ``offset + n``. Which frames are the uniform ones is read from a
lossless grey render of the same filter graph: those whose farthest pixel from black (white)
is within :data:`UNIFORM_SLACK` levels of the transition's darkest (brightest) frame. xfade
spends a fifth of the time on the fade out and four fifths on the fade in, and on a long
transition it does not quite reach pure black, so neither can be assumed.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from support.media import ffmpeg

RATE = 25
SIZE = (320, 180)
X264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast", "-crf", "18"]
UNIFORM_SLACK = 4
MAX_THROUGH_LEVEL = 16  # the darkest (brightest) frame of a fade through black (white)

# ffmpeg's gradients picks any colour it is not given at random, whatever its seed.
GRADIENT_COLORS = "nb_colors=4:c0=0x3050a0:c1=0xd09040:c2=0x40a060:c3=0xa03070"

# Picture sources: each a different kind of picture, so a cut between two is a real change.
SCENES = {
    "testsrc2": "testsrc2=s=320x180:r=25",
    "mandelbrot": "mandelbrot=s=320x180:r=25",
    "bars": "smptehdbars=s=320x180:r=25",
    # life, gradients and cellauto are random unless seeded, so every run would cut a
    # different clip (it made lavfi_shots flaky in test_cuts). gradients needs more than its
    # seed: each colour left at its default is drawn at random, outside the seed.
    "life": "life=s=320x180:r=25:mold=10:ratio=0.3:seed=1:death_color=#203040:life_color=#e0c080",
    "gradients": f"gradients=s=320x180:r=25:speed=0.02:seed=1:{GRADIENT_COLORS}",
    "cells": "cellauto=s=320x180:r=25:rule=110:random_seed=1",
}

# Stretches of corpus files that are one shot each (by the corpus ground truth: testvideo
# has hard cuts at 30 and 180 and its fades and dissolve elsewhere; goldeneye cuts at 3.754 s
# and 8.759 s), as (file, start second).
CORPUS_SHOTS = {
    "tv_shot1": ("pyscenedetect/testvideo.mp4", 1.5),  # frames 45..: the first shot
    "tv_rock": ("pyscenedetect/testvideo.mp4", 14.2),  # the rock shot, 426..527: 84 frames
    "tv_grille": ("pyscenedetect/testvideo.mp4", 19.0),  # after the dissolve, 569..
    "ge_shot1": ("pyscenedetect/goldeneye-vfr-drop3.mp4", 0.5),
    "ge_shot2": ("pyscenedetect/goldeneye-vfr-drop3.mp4", 4.2),
}


@dataclass(frozen=True)
class CutClip:
    """A clip whose hard cuts are known: ``cuts`` are first frames of new shots."""

    name: str
    group: str  # "cuts" (real cuts), "flash" or "motion" (none that count)
    cuts: tuple[int, ...]
    frames: int
    needs_corpus: bool
    build: Callable[[Path, Path | None], None]

    def path(self, folder: Path, corpus: Path | None = None) -> Path:
        out = folder / f"cut_{self.name}.mp4"
        if not out.exists():
            if self.needs_corpus and corpus is None:
                raise FileNotFoundError(f"{self.name} needs the corpus")
            tmp = out.with_suffix(".part.mp4")
            self.build(tmp, corpus)
            tmp.rename(out)
        return out


@dataclass(frozen=True)
class Expected:
    """One transition of a clip: frames from the last of the old state to the first of the new."""

    type: str  # "dissolve", "fade_in", "fade_out" or "wipe"
    start: int
    end: int
    color: str | None = None  # the uniform frame of a fade


@dataclass(frozen=True)
class TransitionClip:
    """Two shots joined by one ffmpeg xfade: ``frames`` frames of ``a``, then the xfade."""

    kind: str
    frames: int  # transition length in frames
    a: str
    b: str
    core: bool = True  # a kind the goal covers; the others are measured beside it

    @property
    def name(self) -> str:
        return f"{self.kind}_{self.frames}"

    @property
    def offset(self) -> int:
        return 40  # frames of shot a before the transition

    def _graph(self) -> tuple[list[str], str]:
        seconds_a = (self.offset + self.frames) / RATE
        seconds_b = (self.frames + 40) / RATE
        inputs = [*_lavfi(self.a, seconds_a), *_lavfi(self.b, seconds_b)]
        duration, offset = self.frames / RATE, self.offset / RATE
        graph = (
            f"[0:v]settb=1/{RATE}[a];[1:v]settb=1/{RATE}[b];"
            f"[a][b]xfade=transition={self.kind}:duration={duration}:offset={offset}[v]"
        )
        return inputs, graph

    def path(self, folder: Path) -> Path:
        out = folder / f"xfade_{self.name}_{self.a}_{self.b}.mp4"
        if not out.exists():
            inputs, graph = self._graph()
            tmp = out.with_suffix(".part.mp4")
            ffmpeg(*inputs, "-filter_complex", graph, "-map", "[v]", *X264, str(tmp))
            tmp.rename(out)
        return out

    def expected(self) -> list[Expected]:
        start, end = self.offset, self.offset + self.frames
        if self.kind in ("fade", "dissolve"):
            return [Expected("dissolve", start, end)]
        if self.kind.startswith("wipe") or self.kind in ("slideleft", "circleopen"):
            return [Expected("wipe", start, end)]
        if self.kind in ("fadeblack", "fadewhite"):
            color = self.kind.removeprefix("fade")
            first, last = self._uniform_run(color)
            return [
                Expected("fade_out", start, first, color),
                Expected("fade_in", last, end, color),
            ]
        raise ValueError(f"no expected transition for xfade kind {self.kind!r}")

    def _uniform_run(self, color: str) -> tuple[int, int]:
        """First and last frame of the transition that xfade renders as one flat colour."""
        inputs, graph = self._graph()
        done = subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", *inputs, "-filter_complex",
             graph + ";[v]scale=80:45,format=gray[g]", "-map", "[g]", "-f", "rawvideo", "-"],
            capture_output=True, check=True,
        )  # fmt: skip
        grey = np.frombuffer(done.stdout, np.uint8).reshape(-1, 45 * 80)
        level = 0 if color == "black" else 255
        inside = np.arange(self.offset + 1, self.offset + self.frames)
        away = np.abs(grey[inside].astype(int) - level).max(axis=1)
        if away.min() > MAX_THROUGH_LEVEL:
            raise RuntimeError(f"{self.name}: no near-{color} frame in the transition")
        flat = inside[away <= away.min() + UNIFORM_SLACK]
        return int(flat[0]), int(flat[-1])


def _lavfi(scene: str, seconds: float) -> list[str]:
    return ["-f", "lavfi", "-t", f"{seconds:.4f}", "-i", SCENES[scene]]


def _segment(index: int, frames: int) -> str:
    """Filter turning input ``index`` into exactly ``frames`` frames at the common size."""
    w, h = SIZE
    return (
        f"[{index}:v]fps={RATE},scale={w}:{h},setsar=1,format=yuv420p,"
        f"trim=end_frame={frames},setpts=PTS-STARTPTS[s{index}]"
    )


def _concat(out: Path, corpus: Path | None, shots: list[tuple[str, int]], vf: str = "") -> None:
    """Shots (a scene or corpus-shot name, frame count) one after another, hard cuts between."""
    inputs: list[str] = []
    for name, frames in shots:
        seconds = frames / RATE + 0.5
        if name in SCENES:
            inputs += _lavfi(name, seconds)
        else:
            relative, start = CORPUS_SHOTS[name]
            assert corpus is not None
            inputs += ["-ss", str(start), "-t", f"{seconds:.3f}", "-i", str(corpus / relative)]
    parts = [_segment(i, frames) for i, (_, frames) in enumerate(shots)]
    joined = "".join(f"[s{i}]" for i in range(len(shots)))
    graph = ";".join(parts) + f";{joined}concat=n={len(shots)}:v=1:a=0"
    graph += f",{vf}[v]" if vf else "[v]"
    ffmpeg(*inputs, "-filter_complex", graph, "-map", "[v]", "-an", *X264, str(out))


def _cut_clip(name: str, shots: list[tuple[str, int]], vf: str = "", group: str = "") -> CutClip:
    starts = np.cumsum([frames for _, frames in shots])[:-1]
    corpus = any(shot not in SCENES for shot, _ in shots)
    group = group or ("cuts" if len(shots) > 1 else "motion")
    return CutClip(
        name, group, tuple(int(s) for s in starts), sum(f for _, f in shots), corpus,
        lambda out, root: _concat(out, root, shots, vf),
    )  # fmt: skip


def _filtered(name: str, group: str, source: str, frames: int, vf: str) -> CutClip:
    """One shot of a scene through a filter (a moving crop, a flash)."""

    def build(out: Path, corpus: Path | None) -> None:
        ffmpeg("-f", "lavfi", "-i", source, "-filter_complex", f"{vf},trim=end_frame={frames}",
               "-an", *X264, str(out))  # fmt: skip

    return CutClip(name, group, (), frames, False, build)


def _white(frames: str) -> str:
    return f"drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='{frames}'"


def cut_clips() -> list[CutClip]:
    """The generated hard-cut set: real cuts, flashes inside a shot, fast motion."""
    big = "testsrc2=s=1280x720:r=25"
    return [
        _cut_clip(
            "lavfi_shots",
            [
                ("testsrc2", 40),
                ("mandelbrot", 23),
                ("bars", 57),
                ("life", 31),
                ("gradients", 29),
                ("cells", 30),
            ],
        ),
        # A fast montage: shots of 4 to 9 frames.
        _cut_clip(
            "montage",
            [
                ("mandelbrot", 20),
                ("testsrc2", 6),
                ("life", 9),
                ("bars", 4),
                ("gradients", 7),
                ("mandelbrot", 5),
                ("cells", 8),
                ("testsrc2", 30),
            ],
        ),
        _cut_clip(
            "corpus_shots",
            [
                ("tv_shot1", 45),
                ("ge_shot1", 38),
                ("tv_rock", 52),
                ("ge_shot2", 41),
                ("tv_grille", 44),
            ],
        ),
        _filtered("flash_one_white", "flash", SCENES["mandelbrot"], 100, _white("eq(n,40)")),
        _filtered(
            "flash_two_white", "flash", SCENES["testsrc2"], 100, _white("between(n,30,31)+eq(n,70)")
        ),
        _filtered(
            "flash_bright",
            "flash",
            SCENES["life"],
            100,
            "eq=brightness=0.55:enable='eq(n,35)+between(n,70,71)'",
        ),
        _cut_clip(
            "corpus_flash",
            [("tv_rock", 80)],
            vf=_white("eq(n,30)+between(n,55,56)"),
            group="flash",
        ),
        _filtered(
            "pan_fast", "motion", big, 125, "crop=320:180:x='480+470*sin(n/5)':y='270+260*cos(n/7)'"
        ),
        # A box crossing the frame in under half a second.
        _filtered(
            "object_fast",
            "motion",
            SCENES["mandelbrot"],
            125,
            "split[bg][fg];[fg]crop=100:100:110:40,negate[box];"
            "[bg][box]overlay=x='mod(n*37,420)-100':y='40+30*sin(n/3)'",
        ),
        _filtered(
            "shake",
            "motion",
            big,
            125,
            "crop=320:180:x='480+90*(random(1)-0.5)':y='270+60*(random(2)-0.5)'",
        ),
    ]


def transition_clips() -> list[TransitionClip]:
    """The generated gradual-transition set: several xfade kinds and lengths."""
    return [
        TransitionClip("fade", 12, "testsrc2", "mandelbrot"),
        TransitionClip("fade", 25, "bars", "life"),
        TransitionClip("fade", 50, "mandelbrot", "testsrc2"),
        TransitionClip("dissolve", 25, "testsrc2", "mandelbrot"),
        TransitionClip("fadeblack", 15, "testsrc2", "mandelbrot"),
        TransitionClip("fadeblack", 30, "life", "bars"),
        TransitionClip("fadewhite", 15, "mandelbrot", "testsrc2"),
        TransitionClip("fadewhite", 30, "bars", "life"),
        TransitionClip("wipeleft", 12, "testsrc2", "mandelbrot"),
        TransitionClip("wiperight", 25, "mandelbrot", "bars"),
        TransitionClip("wipeup", 15, "life", "testsrc2"),
        TransitionClip("wipedown", 30, "bars", "mandelbrot"),
        TransitionClip("slideleft", 25, "testsrc2", "mandelbrot", core=False),
        TransitionClip("circleopen", 25, "mandelbrot", "testsrc2", core=False),
    ]
