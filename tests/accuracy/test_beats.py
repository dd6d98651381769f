"""Beat and tempo goals of issue #4, each with the goal's tolerance, ours beside librosa.

- F-measure (mir_eval, ±70 ms) ≥ 0.9 on every hand-annotated corpus file, ≥ 0.95 on the
  generated drum patterns (60-180 BPM, straight, swung, syncopated), and never below librosa's
  ``beat_track`` on the same file;
- tempo Acc1 (within 4 %) on every file, and a tempo a level off the truth never sold as
  certain: the truth among the alternatives and the beat confidence under 0.85; the same
  where the half or double tempo is as periodic as the beat (the syncopated pattern);
- silence, noise, speech-like audio and no audio stream: no beats, tempo null, beat
  confidence under 0.5, no error;
- the reference rows (peers' outputs, not annotations) within 4 % of the peer: a frozen number
  where the peer still gives it, librosa's own answer in the same run where its docstring
  number has gone stale.

Goals the engine does not meet yet are strict ``xfail`` s with the measured reason, so they
turn into failures the day they are met.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support import synth_audio as sa

from pipelines.inference import InProcessBackend

REPO = Path(__file__).resolve().parents[2]
RATE = 48000  # decode_audio's rate
UNSURE = 0.85
LOW_CONFIDENCE = 0.5

ANNOTATED = {
    "madmom/sample.wav": ("madmom/sample.beats", 87.5),  # sample.tempo: 87.5 (0.7) or 175
    "ballroom/Media-105901.wav": ("ballroom/Media-105901.beats", 84.0),
    "gtzan/country.00000.wav": ("gtzan/country.00000.beats", 85.53),
}
MISSED: dict[str, str] = {}  # name → the measured reason; empty while every goal is met


@pytest.fixture(scope="module")
def backend() -> InProcessBackend:
    return InProcessBackend(REPO / "model_repository")


@pytest.fixture(scope="module")
def drums(tmp_path_factory: pytest.TempPathFactory) -> dict[str, sa.DrumCase]:
    cases = sa.drum_cases(tmp_path_factory.mktemp("drums"))
    return {f"{c.style} {c.bpm:g}": c for c in cases}


def both(path: Path, backend: InProcessBackend) -> tuple[sa.BeatRun, sa.BeatRun, float]:
    # Both get the samples the service decodes; librosa resamples them for itself.
    ours_audio = sa.read_audio(path, RATE)
    ours = sa.ours_rhythm(ours_audio, RATE, backend)
    assert ours.error is None, ours.error
    return ours, sa.librosa_beats(ours_audio.mean(axis=0), RATE), ours_audio.shape[1] / RATE


def check(ours, peer, duration, beats, bpm, f_goal: float) -> None:
    f_ours = sa.beat_f_measure(beats, ours.beats, duration)
    f_peer = sa.beat_f_measure(beats, peer.beats, duration)
    assert f_ours >= f_goal, f"F {f_ours:.3f} (librosa {f_peer:.3f})"
    assert f_ours >= f_peer, f"F {f_ours:.3f} below librosa's {f_peer:.3f}"
    assert sa.acc1(ours.tempo, bpm), f"tempo {ours.tempo} vs {bpm}"


def expect(name: str) -> list:
    reason = MISSED.get(name)
    return [pytest.mark.xfail(strict=True, reason=reason)] if reason else []


@pytest.mark.corpus
@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=expect(n)) for n in ANNOTATED], ids=list(ANNOTATED)
)
def test_hand_annotated_beats_and_tempo(corpus: Path, backend, name: str) -> None:
    beat_file, bpm = ANNOTATED[name]
    beats = np.loadtxt(corpus / beat_file)[:, 0]

    ours, peer, duration = both(corpus / name, backend)

    check(ours, peer, duration, beats, bpm, f_goal=0.9)


DRUM_NAMES = [f"{s} {b:g}" for s in sa.PATTERNS for b in sa.PATTERN_TEMPOS]


@pytest.mark.parametrize("name", [pytest.param(n, marks=expect(n)) for n in DRUM_NAMES])
def test_generated_drum_pattern_beats_and_tempo(drums, backend, name: str) -> None:
    case = drums[name]

    ours, peer, duration = both(case.path, backend)

    check(ours, peer, duration, case.beats, case.bpm, f_goal=0.95)


@pytest.mark.parametrize("name", [*ANNOTATED, *DRUM_NAMES])
def test_a_tempo_off_the_truth_says_so(
    request: pytest.FixtureRequest, drums, backend, name: str
) -> None:
    if name in ANNOTATED:
        path, bpm = request.getfixturevalue("corpus") / name, ANNOTATED[name][1]
    else:
        path, bpm = drums[name].path, drums[name].bpm

    ours = sa.ours_rhythm(sa.read_audio(path, RATE), RATE, backend)

    if not sa.acc1(ours.tempo, bpm):
        assert any(sa.acc1(t, bpm) for t in ours.alternatives), ours.alternatives
        assert ours.confidence < UNSURE


@pytest.mark.parametrize("bpm", sa.PATTERN_TEMPOS, ids=lambda b: f"{b:g}")
def test_octaves_alike_lower_the_confidence(drums, backend, bpm: float) -> None:
    # The syncopated pattern's half or double tempo is about as periodic as its beat
    # (measured: 0.8-1.8 times the beat's normalised autocorrelation, 60-180 BPM), so
    # whichever level is reported, the confidence must not sell it as certain, and the
    # other octave must be on offer.
    case = drums[f"syncopated {bpm:g}"]

    ours = sa.ours_rhythm(sa.read_audio(case.path, RATE), RATE, backend)

    assert ours.confidence < UNSURE, ours.confidence
    octaves = (ours.tempo / 2, ours.tempo * 2)
    assert any(sa.acc1(t, o) for t in ours.alternatives for o in octaves), ours.alternatives


REFERENCE = {  # (file, seconds of it, the peer's tempo; None: librosa's, run here)
    "librosa/test2_8000.wav": (None, 115.38),  # the MATLAB tracker's faster level
    "librosa/choice.ogg": (10.0, 135.999),  # librosa's beat_track docstring
    "beatnet/808kick120bpm.mp3": (None, 120.0),  # the file's name
    # The corpus keeps 143.555 from librosa's tempo docstring, but librosa 0.11 says about
    # 112.3 on the same 30 s (its onset curve changed since): a stale number tests nothing. The
    # issue asks for the peers run side by side, so the reference is librosa's live answer.
    "librosa/nutcracker.ogg": (30.0, None),
}


@pytest.mark.corpus
@pytest.mark.parametrize("name", list(REFERENCE))
def test_tempo_of_the_reference_rows(corpus: Path, backend, name: str) -> None:
    seconds, bpm = REFERENCE[name]
    audio = sa.read_audio(corpus / name, RATE, seconds)
    if bpm is None:
        peer = sa.librosa_beats(audio.mean(axis=0), RATE)
        assert peer.error is None and peer.tempo is not None, peer.error
        bpm = peer.tempo

    ours = sa.ours_rhythm(audio, RATE, backend)

    assert sa.acc1(ours.tempo, bpm), f"tempo {ours.tempo} vs {bpm}"


@pytest.mark.parametrize(
    "kind", ["silence", "white noise", "pink noise", "speech-like babble", "flite speech"]
)
def test_no_beat_in_audio_without_one(media_dir: Path, backend, kind: str) -> None:
    paths = sa.no_beat_cases(media_dir)
    if kind not in paths:
        pytest.skip("this ffmpeg has no flite filter")

    ours = sa.ours_rhythm(sa.read_audio(paths[kind], RATE), RATE, backend)

    assert ours.error is None, ours.error
    assert len(ours.beats) == 0
    assert ours.tempo is None
    assert ours.confidence < LOW_CONFIDENCE


def test_no_beat_without_an_audio_stream(media_dir: Path, backend) -> None:
    from pipelines.decode import decode_audio
    from pipelines.ingest import probe

    track = decode_audio(probe(sa.silent_video(media_dir / "no-audio.mp4")))
    assert track is None

    ours = sa.ours_rhythm(None, RATE, backend)

    assert ours.error is None and len(ours.beats) == 0 and ours.tempo is None
    assert ours.confidence < LOW_CONFIDENCE
