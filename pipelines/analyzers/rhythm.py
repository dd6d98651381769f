"""Beats and tempo: the decoded track → the Style DNA's ``rhythm`` section.

Consumes the whole :class:`~pipelines.decode.AudioTrack` (or None), mixes it to mono,
resamples it to the ``beats`` model's rate (22.05 kHz; the onset curve needs nothing above
11 kHz) and sends it as one request. How beats and tempo are found is told in the model's own
docstring (``model_repository/beats/1/model.py``).

Emits ``rhythm``: ``tempo_bpm`` (None when there is no beat to speak of), ``detected_beats``
(seconds from the start of the audio), ``beat_confidence``, ``beat_interval_s`` and
``tempo_alternatives_bpm`` (up to two other metrical levels a listener might tap, e.g. half
or double time, strongest first). The analyzer's confidence is the beat confidence: silence,
noise, speech and missing audio give no tempo and a confidence of 0 (anything under 0.5 means
"no beat to speak of"); a tempo whose half or double scores alike is marked by a lowered
confidence; a clear, steady beat at an unambiguous level scores above 0.85.
"""

from __future__ import annotations

import logging

import numpy as np
import soxr

from pipelines.analyzers.base import AnalyzerResult, AudioAnalyzer
from pipelines.decode import AudioTrack
from pipelines.inference import InferenceBackend

logger = logging.getLogger(__name__)

MODEL = "beats"
MODEL_RATE = 22050


class BeatAnalyzer(AudioAnalyzer):
    name = "rhythm"

    def __init__(self, backend: InferenceBackend) -> None:
        self.backend = backend

    def analyze(self, audio: AudioTrack | None) -> AnalyzerResult:
        if audio is None or audio.samples.size == 0:
            logger.info("rhythm: no audio, so no beats")
            return _no_rhythm()
        if audio.samples.ndim != 2:
            raise ValueError(
                f"expected audio samples [channels, samples], got {list(audio.samples.shape)}"
            )

        mono = _to_model_rate(audio.mono(), audio.sample_rate)
        outputs = self.backend.infer(
            MODEL,
            {
                "AUDIO": mono[None, :],
                "SAMPLE_RATE": np.array([[MODEL_RATE]], dtype=np.int32),
            },
        )
        tempo = float(outputs["TEMPO"].reshape(-1)[0])
        alternatives = [float(t) for t in outputs["TEMPO_ALT"].reshape(-1) if t > 0.0]
        confidence = float(np.clip(outputs["CONFIDENCE"].reshape(-1)[0], 0.0, 1.0))
        beats = np.asarray(outputs["BEATS"], dtype=np.float64).reshape(-1)
        beats = beats[(beats >= 0.0) & (beats <= audio.duration_s)]

        if tempo <= 0.0 or len(beats) == 0:
            logger.info("rhythm: no steady beat found (confidence %.2f)", confidence)
            return _no_rhythm(confidence)
        logger.info(
            "rhythm: %.1f BPM (or %s), %d beats, confidence %.2f",
            tempo, alternatives, len(beats), confidence,
        )  # fmt: skip
        section = {
            "tempo_bpm": round(tempo, 2),
            "detected_beats": [round(float(t), 3) for t in beats],
            "beat_confidence": round(confidence, 3),
            "beat_interval_s": round(60.0 / tempo, 4),
            "tempo_alternatives_bpm": [round(t, 2) for t in alternatives],
        }
        return AnalyzerResult(sections={"rhythm": section}, confidence=confidence)


def _to_model_rate(mono: np.ndarray, rate: int) -> np.ndarray:
    mono = np.asarray(mono, dtype=np.float32)
    if not np.isfinite(mono).all():  # checked first: the check costs a seventh of the repair
        mono = np.nan_to_num(mono, nan=0.0, posinf=0.0, neginf=0.0)
    if rate != MODEL_RATE:
        mono = soxr.resample(mono, int(rate), MODEL_RATE, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)


def _no_rhythm(confidence: float = 0.0) -> AnalyzerResult:
    section = {
        "tempo_bpm": None,
        "detected_beats": [],
        "beat_confidence": round(confidence, 3),
        "beat_interval_s": None,
        "tempo_alternatives_bpm": [],
    }
    return AnalyzerResult(sections={"rhythm": section}, confidence=confidence)
