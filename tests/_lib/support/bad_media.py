"""Inputs the engine must refuse, and damaged copies of real files, each made here.

Every generator writes ``path`` once (kept if it exists) and returns it. The mutations are
deterministic: the same ``seed`` always gives the same bytes.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator
from pathlib import Path

from support.media import ffmpeg


def _once(path: Path, *args: str) -> Path:
    if not path.exists():
        ffmpeg(*args, str(path))
    return path


def mp4_clip(path: Path, *, seconds: float = 2.0, faststart: bool = False) -> Path:
    """H.264 + AAC in MP4; ``faststart`` puts the index (moov) before the media data."""
    flags = ["-movflags", "+faststart"] if faststart else []
    return _once(
        path,
        "-f", "lavfi", "-i", f"testsrc2=s=320x240:r=25:d={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-shortest", *flags,
    )  # fmt: skip


def mkv_clip(path: Path, *, seconds: float = 2.0) -> Path:
    """H.264 + Opus in Matroska, whatever ``path`` is named."""
    return _once(
        path,
        "-f", "lavfi", "-i", f"testsrc2=s=320x240:r=25:d={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-c:a", "libopus", "-shortest", "-f", "matroska",
    )  # fmt: skip


def mpegts_clip(path: Path, *, seconds: float = 1.0) -> Path:
    """A real video in MPEG-TS, a container the SPEC does not accept, whatever it is named."""
    return _once(
        path,
        "-f", "lavfi", "-i", f"testsrc2=s=160x120:r=25:d={seconds}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-f", "mpegts",
    )  # fmt: skip


def png_image(path: Path) -> Path:
    """One PNG picture, whatever ``path`` is named."""
    return _once(
        path, "-f", "lavfi", "-i", "testsrc2=s=320x240", "-frames:v", "1", "-c:v", "png",
        "-f", "image2",
    )  # fmt: skip


def jpeg_image(path: Path) -> Path:
    return _once(
        path, "-f", "lavfi", "-i", "testsrc2=s=320x240", "-frames:v", "1", "-c:v", "mjpeg",
        "-f", "image2",
    )  # fmt: skip


def avif_image(path: Path) -> Path:
    """A still AVIF picture: an ISO-BMFF file (``ftyp`` box) that is an image, not a video."""
    return _once(
        path, "-f", "lavfi", "-i", "testsrc2=s=64x64", "-frames:v", "1",
        "-c:v", "libaom-av1", "-still-picture", "1", "-cpu-used", "8", "-f", "avif",
    )  # fmt: skip


def audio_only_mp4(path: Path, *, seconds: float = 1.0) -> Path:
    """AAC in an MP4 container and no video stream at all."""
    return _once(
        path, "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac",
        "-f", "mp4",
    )  # fmt: skip


def iso_boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """The top-level ISO-BMFF boxes of ``data``: (type, offset, size), as declared."""
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        elif size == 0:
            size = len(data) - offset
        boxes.append((kind, offset, size))
        if size < 8:
            break
        offset += size
    return boxes


def without_box(source: Path, path: Path, kind: bytes = b"moov") -> Path:
    """``source`` with its top-level ``kind`` box removed and everything else kept whole."""
    data = source.read_bytes()
    kept = b"".join(
        data[offset : offset + size] for k, offset, size in iso_boxes(data) if k != kind
    )
    if len(kept) == len(data):
        raise ValueError(f"{source.name} has no top-level {kind!r} box")
    path.write_bytes(kept)
    return path


def truncated(source: Path, path: Path, fraction: float) -> Path:
    """The first ``fraction`` of ``source``'s bytes."""
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


MUTATIONS = ("flips", "delete", "duplicate", "header", "truncate")


def mutations(
    data: bytes, seed: int, count: int, kinds: tuple[str, ...] = MUTATIONS
) -> Iterator[tuple[str, bytes]]:
    """``count`` damaged copies of ``data``, each named by what was done to it.

    The ``kinds``, in turn: random byte flips, a deleted chunk, a duplicated chunk, a
    corrupted header (the first 16 bytes, the magic, kept; the next few hundred scrambled)
    and a cut. The first copies do not depend on ``count``.
    """
    rng = random.Random(seed)
    for i in range(count):
        kind = kinds[i % len(kinds)]
        buf = bytearray(data)
        if kind == "flips":
            n = rng.randint(1, max(1, len(buf) // 500))
            for _ in range(n):
                buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
            name = f"flips{n}"
        elif kind == "delete":
            start = rng.randrange(len(buf))
            size = rng.randint(1, max(1, len(buf) // 8))
            del buf[start : start + size]
            name = f"delete{start}+{size}"
        elif kind == "duplicate":
            start = rng.randrange(len(buf))
            size = rng.randint(1, max(1, len(buf) // 8))
            buf[start:start] = buf[start : start + size]
            name = f"duplicate{start}+{size}"
        elif kind == "header":
            stop = min(len(buf), 64 + rng.randint(16, 512))
            for j in range(16, stop):
                if rng.random() < 0.3:
                    buf[j] = rng.randrange(256)
            name = f"header16-{stop}"
        else:
            stop = rng.randint(8, len(buf) - 1)
            del buf[stop:]
            name = f"truncate{stop}"
        yield f"{i:02d}-{name}", bytes(buf)
