"""Issue #5, inputs that must give the right answer: 10-bit and HDR video."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support.media import ffmpeg

from pipelines.decode import VideoSource
from pipelines.ingest import probe

COLOR = (128, 64, 192)  # 0x8040c0


def _clip(path: Path, *, codec: str, pix_fmt: str, transfer: str | None = None) -> Path:
    if path.exists():
        return path
    args = ["-f", "lavfi", "-i", "color=c=0x8040c0:s=320x240:r=25:d=1", "-c:v", codec]
    args += ["-pix_fmt", pix_fmt]
    if codec == "libx265":
        params = "log-level=error"
        if transfer:
            params += f":colorprim=bt2020:transfer={transfer}:colormatrix=bt2020nc"
        args += ["-x265-params", params]
    if transfer:
        args += ["-color_trc", transfer, "-color_primaries", "bt2020", "-colorspace", "bt2020nc"]
    ffmpeg(*args, str(path))
    return path


@pytest.mark.parametrize(("transfer", "kind"), [("smpte2084", "PQ"), ("arib-std-b67", "HLG")])
def test_hdr_hevc_10_bit_is_reported_as_hdr(transfer: str, kind: str, media_dir: Path) -> None:
    path = _clip(media_dir / f"hdr_{kind}.mp4", codec="libx265", pix_fmt="yuv420p10le",
                 transfer=transfer)  # fmt: skip
    info = probe(path)
    assert (info.hdr, info.bit_depth, info.color_transfer) == (True, 10, transfer)


def test_sdr_is_not_hdr_and_8_bit(media_dir: Path) -> None:
    info = probe(_clip(media_dir / "sdr8.mp4", codec="libx264", pix_fmt="yuv420p"))
    assert (info.hdr, info.bit_depth, info.color_transfer) == (False, 8, None)


def test_10_bit_frames_decode_to_the_same_colour_as_8_bit(media_dir: Path) -> None:
    """A 10-bit stream read as if it were 8-bit would come out far off (or garbled)."""
    ten = probe(_clip(media_dir / "sdr10.mp4", codec="libx265", pix_fmt="yuv420p10le"))
    eight = probe(_clip(media_dir / "sdr8.mp4", codec="libx264", pix_fmt="yuv420p"))
    assert ten.bit_depth == 10
    mean10 = VideoSource(ten).get([0, 12]).reshape(-1, 3).mean(axis=0)
    mean8 = VideoSource(eight).get([0, 12]).reshape(-1, 3).mean(axis=0)
    assert np.abs(mean10 - np.array(COLOR)).max() <= 3.0, mean10
    assert np.abs(mean10 - mean8).max() <= 3.0
