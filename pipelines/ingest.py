"""Stage 1, ingest: turn an uploaded file into a validated :class:`MediaInfo`.

The container is recognised from the file's first bytes (:func:`check_container`, which the
upload uses too), then confirmed by ffprobe; streams, duration, rotation, frame rate
(constant or variable) and audio layout are read here once.

How each kind of bad file is told apart, before any frame is decoded:

- not one of the five containers by content, whatever its name: ``unsupported_container``,
  naming what it is where the first bytes tell (an image, text, audio, MPEG-TS, ...). A
  still HEIF/AVIF image is an ISO-BMFF file like MP4, so its ``ftyp`` brand decides. A
  supported container under another container's name (an MKV called ``.mp4``) is accepted
  as what its content is.
- MP4/MOV: the top-level boxes are walked (headers only). A box that runs past the end of
  the file means the file was cut short (``corrupt_media``), even where ffprobe would still
  read the index at its front; a complete walk without an index (``moov`` or ``moof``) means
  the recording was never finished (``corrupt_media``). Boxes of unknown type end the walk
  (trailing junk is left to ffprobe).
- MKV/WebM: a Segment of known size that runs past the end; AVI: a RIFF chunk that does
  (both ``corrupt_media``, cut short). A Segment of unknown size (a live recording) passes.
- no duration stated (live recordings: a browser's MediaRecorder WebM, an unfinished MKV):
  the span of the video packets' timestamps, read without decoding.
- whatever ffprobe cannot read (``corrupt_media``) or takes over :data:`PROBE_TIMEOUT_S` on
  (``media_timeout``); no video stream (``no_video_stream``); no positive duration, no
  picture size or no pixel format (the decoder found no usable parameter set; ``corrupt_
  media``); longer than the limit (``duration_too_long``); a picture over DCI 8K
  (``resolution_too_large``: a few header bytes can declare gigabytes of frame).
"""

from __future__ import annotations

import json
import logging
import math
import re
import select
import struct
import subprocess
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

from pipelines.errors import (
    CorruptMediaError,
    DurationLimitError,
    EmptyFileError,
    MediaTimeoutError,
    NoVideoStreamError,
    ResolutionLimitError,
    UnsupportedContainerError,
)

logger = logging.getLogger(__name__)

CONTAINERS = ("mp4", "mov", "avi", "mkv", "webm")
SNIFF_BYTES = 64
PROBE_TIMEOUT_S = 60
INTERLACED_ORDERS = frozenset({"tt", "bb", "tb", "bt"})
# DCI 8K: the largest picture a camera or an editor's export gives. A larger one is refused
# before a frame is decoded (a few bytes of header can declare a picture of gigabytes).
MAX_SIDE_PX = 8192
MAX_PIXELS = 8192 * 4320


# ``ftyp`` major brands of still images (HEIF, HEIC, AVIF): ISO-BMFF files, but no video.
IMAGE_BRANDS = frozenset({b"avif", b"heic", b"heix", b"heim", b"heis", b"mif1"})
# Top-level ISO-BMFF / QuickTime box types; any other ends the walk of :func:`_check_boxes`.
ISO_TOP_LEVEL = frozenset(
    {
        b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"moof", b"mfra", b"uuid",
        b"pdin", b"meta", b"sidx", b"ssix", b"styp", b"prft", b"emsg", b"pnot", b"junk",
    }
)  # fmt: skip
INDEX_BOXES = (b"moov", b"moof")


def sniff_container(head: bytes) -> str | None:
    """The container named by a file's first bytes, or None if it is none of the five."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        if head[8:12] in IMAGE_BRANDS:
            return None
        return "mov" if head[8:12] == b"qt  " else "mp4"
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mov"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm" if b"webm" in head[:SNIFF_BYTES] else "mkv"
    return None


_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG", 0, "a PNG image"),
    (b"\xff\xd8\xff", 0, "a JPEG image"),
    (b"GIF8", 0, "a GIF image"),
    (b"WEBP", 8, "a WebP image"),
    (b"WAVE", 8, "WAV audio"),
    (b"ID3", 0, "MP3 audio"),
    (b"\xff\xfb", 0, "MP3 audio"),
    (b"\xff\xf3", 0, "MP3 audio"),
    (b"\xff\xf1", 0, "AAC audio (ADTS)"),
    (b"fLaC", 0, "FLAC audio"),
    (b"OggS", 0, "an Ogg file"),
    (b"FLV", 0, "an FLV video"),
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", 0, "an ASF/WMV video"),
    (b"\x00\x00\x01\xba", 0, "an MPEG program stream"),
    (b"\x00\x00\x01\xb3", 0, "an MPEG-1/2 video stream"),
    (b"%PDF", 0, "a PDF document"),
    (b"PK\x03\x04", 0, "a ZIP archive"),
    (b"\x1f\x8b", 0, "a gzip archive"),
)


def identify(head: bytes) -> str | None:
    """What a file that is none of the five containers is, by its first bytes, if known."""
    if len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in IMAGE_BRANDS:
        return "a HEIF/AVIF still image"
    for magic, offset, what in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return what
    if _is_text(head):
        return "text"
    if head[:1] == b"\x47":
        return "an MPEG transport stream"
    return None


def _is_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the end of the head
            return False
        text = head[: exc.start].decode("utf-8")
    return bool(text) and all(c.isprintable() or c in "\t\r\n" for c in text)


def check_container(head: bytes, label: str) -> str:
    """The container of a file whose first bytes are ``head`` (``label`` names the file in
    messages); ``UnsupportedContainerError`` saying what it is when it is none of the five."""
    container = sniff_container(head)
    if container is not None:
        return container
    what = identify(head)
    found = f"its content is {what}" if what else "its content was recognised as none of them"
    raise UnsupportedContainerError(
        f"{label} is not one of the accepted containers ({', '.join(CONTAINERS)}): {found}; "
        "send a video file in one of them"
    )


HDR_TRANSFERS = {"smpte2084": "pq", "arib-std-b67": "hlg"}


@dataclass(frozen=True)
class MediaInfo:
    path: str
    container: str
    size_bytes: int
    duration_s: float
    width: int  # as displayed: after rotation, and with non-square pixels made square
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
    # Colour facts as the stream states them (None where it states none): the transfer
    # function says whether the picture is HDR (PQ, SMPTE ST 2084; HLG, ARIB STD-B67).
    color_transfer: str | None = None
    color_primaries: str | None = None
    color_space: str | None = None
    bit_depth: int = 8
    pixel_aspect: float = 1.0  # width of a stored pixel on screen over its height
    interlaced: bool = False  # fields stored together (field_order tt/bb/tb/bt): deinterlace
    start_s: float = 0.0  # the file's start time (its earliest stream's), seconds
    video_start_s: float = 0.0  # the video stream's first timestamp, seconds

    @property
    def video_lead_s(self) -> float:
        """How long after the file's start the first frame comes: where the video timeline,
        on which every time in a Style DNA lies, begins in the file's."""
        return max(0.0, self.video_start_s - self.start_s)

    @property
    def hdr(self) -> bool:
        return self.color_transfer in HDR_TRANSFERS

    def to_dict(self) -> dict:
        return asdict(self)


def probe(path: Path | str, *, max_duration_s: float | None = None) -> MediaInfo:
    """Validate ``path`` and read its stream facts; raise an ``InputError`` if it is unusable."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise EmptyFileError(f"{path.name} is empty (0 bytes)")
    with path.open("rb") as handle:
        container = check_container(handle.read(SNIFF_BYTES), path.name)
    if container in ("mp4", "mov"):
        _check_boxes(path, size)
    elif container in ("mkv", "webm"):
        _check_ebml_segment(path, size)
    elif container == "avi":
        _check_riff(path, size)

    data = _ffprobe(path)
    streams = data.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video" and not _is_cover(s)), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is None:
        held = "only audio" if audio is not None else "no audio either"
        raise NoVideoStreamError(
            f"{path.name} has no video stream ({held}); a template or footage must be a video"
        )

    duration = _duration(data.get("format", {}), video)
    if duration is None:
        # Live recordings (a browser's MediaRecorder WebM, an unfinished MKV) state none.
        duration = _duration_from_packets(path, video)
    if duration is None or duration <= 0:
        raise CorruptMediaError(f"{path.name}: the duration cannot be read; the file may be cut")
    if max_duration_s is not None and duration > max_duration_s:
        raise DurationLimitError(
            f"{path.name} lasts {duration:.1f} s; the limit is {max_duration_s:.0f} s"
        )

    coded_w, coded_h = int(video.get("width") or 0), int(video.get("height") or 0)
    if coded_w <= 0 or coded_h <= 0:
        raise CorruptMediaError(f"{path.name}: the video stream has no picture size")
    if max(coded_w, coded_h) > MAX_SIDE_PX or coded_w * coded_h > MAX_PIXELS:
        raise ResolutionLimitError(
            f"{path.name} is {coded_w}x{coded_h} pixels; at most {MAX_SIDE_PX} on a side and "
            f"8192x4320 in all are accepted; scale it down first"
        )
    if video.get("pix_fmt") in (None, "", "unknown", "none"):
        raise CorruptMediaError(
            f"{path.name}: its {video.get('codec_name', 'unknown')} video stream gives no "
            "picture format, so no frame of it can be decoded; the file is damaged"
        )
    rotation = _rotation(video)
    # Non-square pixels (DV, broadcast, some screen recorders): shown wider or narrower than
    # stored. The display size keeps the height and stretches the width; an aspect within
    # 1 % of square (a scaler's rounding, 640x480 stretched to 641x481) is square.
    aspect = _pixel_aspect(video)
    shown_w = coded_w if abs(aspect - 1) < 0.01 else max(2, round(coded_w * aspect))
    width, height = (coded_h, shown_w) if rotation in (90, 270) else (shown_w, coded_h)
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
        color_transfer=_stated(video.get("color_transfer")),
        color_primaries=_stated(video.get("color_primaries")),
        color_space=_stated(video.get("color_space")),
        bit_depth=_bit_depth(video),
        pixel_aspect=1.0 if shown_w == coded_w else float(aspect),
        interlaced=str(video.get("field_order") or "") in INTERLACED_ORDERS,
        start_s=_seconds(data.get("format", {}).get("start_time")),
        video_start_s=_seconds(video.get("start_time")),
    )
    logger.info("probed %s: %s", path.name, info)
    return info


def _seconds(value: object) -> float:
    try:
        seconds = float(str(value))
    except (TypeError, ValueError):
        return 0.0
    return seconds if math.isfinite(seconds) else 0.0


def _pixel_aspect(video: dict) -> Fraction:
    """The stream's sample (pixel) aspect ratio; 1 where it states none or nonsense."""
    value = str(video.get("sample_aspect_ratio") or "")
    try:
        aspect = Fraction(value.replace(":", "/")) if value else Fraction(1)
    except (ValueError, ZeroDivisionError):
        return Fraction(1)
    return aspect if Fraction(1, 4) <= aspect <= 4 else Fraction(1)


def _stated(value: object) -> str | None:
    return None if value in (None, "", "unknown", "unspecified", "reserved") else str(value)


def _bit_depth(video: dict) -> int:
    """Bits per component: ffprobe's count where it gives one, else read from the pixel format
    (``yuv420p10le`` → 10)."""
    raw = str(video.get("bits_per_raw_sample") or "")
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    match = re.search(r"p(9|10|12|14|16)(le|be)?$", str(video.get("pix_fmt") or ""))
    return int(match.group(1)) if match else 8


def _check_boxes(path: Path, size: int) -> None:
    """Walk the top-level boxes of an MP4/MOV by their headers: refuse a file cut inside a
    box, and one without an index (``moov``/``moof``) though every box is whole."""
    seen: set[bytes] = set()
    offset = 0
    with path.open("rb") as handle:
        while offset + 8 <= size:
            handle.seek(offset)
            header = handle.read(16)
            box_size, kind = struct.unpack(">I4s", header[:8])
            if kind not in ISO_TOP_LEVEL:
                return  # not a box we know: trailing junk or an odd writer; ffprobe judges
            if box_size == 1:
                if len(header) < 16:
                    raise CorruptMediaError(f"{path.name} is cut short inside a box header")
                box_size = struct.unpack(">Q", header[8:16])[0]
            elif box_size == 0:
                box_size = size - offset  # "to the end of the file"
            if box_size < 8:
                raise CorruptMediaError(
                    f"{path.name} is damaged: its {kind.decode()!r} box at byte {offset} "
                    f"declares an impossible size ({box_size} bytes)"
                )
            seen.add(kind)
            if offset + box_size > size:
                raise _cut_short(path, size, f"{kind.decode()!r} box", offset + box_size)
            offset += box_size
    if not seen.intersection(INDEX_BOXES):
        raise CorruptMediaError(
            f"{path.name} has no index (no 'moov' box): the recording was not finished or "
            "the file was cut; export or record it again"
        )


def _cut_short(path: Path, size: int, what: str, end: int) -> CorruptMediaError:
    return CorruptMediaError(
        f"{path.name} is cut short or damaged: it ends at byte {size}, inside its {what}, "
        f"which should run to byte {end}; send the whole file as it was recorded or exported"
    )


def _ebml_vint(data: bytes, at: int, *, keep_marker: bool) -> tuple[int | None, int]:
    """An EBML variable-length integer at ``at``: (value, length); value None when the
    length marker is missing or, for a size, when it is "unknown" (all ones)."""
    if at >= len(data) or data[at] == 0:
        return None, 1
    length = 8 - data[at].bit_length() + 1
    if at + length > len(data):
        return None, length
    value = int.from_bytes(data[at : at + length], "big")
    if keep_marker:
        return value, length
    value &= (1 << (7 * length)) - 1
    return (None if value == (1 << (7 * length)) - 1 else value), length


def _check_ebml_segment(path: Path, size: int) -> None:
    """Matroska/WebM: a Segment of known size must end within the file. A live recording
    leaves the size unknown until it is finished; that is not checked."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    at = 0
    for expected in (0x1A45DFA3, 0x18538067):  # the EBML header, then the Segment
        element, id_len = _ebml_vint(head, at, keep_marker=True)
        length, size_len = _ebml_vint(head, at + id_len, keep_marker=False)
        if element != expected or length is None:
            return  # a layout this walk does not know, or an unknown size: ffprobe judges
        start = at + id_len + size_len
        if expected == 0x18538067 and start + length > size:
            raise _cut_short(path, size, "Matroska Segment", start + length)
        at = start + length


def _check_riff(path: Path, size: int) -> None:
    """AVI: the RIFF chunk declares its size; a file shorter than that was cut."""
    with path.open("rb") as handle:
        head = handle.read(8)
    declared = struct.unpack("<I", head[4:8])[0] + 8
    if declared > size:
        raise _cut_short(path, size, "RIFF chunk", declared)


def _ffprobe(path: Path) -> dict:
    cmd = [
        "ffprobe", "-v", "error", "-print_format", "json",
        "-show_format", "-show_streams", str(path),
    ]  # fmt: skip
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=PROBE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise MediaTimeoutError(
            f"{path.name}: reading its streams took over {PROBE_TIMEOUT_S} s; the file is "
            "probably damaged"
        ) from exc
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").replace(str(path), path.name).splitlines()
        reason = lines[-1].strip().removeprefix(f"{path.name}: ") if lines else "ffprobe failed"
        raise CorruptMediaError(f"{path.name} cannot be read as video: {reason}")
    try:
        return json.loads(done.stdout.decode("utf-8", errors="replace") or "{}")
    except json.JSONDecodeError as exc:
        raise CorruptMediaError(f"{path.name}: its stream description cannot be read") from exc


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


def read_packets(
    path: str | Path, entries: str, stall_s: float, stream: str = "v:0"
) -> list[list[str]]:
    """ffprobe's ``entries`` (e.g. ``pts_time,dts_time,flags``) of every packet of
    ``stream``, as CSV fields, read as they come: headers only, no decoding, so a long file
    takes as long as it needs, while a stream that stops arriving fails after ``stall_s``."""
    path = Path(path)
    cmd = [
        "ffprobe", "-v", "error", "-select_streams", stream,
        "-show_entries", f"packet={entries}", "-of", "csv=p=0", str(path),
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        bufsize=0,
    )  # fmt: skip
    assert proc.stdout is not None
    out = bytearray()
    try:
        while True:
            ready, _, _ = select.select([proc.stdout], [], [], stall_s)
            if not ready:
                raise MediaTimeoutError(
                    f"{path.name}: reading its packets stalled for {stall_s:g} s; the file is "
                    "damaged or its stream never ends"
                )
            piece = proc.stdout.read(1 << 16)
            if not piece:
                break
            out += piece
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
    return [line.strip().split(",") for line in out.decode(errors="replace").splitlines()]


def _duration_from_packets(path: Path, video: dict) -> float | None:
    """The video stream's span from its packets' timestamps (headers only, no decoding)."""
    stream = str(video.get("index", "v:0"))
    starts, ends = [], []
    for fields in read_packets(path, "pts_time,duration_time", PROBE_TIMEOUT_S, stream):
        try:
            pts = float(fields[0])
        except (ValueError, IndexError):
            continue
        try:
            length = float(fields[1]) if len(fields) > 1 else 0.0
        except ValueError:
            length = 0.0
        starts.append(pts)
        ends.append(pts + length)
    if not starts:
        return None
    span = max(ends) - min(starts)
    return span if span > 0 else None


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
