"""Encode: colours survive RGB to BT.709 YUV and back; bad output is never reported as success."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.decode import VideoSource
from pipelines.encode import AudioInput, VideoWriter, mux, verify
from pipelines.errors import EncodeError
from pipelines.ingest import probe

PATCHES = np.array([[200, 60, 40], [40, 180, 90], [60, 70, 210], [230, 220, 50]], np.uint8)


def test_colours_round_trip_through_h264(tmp_path):
    frame = np.zeros((64, 64, 3), np.uint8)
    for i, colour in enumerate(PATCHES):
        frame[(i // 2) * 32 : (i // 2) * 32 + 32, (i % 2) * 32 : (i % 2) * 32 + 32] = colour
    writer = VideoWriter(tmp_path / "v.mp4", 64, 64, 25.0)
    writer.write(np.repeat(frame[None], 10, axis=0))
    writer.close()
    out = mux(tmp_path / "v.mp4", AudioInput("silence"), tmp_path / "out.mp4", 0.4)
    decoded = VideoSource(probe(out)).get([5])[0].astype(int)
    for i, colour in enumerate(PATCHES):
        y, x = (i // 2) * 32 + 16, (i % 2) * 32 + 16
        assert np.abs(decoded[y, x] - colour.astype(int)).max() <= 4, (decoded[y, x], colour)


def test_writer_refuses_odd_sizes_and_wrong_frames(tmp_path):
    with pytest.raises(ValueError, match="even"):
        VideoWriter(tmp_path / "x.mp4", 65, 64, 25.0)
    writer = VideoWriter(tmp_path / "y.mp4", 64, 64, 25.0)
    with pytest.raises(ValueError, match=r"\[N, 64, 64, 3\]"):
        writer.write(np.zeros((1, 32, 32, 3), np.uint8))
    writer.abort()


def test_verify_refuses_empty_and_video_only_files(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(EncodeError, match="no output"):
        verify(empty)
    writer = VideoWriter(tmp_path / "silent.mp4", 64, 64, 25.0)
    writer.write(np.zeros((5, 64, 64, 3), np.uint8))
    with pytest.raises(EncodeError, match="expected h264 video \\+ aac audio"):
        verify(writer.close())
