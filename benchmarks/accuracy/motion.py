"""Motion: camera-motion class, direction and intensity order on generated clips.

Inputs (``support.synth_motion``): one detailed still, and 3 s clips cut from it by ffmpeg
with an exact camera move: pans right and left and tilts down and up at 0.1, 0.25, 0.5 and
1 frame per second, zooms in and out at 0.1, 0.2 and 0.4 (relative scale per second),
handheld shake at amplitudes 0.005, 0.01 and 0.02 of the frame, and a still shot. Besides
those, random-noise video and a flat grey picture, which show no camera move at all.

Ours: ``MotionAnalyzer`` fed as the runner feeds it (analysis width 320). Its answer is the
Style DNA ``motion`` section: ``dominant_camera_motion`` (the largest of the
``camera_motion`` shares), the direction of that move, ``mean_intensity`` and the section's
confidence. There is no peer for camera-motion class. As a yardstick for the intensity order
only, OpenCV's dense optical flow (Farnebäck 2003, ``calcOpticalFlowFarneback`` with the
parameters of OpenCV's own sample) on the same 320-wide grey frames: its mean flow
magnitude per second, as a fraction of the frame width.

Goals:

- every generated clip classed right: ``dominant_camera_motion`` is its kind (static, pan,
  tilt, zoom, shake), 100% of clips;
- direction right on every pan, tilt and zoom, 100%;
- still shots static with ``mean_intensity`` ≤ 0.01;
- intensity order fully right within each kind and direction across speeds, the still shot
  below all of them: Kendall tau = 1 in every group;
- noise video and a flat picture not reported as a camera move (dominant ``static``) and
  the motion confidence < 0.5 on them and on the still shot, as the overall
  extraction confidence must be < 0.5 on a still frame and on noise (issue #4).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau
from support import synth_motion as sm

from benchmarks.accuracy.common import Context, Table, timed
from pipelines.decode import VideoSource, analysis_size
from pipelines.inference import get_backend
from pipelines.ingest import probe

STILL_INTENSITY = 0.01
LOW_CONFIDENCE = 0.5


def farneback_speed(path: Path, width: int = 320) -> float:
    """Mean dense-flow magnitude per second, as a fraction of the frame width."""
    import cv2

    info = probe(path)
    size = analysis_size(info, width)
    previous, magnitudes = None, []
    for chunk in VideoSource(info, size).chunks():
        for frame in chunk.frames:
            grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
            if previous is not None:
                flow = cv2.calcOpticalFlowFarneback(previous, grey, None, 0.5, 3, 15, 3, 5, 1.2, 0)
                magnitudes.append(float(np.hypot(flow[..., 0], flow[..., 1]).mean()))
            previous = grey
    return float(np.mean(magnitudes)) * info.fps / size[0] if magnitudes else 0.0


def order_scores(speeds: list[float], values: list[float]) -> tuple[float, float]:
    """Kendall tau of ``values`` against the known ``speeds``, and the share of pairs ordered."""
    pairs = [(i, j) for i, j in itertools.combinations(range(len(speeds)), 2)]
    right = sum((values[j] - values[i]) * (speeds[j] - speeds[i]) > 0 for i, j in pairs)
    tau = kendalltau(speeds, values).statistic
    return float(tau), right / len(pairs)


def run(ctx: Context) -> list[Table]:
    backend = get_backend()
    # Load the model before the clock starts, so the first clip's time is the clip's own.
    blank = np.zeros((1, 90, 160), dtype=np.float32)
    backend.infer("motion", {"PREV": blank, "CURR": blank})
    work = ctx.work / "motion"
    work.mkdir(parents=True, exist_ok=True)
    cases = sm.cases(ctx.quick)

    clips = Table(
        "motion",
        "camera motion on generated clips (class, direction, intensity)",
        ["clip", "engine", "class", "right", "direction", "right dir", "intensity",
         "confidence", "s"],
    )  # fmt: skip
    ours: dict[str, dict] = {}
    flow: dict[str, float] = {}
    classed, directed = [], []
    for case in cases:
        path = sm.render(case, work)
        result, seconds = timed(sm.analyze, path, backend)
        motion = result.sections["motion"]
        ours[case.name] = {**motion, "confidence": result.confidence}
        right, right_dir = sm.answer_right(case, motion)
        classed.append(right)
        if right_dir is not None:
            directed.append(right_dir)
        direction = next(
            (motion[k] for k in ("pan_direction", "tilt_direction", "zoom_direction")
             if motion.get(k) and k.startswith(motion["dominant_camera_motion"])),
            None,
        )  # fmt: skip
        clips.add(
            case.name, "clipzy", motion["dominant_camera_motion"], right, direction, right_dir,
            motion["mean_intensity"], result.confidence, seconds,
        )  # fmt: skip
        clips.time("ours", seconds)
        flow[case.name], seconds = timed(farneback_speed, path)
        clips.add(case.name, "farneback (ref)", None, None, None, None, flow[case.name], None,
                  seconds)  # fmt: skip
        clips.time("farneback (ref)", seconds)
    clips.notes.append(
        "intensity: ours is mean_intensity (0-1); farneback's is mean flow per second in frame "
        "widths, a yardstick for the order only"
    )
    clips.goal(f"every generated clip classed right: {sum(classed)}/{len(classed)}", all(classed))
    clips.goal(
        f"direction right on every pan, tilt and zoom: {sum(directed)}/{len(directed)}",
        all(directed),
    )
    still = ours[sm.MotionCase("static", None, 0.0).name]
    clips.goal(
        f"still shot static with mean intensity <= {STILL_INTENSITY}: "
        f"{still['dominant_camera_motion']}, {still['mean_intensity']}",
        still["dominant_camera_motion"] == "static" and still["mean_intensity"] <= STILL_INTENSITY,
    )

    order = Table(
        "motion",
        "intensity order within each kind and direction (the still shot first)",
        ["group", "clips", "engine", "kendall tau", "pairs in order", "intensities"],
    )
    taus = []
    still_case = next(c for c in cases if c.kind == "static")
    groups = sorted({c.group for c in cases if c.kind != "static"})
    for group in groups:
        moving = sorted((c for c in cases if c.group == group), key=lambda c: c.speed)
        members = [still_case, *moving]
        speeds = [c.speed for c in members]
        for engine, values in (
            ("clipzy", [ours[c.name]["mean_intensity"] for c in members]),
            ("farneback (ref)", [flow[c.name] for c in members]),
        ):
            tau, share = order_scores(speeds, values)
            if engine == "clipzy":
                taus.append(tau)
            order.add(group, len(members), engine, tau, share,
                      " < ".join(f"{v:.3f}" for v in values))  # fmt: skip
    order.goal(
        f"intensity order fully right in every group (Kendall tau = 1): lowest tau {min(taus):.3f}",
        all(t >= 1.0 - 1e-9 for t in taus),
    )

    degenerate = Table(
        "motion",
        "nothing to track: noise video, flat picture, still shot",
        ["clip", "dominant", "camera shares", "intensity", "trackable share", "confidence", "s"],
    )
    quiet = []
    for name, make in (("noise", sm.noise_clip), ("flat", sm.flat_clip), ("still", None)):
        if make is None:
            motion, seconds = still, None
            confidence = still["confidence"]
        else:
            result, seconds = timed(sm.analyze, make(work), backend)
            motion, confidence = result.sections["motion"], result.confidence
        quiet.append((name, motion["dominant_camera_motion"], confidence))
        degenerate.add(
            name, motion["dominant_camera_motion"],
            ", ".join(f"{k} {v:.2f}" for k, v in motion["camera_motion"].items() if v),
            motion["mean_intensity"], motion["trackable_share"], confidence, seconds,
        )  # fmt: skip
    degenerate.goal(
        "noise and flat picture reported static, not a camera move: "
        + ", ".join(f"{n} {d}" for n, d, _ in quiet[:2]),
        all(d == "static" for _, d, _ in quiet),
    )
    degenerate.goal(
        f"motion confidence < {LOW_CONFIDENCE} on noise, flat picture and still shot: "
        + ", ".join(f"{n} {c:.2f}" for n, _, c in quiet),
        all(c < LOW_CONFIDENCE for _, _, c in quiet),
    )
    return [clips, order, degenerate]
