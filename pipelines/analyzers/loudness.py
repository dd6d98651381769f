"""Loudness, peaks, dynamics and spectral balance: the decoded track → the ``audio`` section.

Consumes the whole :class:`~pipelines.decode.AudioTrack` (or None); needs no model. Emits
``audio``:

- ``integrated_lufs``: ITU-R BS.1770-4 integrated loudness. Each channel is K-weighted (the
  standard's two biquads, re-derived for the track's own sample rate, see
  :func:`k_weighting`), its mean square taken over 400 ms blocks that overlap by 75 %, and
  the channels summed with the weights of the standard's Annex 3 (1.0 front, 1.41 for
  surrounds between 60° and 120° azimuth, the LFE left out). Blocks under -70 LUFS (absolute
  gate), then blocks more than 10 LU under the loudness of the remaining ones (relative gate),
  are left out. None when no block is complete (a clip under 400 ms) or none passes the gates
  (silence).
- ``loudness_range_lu``: EBU Tech 3342 loudness range: the 10th to 95th percentile spread of
  the 3 s short-term loudness taken every 100 ms, after an absolute gate at -70 LUFS and a
  relative gate 20 LU under their power mean. None under 3 s.
- ``true_peak_dbtp``: BS.1770-4 Annex 2: the largest magnitude after 4× oversampling (2× at
  up to 96 kHz, none above), which catches the inter-sample peaks a DAC would produce.
- ``sample_peak_dbfs`` and ``rms_dbfs``: plain sample statistics over all channels, relative
  to full scale (a full-scale square wave is 0 dB RMS, so a full-scale sine reads -3.01 dB).
- ``dynamics``: crest factor (sample peak over RMS, dB), the spread (standard deviation) of
  the gated short-term loudness, and the peak-to-loudness ratio (true peak minus integrated).
- ``spectral_balance``: the power in seven bands, dB relative to the power from 20 Hz up to
  20 kHz (or Nyquist); a band wholly above Nyquist has level None.

Channels are taken in ffmpeg's default order for their count (what ``decode_audio`` gives),
e.g. FL FR FC LFE BL BR for six. Confidence: 1.0 when the loudness was measured, 0.3 when the
audio is there but too short or silent to measure, 0.0 when there is no audio.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy import signal

from pipelines.analyzers.base import AnalyzerResult, AudioAnalyzer
from pipelines.decode import AudioTrack

logger = logging.getLogger(__name__)

# BS.1770-4 Table 1 (pre-filter, a high shelf for the head's acoustic effect) and Table 2
# (RLB weighting, a high-pass), both given for 48 kHz only.
SHELF_48K = (
    (1.53512485958697, -2.69169618940638, 1.19839281085285),
    (1.0, -1.69065929318241, 0.73248077421585),
)
HIGHPASS_48K = ((1.0, -2.0, 1.0), (1.0, -1.99004745483398, 0.99007225036621))
STANDARD_RATE = 48000

LOUDNESS_OFFSET = -0.691  # BS.1770-4 eq. 2: makes a 0 dBFS 997 Hz sine in one channel -3.01
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
LRA_RELATIVE_GATE_LU = -20.0  # EBU Tech 3342
LRA_PERCENTILES = (10.0, 95.0)
SEGMENT_S = 0.1  # blocks step by 100 ms: 75 % overlap of 400 ms, Tech 3342's 10 Hz
BLOCK_SEGMENTS = 4  # 400 ms gating block
SHORT_TERM_SEGMENTS = 30  # 3 s short-term window
SURROUND = 1.41  # BS.1770-4 Annex 3, Table 3

# Channel weights per channel count, in ffmpeg's default layouts: 2.1 = FL FR LFE,
# 4.0 = FL FR FC BC, 5.0 = FL FR FC BL BR, 5.1 = FL FR FC LFE BL BR, 6.1 = FL FR FC LFE BC SL
# SR, 7.1 = FL FR FC LFE BL BR SL SR. A back centre (180°) is outside the 60°-120° range the
# standard gives +1.5 dB, so it weighs 1.0; 7.1's back pair (135°-150°) likewise.
CHANNEL_WEIGHTS = {
    1: (1.0,),
    2: (1.0, 1.0),
    3: (1.0, 1.0, 0.0),
    4: (1.0, 1.0, 1.0, 1.0),
    5: (1.0, 1.0, 1.0, SURROUND, SURROUND),
    6: (1.0, 1.0, 1.0, 0.0, SURROUND, SURROUND),
    7: (1.0, 1.0, 1.0, 0.0, 1.0, SURROUND, SURROUND),
    8: (1.0, 1.0, 1.0, 0.0, 1.0, 1.0, SURROUND, SURROUND),
}

BANDS = (
    ("sub", 20.0, 60.0),
    ("bass", 60.0, 250.0),
    ("low_mid", 250.0, 500.0),
    ("mid", 500.0, 2000.0),
    ("high_mid", 2000.0, 4000.0),
    ("presence", 4000.0, 6000.0),
    ("brilliance", 6000.0, 20000.0),
)
CHUNK_SEGMENTS = 100  # 10 s of audio filtered at a time, so memory stays bounded
PEAK_GUARD = 64  # input samples of context either side of a chunk when oversampling


def _to_analog(c: tuple[float, ...], k: float) -> np.ndarray:
    """A digital quadratic in z⁻¹ as an analog one in s (highest power first), by substituting
    z⁻¹ = (1 - s/k) / (1 + s/k) and clearing (1 + s/k)²: the inverse bilinear transform."""
    c0, c1, c2 = c
    return np.array([(c0 - c1 + c2) / k**2, 2.0 * (c0 - c2) / k, c0 + c1 + c2])


def _to_digital(p: np.ndarray, k: float) -> np.ndarray:
    """An analog quadratic in s as a digital one in z⁻¹: s = k (1 - z⁻¹) / (1 + z⁻¹)."""
    p2, p1, p0 = p[0] * k * k, p[1] * k, p[2]
    return np.array([p2 + p1 + p0, 2.0 * (p0 - p2), p2 - p1 + p0])


def _reanchor(b: tuple[float, ...], a: tuple[float, ...], rate: int) -> np.ndarray:
    """A 48 kHz biquad of BS.1770-4 moved to ``rate``, as [b0, b1, b2, 1, a1, a2].

    The filter goes back to its analog prototype and forth to ``rate`` by the bilinear
    transform, pre-warped at the filter's own natural frequency so that the response there is
    the same at every rate (1681.97 Hz for the shelf, 38.14 Hz for the high-pass; the values
    other derivations quote, which checks this one). At 48 kHz it returns the table's own
    coefficients; at 44.1 kHz the response stays within 0.002 dB of the 48 kHz one, at 16 kHz
    within 0.07 dB, the small frequency warping the bilinear transform cannot avoid.
    """
    plain = _to_analog(a, 2.0 * STANDARD_RATE)
    natural = np.sqrt(plain[2] / plain[0])  # rad/s of the unwarped prototype
    f_digital = STANDARD_RATE / np.pi * np.arctan(natural / (2.0 * STANDARD_RATE))

    def warp(fs: float) -> float:
        return 2.0 * np.pi * f_digital / np.tan(np.pi * f_digital / fs)

    bs, as_ = _to_analog(b, warp(STANDARD_RATE)), _to_analog(a, warp(STANDARD_RATE))
    bz, az = _to_digital(bs, warp(rate)), _to_digital(as_, warp(rate))
    return np.concatenate([bz / az[0], az / az[0]])


def k_weighting(rate: int) -> np.ndarray:
    """The BS.1770-4 K-weighting for ``rate`` Hz as second-order sections [2, 6]."""
    return np.stack([_reanchor(*SHELF_48K, rate), _reanchor(*HIGHPASS_48K, rate)])


def channel_weights(channels: int) -> np.ndarray:
    if channels in CHANNEL_WEIGHTS:
        return np.asarray(CHANNEL_WEIGHTS[channels])
    # Beyond the layouts we know: front channels at 1.0, nothing dropped.
    return np.ones(channels)


def _segment_bounds(n_samples: int, rate: int) -> np.ndarray:
    """Sample index where each 100 ms segment starts, and where the last complete one ends."""
    count = int(np.floor(n_samples / (rate * SEGMENT_S) + 1e-9))
    bounds = np.round(np.arange(count + 1) * rate * SEGMENT_S).astype(np.int64)
    return bounds[bounds <= n_samples]


def _segment_energy(x: np.ndarray, sos: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Sum of squares of the K-weighted channel in each segment."""
    n_segments = len(bounds) - 1
    energy = np.zeros(max(n_segments, 0))
    state = np.zeros((sos.shape[0], 2))
    for first in range(0, n_segments, CHUNK_SEGMENTS):
        last = min(first + CHUNK_SEGMENTS, n_segments)
        lo, hi = bounds[first], bounds[last]
        y, state = signal.sosfilt(sos, x[lo:hi].astype(np.float64), zi=state)
        energy[first:last] = np.add.reduceat(y * y, bounds[first:last] - lo)
    return energy


def _windowed(energy: np.ndarray, bounds: np.ndarray, width: int) -> np.ndarray:
    """Mean square over every run of ``width`` consecutive segments, per channel [C, J]."""
    if energy.shape[1] < width:
        return np.zeros((energy.shape[0], 0))
    total = np.cumsum(np.pad(energy, ((0, 0), (1, 0))), axis=1)
    sums = total[:, width:] - total[:, :-width]
    lengths = (bounds[width:] - bounds[:-width]).astype(np.float64)
    return sums / lengths


def _lufs(power: np.ndarray | float) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return LOUDNESS_OFFSET + 10.0 * np.log10(power)


def integrated_loudness(block_power: np.ndarray) -> float | None:
    """BS.1770-4 gated loudness from the channel-weighted power of each 400 ms block."""
    loud = _lufs(block_power)
    kept = block_power[loud > ABSOLUTE_GATE_LUFS]
    if len(kept) == 0:
        return None
    threshold = _lufs(kept.mean()) + RELATIVE_GATE_LU
    kept = block_power[(loud > ABSOLUTE_GATE_LUFS) & (loud > threshold)]
    return float(_lufs(kept.mean())) if len(kept) else None


def _gated_short_term(short_power: np.ndarray) -> np.ndarray:
    """Tech 3342: the short-term loudness values that pass both gates."""
    loud = _lufs(short_power)
    above = loud > ABSOLUTE_GATE_LUFS
    if not above.any():
        return np.zeros(0)
    threshold = _lufs(short_power[above].mean()) + LRA_RELATIVE_GATE_LU
    return loud[above & (loud > threshold)]


def block_powers(samples: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Channel-weighted K-filtered mean square of every 400 ms block and 3 s short-term
    window (100 ms apart) of float ``samples`` [channels, n]: both lengths are whole
    segments, so both come from one pass of per-segment energies."""
    sos = k_weighting(rate)
    bounds = _segment_bounds(samples.shape[1], rate)
    energy = np.stack([_segment_energy(x, sos, bounds) for x in samples])
    weights = channel_weights(samples.shape[0])[:, None]
    blocks = (weights * _windowed(energy, bounds, BLOCK_SEGMENTS)).sum(axis=0)
    short = (weights * _windowed(energy, bounds, SHORT_TERM_SEGMENTS)).sum(axis=0)
    return blocks, short


def true_peak(samples: np.ndarray, rate: int) -> float:
    """Largest magnitude of the oversampled signal, linear (BS.1770-4 Annex 2)."""
    factor = 4 if rate <= 48000 else 2 if rate <= 96000 else 1
    peak = 0.0
    chunk = int(rate * SEGMENT_S * CHUNK_SEGMENTS)
    for x in samples:
        if factor == 1:
            peak = max(peak, float(np.abs(x).max(initial=0.0)))
            continue
        # Chunks with context either side: the interpolation filter (20 input samples long)
        # sees the same neighbours as it would in one pass over the whole channel.
        for lo in range(0, len(x), chunk):
            hi = min(lo + chunk, len(x))
            a, b = max(0, lo - PEAK_GUARD), min(len(x), hi + PEAK_GUARD)
            up = signal.resample_poly(x[a:b].astype(np.float64), factor, 1)
            inner = up[(lo - a) * factor : (hi - a) * factor]
            peak = max(peak, float(np.abs(inner).max(initial=0.0)))
    return peak


def spectral_balance(samples: np.ndarray, rate: int) -> list[dict]:
    """Power per band relative to the 20 Hz-20 kHz total, channels' powers summed."""
    nperseg = int(2 ** np.ceil(np.log2(rate / 6.0)))  # ~6 Hz bins: three across the sub band
    chunk = max(nperseg, int(rate * SEGMENT_S * CHUNK_SEGMENTS))
    freqs = np.fft.rfftfreq(nperseg, 1.0 / rate)
    psd = np.zeros_like(freqs)
    for x in samples:
        for lo in range(0, len(x), chunk):
            part = x[lo : lo + chunk].astype(np.float64)
            if len(part) < nperseg // 2:
                continue
            seg = min(nperseg, len(part))
            _, p = signal.welch(part, fs=rate, nperseg=seg, nfft=nperseg, detrend=False)
            psd += p * len(part)
    top = min(20000.0, rate / 2.0)
    total = psd[(freqs >= 20.0) & (freqs < top)].sum()
    bands = []
    for name, low, high in BANDS:
        level = None
        if low < rate / 2.0 and total > 0.0:
            power = psd[(freqs >= low) & (freqs < min(high, top))].sum()
            level = round(float(10.0 * np.log10(power / total)), 2) if power > 0 else None
        bands.append({"band": name, "low_hz": low, "high_hz": high, "level_db": level})
    return bands


def _db(value: float) -> float | None:
    return round(float(20.0 * np.log10(value)), 2) if value > 0.0 else None


def _rounded(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


class LoudnessAnalyzer(AudioAnalyzer):
    name = "audio"

    def __init__(self) -> None:
        pass

    def analyze(self, audio: AudioTrack | None) -> AnalyzerResult:
        if audio is None or audio.samples.size == 0:
            logger.info("audio: no audio stream, nothing to measure")
            return AnalyzerResult(sections={"audio": _absent()}, confidence=0.0)
        samples = audio.samples
        if samples.ndim != 2:
            raise ValueError(
                f"expected audio samples [channels, samples], got {list(samples.shape)}"
            )
        samples = np.nan_to_num(samples.astype(np.float32, copy=False), nan=0.0)
        rate = int(audio.sample_rate)
        channels = samples.shape[0]

        blocks, short = block_powers(samples, rate)
        integrated = integrated_loudness(blocks) if len(blocks) else None
        gated_short = _gated_short_term(short) if len(short) else np.zeros(0)
        lra = None
        if len(gated_short):
            low, high = np.percentile(gated_short, LRA_PERCENTILES)
            lra = float(high - low)

        peak = float(np.abs(samples).max())
        mean_square = float(np.mean(np.square(samples, dtype=np.float64)))
        rms = float(np.sqrt(mean_square))
        tp = true_peak(samples, rate)
        tp_db, peak_db, rms_db = _db(tp), _db(peak), _db(rms)

        section = {
            "present": True,
            "silent": peak == 0.0,
            "sample_rate": rate,
            "channels": channels,
            "integrated_lufs": _rounded(integrated),
            "loudness_range_lu": _rounded(lra),
            "true_peak_dbtp": tp_db,
            "sample_peak_dbfs": peak_db,
            "rms_dbfs": rms_db,
            "dynamics": {
                "crest_factor_db": _rounded(peak_db - rms_db) if peak_db is not None else None,
                "short_term_lufs_std": _rounded(gated_short.std()) if len(gated_short) else None,
                "peak_to_loudness_db": (
                    _rounded(tp_db - integrated)
                    if tp_db is not None and integrated is not None
                    else None
                ),
            },
            "spectral_balance": spectral_balance(samples, rate),
        }
        if integrated is None:
            why = "under 400 ms" if len(blocks) == 0 else "below the -70 LUFS gate"
            logger.info("audio: loudness not measurable (%s, %.3f s)", why, audio.duration_s)
            return AnalyzerResult(sections={"audio": section}, confidence=0.3)
        logger.info(
            "audio: %.1f LUFS, LRA %s LU, true peak %s dBTP",
            integrated, section["loudness_range_lu"], tp_db,
        )  # fmt: skip
        return AnalyzerResult(sections={"audio": section}, confidence=1.0)


def _absent() -> dict:
    return {
        "present": False,
        "silent": None,
        "sample_rate": None,
        "channels": None,
        "integrated_lufs": None,
        "loudness_range_lu": None,
        "true_peak_dbtp": None,
        "sample_peak_dbfs": None,
        "rms_dbfs": None,
        "dynamics": {
            "crest_factor_db": None,
            "short_term_lufs_std": None,
            "peak_to_loudness_db": None,
        },
        "spectral_balance": [
            {"band": name, "low_hz": low, "high_hz": high, "level_db": None}
            for name, low, high in BANDS
        ],
    }
