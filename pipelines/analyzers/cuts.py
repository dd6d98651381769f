"""Shot boundaries and transitions: frames -> cuts, fades, dissolves and wipes.

What it consumes: the template's frames in display order, at the analysis size. Of each
frame it keeps a 48x27 thumbnail only until the network has seen it, and a few numbers for
good: luma mean and percentiles, the change from the previous frame, how much of the
previous frame's edge structure survives, and a 16x9 luma grid (about 330 bytes a frame
in all, so an hour at 30 fps costs some 35 MB).

How it decides:

- TransNetV2 (Souček & Lokoč, 2020) gives each frame two probabilities: that it is the
  centre of a transition and that it lies anywhere inside one. It was trained on 100-frame
  windows, of which its authors keep the middle 50 predictions, those with 25 frames of
  context on each side. It is convolutional in time, so here it runs over 300-frame windows
  stepping 250, the clip padded at both ends with copies of its edge frames, and all but the
  first and last 25 predictions of each are kept: the same answers (within 0.1, each
  transition peaking on the same frame) for 1.2 network passes a frame instead of 2. Windows
  go to the model in batches of its ``max_batch_size`` as soon as a batch is full; the last
  window is only as long as the frames left need, and at least 100.
- A network transition one to three frames long is a hard ``cut``; its frame is the first
  frame of the new shot, the one whose thumbnail changed most. A change that keeps every
  edge of the picture in place (a lighting change, a recoloured title card) is not a new
  shot, whatever the network says.
- The network passes over cuts in a fast montage (shots of a few frames). A frame whose
  thumbnail change stands out many times over its neighbours', with its edges gone, is a
  cut too; fast motion changes every frame, so no single frame stands out that much.
- A flash is not a cut: when, within :data:`MAX_FLASH_FRAMES` frames of a cut, the picture
  comes back to what it was before (a camera flash, a white frame), the cut is dropped.
- A fade is a monotone ramp of mean luma away from (``fade_in``) or towards (``fade_out``)
  a near-uniform black or white frame over at least :data:`MIN_FADE_FRAMES` frames. These
  ramps are found from the luma alone, so slow fades the network misses are still reported,
  while an instantaneous jump to or from black stays a cut. A ramp that eases into a
  uniform frame of the other colour (straight from black to white) ends at that frame.
- A ``wipe`` is found from the luma grid alone (TransNetV2 barely reacts to wipes): over a
  short interval, most blocks switch cleanly from the old picture to the new, each at its
  own time, and the times line up along a direction or a radius.
- Any other gradual network transition is a ``dissolve``. The network also counts a long
  run of its all-frames head with a modest single-frame peak (a slow dissolve) when the
  frames inside are a blend of the pictures either side. Its all-frames head covers only
  the middle of a long dissolve, so the ends come from the pictures: each 16x9 grid is
  projected on the line from the picture before to the picture after, and the bends of a
  flat-ramp-flat fit to that share are the dissolve's first and last frames.

Gradual transitions span from the last frame of the old state to the first frame of the new
one, so ``end_s - start_s`` is their duration; a cut is the single first frame of its shot.

What it emits: the ``cuts`` and ``transitions`` sections of the Style DNA and a confidence
that is low when the clip is short or the network hesitated.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from functools import cache

import numpy as np

from pipelines.analyzers.base import AnalyzerResult, FrameAnalyzer
from pipelines.decode import FrameChunk
from pipelines.errors import InferenceError
from pipelines.inference import InferenceBackend, batches

logger = logging.getLogger(__name__)

MODEL = "shot_boundaries"
THUMB_H, THUMB_W = 27, 48
# The network was trained on 100-frame windows and is read, as its authors do, only where a
# frame has at least CONTEXT frames on each side; the first and last CONTEXT predictions of a
# window are dropped. It is convolutional in time, so a longer window reads the same frames
# (within 0.1 of the 100-frame reading on the corpus) and drops the same 50 frames out of
# more: a window of WINDOW frames keeps STEP of them, 1.2 network passes a frame, not 2.
TRAINED_WINDOW, CONTEXT = 100, 25
WINDOW = 300
STEP = WINDOW - 2 * CONTEXT
GRID_H, GRID_W = 9, 16  # 3x3 blocks of the thumbnail
THUMB_BLOCK = 16  # frames resized at a time
TRANSITION_TYPES = ("cut", "dissolve", "fade_in", "fade_out", "wipe")

# TransNetV2's own decision threshold for both heads.
NET_THRESHOLD = 0.5
# A network transition this many frames long or shorter is a hard cut.
MAX_CUT_FRAMES = 3
# Correlation of edge strength across a cut above which the picture has not changed; real
# cuts measure under 0.1 on the corpus, a recoloured card with the same text 0.97. The idea
# of judging breaks by edges is Zabih, Miller & Mai (1995), "A feature-based algorithm for
# detecting and classifying scene breaks".
SAME_PICTURE_EDGES = 0.9

# A long run of the all-frames head with a single-frame peak this high is a slow dissolve.
SLOW_DISSOLVE_PEAK = 0.2
# Frames looked at on each side of a dissolve to find where it starts and ends: as many as
# the network's extent, within these bounds (the search costs their square).
DISSOLVE_REACH_MIN, DISSOLVE_REACH_MAX = 8, 60
# How far (relative to the change) the frames of such a slow dissolve may stray from a blend
# of the pictures either side: dissolves measure 0.1 to 0.35 on our clips, the first frames
# of ffmpeg's life source (random cells settling) 0.8 and more.
DISSOLVE_MAX_STRAY = 0.5

# A frame the network passed over is a hard cut when its thumbnail change is at least
# JUMP_MIN_CHANGE levels and JUMP_RATIO times the median of the JUMP_CONTEXT frames on each
# side, and under JUMP_MAX_EDGES of its edges survive. Montage cuts stand out 10 to 90 times
# on our clips; fast pans and a shaking camera at most 4 times.
JUMP_MIN_CHANGE, JUMP_RATIO, JUMP_CONTEXT, JUMP_MAX_EDGES = 25.0, 8.0, 5, 0.5
# A network transition longer than a cut is still a cut when one frame carries at least
# ONE_STEP_SHARE of the thumbnail change over it (and JUMP_MIN_CHANGE levels): the picture
# changed at once. A dissolve or fade spreads its change over its frames (a 4-frame one
# puts about a quarter on each); a hard cut between generated shots measured 0.90.
ONE_STEP_SHARE = 0.75
# A cut is a flash when, within MAX_FLASH_FRAMES frames, the picture comes back to within
# FLASH_RETURN of the jump into and out of the flash (16x9 luma grid, mean absolute change).
MAX_FLASH_FRAMES, FLASH_RETURN = 3, 0.3

# Luma is Y' of ITU-R BT.601, the matrix decoders use to turn SD and web video into RGB.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# A near-uniform dark frame: almost every pixel dark (a small caption or logo may stay lit).
BLACK_P95, BLACK_MEAN = 40.0, 24.0
WHITE_P05, WHITE_MEAN = 215.0, 231.0
# Frames of such a run this close to its extreme level are the uniform frame itself; the
# rest of the run is already the start or the end of a ramp.
ANCHOR_TOLERANCE = 1.0
MIN_FADE_FRAMES = 3
MIN_FADE_RISE = 12.0  # luma levels between the uniform frame and the faded picture
# A ramp whose largest one-frame step carries more than this share of its rise is a jump.
MAX_FADE_STEP_SHARE = 0.5
# A ramp ends when its (3-frame mean) slope falls under this share of its steepest slope,
# or under the floor, in luma levels per frame.
RAMP_END_SHARE, RAMP_END_FLOOR = 0.1, 0.4
SLOW_START_FRAMES = 2  # frames a ramp may take to leave the uniform level at all
RAMP_REACH = 8  # frames a ramp may ease into a uniform frame of the other colour

# Wipes, on the 16x9 luma grid. Tried durations run from a fast 0.15 s to a slow 2 s.
WIPE_DURATIONS_S = (0.15, 0.25, 0.35, 0.5, 0.7, 1.0, 1.4, 2.0)
MIN_WIPE_FRAMES = 4
WIPE_BLOCK_CHANGE = 15.0  # luma levels between old and new picture for a block to count
WIPE_MIN_CHANGED = 0.5  # share of the grid that must differ between old and new picture
# A block switches cleanly when a two-state fit (old value, then new) leaves a residual
# under this share of its change; a dissolve's blend or a moving picture leaves more.
WIPE_MAX_RESIDUAL = 0.25
WIPE_MIN_CLEAN = 0.4  # share of the grid that must switch cleanly inside the interval
WIPE_MIN_ORDER = 0.85  # R² of switching time against position (plane or radius)
WIPE_MIN_SPREAD = 0.4  # the switching times must spread over this share of the interval
# Spread of log(new / old) block luma under which the new picture is the old one re-lit;
# wipes between shots measure 0.5 to 1.6 on our clips, the countdown in in1.mp4 0.18 to 0.26.
WIPE_MIN_NEW_PICTURE = 0.4


@dataclass
class Transition:
    type: str
    start: int
    end: int
    confidence: float
    color: str | None = None  # the uniform frame of a fade: "black" or "white"

    def overlaps(self, start: int, end: int, slack: int = 0) -> bool:
        return self.start - slack <= end and start <= self.end + slack


def _keys_cubic(x: np.ndarray) -> np.ndarray:
    """Keys (1981) cubic convolution kernel with a = -0.5."""
    a = -0.5
    x = np.abs(x)
    near = (a + 2) * x**3 - (a + 3) * x**2 + 1
    far = a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a
    return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


@cache
def _resample_matrix(n_in: int, n_out: int) -> np.ndarray:
    """[n_out, n_in] weights of an antialiased bicubic resize along one axis.

    The kernel is widened by the reduction factor, which is how ffmpeg's default bicubic
    scaler (the one TransNetV2's thumbnails were made with) shrinks a picture.
    """
    scale = n_in / n_out
    width = max(scale, 1.0)
    weights = np.zeros((n_out, n_in), dtype=np.float64)
    for i in range(n_out):
        centre = (i + 0.5) * scale - 0.5
        taps = np.arange(int(np.floor(centre - 2 * width)), int(np.ceil(centre + 2 * width)) + 1)
        np.add.at(weights[i], np.clip(taps, 0, n_in - 1), _keys_cubic((taps - centre) / width))
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def thumbnails(frames: np.ndarray) -> np.ndarray:
    """uint8 RGB [N, H, W, 3] -> uint8 RGB [N, 27, 48, 3], the network's input size."""
    n, h, w, _ = frames.shape
    rows, cols = _resample_matrix(h, THUMB_H), _resample_matrix(w, THUMB_W)
    out = np.empty((n, THUMB_H, THUMB_W, 3), dtype=np.uint8)
    # A few frames at a time: a whole chunk as float32 (88 MB at 320x180) is a fresh mapping
    # of memory each time, and faulting it in cost more than the arithmetic.
    for start in range(0, n, THUMB_BLOCK):
        block = frames[start : start + THUMB_BLOCK]
        tall = np.matmul(rows, block.astype(np.float32).reshape(len(block), h, w * 3))
        wide = tall.reshape(len(block), THUMB_H, w, 3).transpose(0, 1, 3, 2)
        small = np.matmul(wide, cols.T).transpose(0, 1, 3, 2)
        out[start : start + THUMB_BLOCK] = np.clip(np.rint(small), 0, 255)
    return out


def _edges(luma: np.ndarray) -> np.ndarray:
    """Gradient magnitude of [N, H, W] luma, flattened to [N, (H-1)(W-1)]."""
    dx = np.diff(luma, axis=2)[:, :-1, :]
    dy = np.diff(luma, axis=1)[:, :, :-1]
    return np.hypot(dx, dy).reshape(len(luma), -1)


def _edge_similarity(previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Per-row correlation of two [N, P] edge maps; two flat pictures count as the same."""
    a = previous - previous.mean(axis=1, keepdims=True)
    b = current - current.mean(axis=1, keepdims=True)
    norms = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    flat = norms < 1e-6
    both_flat = (np.abs(a).sum(axis=1) < 1e-3) & (np.abs(b).sum(axis=1) < 1e-3)
    similarity = (a * b).sum(axis=1) / np.where(flat, 1.0, norms)
    return np.where(flat, np.where(both_flat, 1.0, 0.0), similarity)


class CutAnalyzer(FrameAnalyzer):
    """Cuts and transitions of the template, from TransNetV2 and the frames' luma."""

    name = "cuts"

    def __init__(self, backend: InferenceBackend, fps: float) -> None:
        self.backend = backend
        self.fps = fps
        config = backend.config(MODEL)
        frames_spec = next((t for t in config.inputs if t.name == "FRAMES"), None)
        if frames_spec is None or frames_spec.dims != (-1, THUMB_H, THUMB_W, 3):
            got = None if frames_spec is None else list(frames_spec.dims)
            raise InferenceError(
                f"{MODEL}: expected input FRAMES [-1, {THUMB_H}, {THUMB_W}, 3], got {got}"
            )
        if config.max_batch_size < 1:
            raise InferenceError(f"{MODEL}: expected max_batch_size >= 1, got 0")
        self.max_batch = config.max_batch_size

        self._count = 0
        self._times: list[np.ndarray] = []
        # [N, 5]: luma mean, 5th and 95th percentile; thumbnail change; edge similarity.
        self._stats: list[np.ndarray] = []
        self._grids: list[np.ndarray] = []
        self._last_thumb: np.ndarray | None = None
        self._last_edges: np.ndarray | None = None
        # Thumbnails the network has yet to see, as a run of the padded sequence (25 copies
        # of the first frame, the clip, copies of the last) starting at ``_pending_start``.
        self._pending: np.ndarray | None = None
        self._pending_start = 0
        self._next_window = 0
        self._single: list[np.ndarray] = []
        self._many: list[np.ndarray] = []

    # Consuming frames.

    def update(self, chunk: FrameChunk) -> None:
        if chunk.first_index != self._count:
            raise ValueError(
                f"expected the chunk starting at frame {self._count}, got {chunk.first_index}"
            )
        if len(chunk.frames) == 0:
            return
        thumbs = thumbnails(chunk.frames)

        # Luma statistics on every other pixel: plenty for means and percentiles.
        luma = chunk.frames[:, ::2, ::2].astype(np.float32) @ LUMA_WEIGHTS
        flat = luma.reshape(len(luma), -1)
        p05, p95 = np.percentile(flat, [5, 95], axis=1)

        previous = thumbs[:1] if self._last_thumb is None else self._last_thumb[None]
        steps = np.diff(np.concatenate([previous, thumbs]).astype(np.int16), axis=0)
        change = np.abs(steps).mean(axis=(1, 2, 3))
        thumb_luma = thumbs.astype(np.float32) @ LUMA_WEIGHTS
        edges = _edges(thumb_luma)
        before = edges[:1] if self._last_edges is None else self._last_edges[None]
        similarity = _edge_similarity(np.concatenate([before, edges[:-1]]), edges)

        stats = np.stack([flat.mean(1), p05, p95, change, similarity], axis=1)
        self._stats.append(stats.astype(np.float32))
        grid = thumb_luma.reshape(len(thumbs), GRID_H, 3, GRID_W, 3).mean(axis=(2, 4))
        self._grids.append(grid.reshape(len(thumbs), -1).astype(np.float16))
        self._times.append(np.asarray(chunk.times_s, dtype=np.float64))
        self._last_thumb, self._last_edges = thumbs[-1], edges[-1]

        if self._pending is None:
            self._pending = np.concatenate([np.repeat(thumbs[:1], CONTEXT, axis=0), thumbs])
        else:
            self._pending = np.concatenate([self._pending, thumbs])
        self._count += len(chunk.frames)
        self._run_windows(final=False)

    def _run_windows(self, *, final: bool) -> None:
        """Send every full batch of ready windows; when ``final``, every ready window and then
        one last window over what is left, as short as it can be."""
        assert self._pending is not None
        end = self._pending_start + len(self._pending)
        ready = max(0, (end - WINDOW) // STEP + 1 - self._next_window)
        todo = ready if final else ready - ready % self.max_batch
        if todo:
            first = self._next_window * STEP - self._pending_start
            windows = np.stack(
                [self._pending[first + k * STEP : first + k * STEP + WINDOW] for k in range(todo)]
            )
            for part in batches(todo, self.max_batch):
                self._infer(windows[part])
            self._next_window += todo
            keep_from = self._next_window * STEP - self._pending_start
            self._pending = self._pending[keep_from:]
            self._pending_start += keep_from
        if final and len(self._pending) > 2 * CONTEXT:
            # The tail: its frames, their context, and copies of the last frame up to the
            # length the network was trained on.
            tail = self._pending
            short = TRAINED_WINDOW - len(tail)
            if short > 0:
                tail = np.concatenate([tail, np.repeat(tail[-1:], short, axis=0)])
            self._infer(tail[None])
            self._pending = self._pending[:0]

    def _infer(self, windows: np.ndarray) -> None:
        out = self.backend.infer(MODEL, {"FRAMES": windows})
        self._single.append(_middle(out, "SINGLE_FRAME", windows.shape[:2]))
        self._many.append(_middle(out, "MANY_HOT", windows.shape[:2]))

    # Deciding.

    def finish(self) -> AnalyzerResult:
        n = self._count
        if n == 0:
            return _result([], np.zeros(0), 0.0, 0.0)
        assert self._pending is not None and self._last_thumb is not None
        pad = np.repeat(self._last_thumb[None], CONTEXT, axis=0)
        self._pending = np.concatenate([self._pending, pad])
        self._run_windows(final=True)
        self._pending = None

        single = np.concatenate(self._single)[:n]
        many = np.concatenate(self._many)[:n]
        times = np.concatenate(self._times)
        stats = np.concatenate(self._stats)
        grids = np.concatenate(self._grids).astype(np.float32)
        mean, p05, p95, change, similarity = stats.T
        rate = _frame_rate(times, self.fps)

        # Wipes and fades first, from the pictures alone: where they are, the network's
        # reading of the same frames is redundant.
        wipes = _find_wipes(grids, rate)
        anchors = _anchor_runs(mean, p05, p95)
        fades = [f for f in _luma_fades(mean, anchors) if not _within_any(f, wipes)]
        events: list[Transition] = [*wipes, *fades]
        doubts: list[float] = []
        for peak, start, end in _network_regions(single, many):
            if end - start + 1 <= MAX_CUT_FRAMES or _changes_at_once(change, start, end):
                frame = start + int(np.argmax(change[start : min(n, end + 2)]))
                if frame == 0 or any(e.start < frame <= e.end for e in wipes + fades):
                    continue
                if similarity[frame] >= SAME_PICTURE_EDGES:
                    logger.debug("cuts: frame %d keeps its edges; not a new shot", frame)
                    doubts.append(2.0 * float(similarity[frame]) - 1.0)
                    continue
                events.append(Transition("cut", frame, frame, float(single[peak])))
                continue
            if any(e.overlaps(start, end, slack=2) for e in wipes + fades):
                continue
            score = float(max(single[peak], many[start : end + 1].mean()))
            gradual = _classify_gradual(start, end, score, anchors)
            if gradual.type == "dissolve":
                gradual.start, gradual.end, stray = _dissolve_extent(grids, start, end, events)
                if single[peak] < NET_THRESHOLD and stray > DISSOLVE_MAX_STRAY:
                    continue  # only the all-frames head, and no blend: a busy picture
            events.append(gradual)
        events.extend(_luma_cuts(mean, anchors, events))
        events.extend(_jump_cuts(change, similarity, events))
        events = [e for e in events if e.type != "cut" or not _is_flash(grids, e.start)]
        events.sort(key=lambda e: (e.start, e.end))

        for peak in _peaks(single, low=0.2, high=NET_THRESHOLD):
            if not any(e.overlaps(peak, peak, slack=2) for e in events):
                doubts.append(1.0 - 2.0 * float(single[peak]))
        confidence = _confidence(n, events, doubts)
        logger.debug(
            "cuts: %d frames, %d transitions, %d doubtful peaks, confidence %.2f",
            n, len(events), len(doubts), confidence,
        )  # fmt: skip
        return _result(events, times, _clip_duration(times, rate), confidence)


def _middle(out: dict[str, np.ndarray], name: str, shape: tuple[int, int]) -> np.ndarray:
    """The predictions of a batch of windows with full context, in frame order."""
    values = np.asarray(out[name], dtype=np.float32)
    if values.shape != shape:
        raise InferenceError(f"{MODEL}.{name}: expected {list(shape)}, got {list(values.shape)}")
    return values[:, CONTEXT : shape[1] - CONTEXT].reshape(-1)


def _frame_rate(times: np.ndarray, fps: float) -> float:
    """Frames per second from the timestamps (the typical interval), else the nominal rate."""
    intervals = np.diff(times)
    intervals = intervals[intervals > 0]
    if len(intervals):
        return float(1.0 / np.median(intervals))
    return fps if fps > 0 else 25.0


def _clip_duration(times: np.ndarray, rate: float) -> float:
    return float(times[-1] + 1.0 / rate) if len(times) else 0.0


def _within_any(event: Transition, others: list[Transition]) -> bool:
    return any(o.overlaps(event.start, event.end) for o in others)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (start, end) of each run of True."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _peaks(values: np.ndarray, low: float, high: float) -> list[int]:
    """Local maxima with ``low <= value < high``."""
    padded = np.concatenate([[-1.0], values, [-1.0]])
    is_peak = (padded[1:-1] >= padded[:-2]) & (padded[1:-1] > padded[2:])
    return [int(i) for i in np.flatnonzero(is_peak & (values >= low) & (values < high))]


def _network_regions(single: np.ndarray, many: np.ndarray) -> list[tuple[int, int, int]]:
    """(peak, start, end) of each transition the network reports.

    A transition is a run of frames over the single-frame threshold; its extent is the run of
    frames over the all-frames threshold around it.
    """
    regions: list[tuple[int, int, int]] = []
    for a, b in _runs(single > NET_THRESHOLD):
        peak = a + int(np.argmax(single[a : b + 1]))
        start, end = a, b
        while start > 0 and many[start - 1] > NET_THRESHOLD:
            start -= 1
        while end < len(many) - 1 and many[end + 1] > NET_THRESHOLD:
            end += 1
        if regions and start <= regions[-1][2]:
            # Two peaks inside one long transition: one transition, at the higher peak.
            last = regions[-1]
            top = peak if single[peak] > single[last[0]] else last[0]
            regions[-1] = (top, last[1], max(end, last[2]))
            continue
        regions.append((peak, start, end))
    # A slow dissolve keeps the all-frames head up while the single-frame head stays under
    # its threshold: a long run of the former with a clear peak of the latter is one too.
    for a, b in _runs(many > NET_THRESHOLD):
        peak = a + int(np.argmax(single[a : b + 1]))
        if b - a + 1 <= MAX_CUT_FRAMES or single[peak] < SLOW_DISSOLVE_PEAK:
            continue
        if not any(r[1] <= b and a <= r[2] for r in regions):
            regions.append((peak, a, b))
    return sorted(regions, key=lambda r: r[1])


@dataclass(frozen=True)
class _Anchor:
    """A run of near-uniform black or white frames."""

    start: int
    end: int
    color: str
    level: float


def _anchor_runs(mean: np.ndarray, p05: np.ndarray, p95: np.ndarray) -> list[_Anchor]:
    anchors = []
    for color, mask in (
        ("black", (p95 <= BLACK_P95) & (mean <= BLACK_MEAN)),
        ("white", (p05 >= WHITE_P05) & (mean >= WHITE_MEAN)),
    ):
        sign = 1.0 if color == "black" else -1.0
        for a, b in _runs(mask):
            level = float(np.min(sign * mean[a : b + 1]))
            core = np.flatnonzero(sign * mean[a : b + 1] <= level + ANCHOR_TOLERANCE)
            anchors.append(_Anchor(a + int(core[0]), a + int(core[-1]), color, sign * level))
    return sorted(anchors, key=lambda r: r.start)


def _luma_fades(mean: np.ndarray, anchors: list[_Anchor]) -> list[Transition]:
    """Fades as luma ramps away from or into a uniform black or white run."""
    in_anchor = np.zeros(len(mean), dtype=bool)
    for r in anchors:
        in_anchor[r.start : r.end + 1] = True
    found: list[Transition] = []
    for r in anchors:
        distance = np.abs(mean - r.level)
        # Leaving the run forwards is a fade in; reading time backwards, a fade out.
        ramp = _ramp(distance, r.end + 1, +1, in_anchor)
        if ramp is not None:
            end = _reach_anchor(mean, ramp[0], +1, r, anchors)
            found.append(Transition("fade_in", r.end, end, ramp[1], r.color))
        ramp = _ramp(distance, r.start - 1, -1, in_anchor)
        if ramp is not None:
            start = _reach_anchor(mean, ramp[0], -1, r, anchors)
            found.append(Transition("fade_out", start, r.start, ramp[1], r.color))

    # A ramp from black to white is found from both ends: keep one, black first (the usual
    # fade), then the longer.
    found.sort(key=lambda f: (f.color != "black", -(f.end - f.start)))
    kept: list[Transition] = []
    for fade in found:
        if not any(k.overlaps(fade.start + 1, fade.end - 1) for k in kept):
            kept.append(fade)
    return kept


def _reach_anchor(
    mean: np.ndarray, last: int, direction: int, origin: _Anchor, anchors: list[_Anchor]
) -> int:
    """A ramp's end, moved on to the uniform frame of the other colour where it runs into one.

    A ramp straight from black to white eases into the white slowly enough for the slope
    test to stop it a few frames short; the white frame itself is the end.
    """
    ahead = [a for a in anchors if a.color != origin.color and (a.start - last) * direction > 0]
    if not ahead:
        return last
    target = min(ahead, key=lambda a: abs(a.start - last))
    edge = target.start if direction > 0 else target.end
    if not 0 < (edge - last) * direction <= RAMP_REACH:
        return last
    toward = np.sign(target.level - mean[last])
    steps = np.diff(mean[min(last, edge) : max(last, edge) + 1]) * direction * toward
    return edge if bool(np.all(steps >= 0)) else last


def _ramp(
    distance: np.ndarray, first: int, direction: int, in_anchor: np.ndarray
) -> tuple[int, float] | None:
    """(frame where the ramp completes, confidence) of a monotone rise from ``first``.

    ``first`` is the frame next to the uniform run, ``direction`` the way away from it.
    """
    n = len(distance)
    if not 0 <= first < n or in_anchor[first]:
        return None
    origin = float(distance[first - direction])
    steps: list[float] = []
    steepest = 0.0
    t = first
    while 0 <= t < n and not in_anchor[t]:
        step = float(distance[t] - distance[t - direction])
        ahead = t + direction
        step_ahead = float(distance[ahead] - distance[t]) if 0 <= ahead < n else step
        slope = (step + step_ahead) / 2 if steps else step
        steepest = max(steepest, slope)
        # A ramp may creep out of the uniform frame before it gathers speed.
        creeping = len(steps) < SLOW_START_FRAMES and step >= 0 and steepest <= RAMP_END_FLOOR
        if slope <= max(RAMP_END_FLOOR, RAMP_END_SHARE * steepest) and not creeping:
            break
        steps.append(step)
        t += direction
    if len(steps) < MIN_FADE_FRAMES:
        return None
    last = t - direction
    rise = float(distance[last]) - origin
    if rise < MIN_FADE_RISE or max(steps) > MAX_FADE_STEP_SHARE * rise:
        return None
    monotone = float(np.mean(np.asarray(steps) > 0))
    return last, 0.5 + 0.5 * monotone * min(1.0, rise / 40.0)


def _luma_cuts(
    mean: np.ndarray, anchors: list[_Anchor], events: list[Transition]
) -> list[Transition]:
    """Instant jumps out of or into a uniform frame that nothing else explains."""
    cuts: list[Transition] = []
    for r in anchors:
        for frame in (r.start, r.end + 1):
            if not 0 < frame < len(mean):
                continue
            if abs(float(mean[frame] - mean[frame - 1])) < 2 * MIN_FADE_RISE:
                continue
            if any(e.overlaps(frame - 1, frame, slack=1) for e in events + cuts):
                continue
            cuts.append(Transition("cut", frame, frame, 0.6))
    return cuts


def _dissolve_extent(
    grids: np.ndarray, start: int, end: int, events: list[Transition]
) -> tuple[int, int, float]:
    """Where a dissolve the network found really starts and ends, from the pictures, and how
    far the frames inside stray from a blend of the two (relative to their difference).

    The network's all-frames head covers the middle of a long dissolve only. Around it, each
    16x9 grid is projected on the line from the picture before to the picture after; the
    share of the new picture then stays flat, ramps, and stays flat again, and the ramp's
    ends (a least-squares fit of that shape) are the dissolve's.
    """
    n = len(grids)
    reach = int(np.clip(end - start, DISSOLVE_REACH_MIN, DISSOLVE_REACH_MAX))
    lo = max([0, start - reach, *(e.end for e in events if e.end < start)])
    hi = min([n - 1, end + reach, *(e.start for e in events if e.start > end)])
    if hi - lo < 4:
        return start, end, 0.0
    line = grids[hi] - grids[lo]
    norm = float(line @ line)
    if norm < 1e-6:
        return start, end, 0.0
    share = (grids[lo : hi + 1] - grids[lo]) @ line / norm
    t = np.arange(lo, hi + 1, dtype=np.float64)
    # Each shot may drift on its own (a zoom, a pan), so the flat parts are fitted as lines
    # and the ramp as a gentle curve, joined continuously, with the bends at the ends.
    best, extent = np.inf, (start, end)
    base = np.column_stack([np.ones_like(t), t])
    for s in range(lo + 1, start + 1):
        for e in range(max(end, s + 2), hi):
            inside = np.clip(t, s, e) - s
            design = np.column_stack([base, inside, inside**2, np.maximum(t - e, 0.0)])
            _, residual, *_ = np.linalg.lstsq(design, share, rcond=None)
            error = float(residual[0]) if len(residual) else 0.0
            if error < best:
                best, extent = error, (s, e)
    s, e = extent
    # How far the frames inside stray from the blend of the two pictures.
    ramp = np.clip((t - s) / (e - s), 0.0, 1.0)[:, None]
    off = grids[lo : hi + 1] - grids[lo] - ramp * line
    stray = float(np.sqrt((off[s - lo : e - lo + 1] ** 2).sum(axis=1).mean() / norm))
    logger.debug("cuts: dissolve %d..%d strays %.2f from a blend", s, e, stray)
    return s, e, stray


def _changes_at_once(change: np.ndarray, start: int, end: int) -> bool:
    """Whether the picture changes in one frame across frames ``start..end`` (and the frame
    after, where a cut the network placed early lands)."""
    steps = change[start : min(len(change), end + 2)]
    biggest = float(steps.max()) if len(steps) else 0.0
    return biggest >= JUMP_MIN_CHANGE and biggest >= ONE_STEP_SHARE * float(steps.sum())


def _jump_cuts(
    change: np.ndarray, similarity: np.ndarray, events: list[Transition]
) -> list[Transition]:
    """Hard cuts the network missed: one frame that changes far more than its neighbours.

    TransNetV2 overlooks cuts in a fast montage (shots of a few frames each), where the
    thumbnail change still stands out by a factor of ten or more. Fast motion changes every
    frame a lot, so it never stands out by that much.
    """
    cut_frames = {e.start for e in events if e.type == "cut"}
    cuts: list[Transition] = []
    is_jump = np.zeros(len(change), dtype=bool)
    for frame in range(1, len(change)):
        around = np.concatenate([change[max(1, frame - JUMP_CONTEXT) : frame],
                                 change[frame + 1 : frame + 1 + JUMP_CONTEXT]])  # fmt: skip
        base = float(np.median(around)) if len(around) else 0.0
        is_jump[frame] = (
            change[frame] >= JUMP_MIN_CHANGE
            and change[frame] >= JUMP_RATIO * max(base, 1.0)
            and similarity[frame] < JUMP_MAX_EDGES
        )
    for frame in np.flatnonzero(is_jump):
        frame = int(frame)
        if frame in cut_frames:
            continue
        # Next to a cut already found, only a second jump of its own (a one-frame shot).
        neighbours = [c for c in (frame - 1, frame + 1) if c in cut_frames]
        if neighbours and not all(is_jump[c] for c in neighbours):
            continue
        if any(e.type != "cut" and e.overlaps(frame, frame, slack=1) for e in events):
            continue
        cuts.append(Transition("cut", frame, frame, 0.6))
    return cuts


def _is_flash(grids: np.ndarray, frame: int) -> bool:
    """Whether a cut at ``frame`` lies in a flash: a few frames after which the old picture
    comes back (a camera flash, a white frame, a glitch), rather than a new shot."""
    n = len(grids)
    for before in range(max(0, frame - 1 - MAX_FLASH_FRAMES), frame):
        for after in range(max(frame, before + 2), min(n, before + 2 + MAX_FLASH_FRAMES)):
            jump_in = float(np.abs(grids[before + 1] - grids[before]).mean())
            jump_out = float(np.abs(grids[after] - grids[after - 1]).mean())
            back = float(np.abs(grids[after] - grids[before]).mean())
            if back <= FLASH_RETURN * min(jump_in, jump_out):
                logger.debug("cuts: frames %d..%d are a flash, not a cut", before + 1, after - 1)
                return True
    return False


def _classify_gradual(start: int, end: int, score: float, anchors: list[_Anchor]) -> Transition:
    """A gradual network transition: a fade when it touches a uniform run, else a dissolve.

    Fades are normally found from the luma already; this catches those whose ramp is not
    monotone enough (a moving picture fading out, say).
    """
    for r in anchors:
        if start - 3 <= r.end <= start:
            return Transition("fade_in", r.end, end, score, r.color)
        if end <= r.start <= end + 3:
            return Transition("fade_out", start, r.start, score, r.color)
    return Transition("dissolve", start, end, score)


def _find_wipes(grids: np.ndarray, rate: float) -> list[Transition]:
    """Wipes in a [T, blocks] luma grid: the best non-overlapping intervals that fit one."""
    # TODO(#4): straight-edge wipes are found; an iris (ffmpeg's circleopen) switches too
    # few 16x9 blocks cleanly to pass, and a push or slide moves the new picture instead of
    # revealing it. Both end up as a dissolve when the network sees them, else unreported.
    n = len(grids)
    found: list[tuple[float, Transition]] = []
    for length in sorted({max(MIN_WIPE_FRAMES, round(s * rate)) for s in WIPE_DURATIONS_S}):
        if n < length + 2:
            continue
        # Only intervals whose before and after pictures differ over most of the grid.
        starts = np.arange(1, n - length)
        differ = np.abs(grids[starts + length] - grids[starts - 1]) >= WIPE_BLOCK_CHANGE
        for start in starts[differ.mean(axis=1) >= WIPE_MIN_CHANGED]:
            fit = _fit_wipe(grids, int(start), int(start) + length - 1)
            if fit is not None:
                found.append(fit)
    found.sort(key=lambda f: -f[0])
    kept: list[Transition] = []
    for _, wipe in found:
        if not _within_any(wipe, kept):
            kept.append(wipe)
    return sorted(kept, key=lambda w: w.start)


def _fit_wipe(grids: np.ndarray, start: int, end: int) -> tuple[float, Transition] | None:
    """(score, wipe) if frames ``start..end`` switch block by block in spatial order."""
    before, after = grids[start - 1], grids[end + 1]
    # A transition brings a new picture. A shade sweeping over the same one (the clock hand
    # of a film-leader countdown, a passing shadow) scales every block by about one factor.
    if float(np.std(np.log((after + 1.0) / (before + 1.0)))) < WIPE_MIN_NEW_PICTURE:
        return None
    change = after - before
    changed = np.abs(change) >= WIPE_BLOCK_CHANGE
    values = grids[start : end + 1][:, changed]
    old, new, change = before[changed], after[changed], change[changed]
    length, blocks = values.shape

    # Two-state fit per block: frames before the switch at the old value, then the new.
    to_old = np.concatenate([np.zeros((1, blocks)), np.cumsum((values - old) ** 2, axis=0)])
    to_new = np.cumsum(((values - new) ** 2)[::-1], axis=0)[::-1]
    to_new = np.concatenate([to_new, np.zeros((1, blocks))])
    errors = to_old + to_new
    switch = np.argmin(errors, axis=0)  # index of the first frame at the new value
    residual = np.sqrt(errors[switch, np.arange(blocks)] / length) / np.abs(change)
    clean = (residual <= WIPE_MAX_RESIDUAL) & (switch > 0) & (switch < length)
    if clean.sum() < WIPE_MIN_CLEAN * GRID_H * GRID_W:
        return None

    times = start + switch[clean].astype(np.float64)
    ys, xs = np.divmod(np.flatnonzero(changed)[clean], GRID_W)
    lo, hi = np.percentile(times, [2, 98])
    if np.percentile(times, 95) - np.percentile(times, 5) < max(3.0, WIPE_MIN_SPREAD * length):
        return None
    ones = np.ones_like(times)
    radius = np.hypot(xs - (GRID_W - 1) / 2, (ys - (GRID_H - 1) / 2) * GRID_W / GRID_H)
    order = max(
        _r_squared(np.column_stack([ones, xs, ys]), times),  # a straight edge, any direction
        _r_squared(np.column_stack([ones, radius]), times),  # an iris
    )
    if order < WIPE_MIN_ORDER:
        return None
    share = clean.mean() * changed.mean()
    wipe = Transition("wipe", int(np.floor(lo)) - 1, int(np.ceil(hi)), 0.5 + 0.5 * share * order)
    return share * order, wipe


def _r_squared(design: np.ndarray, target: np.ndarray) -> float:
    fit, *_ = np.linalg.lstsq(design, target, rcond=None)
    total = float(np.sum((target - target.mean()) ** 2))
    return 1.0 - float(np.sum((target - design @ fit) ** 2)) / total if total > 0 else 0.0


def _confidence(n: int, events: list[Transition], doubts: list[float]) -> float:
    """How much to trust the result: enough frames, and decisive evidence.

    Fewer frames than one network window leave the network guessing from padding. Each
    transition counts with its own confidence; each network peak between 0.2 and 0.5 that
    nothing explains, and each cut overruled, counts with how far it was from a coin toss.
    """
    coverage = min(1.0, n / TRAINED_WINDOW) ** 0.5
    votes = [e.confidence for e in events] + doubts
    decisiveness = float(np.mean(votes)) if votes else 1.0
    return round(float(np.clip(coverage * (0.4 + 0.6 * decisiveness), 0.0, 1.0)), 3)


def _result(
    events: list[Transition], times: np.ndarray, duration: float, confidence: float
) -> AnalyzerResult:
    def at(frame: int) -> float:
        return round(float(times[frame]), 4)

    cuts = [e for e in events if e.type == "cut"]
    # Shots are delimited by cuts and by the middle of each gradual transition.
    boundaries = sorted(
        at(e.start) if e.type == "cut" else round(float(times[e.start] + times[e.end]) / 2, 4)
        for e in events
    )
    inner = [b for b in boundaries if 0.0 < b < duration]
    edges = [0.0, *inner, round(duration, 4)]
    lengths = [round(b - a, 4) for a, b in itertools.pairwise(edges) if b > a]
    summary = {
        "mean": round(float(np.mean(lengths)), 4) if lengths else 0.0,
        "median": round(float(np.median(lengths)), 4) if lengths else 0.0,
        "std": round(float(np.std(lengths)), 4) if lengths else 0.0,
        "min": min(lengths) if lengths else 0.0,
        "max": max(lengths) if lengths else 0.0,
    }
    counts = dict.fromkeys(TRANSITION_TYPES, 0)
    documents = []
    for e in events:
        counts[e.type] += 1
        document = {
            "type": e.type,
            "start_s": at(e.start),
            "end_s": at(e.end),
            "start_frame": e.start,
            "end_frame": e.end,
            "confidence": round(float(e.confidence), 3),
        }
        if e.color is not None:
            document["color"] = e.color
        documents.append(document)
    minutes = duration / 60.0
    return AnalyzerResult(
        sections={
            "cuts": {
                "times_s": [at(e.start) for e in cuts],
                "frames": [e.start for e in cuts],
                "count": len(cuts),
                "cuts_per_minute": round(len(cuts) / minutes, 3) if minutes > 0 else 0.0,
                "shot_count": len(lengths),
                "shot_length_s": summary,
                "shot_lengths_s": lengths,
            },
            "transitions": {"counts": counts, "events": documents},
        },
        confidence=confidence,
        extras={"shot_boundaries_s": inner},
    )
