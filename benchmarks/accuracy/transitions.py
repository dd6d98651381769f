"""Gradual transitions: recall and type accuracy, start and end within two frames.

Inputs: ``pyscenedetect/fades.mp4`` and generated ffmpeg ``xfade`` transitions of several
kinds and lengths (``support.synth_video``, which also says how xfade kinds map to our
types: a ``fadeblack`` is a fade out to black followed by a fade in from black). The peers
(PySceneDetect ``ThresholdDetector`` for fades, and the content detectors for reference)
report one boundary frame per transition and no type, so beside them the table gives the
share of transitions they *locate*: a boundary anywhere inside, two frames' slack.
"""

from __future__ import annotations

from support import shot_peers as peers
from support.synth_video import TransitionClip, transition_clips

from benchmarks.accuracy.common import (
    OURS_NETWORK,
    OURS_WITHOUT_NETWORK,
    PEER_DECODING,
    Context,
    Table,
)

PEERS = ("ThresholdDetector", "ContentDetector", "AdaptiveDetector")
FADE_KINDS = ("ramps", "fadeblack", "fadewhite")  # inputs whose transitions are all fades

# fades.mp4 is a flat frame ramping between black and white with no picture (our luma
# measurement; the extremes match the MANIFEST's ThresholdDetector levels: black at 84 and
# 167, white at 42, 126 and 209). Each ramp runs from the last frame at one extreme to the
# first at the other, and is as much a fade in from the first colour as a fade out to the
# second: either name, with its colour, is right.
FADES_RAMPS = [(1, 41, "black"), (42, 83, "white"), (84, 124, "black"), (126, 166, "white"),
               (167, 208, "black"), (209, 249, "white")]  # fmt: skip


def fades_truth() -> list[peers.Truth]:
    other = {"black": "white", "white": "black"}
    return [
        peers.Truth(start, end, (("fade_in", origin), ("fade_out", other[origin])))
        for start, end, origin in FADES_RAMPS
    ]


def clip_truth(clip: TransitionClip) -> list[peers.Truth]:
    return [peers.Truth(e.start, e.end, ((e.type, e.color),)) for e in clip.expected()]


def cases(ctx: Context) -> list[tuple[str, str, object, list[peers.Truth], bool]]:
    """(name, kind, path, truths, counted in the goal) of every transition input."""
    found = []
    fades = ctx.corpus_file("pyscenedetect/fades.mp4")
    if fades is not None:
        found.append(("pyscenedetect/fades.mp4", "ramps", fades, fades_truth(), True))
    clips = transition_clips()
    if ctx.quick:
        clips = clips[::3]
    for clip in clips:
        path = clip.path(ctx.work)
        found.append((f"generated/{clip.name}", clip.kind, path, clip_truth(clip), clip.core))
    return found


def run(ctx: Context) -> list[Table]:
    table = Table(
        "transitions",
        "gradual transitions: start and end within 2 frames, and the right type",
        ["file", "kind", "transitions", "engine", "recall", "right type", "located", "seconds"],
    )
    goal_total = peers.TransitionScore()
    extra_total = peers.TransitionScore()
    off_total = peers.TransitionScore()  # ours without the network, on the goal set
    located = {name: peers.TransitionScore() for name in ("ours", *PEERS)}
    fade_located = {name: peers.TransitionScore() for name in ("ours", *PEERS)}
    for name, kind, path, truths, core in cases(ctx):
        times = peers.frame_times(path)
        mine = peers.ours(path)
        score = peers.score_transitions(mine.events, truths)
        table.add(name, kind, len(truths), "ours", score.recall, score.type_accuracy,
                  score.located_share, mine.seconds)  # fmt: skip
        table.time("ours", mine.seconds)
        table.time(OURS_NETWORK, mine.network_seconds)
        alone = peers.ours(path, network=False)
        off = peers.score_transitions(alone.events, truths)
        table.add(name, kind, len(truths), OURS_WITHOUT_NETWORK, off.recall, off.type_accuracy,
                  off.located_share, alone.seconds)  # fmt: skip
        table.time(OURS_WITHOUT_NETWORK, alone.seconds)
        table.time(PEER_DECODING, peers.pyscenedetect_decoding(path))
        if core:
            goal_total += score
            located["ours"] += score
            off_total += off
        else:
            extra_total += score
        is_fade = kind in FADE_KINDS
        if is_fade:
            fade_located["ours"] += score
        for peer in PEERS:
            found = peers.pyscenedetect(path, peer, times)
            theirs = peers.score_located(found.cuts, truths)
            table.add(name, kind, len(truths), peer, None, None, theirs.located_share,
                      found.seconds)  # fmt: skip
            table.time(peer, found.seconds)
            if core:
                located[peer] += theirs
            if is_fade:
                fade_located[peer] += theirs
    table.add("goal set", "", goal_total.total, "ours", goal_total.recall,
              goal_total.type_accuracy, goal_total.located_share, None)  # fmt: skip
    table.add("goal set", "", off_total.total, OURS_WITHOUT_NETWORK, off_total.recall,
              off_total.type_accuracy, off_total.located_share, None)  # fmt: skip
    for peer in PEERS:
        table.add("goal set", "", located[peer].total, peer, None, None,
                  located[peer].located_share, None)  # fmt: skip
    if extra_total.total:
        table.add("slide and iris (not in the goal)", "", extra_total.total, "ours",
                  extra_total.recall, extra_total.type_accuracy, extra_total.located_share,
                  None)  # fmt: skip
    table.notes.append(
        "located: a boundary (ours: any event) inside the transition; the peers give no extent"
        " or type, so recall and type are ours alone. Fades through black or white from xfade"
        " count as a fade_out and a fade_in."
    )
    table.notes.append(
        f"{OURS_WITHOUT_NETWORK}: the same analyzer with the network's predictions all 0, its"
        " picture measurements alone (the luma fades and the grid's wipes); not a peer"
    )
    # The yardstick is the content detectors ("they find a fifth of fades");
    # ThresholdDetector, made for fades through black, is printed beside them.
    content = max(fade_located[p].located_share for p in ("ContentDetector", "AdaptiveDetector"))
    threshold = fade_located["ThresholdDetector"].located_share
    table.goal(f"recall >= 0.9, start and end within 2 frames (ours {goal_total.recall:.3f})",
               goal_total.recall >= 0.9)  # fmt: skip
    table.goal(f"right type >= 0.9 of the time (ours {goal_total.type_accuracy:.3f})",
               goal_total.type_accuracy >= 0.9)  # fmt: skip
    table.goal(
        f"fades found far more often than the content detectors locate them (ours "
        f"{fade_located['ours'].recall:.2f} with start and end; content detectors "
        f"{content:.2f}, ThresholdDetector {threshold:.2f}, anywhere inside)",
        fade_located["ours"].recall >= 0.9 and fade_located["ours"].recall >= 2 * content,
    )
    return [table]
