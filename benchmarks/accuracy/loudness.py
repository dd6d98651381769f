"""Loudness: integrated LUFS and true peak against ffmpeg's ``ebur128``, ours beside pyloudnorm.

The reference is ffmpeg's own summary of ``-af ebur128=peak=true`` on the file itself (it
measures at the file's rate and oversamples to 192 kHz for the true peak). Ours: the
``LoudnessAnalyzer`` on the audio as ``decode_audio`` gives it (48 kHz, every channel).
pyloudnorm (``Meter(rate).integrated_loudness``, BS.1770-4 defaults) gets the same 48 kHz
samples; it has no true peak, so its peak column shows the sample peak, marked "(sample)".

Inputs: every corpus file with an audio stream, and generated WAVs
(``support.synth_audio.loudness_cases``): tones, pink noise, a level step, a drum loop, and
two clips shorter than the 400 ms gating block, which must give a null loudness, not an error.
ffmpeg reports -70.0 LUFS where nothing passes its gate; that is read as "not measured".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from support import synth_audio as sa

from benchmarks.accuracy.common import Context, Table, timed
from pipelines.analyzers.loudness import LoudnessAnalyzer
from pipelines.decode import AudioTrack

RATE = 48000
TOLERANCE_LU = 0.3
# The speed table: ours like for like (integrated loudness only) and the whole analyzer.
WHOLE = "ours, whole analyzer (ref)"


def inputs(ctx: Context) -> dict[str, Path]:
    found: dict[str, Path] = {}
    if ctx.corpus is not None:
        found.update(sa.corpus_audio(ctx.corpus))
    work = ctx.work / "loudness"
    work.mkdir(parents=True, exist_ok=True)
    found.update({f"generated/{name}": path for name, path in sa.loudness_cases(work).items()})
    return found


def ours(samples: np.ndarray) -> tuple[dict | None, str | None]:
    try:
        return LoudnessAnalyzer().analyze(AudioTrack(samples, RATE)).sections["audio"], None
    except Exception as exc:  # the goal is "no error": show it, do not stop the run
        return None, repr(exc)


def ours_integrated(samples: np.ndarray) -> float | None:
    """Only what pyloudnorm computes (integrated loudness), by our analyzer's own code: the
    like-for-like time. The whole analyzer also gives true peak, range, spectral balance."""
    from pipelines.analyzers.loudness import block_powers, integrated_loudness

    blocks, _ = block_powers(samples.astype(np.float32), RATE)
    return integrated_loudness(blocks) if len(blocks) else None


def pyloudnorm_lufs(samples: np.ndarray) -> tuple[float | None, str | None]:
    import warnings

    import pyloudnorm

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = pyloudnorm.Meter(RATE).integrated_loudness(samples.T.astype(np.float64))
    except Exception as exc:
        return None, type(exc).__name__
    return (float(value) if np.isfinite(value) else None), None


def run(ctx: Context) -> list[Table]:
    table = Table(
        "loudness",
        "integrated loudness (LUFS) and true peak (dBTP) against ffmpeg ebur128",
        ["input", "engine", "LUFS", "Δ LU", "peak dB", "Δ peak", "error", "s"],
    )
    worst, failed, short_ok, short_seen = 0.0, [], True, False
    for name, path in inputs(ctx).items():
        reference, ref_s = timed(sa.ffmpeg_ebur128, path)
        samples = sa.read_audio(path, RATE)
        (section, error), our_s = timed(ours, samples)
        (py_lufs, py_error), py_s = timed(pyloudnorm_lufs, samples)
        sample_peak = float(np.abs(samples).max()) if samples.size else 0.0

        table.add(name, "ffmpeg ebur128", reference["I"], None, reference["peak"], None, None,
                  ref_s)  # fmt: skip
        our_lufs = None if section is None else section["integrated_lufs"]
        our_peak = None if section is None else section["true_peak_dbtp"]
        table.add(name, "ours", our_lufs, _delta(our_lufs, reference["I"]), our_peak,
                  _delta(our_peak, reference["peak"]), error, our_s)  # fmt: skip
        table.time(WHOLE, our_s)
        table.time("ours", timed(ours_integrated, samples)[1])
        py_peak = f"{20 * np.log10(sample_peak):.2f} (sample)" if sample_peak > 0 else None
        table.add(name, "pyloudnorm", py_lufs, _delta(py_lufs, reference["I"]), py_peak, None,
                  py_error, py_s)  # fmt: skip
        table.time("pyloudnorm", py_s)

        if samples.shape[1] < 0.4 * RATE:
            short_seen = True
            short_ok &= error is None and our_lufs is None
            continue
        if reference["I"] is None:
            ok = error is None and our_lufs is None
        else:
            delta = _delta(our_lufs, reference["I"])
            ok = delta is not None and abs(delta) <= TOLERANCE_LU
            worst = max(worst, abs(delta) if delta is not None else np.inf)
        if not ok:
            failed.append(name)
    table.goal(
        f"within {TOLERANCE_LU} LU of ffmpeg ebur128 on every input (largest |Δ| {worst:.2f} LU; "
        f"off: {failed or 'none'})",
        not failed,
    )
    table.goal("clips under the 400 ms gating block: null loudness, no error",
               short_seen and short_ok)  # fmt: skip
    table.notes.append(
        "pyloudnorm has no true peak: its peak column is the sample peak of the same samples."
    )
    table.notes.append("ffmpeg prints its summary rounded to 0.1 LU and 0.1 dB.")
    return [table]


def _delta(value: float | None, reference: float | None) -> float | None:
    if value is None or reference is None:
        return None
    return round(float(value) - float(reference), 3)
