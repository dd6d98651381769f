"""Stage 5, apply: render footage in a Style DNA's style.

Three steps, each in its own function:

1. :func:`plan_edit` re-cuts the footage to the template's rhythm: the output keeps the
   template's shot boundaries (snapped to its beats) and the transition type at each, and
   spreads each footage clip's segments evenly over that clip.
2. :func:`fit_grades` fits one colour grade per output shot (so nothing flickers inside a
   shot) from a few of that shot's own frames.
3. :func:`render` streams the output frames, composed with the transitions, to the encoder.
"""

from __future__ import annotations

import itertools
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipelines.analyzers.color import content_frames, frame_color_stats, pooled_gaussian
from pipelines.decode import STALL_TIMEOUT_S, VideoSource, decode_audio
from pipelines.encode import AUDIO_RATE, AudioInput, VideoWriter, mux
from pipelines.errors import InputError, JobCancelled
from pipelines.grade import Grade, LabGaussian, noise_level, pixel_sample
from pipelines.inference import InferenceBackend
from pipelines.ingest import MediaInfo
from pipelines.options import JobOptions

logger = logging.getLogger(__name__)

MIN_SHOT_S = 0.4
SNAP_WINDOW_S = 0.25
FADE_PAIR_GAP_S = 3.0
EDGE_S = 1.5
GRADE_SAMPLES = 8
MEAN_CORRECTIONS = 2
FIT_PIXELS = 40_000
RENDER_BATCH = 8
MAX_FPS = 60.0
DEFAULT_DISSOLVE_S = 0.5
AUDIO_FADE_S = 1.0


@dataclass
class Boundary:
    """A shot change in the output: its time, type and how long each side's part lasts."""

    time_s: float
    type: str = "cut"  # cut, dissolve, fade (through black), wipe
    before_s: float = 0.0  # dissolve/wipe: half-length; fade: fade-out length
    after_s: float = 0.0


@dataclass
class Segment:
    clip: int
    out_start: float
    out_end: float
    src_start: float

    def src_time(self, t: float) -> float:
        return self.src_start + (t - self.out_start)


@dataclass
class EditPlan:
    duration_s: float
    fps: float
    width: int
    height: int
    segments: list[Segment]
    boundaries: list[Boundary]  # boundaries[i] is between segments[i] and segments[i + 1]
    head_fade_s: float = 0.0
    tail_fade_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "duration_s": round(self.duration_s, 3),
            "fps": round(self.fps, 3),
            "size": [self.width, self.height],
            "segments": [
                {"clip": s.clip, "start_s": round(s.out_start, 3), "end_s": round(s.out_end, 3),
                 "source_start_s": round(s.src_start, 3)}
                for s in self.segments
            ],
            "boundaries": [{"time_s": round(b.time_s, 3), "type": b.type} for b in self.boundaries],
            "head_fade_s": self.head_fade_s,
            "tail_fade_s": self.tail_fade_s,
        }  # fmt: skip


def output_format(first: MediaInfo) -> tuple[int, int, float]:
    """Output size (the first clip's shown size, padded to even) and a constant frame rate."""
    fps = first.fps if 0 < first.fps <= MAX_FPS else min(MAX_FPS, first.fps or 30.0)
    return first.width + first.width % 2, first.height + first.height % 2, fps


def template_boundaries(dna: dict[str, Any]) -> tuple[list[Boundary], float, float]:
    """The template's shot changes as output boundaries, plus its head and tail fades."""
    duration = float(dna["template"]["duration_s"])
    events = sorted(dna.get("transitions", {}).get("events", []), key=lambda e: e["start_s"])
    boundaries: list[Boundary] = []
    head = tail = 0.0
    i = 0
    while i < len(events):
        event = events[i]
        kind, start, end = event["type"], float(event["start_s"]), float(event["end_s"])
        if kind == "fade_in" and start <= EDGE_S and not boundaries:
            head = max(end - start, 0.1)
        elif kind == "fade_out" and end >= duration - EDGE_S:
            tail = max(end - start, 0.1)
        elif kind == "cut":
            boundaries.append(Boundary(start))
        elif kind in ("dissolve", "wipe"):
            half = max((end - start) / 2, 1 / 30)
            boundaries.append(Boundary((start + end) / 2, kind, half, half))
        elif kind == "fade_out":
            nxt = events[i + 1] if i + 1 < len(events) else None
            if nxt and nxt["type"] == "fade_in" and nxt["start_s"] - end <= FADE_PAIR_GAP_S:
                t = (end + float(nxt["start_s"])) / 2
                after = float(nxt["end_s"]) - float(nxt["start_s"])
                boundaries.append(Boundary(t, "fade", end - start, after))
                i += 1
            else:
                boundaries.append(Boundary(end, "fade", end - start, 0.0))
        elif kind == "fade_in":
            boundaries.append(Boundary(start, "fade", 0.0, end - start))
        i += 1
    known = {round(b.time_s, 2) for b in boundaries}
    for t in dna.get("cuts", {}).get("times_s", []):
        if round(float(t), 2) not in known:
            boundaries.append(Boundary(float(t)))
    boundaries.sort(key=lambda b: b.time_s)
    return boundaries, head, tail


def _snap(boundaries: list[Boundary], beats: list[float], duration: float) -> list[Boundary]:
    """Move each boundary onto the nearest beat close enough, and drop too-short shots."""
    beats_arr = np.asarray(beats, dtype=float)
    if len(beats_arr) >= 2:
        window = max(SNAP_WINDOW_S, float(np.median(np.diff(beats_arr))) / 2)
    else:
        window = SNAP_WINDOW_S
    kept: list[Boundary] = []
    for b in boundaries:
        t = b.time_s
        if len(beats_arr):
            nearest = float(beats_arr[np.argmin(np.abs(beats_arr - t))])
            if abs(nearest - t) <= window:
                t = nearest
        previous = kept[-1].time_s if kept else 0.0
        if t - previous >= MIN_SHOT_S and duration - t >= MIN_SHOT_S:
            kept.append(Boundary(t, b.type, b.before_s, b.after_s))
    return kept


def plan_edit(dna: dict[str, Any], footage: list[MediaInfo], options: JobOptions) -> EditPlan:
    """Decide the output's shots: where each comes from and how it joins the next."""
    if not footage:
        raise InputError("apply needs at least one footage clip")
    width, height, fps = output_format(footage[0])
    total = sum(f.duration_s for f in footage)
    template_duration = float(dna["template"]["duration_s"])
    notes: list[str] = []

    if options.recut:
        duration = min(template_duration, total)
        boundaries, head, tail = template_boundaries(dna)
        boundaries = [b for b in boundaries if 0 < b.time_s < duration]
        if not boundaries and len(footage) > 1:
            boundaries = [Boundary(duration * k / len(footage)) for k in range(1, len(footage))]
            notes.append("the template has no shot change: one shot per footage clip")
        beats = dna.get("rhythm", {}).get("detected_beats", [])
        boundaries = _snap(boundaries, beats, duration)
    else:
        duration = total
        head = tail = 0.0
        edges = np.cumsum([f.duration_s for f in footage])[:-1]
        boundaries = [Boundary(float(t)) for t in edges]
    if options.max_output_s:
        duration = min(duration, options.max_output_s)
        boundaries = [b for b in boundaries if b.time_s < duration - MIN_SHOT_S]
    if tail and duration < template_duration - EDGE_S:
        tail = 0.0
    if not options.transitions:
        boundaries = [Boundary(b.time_s) for b in boundaries]
        head = tail = 0.0

    edges = [0.0, *[b.time_s for b in boundaries], duration]
    spans = list(itertools.pairwise(edges))
    clips = _assign_clips(spans, footage, duration) if options.recut else list(range(len(footage)))
    segments = _place(spans, clips, footage, options.recut)
    plan = EditPlan(duration, fps, width, height, segments, boundaries, head, tail, notes)
    logger.info("edit plan: %d shots over %.2f s", len(segments), duration)
    return plan


def _assign_clips(
    spans: list[tuple[float, float]], footage: list[MediaInfo], duration: float
) -> list[int]:
    """Clips in order, each getting a share of the output in proportion to its length."""
    shares = np.cumsum([f.duration_s for f in footage]) / sum(f.duration_s for f in footage)
    clips = []
    for start, end in spans:
        middle = (start + end) / 2 / duration
        clips.append(int(min(np.searchsorted(shares, middle, side="right"), len(footage) - 1)))
    # Every clip appears at least once when there are enough shots.
    if len(spans) >= len(footage):
        for clip in range(len(footage)):
            if clip not in clips:
                counts = np.bincount(clips, minlength=len(footage))
                donor = int(np.argmax(counts))
                index = max(i for i, c in enumerate(clips) if c == donor)
                clips[index] = clip
        clips = sorted(clips)
    return clips


def _place(
    spans: list[tuple[float, float]], clips: list[int], footage: list[MediaInfo], spread: bool
) -> list[Segment]:
    """Source start of each shot: the clip's shots spread evenly over the clip, in order."""
    segments: list[Segment] = []
    cursor = {}
    for clip in sorted(set(clips)):
        mine = [i for i, c in enumerate(clips) if c == clip]
        lengths = [spans[i][1] - spans[i][0] for i in mine]
        slack = footage[clip].duration_s - sum(lengths)
        gap = slack / len(mine) if spread and slack > 0 else 0.0
        t = gap / 2
        for i, length in zip(mine, lengths, strict=True):
            start = t if slack >= 0 else max(0.0, (footage[clip].duration_s - length) * 0.5)
            cursor[i] = start
            t += length + gap
    for i, (start, end) in enumerate(spans):
        segments.append(Segment(clips[i], start, end, cursor[i]))
    return segments


class _Clip:
    """A footage clip opened at the size it takes inside the output frame."""

    def __init__(
        self, info: MediaInfo, width: int, height: int, stall_timeout_s: float = STALL_TIMEOUT_S
    ) -> None:
        scale = min(width / info.width, height / info.height)
        w = max(2, min(width, round(info.width * scale)))
        h = max(2, min(height, round(info.height * scale)))
        self.source = VideoSource(info, (w, h), stall_timeout_s=stall_timeout_s)
        self.offset = ((height - h) // 2, (width - w) // 2)

    def frames(self, times: list[float]) -> dict[float, np.ndarray]:
        indices = sorted({self.source.index_at(max(0.0, t)) for t in times})
        decoded = dict(zip(indices, self.source.get(indices), strict=True))
        return {t: decoded[self.source.index_at(max(0.0, t))] for t in times}


def fit_grades(
    plan: EditPlan, clips: list[_Clip], dna: dict[str, Any], backend: InferenceBackend,
    options: JobOptions, device: torch.device,
) -> list[Grade | None]:  # fmt: skip
    """One grade per output shot, from up to GRADE_SAMPLES of that shot's own frames."""
    color = dna.get("color") or {}
    if options.color_strength <= 0 or "lab_mean" not in color:
        return [None] * len(plan.segments)
    target = LabGaussian(
        np.asarray(color["lab_mean"], dtype=np.float64),
        np.asarray(color["lab_covariance"], dtype=np.float64),
    )
    curve = (color.get("tone_curve") or {}).get("l_values") or []
    black_l = float(curve[0]) * options.color_strength if curve else None
    grades: list[Grade | None] = []
    for segment in plan.segments:
        length = segment.out_end - segment.out_start
        times = [
            segment.src_start + length * (k + 0.5) / GRADE_SAMPLES for k in range(GRADE_SAMPLES)
        ]
        frames = np.stack(list(clips[segment.clip].frames(times).values()))
        grades.append(_fit_grade(frames, target, backend, options, device, black_l))
    return grades


def _fit_grade(
    frames: np.ndarray, target: LabGaussian, backend: InferenceBackend, options: JobOptions,
    device: torch.device, black_l: float | None = None,
) -> Grade | None:  # fmt: skip
    """Fit a grade on a shot's ``frames`` (at the output size), then check its mean on them
    and correct the aim if it missed.

    The statistics and the pixel sample are taken from the frames point-sampled (every
    ``step``-th pixel, as the template's are), the noise that bounds the gain from the frames
    themselves. The fitted RGB matrix already matches the Lab map's mean and covariance on
    its pixel sample, clipping included (see ``pipelines.grade``); measuring the graded
    frames and moving the aim by the miss (at most twice) catches what the sample did not
    show.
    """
    step = max(1, int(np.ceil(max(frames.shape[1] / 240, frames.shape[2] / 320))))
    full, frames = frames, np.ascontiguousarray(frames[:, ::step, ::step])
    stats = frame_color_stats(backend, frames)
    keep = content_frames(stats)
    if not keep.any():
        return None  # a black or white card: grading it would only tint it
    frames = frames[keep]
    noise = noise_level(full[keep])
    source = LabGaussian(*pooled_gaussian(stats, keep))
    sample = pixel_sample(frames.reshape(-1, 3), FIT_PIXELS)
    goal = source.mean + options.color_strength * (target.mean - source.mean)
    aim = LabGaussian(goal.copy(), target.cov)

    def fit(aim: LabGaussian) -> Grade:
        return Grade(source, aim, sample, options.color_strength, device, black_l, noise)

    grade = fit(aim)
    pixels = torch.from_numpy(frames).to(device).float().div_(255.0)
    for _ in range(MEAN_CORRECTIONS):
        graded = grade.apply(pixels).mul_(255).round_().to(torch.uint8).cpu().numpy()
        mean, _ = pooled_gaussian(frame_color_stats(backend, graded))
        miss = goal - mean
        if np.abs(miss).max() < 0.25:
            break
        # The map blends by strength; aim past the goal so the blend lands on it.
        aim = LabGaussian(aim.mean + miss / max(options.color_strength, 1e-3), target.cov)
        grade = fit(aim)
    return grade


def _weights(plan: EditPlan, t: float) -> tuple[list[tuple[int, float, str]], float]:
    """Which shots make up the output frame at ``t``, how (blend or wipe), and its gain."""
    edges = [s.out_start for s in plan.segments[1:]]
    index = int(np.searchsorted(edges, t, side="right"))
    parts = [(index, 1.0, "blend")]
    gain = 1.0
    for b_index, boundary in ((index - 1, None), (index, None)):
        if not 0 <= b_index < len(plan.boundaries):
            continue
        boundary = plan.boundaries[b_index]
        start, end = boundary.time_s - boundary.before_s, boundary.time_s + boundary.after_s
        if not start <= t < end:
            continue
        if boundary.type in ("dissolve", "wipe"):
            alpha = (t - start) / max(end - start, 1e-6)
            kind = "blend" if boundary.type == "dissolve" else "wipe"
            parts = [(b_index, 1.0 - alpha, kind), (b_index + 1, alpha, kind)]
        elif boundary.type == "fade":
            if t < boundary.time_s and boundary.before_s > 0:
                gain = min(gain, (boundary.time_s - t) / boundary.before_s)
            elif t >= boundary.time_s and boundary.after_s > 0:
                gain = min(gain, (t - boundary.time_s) / boundary.after_s)
    if plan.head_fade_s and t < plan.head_fade_s:
        gain = min(gain, t / plan.head_fade_s)
    if plan.tail_fade_s and t > plan.duration_s - plan.tail_fade_s:
        gain = min(gain, (plan.duration_s - t) / plan.tail_fade_s)
    return parts, max(0.0, gain)


def render(
    plan: EditPlan, footage: list[MediaInfo], dna: dict[str, Any], backend: InferenceBackend,
    options: JobOptions, video_path: Path, *, device: str | torch.device = "cpu",
    on_progress: Callable[[float], None] | None = None,
    should_cancel: Callable[[], bool] | None = None, stall_timeout_s: float = STALL_TIMEOUT_S,
) -> int:  # fmt: skip
    """Render the plan's frames into a video-only H.264 file; return the frame count."""
    device = torch.device(device)
    clips = [_Clip(info, plan.width, plan.height, stall_timeout_s) for info in footage]
    try:
        return _render(plan, clips, dna, backend, options, video_path, device, on_progress,
                       should_cancel)  # fmt: skip
    finally:
        for clip in clips:
            clip.source.close()  # stop each clip's decoder, however rendering ended


def _render(
    plan: EditPlan, clips: list[_Clip], dna: dict[str, Any], backend: InferenceBackend,
    options: JobOptions, video_path: Path, device: torch.device,
    on_progress: Callable[[float], None] | None, should_cancel: Callable[[], bool] | None,
) -> int:  # fmt: skip
    grades = fit_grades(plan, clips, dna, backend, options, device)
    total = max(1, round(plan.duration_s * plan.fps))
    writer = VideoWriter(video_path, plan.width, plan.height, plan.fps)
    try:
        for start in range(0, total, RENDER_BATCH):
            if should_cancel and should_cancel():
                raise JobCancelled("the job was cancelled while rendering")
            stop = min(total, start + RENDER_BATCH)
            batch = _compose(
                plan, clips, grades, [n / plan.fps for n in range(start, stop)], device
            )
            writer.write(torch.stack(batch).cpu().numpy())
            if on_progress:
                on_progress(stop / total)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return total


def _compose(
    plan: EditPlan, clips: list[_Clip], grades: list[Grade | None], times: list[float],
    device: torch.device,
) -> list[torch.Tensor]:  # fmt: skip
    """The output frames at ``times``, each source frame decoded once for the whole batch."""
    layout = [_weights(plan, t) for t in times]
    wanted: dict[int, list[float]] = {}
    for t, (parts, _) in zip(times, layout, strict=True):
        for index, _, _ in parts:
            segment = plan.segments[index]
            wanted.setdefault(segment.clip, []).append(_source_time(segment, clips, t))
    decoded = {clip: clips[clip].frames(ts) for clip, ts in wanted.items()}

    frames = []
    for t, (parts, gain) in zip(times, layout, strict=True):
        canvas: torch.Tensor | None = None
        wipe = len(parts) == 2 and parts[0][2] == "wipe"
        for index, weight, _ in parts:
            segment = plan.segments[index]
            clip = clips[segment.clip]
            picture = decoded[segment.clip][_source_time(segment, clips, t)]
            frame = torch.from_numpy(picture).to(device).float().div_(255.0)
            if grades[index] is not None:
                frame = grades[index].apply(frame)
            y, x = clip.offset
            full = frame.shape[:2] == (plan.height, plan.width)
            if canvas is None and full and not wipe:
                canvas = frame.mul_(weight)
                continue
            if canvas is None:
                canvas = torch.zeros(plan.height, plan.width, 3, device=device)
            region = canvas[y : y + frame.shape[0], x : x + frame.shape[1]]
            if wipe:
                if index == parts[1][0]:
                    split = round(weight * plan.width)
                    region[:, :split] = frame[:, :split]
                elif index == parts[0][0]:
                    region.copy_(frame)
            else:
                region.add_(frame, alpha=weight)
        assert canvas is not None
        frames.append(canvas.mul_(255.0 * gain).round_().clamp_(0, 255).to(torch.uint8))
    return frames


def _source_time(segment: Segment, clips: list[_Clip], t: float) -> float:
    return min(max(0.0, segment.src_time(t)), clips[segment.clip].source.info.duration_s)


def render_audio(
    plan: EditPlan, footage: list[MediaInfo], dna: dict[str, Any], template: MediaInfo | None,
    options: JobOptions, workdir: Path,
) -> AudioInput:  # fmt: skip
    """The soundtrack: the template's music, the footage's audio at the template's loudness,
    or silence."""
    choice = options.audio
    if choice == "template" and template is not None and template.has_audio:
        fade = AUDIO_FADE_S if template.duration_s > plan.duration_s + 0.05 else 0.0
        # From the template's first frame on, where its cuts and beats are counted from.
        return AudioInput("file", Path(template.path), template.video_lead_s, fade)
    if choice == "template":
        logger.info("the template has no music here: keeping the footage's own audio")
        choice = "footage"
    if choice == "footage" and any(f.has_audio for f in footage):
        pcm = _footage_audio(plan, footage, dna)
        path = workdir / "soundtrack.f32le"
        path.write_bytes(np.ascontiguousarray(pcm.T).astype(np.float32).tobytes())
        return AudioInput("pcm", path)
    return AudioInput("silence")


def _footage_audio(plan: EditPlan, footage: list[MediaInfo], dna: dict[str, Any]) -> np.ndarray:
    from pipelines.analyzers.loudness import LoudnessAnalyzer
    from pipelines.decode import AudioTrack

    tracks = [decode_audio(info, sample_rate=AUDIO_RATE, channels=2) for info in footage]
    out = np.zeros((2, round(plan.duration_s * AUDIO_RATE)), dtype=np.float32)
    ramp = int(0.01 * AUDIO_RATE)  # 10 ms ramps: no click at a cut
    for segment in plan.segments:
        track = tracks[segment.clip]
        if track is None:
            continue
        a, b = int(segment.out_start * AUDIO_RATE), int(segment.out_end * AUDIO_RATE)
        s = int(segment.src_start * AUDIO_RATE)
        piece = track.samples[:, s : s + (b - a)]
        if piece.shape[1] == 0:
            continue
        piece = piece.copy()
        n = min(ramp, piece.shape[1] // 2)
        if n:
            window = np.linspace(0, 1, n, dtype=np.float32)
            piece[:, :n] *= window
            piece[:, -n:] *= window[::-1]
        out[:, a : a + piece.shape[1]] += piece
    target = (dna.get("audio") or {}).get("integrated_lufs")
    if target is not None:
        measured = LoudnessAnalyzer().analyze(AudioTrack(out, AUDIO_RATE))
        current = measured.sections["audio"].get("integrated_lufs")
        if current is not None:
            out *= np.float32(10 ** ((target - current) / 20))
            # Keep within full scale: a soft knee above -1 dBFS rather than hard clipping.
            out = np.tanh(out / 0.89) * 0.89 if np.abs(out).max() > 0.89 else out
    return out


def apply_style(
    dna: dict[str, Any], footage: list[MediaInfo], output: Path, backend: InferenceBackend,
    options: JobOptions, *, template: MediaInfo | None = None, device: str = "cpu",
    on_progress: Callable[[str, float], None] | None = None,
    should_cancel: Callable[[], bool] | None = None, stall_timeout_s: float = STALL_TIMEOUT_S,
) -> tuple[Path, EditPlan]:  # fmt: skip
    """Plan, render and encode: the whole of stages 5 and 6 for one output MP4."""
    if on_progress:
        on_progress("apply", 0.0)
    plan = plan_edit(dna, footage, options)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="clipzy-render-", dir=output.parent) as tmp:
        workdir = Path(tmp)
        video = workdir / "video.mp4"
        render(
            plan, footage, dna, backend, options, video, device=device,
            on_progress=(lambda f: on_progress("apply", f)) if on_progress else None,
            should_cancel=should_cancel, stall_timeout_s=stall_timeout_s,
        )  # fmt: skip
        if on_progress:
            on_progress("encode", 0.0)
        audio = render_audio(plan, footage, dna, template, options, workdir)
        partial = output.with_name(output.stem + ".partial.mp4")
        mux(video, audio, partial, plan.duration_s)
        partial.replace(output)
        if on_progress:
            on_progress("encode", 1.0)
    return output, plan
