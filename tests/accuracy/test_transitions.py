"""Gradual transitions, against the issue's goals: dissolves, fades through black and white,
and wipes found with recall >= 0.9 and the right type >= 0.9 of the time, start and end
within two frames, on ``pyscenedetect/fades.mp4`` and generated xfade transitions.

Inputs, truth and scoring are the benchmark's (``support.synth_video``, ``support.shot_peers``
and the fades.mp4 ramps below, the same as ``benchmarks/accuracy/transitions.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import shot_peers as peers
from support.synth_video import transition_clips

# fades.mp4: a flat frame ramping between black and white (our luma measurement; the extremes
# are the MANIFEST's ThresholdDetector levels, black at 84 and 167, white at 42, 126, 209).
# Each ramp is a fade in from its first colour or, as rightly, a fade out to its second.
FADES_RAMPS = [(1, 41, "black"), (42, 83, "white"), (84, 124, "black"), (126, 166, "white"),
               (167, 208, "black"), (209, 249, "white")]  # fmt: skip
OTHER = {"black": "white", "white": "black"}


@pytest.fixture(scope="module")
def scored(corpus: Path, media_dir: Path) -> dict[str, peers.TransitionScore]:
    """Our score on each input the goal covers."""
    ramps = [
        peers.Truth(start, end, (("fade_in", first), ("fade_out", OTHER[first])))
        for start, end, first in FADES_RAMPS
    ]
    inputs = [("fades.mp4", corpus / "pyscenedetect" / "fades.mp4", ramps)]
    for clip in transition_clips():
        if clip.core:
            truths = [peers.Truth(e.start, e.end, ((e.type, e.color),)) for e in clip.expected()]
            inputs.append((clip.name, clip.path(media_dir), truths))
    return {
        name: peers.score_transitions(peers.ours(path).events, truths)
        for name, path, truths in inputs
    }


def total(scored: dict[str, peers.TransitionScore]) -> peers.TransitionScore:
    out = peers.TransitionScore()
    for score in scored.values():
        out += score
    return out


@pytest.mark.corpus
def test_recall_is_at_least_0_9_with_start_and_end_within_two_frames(scored):
    assert total(scored).total >= 20
    assert total(scored).recall >= 0.9, {n: s for n, s in scored.items() if s.found < s.total}


@pytest.mark.corpus
def test_type_is_right_at_least_0_9_of_the_time(scored):
    assert total(scored).type_accuracy >= 0.9, {
        n: s for n, s in scored.items() if s.typed < s.total
    }


@pytest.mark.corpus
def test_every_fade_of_fades_mp4_is_found_as_a_fade(scored):
    # PySceneDetect's content detectors report none of these; ThresholdDetector one boundary
    # per black gap.
    assert scored["fades.mp4"].typed == len(FADES_RAMPS)
