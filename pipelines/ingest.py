"""Stage 1, ingest: turn an uploaded file into a validated :class:`MediaInfo`.

The container is recognised from the file's first bytes, then confirmed by ffprobe; streams,
duration, rotation, frame rate (constant or variable) and audio layout are read here once.
"""

from __future__ import annotations

import json
import logging
import subprocess
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

from pipelines.errors import (
    CorruptMediaError,
    DurationLimitError,
    EmptyFileError,
    NoVideoStreamError,
    UnsupportedContainerError,
)

logger = logging.getLogger(__name__)

CONTAINERS = ("mp4", "mov", "avi", "mkv", "webm")
SNIFF_BYTES = 64
PROBE_TIMEOUT_S = 60


def sniff_container(head: bytes) -> str | None:
    """The container named by a file's first bytes, or None if it is none of the five."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "mov" if head[8:12] == b"qt  " else "mp4"
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mov"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm" if b"webm" in head[:SNIFF_BYTES] else "mkv"
    return None


@dataclass(frozen=True)
class MediaInfo:
    path: str
    container: str
    size_bytes: int
    duration_s: float
    width: int  # as displayed, after rotation
    height: int
    coded_width: int
    coded_height: int
    rotation: int  # clockwise degrees to show the picture upright: 0, 90, 180 or 270
    fps: float
    variable_frame_rate: bool
    frame_count: int | None
    video_codec: str
    pix_fmt: str | None
    has_audio: bool
    audio_codec: str | None
    audio_sample_rate: int | None
    audio_channels: int | None

    def to_dict(self) -> dict:
        return asdict(self)


def probe(path: Path | str, *, max_duration_s: float | None = None) -> MediaInfo:
    """Validate ``path`` and read its stream facts; raise an ``InputError`` if it is unusable."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise EmptyFileError(f"{path.name} is empty (0 bytes)")
    with path.open("rb") as handle:
        container = sniff_container(handle.read(SNIFF_BYTES))
    if container is None:
        raise UnsupportedContainerError(
            f"{path.name} is not one of the accepted containers ({', '.join(CONTAINERS)})"
        )

    data = _ffprobe(path)
    streams = data.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video" and not _is_cover(s)), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is None:
        raise NoVideoStreamError(f"{path.name} has no video stream")

    duration = _duration(data.get("format", {}), video)
    if duration is None or duration <= 0:
        raise CorruptMediaError(f"{path.name}: the duration cannot be read; the file may be cut")
    if max_duration_s is not None and duration > max_duration_s:
        raise DurationLimitError(
            f"{path.name} lasts {duration:.1f} s; the limit is {max_duration_s:.0f} s"
        )

    coded_w, coded_h = int(video.get("width") or 0), int(video.get("height") or 0)
    if coded_w <= 0 or coded_h <= 0:
        raise CorruptMediaError(f"{path.name}: the video stream has no picture size")
    rotation = _rotation(video)
    width, height = (coded_h, coded_w) if rotation in (90, 270) else (coded_w, coded_h)
    avg = _rate(video.get("avg_frame_rate"))
    nominal = _rate(video.get("r_frame_rate"))
    fps = avg or nominal or 0.0
    vfr = bool(avg and nominal and abs(avg - nominal) / nominal > 0.01)
    frames = video.get("nb_frames")

    info = MediaInfo(
        path=str(path),
        container=container,
        size_bytes=size,
        duration_s=duration,
        width=width,
        height=height,
        coded_width=coded_w,
        coded_height=coded_h,
        rotation=rotation,
        fps=fps,
        variable_frame_rate=vfr,
        frame_count=int(frames) if frames and str(frames).isdigit() else None,
        video_codec=str(video.get("codec_name", "unknown")),
        pix_fmt=video.get("pix_fmt"),
        has_audio=audio is not None,
        audio_codec=audio.get("codec_name") if audio else None,
        audio_sample_rate=int(audio["sample_rate"]) if audio and audio.get("sample_rate") else None,
        audio_channels=int(audio["channels"]) if audio and audio.get("channels") else None,
    )
    logger.info("probed %s: %s", path.name, info)
    return info


def _ffprobe(path: Path) -> dict:
    cmd = [
        "ffprobe", "-v", "error", "-print_format", "json",
        "-show_format", "-show_streams", str(path),
    ]  # fmt: skip
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=PROBE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise CorruptMediaError(f"{path.name}: probing took over {PROBE_TIMEOUT_S} s") from exc
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()
        raise CorruptMediaError(
            f"{path.name} cannot be read as video: {reason[-1] if reason else 'ffprobe failed'}"
        )
    return json.loads(done.stdout or b"{}")


def _is_cover(stream: dict) -> bool:
    return bool(stream.get("disposition", {}).get("attached_pic"))


def _rate(value: str | None) -> float | None:
    if not value or value in ("0/0", "0"):
        return None
    try:
        rate = float(Fraction(value))
    except (ValueError, ZeroDivisionError):
        return None
    return rate if rate > 0 else None


def _duration(fmt: dict, video: dict) -> float | None:
    for value in (video.get("duration"), fmt.get("duration")):
        try:
            if value is not None and float(value) > 0:
                return float(value)
        except ValueError:
            continue
    return None


def _rotation(video: dict) -> int:
    """Clockwise display rotation from the display matrix or the older ``rotate`` tag."""
    for side in video.get("side_data_list", []) or []:
        if "rotation" in side:
            # ffprobe reports the matrix's counter-clockwise angle.
            return round(-float(side["rotation"])) % 360
    tag = video.get("tags", {}).get("rotate")
    if tag is not None:
        try:
            return int(tag) % 360
        except ValueError:
            return 0
    return 0
