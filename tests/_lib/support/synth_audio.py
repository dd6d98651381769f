"""Generated audio with exact answers: drum patterns with known beats, and audio with no beat.

Everything is numpy (plus ffmpeg's ``flite`` voice where this ffmpeg has it), written as WAV so
the tests and ``benchmarks/accuracy`` read the same files. Each generator caches its output:
an existing file is reused.
"""

from __future__ import annotations

import re
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal

from support.media import ffmpeg

RATE = 44100
LIBROSA_RATE = 22050  # librosa.load's default, the rate beat_track is tuned for

# Drum patterns, one bar of 4/4 in beats (0 = the downbeat). "swing" delays every off-beat
# eighth to two thirds of the beat; "syncopated" puts kicks off the beat and leaves beat 3
# without one.
PATTERNS: dict[str, dict[str, tuple[float, ...]]] = {
    "straight": {
        "kick": (0.0, 2.0),
        "snare": (1.0, 3.0),
        "hat": (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5),
    },
    "swing": {
        "kick": (0.0, 2.0),
        "snare": (1.0, 3.0),
        "hat": (0.0, 2 / 3, 1.0, 5 / 3, 2.0, 8 / 3, 3.0, 11 / 3),
    },
    "syncopated": {
        "kick": (0.0, 0.75, 1.5, 2.75),
        "snare": (1.0, 3.0),
        "hat": (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5),
    },
}
PATTERN_TEMPOS = (60.0, 75.0, 90.0, 105.0, 120.0, 140.0, 160.0, 180.0)
FIRST_BEAT_S = 0.5


@dataclass(frozen=True)
class DrumCase:
    path: Path
    bpm: float
    style: str
    beats: np.ndarray  # seconds: every quarter note, the exact answer

    @property
    def name(self) -> str:
        return f"{self.style} {self.bpm:g} BPM"


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    """Float samples [-1, 1], mono [n] or [channels, n], as 16-bit PCM."""
    data = np.atleast_2d(np.asarray(samples, dtype=np.float64))
    pcm = np.round(np.clip(data, -1.0, 1.0) * 32767.0).astype("<i2").T.copy()
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(data.shape[0])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


def read_audio(path: Path, rate: int = 48000, seconds: float | None = None) -> np.ndarray:
    """Any file ffmpeg reads, as float32 [channels, samples] at ``rate`` (what decode gives)."""
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
         "stream=channels", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    channels = int(probe.stdout.strip())
    limit = ["-t", f"{seconds:.6f}"] if seconds is not None else []
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), *limit, "-map", "0:a:0",
         "-ar", str(rate), "-f", "f32le", "-acodec", "pcm_f32le", "pipe:1"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    samples = np.frombuffer(raw, dtype=np.float32)
    samples = samples[: len(samples) - len(samples) % channels]
    return samples.reshape(-1, channels).T.copy()


# --- drum sounds ------------------------------------------------------------------------------


def _kick(rate: int) -> np.ndarray:
    t = np.arange(int(0.35 * rate)) / rate
    freq = 50.0 + 100.0 * np.exp(-t / 0.03)  # the pitch drop of a kick drum
    return np.sin(2 * np.pi * np.cumsum(freq) / rate) * np.exp(-t / 0.12)


def _snare(rate: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.2 * rate)) / rate
    noise = signal.sosfilt(signal.butter(2, [1000, 8000], "bandpass", fs=rate, output="sos"),
                           rng.standard_normal(len(t)))  # fmt: skip
    body = 0.5 * np.sin(2 * np.pi * 185.0 * t)
    return (noise / np.abs(noise).max() + body) * np.exp(-t / 0.05)


def _hat(rate: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.06 * rate)) / rate
    sos = signal.butter(4, 7000, "highpass", fs=rate, output="sos")
    noise = signal.sosfilt(sos, rng.standard_normal(len(t)))
    return noise / np.abs(noise).max() * np.exp(-t / 0.015)


def drum_pattern(directory: Path, *, bpm: float, style: str, seconds: float = 20.0) -> DrumCase:
    """``style`` (a key of PATTERNS) at ``bpm``: kick, snare, hi-hat, first beat at 0.5 s."""
    path = directory / f"drums-{style}-{bpm:g}.wav"
    period = 60.0 / bpm
    beats = FIRST_BEAT_S + period * np.arange(int((seconds - FIRST_BEAT_S - 0.3) / period) + 1)
    if not path.is_file():
        rng = np.random.default_rng(int(bpm) * 7 + len(style))
        sounds = {"kick": (_kick(RATE), 0.8), "snare": (_snare(RATE, rng), 0.5),
                  "hat": (_hat(RATE, rng), 0.25)}  # fmt: skip
        out = np.zeros(int(seconds * RATE) + RATE)
        bars = int(np.ceil(len(beats) / 4)) + 1
        for bar in range(bars):
            for drum, positions in PATTERNS[style].items():
                sound, gain = sounds[drum]
                for pos in positions:
                    at = FIRST_BEAT_S + (4 * bar + pos) * period
                    if at > seconds - 0.3:
                        continue
                    start = round(at * RATE)
                    out[start : start + len(sound)] += gain * sound
        write_wav(path, 0.9 * out[: int(seconds * RATE)] / np.abs(out).max())
    return DrumCase(path, bpm, style, beats)


def drum_cases(directory: Path, tempos: tuple[float, ...] = PATTERN_TEMPOS) -> list[DrumCase]:
    return [drum_pattern(directory, bpm=b, style=s) for s in PATTERNS for b in tempos]


# --- no beat at all ---------------------------------------------------------------------------


def white_noise(seconds: float, rate: int = RATE, seed: int = 1) -> np.ndarray:
    return 0.25 * np.random.default_rng(seed).standard_normal(int(seconds * rate))


def pink_noise(seconds: float, rate: int = RATE, seed: int = 2) -> np.ndarray:
    """1/f power: white noise shaped in the frequency domain."""
    n = int(seconds * rate)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    spectrum[1:] /= np.sqrt(freqs[1:])
    spectrum[0] = 0.0
    pink = np.fft.irfft(spectrum, n)
    return 0.25 * pink / pink.std()


def babble(seconds: float, rate: int = RATE, seed: int = 3) -> np.ndarray:
    """Speech-like: voiced syllables through moving formants at ~4 per second, irregularly
    spaced and grouped into phrases by pauses, so nothing recurs at a steady period."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * rate))
    t = 0.3
    while t < seconds - 0.6:
        n = int(rng.uniform(0.08, 0.32) * rate)
        tt = np.arange(n) / rate
        f0 = rng.uniform(95.0, 210.0) * (1.0 + 0.08 * np.sin(2 * np.pi * rng.uniform(1, 3) * tt))
        phase = 2 * np.pi * np.cumsum(f0) / rate
        source = sum(np.sin(k * phase) / k for k in range(1, 30)) + 0.1 * rng.standard_normal(n)
        syllable = np.zeros(n)
        for formant in (rng.uniform(300, 900), rng.uniform(900, 2400), rng.uniform(2400, 3200)):
            sos = signal.butter(2, [0.85 * formant, 1.15 * formant], "bandpass", fs=rate,
                                output="sos")  # fmt: skip
            syllable += signal.sosfilt(sos, source)
        syllable *= np.hanning(n) * rng.uniform(0.4, 1.0)
        start = int(t * rate)
        out[start : start + n] += syllable[: len(out) - start]
        t += n / rate + rng.exponential(0.1) + 0.02
        if rng.random() < 0.15:
            t += rng.uniform(0.3, 0.9)  # the pause between phrases
    return 0.3 * out / np.abs(out).max()


SPEECH_TEXT = (
    "The quick brown fox jumps over the lazy dog. Meanwhile, a committee of seven people "
    "discussed the budget for the next fiscal year, without reaching any conclusion at all. "
    "Please remember to bring your umbrella tomorrow, since the forecast says it will rain."
)


def has_flite() -> bool:
    done = subprocess.run(["ffmpeg", "-hide_banner", "-filters"], capture_output=True, text=True)
    return any(line.split()[1:2] == ["flite"] for line in done.stdout.splitlines() if line)


def no_beat_cases(directory: Path, seconds: float = 20.0) -> dict[str, Path]:
    """WAVs with no beat: silence, white and pink noise, babble, and a flite voice if any."""
    made = {
        "silence": np.zeros(int(seconds * RATE)),
        "white noise": white_noise(seconds),
        "pink noise": pink_noise(seconds),
        "speech-like babble": babble(seconds),
    }
    paths = {}
    for name, samples in made.items():
        path = directory / f"nobeat-{name.replace(' ', '-')}.wav"
        if not path.is_file():
            write_wav(path, samples)
        paths[name] = path
    if has_flite():
        path = directory / "nobeat-flite-speech.wav"
        if not path.is_file():
            text = directory / "speech.txt"
            text.write_text(SPEECH_TEXT)
            ffmpeg("-f", "lavfi", "-i", f"flite=textfile='{text}':voice=slt",
                   "-ar", str(RATE), str(path))  # fmt: skip
        paths["flite speech"] = path
    return paths


def silent_video(path: Path, seconds: float = 3.0) -> Path:
    """An H.264 clip with no audio stream at all."""
    if not path.is_file():
        ffmpeg("-f", "lavfi", "-i", f"testsrc=s=160x120:r=25:d={seconds}",
               "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path))  # fmt: skip
    return path


def loudness_cases(directory: Path) -> dict[str, Path]:
    """Generated WAVs for the loudness benchmark: tones, noise, a drum loop, short clips."""
    t = np.arange(int(10 * RATE)) / RATE
    half = np.sin(2 * np.pi * 500 * t[: 5 * RATE])
    made = {
        "1 kHz sine -20 dBFS stereo": np.stack([0.1 * np.sin(2 * np.pi * 1000 * t)] * 2),
        "100 Hz sine -12 dBFS mono": 10 ** (-12 / 20) * np.sin(2 * np.pi * 100 * t),
        "pink noise stereo": np.stack([pink_noise(10.0, seed=4), pink_noise(10.0, seed=5)]),
        "level steps -40/-10 dBFS": np.concatenate([0.01 * half, 0.316 * half]),
        "300 ms sine (under a block)": 0.1 * np.sin(2 * np.pi * 1000 * t[: int(0.3 * RATE)]),
        "100 ms sine": 0.1 * np.sin(2 * np.pi * 1000 * t[: int(0.1 * RATE)]),
    }
    paths = {}
    for name, samples in made.items():
        slug = "".join(c if c.isalnum() else "-" for c in name)
        path = directory / f"loud-{slug}.wav"
        if not path.is_file():
            write_wav(path, samples)
        paths[name] = path
    paths["drum loop 120 BPM"] = drum_pattern(directory, bpm=120.0, style="straight").path
    return paths


# --- the engines and the scores the tests and the benchmark share --------------------------

OCTAVES = (1.0, 2.0, 3.0, 0.5, 1.0 / 3.0)  # Acc2's allowed metrical levels
TEMPO_TOLERANCE = 0.04  # Acc1: within 4 %
TRIM_BEFORE_S = 5.0  # mir_eval.beat.trim_beats's default
TRIM_FROM_S = 15.0  # only clips at least this long are trimmed, or little would be left


def beat_f_measure(reference, estimated, duration_s: float) -> float:
    """mir_eval's F-measure (±70 ms). Its evaluation drops the first 5 s of both lists
    (listeners settle in); on clips under 15 s that would leave almost nothing, so those are
    scored whole (madmom's sample.wav is 2.8 s with four annotated beats)."""
    import mir_eval

    ref = np.asarray(reference, dtype=float)
    est = np.asarray(estimated, dtype=float)
    if duration_s >= TRIM_FROM_S:
        ref = mir_eval.beat.trim_beats(ref, TRIM_BEFORE_S)
        est = mir_eval.beat.trim_beats(est, TRIM_BEFORE_S)
    if len(ref) == 0 or len(est) == 0:
        return 0.0
    return float(mir_eval.beat.f_measure(ref, est))


def acc1(tempo: float | None, truth: float) -> bool:
    return tempo is not None and abs(tempo / truth - 1.0) <= TEMPO_TOLERANCE


def acc2(tempo: float | None, truth: float) -> bool:
    return tempo is not None and any(abs(tempo / (truth * k) - 1.0) <= TEMPO_TOLERANCE
                                     for k in OCTAVES)  # fmt: skip


@dataclass
class BeatRun:
    beats: np.ndarray
    tempo: float | None
    confidence: float | None
    alternatives: list[float]
    seconds: float
    error: str | None = None


_OURS_WARM = False


def ours_rhythm(samples: np.ndarray | None, rate: int, backend) -> BeatRun:
    """The BeatAnalyzer as the runner drives it (an AudioTrack of [channels, samples])."""
    import time

    from pipelines.analyzers.rhythm import BeatAnalyzer
    from pipelines.decode import AudioTrack

    global _OURS_WARM
    if not _OURS_WARM:  # loading the model on the first call: out of the timing, as librosa's
        BeatAnalyzer(backend).analyze(AudioTrack(np.full((1, 22050), 1e-3, np.float32), 22050))
        _OURS_WARM = True
    track = None if samples is None else AudioTrack(np.atleast_2d(samples), rate)
    start = time.perf_counter()
    try:
        rhythm = BeatAnalyzer(backend).analyze(track).sections["rhythm"]
    except Exception as exc:  # the goal is "no error": show it, do not stop the run
        return BeatRun(np.zeros(0), None, None, [], time.perf_counter() - start, repr(exc))
    return BeatRun(
        np.asarray(rhythm["detected_beats"], dtype=float),
        rhythm["tempo_bpm"],
        rhythm["beat_confidence"],
        list(rhythm["tempo_alternatives_bpm"]),
        time.perf_counter() - start,
    )


_LIBROSA_WARM = False


def librosa_beats(mono: np.ndarray | None, rate: int) -> BeatRun:
    """librosa.beat.beat_track at its defaults (its tempo is librosa.feature.tempo's).

    Audio at another rate is first brought to librosa's 22.05 kHz by ``librosa.resample``
    (its default, soxr), inside the timing: given the samples our engine is given, each
    engine's time includes its own resampling."""
    import time

    import librosa

    global _LIBROSA_WARM
    if not _LIBROSA_WARM:  # numba compiles on the first call: keep that out of the timing
        librosa.beat.beat_track(y=np.zeros(22050, dtype=np.float32) + 1e-3, sr=22050)
        _LIBROSA_WARM = True
    if mono is None:
        return BeatRun(np.zeros(0), None, None, [], 0.0, "no audio to give it")
    start = time.perf_counter()
    try:
        y = np.asarray(mono, np.float32)
        if rate != LIBROSA_RATE:
            y = librosa.resample(y, orig_sr=rate, target_sr=LIBROSA_RATE)
        tempo, beats = librosa.beat.beat_track(y=y, sr=LIBROSA_RATE, units="time")
    except Exception as exc:
        return BeatRun(np.zeros(0), None, None, [], time.perf_counter() - start, repr(exc))
    bpm = float(np.atleast_1d(tempo)[0])
    return BeatRun(np.asarray(beats), bpm if bpm > 0 else None, None, [],
                   time.perf_counter() - start)  # fmt: skip


# --- loudness reference ------------------------------------------------------------------


def ffmpeg_ebur128_summary(path: Path) -> dict[str, float]:
    """ffmpeg's own summary of ``-af ebur128=peak=true`` as it prints it: I (LUFS, -70 at its
    floor), LRA (LU) and true peak (dBTP, -inf for digital silence)."""
    done = subprocess.run(
        ["ffmpeg", "-nostdin", "-nostats", "-hide_banner", "-i", str(path), "-map", "0:a:0",
         "-af", "ebur128=peak=true", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    summary = done.stderr[done.stderr.rfind("Summary:") :]

    def field(name: str) -> float:
        match = re.search(rf"{name}:\s+(-?inf|-?\d+(?:\.\d+)?)", summary)
        assert match, f"no {name} in ffmpeg's ebur128 summary:\n{summary}"
        return float(match.group(1))

    return {"I": field("I"), "LRA": field("LRA"), "peak": field("Peak")}


def ffmpeg_ebur128(path: Path) -> dict[str, float | None]:
    """The summary as our Style DNA states it: no loudness (None) at ffmpeg's -70 floor, no
    peak (None) for silence."""
    summary = ffmpeg_ebur128_summary(path)
    integrated, peak = summary["I"], summary["peak"]
    return {
        "I": None if integrated <= -70.0 else integrated,
        "peak": peak if np.isfinite(peak) else None,
    }


def has_audio(path: Path) -> bool:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a", "-show_entries", "stream=index",
         "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return done.returncode == 0 and bool(done.stdout.strip())


MEDIA_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".wav", ".ogg", ".mp3")


def corpus_audio(corpus: Path) -> dict[str, Path]:
    """Every corpus media file with an audio stream (the deliberately corrupt one left out)."""
    return {
        str(path.relative_to(corpus)): path
        for path in sorted(corpus.rglob("*"))
        if path.suffix.lower() in MEDIA_SUFFIXES and "corrupted" not in path.name
        and has_audio(path)
    }  # fmt: skip
