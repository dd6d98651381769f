"""beats: mono audio → beat times, tempo at two metrical levels, and how clear the beat is.

The steps, and why each is there:

1. **Onset strength at ~100 frames/s.** The audio is brought to 22.05 kHz (libsoxr's
   high-quality filter), cut into 2048-point Hann frames (93 ms, enough resolution for kick
   drums) every 220 samples, and the power is
   pooled into 64 mel bands from 30 Hz to 11 kHz. Band levels go to dB, floored 80 dB under the
   loudest value so that the noise floor of a quiet passage cannot make onsets. The onset
   strength is the half-wave rectified rise of each band from one frame to the next, averaged
   over bands: log-compressed spectral flux, after Klapuri (1999, "Sound onset detection by
   applying psychoacoustic knowledge") and the best simple onset function in Dixon (2006,
   "Onset detection revisited", DAFx). A 1 s moving average is taken off so that crescendos do
   not count. In dB the rise is steepest as an onset enters the leading half of the window,
   so the curve peaks before the onset itself: 33-42 ms on synthetic clicks, kicks and noise
   bursts. Beat times are shifted by that measured ``ONSET_DELAY_S``.

2. **Tempo.** The onset curve is autocorrelated in 8 s Hann windows (75 % overlap) and each
   window's autocorrelation is normalised by its zero lag (plus a small floor, so that the
   rounding noise of a steady tone is not normalised up into a pulse): a perfectly periodic
   pulse scores 1; white noise or speech scores about 1/sqrt(frames) at every lag. The mean
   over windows is read on a log-spaced grid of 30–300 BPM. Autocorrelation peaks at the beat
   period and at its multiples (half and third tempo), never at faster levels, so the choice
   between metrical levels is made by weighting with a log-normal tempo prior centred on
   120 BPM with a spread of 0.9 octave, the preference listeners show (Moelants & McKinney
   2004, "Tempo perception and musical content"; Ellis 2007 weights the same way). The prior
   is neutral between 85 and 170 BPM, so there the periodicity decides. One exception: when
   the double tempo is nearly as periodic as the chosen one (``OCTAVE_UP``, 80 %), nothing
   much accents every other pulse (a click track, a four-on-the-floor kick, a rock beat's
   kick and snare at 170-180 BPM), and the faster level is the beat, up to 240 BPM.
   Periodicity cannot place the beat of a syncopated pattern (kicks off the beat, a beat with
   no kick): its half or double pulse is as periodic, and the prior picks by tempo alone, so
   a slow groove reads double and a fast one half. The snare can (Goto 2001): a backbeat
   snare falls on every second beat and on none of the others. A second onset curve, the rise
   of the mu-law compressed power of 1-2.5 kHz (above a kick's body, below the hi-hats; the
   compression of Klapuri, Eronen & Astola 2006), is autocorrelated over the whole clip. Of
   the chosen tempo, its half and its double (40-240 BPM), a level whose snare curve recurs
   at two beats (normalised autocorrelation ``BACKBEAT_RECURS``, 0.5, or more) but not at
   one (``BACKBEAT_SKIPS``, 0.3, or less), and which is a periodic pulse of the whole mix
   (``BACKBEAT_PERIODIC``: 30 % of the chosen tempo's periodicity or more), is the beat; of
   two such levels, the one the prior weights higher. Clips shorter than four of the beat's
   periods give no such evidence and keep the periodicity's choice.
   Before that, a 3:4 rule: a pulse of three sixteenths (a dotted-eighth figure over a duple
   beat) can be the most periodic, and it has no periodic half, since half of it falls
   between sixteenths. When the chosen pulse's double tempo is not periodic (``DUPLE_NONE``),
   while its 3:4 relative is at least ``DUPLE_RIVAL`` (half) as periodic and that relative's
   own half is periodic (``DUPLE_HALF``), the relative is the beat. A swung or compound beat
   divides in three, but its 3:4 relative is no strong pulse, so it keeps its level.
   The other levels a listener might tap (half, double, third, triple, 3:2 and 4:3 relatives
   of the tempo), ranked by the same prior-weighted periodicity, give up to two alternative
   tempi, strongest first.

3. **Beats** by dynamic programming (Ellis 2007, "Beat tracking by dynamic programming", JNMR
   36(1)): the beat sequence maximises the onset strength at its beats plus, for every pair of
   consecutive beats, a penalty ``-TIGHTNESS * log(interval / period)^2``, so the tracker
   follows onsets but keeps to the tempo through weak passages. Beats in silent lead-ins and
   tails, where the penalty alone would place them, are dropped. The reported tempo is then
   the mean of the tracked intervals, finer than the autocorrelation grid.

4. **Confidence** is earned. Below the periodicity that chance reaches (the larger of
   ``MIN_PERIODICITY`` and four times the noise level 1/sqrt(frames)), no tempo and no beats
   are reported; the periodicity read is the tempo's, or that of the level a rule of step 2
   turned away from where it is higher (there is a beat either way; which level is the
   doubt's business). Above it, the confidence grows with the margin over chance (full at 0.15);
   a fifth of it each rests on how steady the period is across windows (the share of windows
   where it is a clear peak) and on how much more onset strength sits on the beats than
   half-way between them; and it is scaled by the evidence: fewer than
   ``FULL_EVIDENCE_BEATS`` beats (a clip of a few seconds) are not fully trusted. Last, the
   metrical level itself may be a guess: when the half or double tempo scores from
   ``OCTAVE_ALIKE`` (70 %) up to as much as the chosen one (prior-weighted), or is more
   periodic than the chosen one by the signal alone (so that only the prior chose), up to
   ``OCTAVE_DOUBT`` (40 %) of the confidence is taken away, and that level is among the
   alternatives. A level a rule of step 2 turned away from counts as such a rival too.
   Noise, silence, steady tones and speech-like audio score 0 (no tempo is reported at all);
   a clear beat at an unambiguous level scores above 0.85.

Outputs: ``BEATS`` (seconds), ``TEMPO`` (BPM, 0 when none), ``TEMPO_ALT`` (up to two other
metrical levels, BPM, strongest first; empty when there is no tempo), ``CONFIDENCE``,
``PERIODICITY`` (the normalised autocorrelation read for the confidence, see step 4).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import soxr
import torch
from scipy import ndimage, signal

from pipelines.triton_adapter import triton_python_model

MODEL_RATE = 22050
HOP = 220
N_FFT = 2048
FPS = MODEL_RATE / HOP  # frames of the onset curve per second (~100.2)
N_MELS = 64
MEL_RANGE_HZ = (30.0, 11000.0)
TOP_DB = 80.0
STFT_SLICE = 2048  # frames per FFT batch
DETREND_S = 1.0
FLUX_FLOOR_DB = 0.05  # onset-curve RMS (dB per frame) below which nothing is happening
ONSET_DELAY_S = 0.036  # the onset curve's lead over the onset, measured (see step 1)

TEMPO_RANGE_BPM = (30.0, 300.0)
TEMPO_GRID = 600  # log-spaced points over the range: 0.38 % apart
WINDOW_S = 8.0
PRIOR_CENTRE_BPM = 120.0
PRIOR_OCTAVES = 0.9
OCTAVE_UP = 0.8
MAX_OCTAVE_UP_BPM = 240.0

TIGHTNESS = 100.0
MIN_PERIODICITY = 0.15
MIN_BEATS = 3
FULL_EVIDENCE_BEATS = 8
MAX_ALTERNATIVES = 2
# Metrical relatives of a tempo that listeners tap instead: octaves, 3:2 (a triplet or dotted
# feel) and 4:3 (a pulse of three sixteenths against a beat of four).
LEVELS = (0.5, 2.0, 2.0 / 3.0, 1.5, 1.0 / 3.0, 3.0, 0.75, 4.0 / 3.0)
# Octave ambiguity takes up to OCTAVE_DOUBT of the confidence away: the half or double tempo
# scoring from OCTAVE_ALIKE to fully alike (1.0) of the chosen one after the prior, or being
# more periodic than it by the signal alone (1.0 to OCTAVE_MORE_PERIODIC: the prior chose).
OCTAVE_ALIKE = 0.7
OCTAVE_MORE_PERIODIC = 1.2
OCTAVE_DOUBT = 0.4
SILENCE_RMS = 1e-4  # -80 dBFS: below this the clip is silent for our purposes
# The backbeat band: above a kick drum's body and its beater's leak, below the hi-hats, where a
# snare's noise is strongest. Band power is mu-law compressed as in Klapuri, Eronen & Astola
# (2006), so that faint leaks from other drums stay small against the snare.
# TODO(#4): a loud sustained pad in this band (about -10 dB of the drums, measured on the
# generated patterns) hides the backbeat, and the rule then leaves the periodicity's choice;
# a curve of broadband (noise-like) rises only would see a snare through it.
SNARE_BAND_HZ = (1000.0, 2500.0)
SNARE_MU = 100.0
SNARE_NORM_PERCENTILE = 99.5  # the band's reference level, so one stray transient cannot set it
# A level has a backbeat when the snare band recurs every second beat (normalised
# autocorrelation at least BACKBEAT_RECURS) but not on every beat (at most BACKBEAT_SKIPS), and
# the level is itself a periodic pulse of the whole mix (at least MIN_PERIODICITY, and at
# least BACKBEAT_PERIODIC of the tempo that periodicity and the prior chose: noise in the mix
# masks hi-hats and lowers the faster level's periodicity more than the slower one's).
BACKBEAT_RECURS = 0.5
BACKBEAT_SKIPS = 0.3
BACKBEAT_PERIODIC = 0.3
BACKBEAT_RANGE_BPM = (40.0, 240.0)
# A pulse with no periodic half (autocorrelation at most DUPLE_NONE at its double tempo),
# whose 3:4 relative is at least DUPLE_RIVAL as periodic and divides in two (at least
# DUPLE_HALF at 1.5 times the tempo), is three sixteenths of that relative's beat.
DUPLE_NONE = 0.0
DUPLE_RIVAL = 0.5
DUPLE_HALF = 0.1


def _mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Triangular filters equally spaced on the mel scale (O'Shaughnessy 1987 formula)."""

    def to_mel(f: np.ndarray | float) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    edges = 700.0 * (10.0 ** (np.linspace(to_mel(fmin), to_mel(fmax), n_mels + 2) / 2595.0) - 1)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    low, centre, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None, :] - low) / (centre - low)
    falling = (high - freqs[None, :]) / (high - centre)
    return np.clip(np.minimum(rising, falling), 0.0, None).astype(np.float32)


_MEL = _mel_filterbank(MODEL_RATE, N_FFT, N_MELS, *MEL_RANGE_HZ)
_MEL_CENTRES = _MEL.argmax(axis=1) * MODEL_RATE / N_FFT
_LOW, _HIGH = SNARE_BAND_HZ
_SNARE = (_MEL_CENTRES >= _LOW) & (_MEL_CENTRES < _HIGH)
_WINDOW = torch.from_numpy(signal.get_window("hann", N_FFT).astype(np.float32))
# The filterbank with each weight twice, for a spectrum read as interleaved (re, im) floats:
# squared in place and multiplied by this, it gives the mel powers without a power spectrum.
_MEL_INTERLEAVED = torch.from_numpy(np.ascontiguousarray(np.repeat(_MEL, 2, axis=1).T))


def onset_strength(y: np.ndarray) -> np.ndarray:
    """Log-mel spectral flux of 22.05 kHz mono audio, one value per ``HOP`` samples.

    Frame ``i`` is centred on sample ``i * HOP``; its value measures the rise from frame
    ``i - 1``.
    """
    return onset_curves(y)[0]


def onset_curves(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The broadband onset strength (see :func:`onset_strength`) and the snare band's own.

    The snare band's curve is the rise of its mu-law compressed power (``SNARE_BAND_HZ``),
    with the same 1 s trend taken off.
    """
    # Mirrored at the ends, not zero-padded: the first frames then hold music like their
    # neighbours, so the clip's start is no false onset and a beat right at the start counts.
    padded = np.pad(y.astype(np.float32), (N_FFT // 2, N_FFT // 2), mode="reflect")
    frames = torch.from_numpy(padded).unfold(0, N_FFT, HOP)  # a view: frame i at i * HOP
    n_frames = len(frames)
    # In slices of frames, so a half-hour track never holds its whole spectrogram at once.
    mel = torch.empty((n_frames, N_MELS), dtype=torch.float32)
    with torch.inference_mode():
        for start in range(0, n_frames, STFT_SLICE):
            # torch's FFT (MKL, on every core) is 2.5 times faster here than scipy's.
            spectrum = torch.fft.rfft(frames[start : start + STFT_SLICE] * _WINDOW, dim=1)
            parts = torch.view_as_real(spectrum).square_().reshape(len(spectrum), -1)
            torch.matmul(parts, _MEL_INTERLEAVED, out=mel[start : start + STFT_SLICE])
    mel = mel.numpy()
    level = 10.0 * np.log10(np.maximum(mel, 1e-10))
    level = np.maximum(level, level.max() - TOP_DB)
    rise = np.zeros(n_frames, dtype=np.float64)
    rise[1:] = np.maximum(np.diff(level, axis=0), 0.0).mean(axis=1)

    band = mel[:, _SNARE].sum(axis=1, dtype=np.float64)
    reference = np.percentile(band, SNARE_NORM_PERCENTILE)
    band = np.minimum(band / reference, 1.0) if reference > 0 else np.zeros_like(band)
    compressed = np.log1p(SNARE_MU * band) / np.log1p(SNARE_MU)
    snare = np.zeros(n_frames, dtype=np.float64)
    snare[1:] = np.maximum(np.diff(compressed), 0.0)
    return _detrend(rise), _detrend(snare)


def _detrend(x: np.ndarray) -> np.ndarray:
    return x - ndimage.uniform_filter1d(x, size=int(DETREND_S * FPS) | 1, mode="nearest")


def _windows(x: np.ndarray, size: int) -> list[np.ndarray]:
    if len(x) <= size:
        return [x]
    step = size // 4
    starts = list(range(0, len(x) - size + 1, step))
    if starts[-1] + size < len(x):
        starts.append(len(x) - size)
    return [x[s : s + size] for s in starts]


def _read(acf: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """The autocorrelation at fractional lags (linear interpolation; 0 past the end)."""
    inside = lags < len(acf) - 1
    base = np.minimum(lags.astype(int), len(acf) - 2)
    frac = lags - base
    values = acf[base] * (1.0 - frac) + acf[base + 1] * frac
    return np.where(inside, values, 0.0)


def periodicity(onsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BPM grid and the normalised autocorrelation of the onset curve there, per window.

    Returns ``(bpm [G], salience [W, G])``: one row per 8 s window.
    """
    bpm = np.geomspace(*TEMPO_RANGE_BPM, TEMPO_GRID)
    lags = 60.0 * FPS / bpm
    rows = []
    for chunk in _windows(onsets, int(WINDOW_S * FPS)):
        chunk = (chunk - chunk.mean()) * signal.get_window("hann", len(chunk))
        n = len(chunk)
        spectrum = np.fft.rfft(chunk, 2 * n)
        acf = np.fft.irfft(np.abs(spectrum) ** 2)[:n]
        # The floor keeps a steady tone, whose onset curve is only rounding noise, from
        # normalising that noise up to a perfect pulse.
        floor = np.sum(np.square(signal.get_window("hann", n))) * FLUX_FLOOR_DB**2
        rows.append(_read(acf / (acf[0] + floor), lags))
    return bpm, np.array(rows)


class Tempo(NamedTuple):
    bpm: float  # 0 when nothing is periodic
    alternatives: list[float]  # other metrical levels, strongest first
    # The normalised autocorrelation at the tempo, or at the level a rule turned away from
    # where that is higher: how clearly there is a beat at all, whichever level it is.
    periodicity: float
    weighted_alike: float  # the half or double tempo's prior-weighted score over the tempo's
    periodic_alike: float  # the same before the prior: the periodicity alone


def _prior(bpm: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * (np.log2(bpm / PRIOR_CENTRE_BPM) / PRIOR_OCTAVES) ** 2)


def _peak(bpm: np.ndarray, curve: np.ndarray, centre: float, tolerance: float = 0.04) -> int:
    """Index of the highest point of ``curve`` within ``tolerance`` (relative) of ``centre``."""
    near = np.flatnonzero(np.abs(np.log(bpm / centre)) <= tolerance)
    if len(near) == 0:
        return -1
    return int(near[np.argmax(curve[near])])


def choose_tempo(bpm: np.ndarray, salience: np.ndarray, snare: np.ndarray | None = None) -> Tempo:
    """The tempo, the other metrical levels, and how alike the nearest octave scores.

    ``snare`` is the snare band's onset curve (:func:`onset_curves`); without it the
    backbeat rule is not applied.
    """
    mean = salience.mean(axis=0)
    weighted = np.maximum(mean, 0.0) * _prior(bpm)
    best = int(np.argmax(weighted))
    if weighted[best] <= 0.0:
        return Tempo(0.0, [], 0.0, 0.0, 0.0)
    # Autocorrelation repeats at every multiple of the period, so a pulse whose half tempo is
    # no more periodic than itself (a click track, a four-on-the-floor kick) has no slower
    # accent: the faster level is the beat, whatever the prior preferred.
    double = _peak(bpm, mean, 2.0 * bpm[best])
    if double >= 0 and bpm[double] <= MAX_OCTAVE_UP_BPM and mean[double] >= OCTAVE_UP * mean[best]:
        best = double
    by_periodicity = best
    best = _duple_level(bpm, mean, best)
    if snare is not None:
        best = _backbeat_level(bpm, mean, weighted, best, snare)
    tempo = _refine(bpm, mean, best)

    # The other metrical levels a listener might tap, by the same prior-weighted periodicity,
    # strongest first.
    levels = []
    for ratio in LEVELS:
        i = _peak(bpm, mean, tempo * ratio)
        if i >= 0 and weighted[i] > 0.0:
            levels.append((float(weighted[i]), _refine(bpm, mean, i), ratio))
    levels.sort(reverse=True)
    alternatives = [t for _, t, _ in levels[:MAX_ALTERNATIVES]]
    octaves = [i for i in (_peak(bpm, mean, tempo / 2), _peak(bpm, mean, tempo * 2)) if i >= 0]
    # A level chosen against the periodicity (by a rule, not by the stronger pulse) keeps
    # the beaten level as a rival of the same standing.
    octaves += [by_periodicity] if by_periodicity != best else []
    weighted_alike = max((weighted[i] / weighted[best] for i in octaves), default=0.0)
    periodic_alike = max((mean[i] / mean[best] for i in octaves), default=0.0)
    strongest = max(mean[best], mean[by_periodicity])
    return Tempo(tempo, alternatives, float(strongest), float(weighted_alike),
                 float(periodic_alike))  # fmt: skip


def _duple_level(bpm: np.ndarray, mean: np.ndarray, best: int) -> int:
    """The 3:4 relative of ``best`` where ``best`` is a cross-rhythm of three sixteenths.

    Two pulses 3:4 apart on one sixteenth grid cannot both be levels of one metre. The beat
    of a duple metre divides in two on that grid; a pulse of three sixteenths (the dotted
    eighth of many pop and dance figures) does not. So when the chosen pulse has no periodic
    half (``DUPLE_NONE``) while its 3:4 relative is a pulse of at least ``DUPLE_RIVAL`` of
    its strength whose half is periodic (``DUPLE_HALF``), the relative is the beat.
    A swung or compound beat, whose own 3:4 relative is weak, is left alone.
    """
    relative = _peak(bpm, mean, 0.75 * bpm[best])
    half, relative_half = _peak(bpm, mean, 2.0 * bpm[best]), _peak(bpm, mean, 1.5 * bpm[best])
    if min(relative, half, relative_half) < 0:
        return best
    if (
        mean[half] <= DUPLE_NONE
        and mean[relative] >= DUPLE_RIVAL * mean[best]
        and mean[relative_half] >= DUPLE_HALF
    ):
        return relative
    return best


def _backbeat_level(
    bpm: np.ndarray, mean: np.ndarray, weighted: np.ndarray, best: int, snare: np.ndarray
) -> int:
    """The octave of ``best`` (half, itself or double) on which the snare marks a backbeat.

    A snare on beats 2 and 4 recurs every second beat and is absent from the others (Goto
    2001, "An audio-based real-time beat tracking system for music with or without
    drum-sounds", JNMR 30(2), reads the beat from the same pattern). Periodicity cannot tell
    a beat from its half or double when the kick is syncopated, the snare can. Of the
    octaves that have a backbeat and are periodic pulses of the whole mix, the one the prior
    weights highest wins; with none, ``best`` stands.
    """
    acf = _unbiased_acf(snare)
    # Lags up to half the clip only: past that, too few products are averaged to trust.
    longest = len(snare) / 2

    def recurs(lag: float) -> float:
        if lag * 1.04 >= longest:
            return np.nan
        near = np.arange(int(lag / 1.04), int(np.ceil(lag * 1.04)) + 1)
        return float(acf[near].max())

    found = []
    for ratio in (0.5, 1.0, 2.0):
        i = best if ratio == 1.0 else _peak(bpm, mean, ratio * bpm[best])
        if i < 0 or not BACKBEAT_RANGE_BPM[0] <= bpm[i] <= BACKBEAT_RANGE_BPM[1]:
            continue
        if mean[i] < max(MIN_PERIODICITY, BACKBEAT_PERIODIC * mean[best]):
            continue
        period = 60.0 * FPS / bpm[i]
        every_second, every = recurs(2.0 * period), recurs(period)
        # NaN (too short a clip) fails both comparisons: no evidence, no change.
        if every_second >= BACKBEAT_RECURS and every <= BACKBEAT_SKIPS:
            found.append((float(weighted[i]), i))
    return max(found)[1] if found else best


def _unbiased_acf(x: np.ndarray) -> np.ndarray:
    """Autocorrelation of the whole curve, each lag averaged over its overlap, over lag 0."""
    x = x - x.mean()
    n = len(x)
    acf = np.fft.irfft(np.abs(np.fft.rfft(x, 2 * n)) ** 2)[:n] / np.arange(n, 0, -1)
    return acf / acf[0] if acf[0] > 0 else np.zeros(n)


def _refine(bpm: np.ndarray, curve: np.ndarray, i: int) -> float:
    """Parabolic interpolation of a peak on the log-BPM grid."""
    if 0 < i < len(curve) - 1:
        a, b, c = curve[i - 1], curve[i], curve[i + 1]
        denom = a - 2 * b + c
        if denom < 0:
            shift = float(np.clip(0.5 * (a - c) / denom, -0.5, 0.5))
            step = np.log(bpm[1] / bpm[0])
            return float(bpm[i] * np.exp(shift * step))
    return float(bpm[i])


def track_beats(onsets: np.ndarray, period: float) -> np.ndarray:
    """Frame indices of beats by Ellis (2007) dynamic programming for a period in frames."""
    scale = onsets.std()
    if scale <= 0:
        return np.array([], dtype=int)
    # A Gaussian a sixteenth of a beat wide lets an onset attract a beat from a frame or two.
    local = ndimage.gaussian_filter1d(onsets / scale, sigma=max(1.0, period / 32.0))
    n = len(local)
    offsets = np.arange(round(period / 2), round(2 * period) + 1)
    penalty = -TIGHTNESS * np.log(offsets / period) ** 2
    score = local.copy()
    back = np.full(n, -1)
    # Every predecessor of a frame lies at least offsets[0] frames back, so a block of that
    # many frames depends only on scores already final: one vector step per block.
    step = int(offsets[0])
    for first in range(step, n, step):
        t = np.arange(first, min(first + step, n))
        prev = t[:, None] - offsets[None, :]
        candidates = np.where(prev >= 0, score[np.maximum(prev, 0)] + penalty, -np.inf)
        j = np.argmax(candidates, axis=1)
        best = candidates[np.arange(len(t)), j]
        linked = best > 0
        score[t[linked]] = local[t[linked]] + best[linked]
        back[t[linked]] = prev[np.arange(len(t)), j][linked]

    # End on the best-scoring frame of the last period, then follow the links back.
    tail = np.arange(max(0, n - round(period)), n)
    t = int(tail[np.argmax(score[tail])])
    beats = [t]
    while back[t] >= 0:
        t = int(back[t])
        beats.append(t)
    beats = np.array(beats[::-1])
    return _trim_quiet(beats, local)


def _trim_quiet(beats: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Drop leading and trailing beats that fall where there are no onsets at all."""
    if len(beats) == 0:
        return beats
    strength = local[beats]
    floor = 0.5 * np.sqrt(np.mean(np.maximum(strength, 0.0) ** 2))
    strong = np.flatnonzero(strength > floor)
    if len(strong) == 0:
        return beats[:0]
    return beats[strong[0] : strong[-1] + 1]


def _steadiness(bpm: np.ndarray, salience: np.ndarray, tempo: float) -> float:
    """Share of windows in which the tempo's period is a clear autocorrelation peak."""
    i = _peak(bpm, salience.mean(axis=0), tempo, tolerance=0.02)
    if i < 0:
        return 0.0
    near = np.abs(np.log(bpm / tempo)) <= 0.06
    hits = 0
    for row in salience:
        # clear: near the top of this window's own peaks, and well above zero
        hits += row[i] >= max(0.1, 0.8 * row[near].max())
    return hits / len(salience)


def _contrast(onsets: np.ndarray, beats: np.ndarray) -> float:
    """How much more onset strength sits on the beats than half-way between them, in [0, 1]."""
    if len(beats) < 3:
        return 0.0
    env = ndimage.maximum_filter1d(np.maximum(onsets, 0.0), size=5)
    mids = ((beats[:-1] + beats[1:]) // 2).astype(int)
    on, off = env[beats].mean(), env[mids].mean()
    if on <= 0:
        return 0.0
    return float(np.clip((on - off) / on, 0.0, 1.0))


def analyse(y: np.ndarray, sr: int) -> dict[str, Any]:
    """Beats, tempo and confidence of mono audio ``y`` at ``sr`` Hz."""
    if sr != MODEL_RATE:
        y = soxr.resample(np.asarray(y, dtype=np.float32), int(sr), MODEL_RATE, quality="HQ")
    nothing = {"beats": np.zeros(0), "tempo": 0.0, "alt": [], "confidence": 0.0, "period": 0.0}
    if len(y) < N_FFT or np.sqrt(np.mean(np.square(y, dtype=np.float64))) < SILENCE_RMS:
        return nothing
    onsets, snare = onset_curves(y)
    bpm, salience = periodicity(onsets)
    chosen = choose_tempo(bpm, salience, snare)
    tempo, strength = chosen.bpm, chosen.periodicity
    # White noise gives autocorrelation values of about 1/sqrt(frames) at every lag; the
    # highest of the grid's few hundred independent lags reaches ~4 of those.
    chance = max(MIN_PERIODICITY, 4.0 / np.sqrt(len(onsets)))
    if tempo <= 0 or strength < chance:
        return {**nothing, "period": max(strength, 0.0)}

    frames = track_beats(onsets, 60.0 * FPS / tempo)
    times = frames * HOP / MODEL_RATE + ONSET_DELAY_S
    inside = times <= len(y) / MODEL_RATE
    frames, times = frames[inside], times[inside]
    if len(frames) < MIN_BEATS:
        return {**nothing, "period": strength}
    intervals = np.diff(times)
    regular = intervals[np.abs(np.log(intervals * tempo / 60.0)) < 0.25]
    if len(regular) >= 4:
        # The tracked beats give a finer tempo than the autocorrelation grid.
        tempo = 60.0 / float(regular.mean())

    steady = _steadiness(bpm, salience, tempo)
    contrast = _contrast(onsets, frames)
    # Periodicity 0.15 above chance is already a plain beat; saturate there.
    clear = float(np.clip((strength - chance) / 0.15, 0.0, 1.0))
    # A handful of beats (a clip of a few seconds) is too little evidence for full trust.
    coverage = min(1.0, len(frames) / FULL_EVIDENCE_BEATS)
    # Where the half or double tempo scores about as well, the level is a guess: say so.
    doubt = OCTAVE_DOUBT * max(
        _ramp(chosen.weighted_alike, OCTAVE_ALIKE, 1.0),
        _ramp(chosen.periodic_alike, 1.0, OCTAVE_MORE_PERIODIC),
    )
    confidence = clear * coverage * (0.6 + 0.2 * steady + 0.2 * contrast) * (1.0 - doubt)
    return {
        "beats": times,
        "tempo": tempo,
        "alt": chosen.alternatives,
        "confidence": float(np.clip(confidence, 0.0, 1.0)),
        "period": strength,
    }


def _ramp(x: float, start: float, full: float) -> float:
    return float(np.clip((x - start) / (full - start), 0.0, 1.0))


class BeatModel:
    def __init__(self, device: str = "cpu") -> None:
        # Plain signal processing: fast enough on any CPU, so the device is only recorded.
        self.device = device

    def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        audio = np.asarray(inputs["AUDIO"], dtype=np.float32)
        rate = np.asarray(inputs["SAMPLE_RATE"]).reshape(-1)
        if audio.ndim != 2 or audio.shape[0] != 1:
            raise ValueError(f"AUDIO: expected float32 mono [1, samples], got {list(audio.shape)}")
        if rate.size != 1 or rate[0] <= 0:
            raise ValueError(f"SAMPLE_RATE: expected one positive rate, got {rate.tolist()}")
        found = analyse(audio[0], int(rate[0]))

        def one(value: float) -> np.ndarray:
            return np.array([[value]], dtype=np.float32)

        return {
            "BEATS": found["beats"].astype(np.float32)[None, :],
            "TEMPO": one(found["tempo"]),
            "TEMPO_ALT": np.array([found["alt"]], dtype=np.float32).reshape(1, -1),
            "CONFIDENCE": one(found["confidence"]),
            "PERIODICITY": one(found["period"]),
        }


def create_model(device: str) -> BeatModel:
    return BeatModel(device)


# Triton's python backend instantiates this; in-process runs call create_model.
TritonPythonModel = triton_python_model(create_model)
