"""Stream a job's multipart upload to disk, checking each file as its bytes arrive.

The body is parsed here, from ``request.stream()``, with python-multipart's streaming parser;
FastAPI's form handling is not used, so no file is ever buffered whole in memory or spooled
to a temporary file. The form:

=============  ===========  ===============================================================
field          kind         rule
=============  ===========  ===============================================================
``template``   file         required, unless a ``style_dna`` is sent with footage
``footage``    file, 0..8   any given: the job is ``extract_apply``, else ``extract``
``style_dna``  file (JSON)  replaces the template; only with footage; at most 16 MiB
``options``    text (JSON)  :class:`pipelines.options.JobOptions`; at most 64 KiB
=============  ===========  ===============================================================

Refusals, each before any processing, and each deleting whatever was written:

- ``Content-Length`` over :func:`body_limit` (every allowed file at the full limit, plus
  1 MiB for headers and options): 413 ``request_too_large`` before one byte is read. A body
  without a length is held to the same total as it streams.
- a file passing ``MAX_FILE_SIZE_MB``: 413 ``file_too_large`` at the chunk that passes it.
- a file whose first bytes are none of the five containers: 415 ``unsupported_container``
  (judged on the first 64 bytes, before anything of that file is written, by
  :func:`pipelines.ingest.check_container`, whose message names what the file is). The
  name is not judged: an MKV called ``clip.mp4`` is accepted, stored and reported as
  ``mkv``, as the SPEC recognises containers by content.
- an empty file: 422 ``empty_file``; bad options: 422 ``invalid_options``; an unknown field,
  a missing template and the like: 422 with a code naming the problem.

After a refusal in mid-body, up to :data:`DRAIN_LIMIT_BYTES` more of the body is read and
discarded so the client, which is usually still sending, gets to read the response rather
than a reset connection; past that the connection is closed.

Files are not probed here: ffprobe costs a subprocess per file on the request path, and the
job's ``ingest`` stage probes every file within a second of starting, failing the job with
the ``InputError``'s own code (``corrupt_media``, ``no_video_stream``, ...).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import anyio.to_thread
import structlog
from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header
from starlette.requests import ClientDisconnect, Request

from gateway.errors import (
    BadRequestError,
    RequestTooLargeError,
    UnprocessableError,
    UnsupportedMediaTypeError,
)
from gateway.schemas import JobCreate
from pipelines.errors import (
    ClipzyError,
    EmptyFileError,
    FileTooLargeError,
    InvalidStyleDnaError,
)
from pipelines.ingest import SNIFF_BYTES, check_container
from pipelines.options import JobOptions
from pipelines.settings import Settings

logger = structlog.stdlib.get_logger(__name__)

MAX_FOOTAGE_FILES = 8
MAX_FILES = 1 + MAX_FOOTAGE_FILES + 1  # template, footage, style_dna
MAX_TEXT_FIELD_BYTES = 64 * 1024
MAX_STYLE_DNA_BYTES = 16 * 1024 * 1024
BODY_SLACK_BYTES = 1024 * 1024
DRAIN_LIMIT_BYTES = 32 * 1024 * 1024
FIELDS = ("template", "footage", "style_dna", "options")


def body_limit(file_limit_bytes: int) -> int:
    """The largest request body accepted: every allowed file at the limit, plus slack."""
    return MAX_FILES * file_limit_bytes + BODY_SLACK_BYTES


@dataclass
class StoredFile:
    field: str
    filename: str | None
    path: Path
    size_bytes: int
    container: str | None

    def entry(self, job_dir: Path) -> dict[str, Any]:
        return {
            "path": str(self.path.relative_to(job_dir)),
            "filename": self.filename,
            "size_bytes": self.size_bytes,
            "container": self.container,
        }


async def receive_job(request: Request, *, job_id: str, job_dir: Path, settings: Settings):
    """Stream the submission in ``request`` into ``job_dir/uploads`` and check it.

    Returns the :class:`JobCreate` to store; raises a ``ClipzyError`` (with its HTTP status)
    after removing ``job_dir``.
    """
    boundary = _boundary(request.headers.get("content-type"))
    limit = body_limit(settings.max_file_size_bytes)
    _check_content_length(request.headers.get("content-length"), limit)

    upload_dir = job_dir / "uploads"
    upload_dir.mkdir(parents=True, exist_ok=True)
    sink = _FormSink(upload_dir, file_limit=settings.max_file_size_bytes, settings=settings)
    try:
        await _stream_into(request, sink, boundary, limit)
        return _submission(sink, job_id=job_id, job_dir=job_dir, settings=settings)
    except BaseException:
        sink.close()
        shutil.rmtree(job_dir, ignore_errors=True)
        raise


def _boundary(content_type: str | None) -> bytes:
    media_type, params = parse_options_header(content_type)
    if media_type != b"multipart/form-data":
        raise UnsupportedMediaTypeError(
            "a job is submitted as multipart/form-data (fields template, footage, style_dna, "
            f"options); got Content-Type {content_type or 'none'!r}"
        )
    boundary = params.get(b"boundary")
    if not boundary:
        raise BadRequestError(
            "the multipart Content-Type has no boundary parameter", code="invalid_multipart"
        )
    return boundary


def _check_content_length(header: str | None, limit: int) -> None:
    if header is None:
        return
    try:
        length = int(header)
    except ValueError as exc:
        raise BadRequestError(
            f"Content-Length must be an integer, got {header!r}", code="invalid_request"
        ) from exc
    if length > limit:
        raise RequestTooLargeError(
            f"the request body is {length} bytes; at most {limit} are accepted "
            f"({MAX_FILES} files of at most {limit // MAX_FILES // 1024 // 1024} MB each)"
        )


async def _stream_into(request: Request, sink: _FormSink, boundary: bytes, limit: int) -> None:
    parser = MultipartParser(boundary, sink.callbacks())
    received = 0
    refusal: ClipzyError | None = None
    drained = 0
    try:
        async for chunk in request.stream():
            if not chunk:
                continue
            if refusal is not None:
                drained += len(chunk)
                if drained > DRAIN_LIMIT_BYTES:
                    break
                continue
            received += len(chunk)
            try:
                if received > limit:
                    raise RequestTooLargeError(
                        f"the request body passed {limit} bytes, the most accepted"
                    )
                # File writes happen in the parser's callbacks: keep them off the event loop.
                await anyio.to_thread.run_sync(parser.write, chunk)
            except ClipzyError as exc:
                refusal = exc
                # Delete what was written now, not after the drain.
                sink.close()
                shutil.rmtree(sink.upload_dir, ignore_errors=True)
            except MultipartParseError as exc:
                refusal = BadRequestError(
                    f"the multipart body cannot be parsed: {exc}", code="invalid_multipart"
                )
                sink.close()
                shutil.rmtree(sink.upload_dir, ignore_errors=True)
    except ClientDisconnect:
        if refusal is not None:
            raise refusal from None
        logger.info("upload_abandoned", received_bytes=received)
        raise BadRequestError(
            "the client disconnected before the body was complete", code="incomplete_body"
        ) from None
    if refusal is not None:
        logger.info("upload_refused", code=refusal.code, received_bytes=received)
        raise refusal
    parser.finalize()
    if not sink.ended:
        raise BadRequestError(
            "the multipart body ended before its closing boundary", code="invalid_multipart"
        )


def _submission(sink: _FormSink, *, job_id: str, job_dir: Path, settings: Settings) -> JobCreate:
    template = sink.first("template")
    style_dna = sink.first("style_dna")
    footage = sink.all("footage")
    if footage:
        if template is not None and style_dna is not None:
            raise UnprocessableError(
                "send either a template or a style_dna with the footage, not both",
                code="template_and_style_dna",
            )
        if template is None and style_dna is None:
            raise UnprocessableError(
                "the form needs a template file (or, with footage, a style_dna file)",
                code="missing_template",
            )
        mode = "extract_apply"
    else:
        if style_dna is not None:
            raise UnprocessableError(
                "a style_dna replaces the template only when footage is sent; send footage, "
                "or send a template to extract its Style DNA",
                code="style_dna_needs_footage",
            )
        if template is None:
            raise UnprocessableError("the form needs a template file", code="missing_template")
        mode = "extract"

    options = sink.options if sink.options is not None else JobOptions.parse(None)
    if style_dna is not None:
        _check_json_object(style_dna)

    inputs = {
        "template": template.entry(job_dir) if template else None,
        "footage": [item.entry(job_dir) for item in footage],
        "style_dna": style_dna.entry(job_dir) if style_dna else None,
    }
    return JobCreate(id=job_id, mode=mode, options=options, inputs=inputs)


def _check_json_object(stored: StoredFile) -> None:
    """The Style DNA is checked against its schema here, so a bad one is a 422 at once."""
    from pipelines import style_dna as schema

    try:
        document = json.loads(stored.path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidStyleDnaError("style_dna is not UTF-8 JSON text") from exc
    except json.JSONDecodeError as exc:
        raise InvalidStyleDnaError(f"style_dna is not valid JSON: {exc}") from exc
    schema.validate(document)


def check_options(options: JobOptions, settings: Settings) -> None:
    if options.webhook_url is not None and not settings.webhook_secret:
        raise UnprocessableError(
            "this server has no CLIPZY_WEBHOOK_SECRET, so it cannot sign webhooks; submit "
            "without webhook_url and poll the job instead",
            code="webhooks_disabled",
        )


class _FormSink:
    """python-multipart callbacks that route each part to a file on disk or a small buffer."""

    def __init__(self, upload_dir: Path, *, file_limit: int, settings: Settings) -> None:
        self.upload_dir = upload_dir
        self.file_limit = file_limit
        self.settings = settings
        self.files: list[StoredFile] = []
        self.options: JobOptions | None = None
        self.ended = False
        self._seen: dict[str, int] = {}
        self._part: _FilePart | _TextPart | None = None
        self._headers: dict[str, str] = {}
        self._name = bytearray()
        self._value = bytearray()

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self._on_part_begin,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
            "on_end": self._on_end,
        }

    def first(self, name: str) -> StoredFile | None:
        return next((f for f in self.files if f.field == name), None)

    def all(self, name: str) -> list[StoredFile]:
        return [f for f in self.files if f.field == name]

    def close(self) -> None:
        if isinstance(self._part, _FilePart):
            self._part.close()
        self._part = None

    def _on_part_begin(self) -> None:
        self._headers = {}
        self._part = None

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _on_header_end(self) -> None:
        name = bytes(self._name).decode("latin-1").strip().lower()
        self._headers[name] = bytes(self._value).decode("latin-1").strip()
        self._name.clear()
        self._value.clear()

    def _on_headers_finished(self) -> None:
        disposition, params = parse_options_header(self._headers.get("content-disposition"))
        if disposition != b"form-data" or not params.get(b"name"):
            raise BadRequestError(
                "every part needs 'Content-Disposition: form-data; name=...'",
                code="invalid_multipart",
            )
        name = params[b"name"].decode("utf-8", errors="replace")
        raw_filename = params.get(b"filename")
        filename = raw_filename.decode("utf-8", errors="replace") if raw_filename else None
        if name not in FIELDS:
            raise UnprocessableError(
                f"unknown form field {name!r}; expected {', '.join(FIELDS)}", code="unknown_field"
            )
        count = self._seen.get(name, 0) + 1
        self._seen[name] = count
        if name != "footage" and count > 1:
            raise UnprocessableError(f"the field {name!r} was sent twice", code="duplicate_field")
        if name == "footage" and count > MAX_FOOTAGE_FILES:
            raise UnprocessableError(
                f"at most {MAX_FOOTAGE_FILES} footage files are accepted per job",
                code="too_many_files",
            )

        if name == "options":
            self._part = _TextPart(name, MAX_TEXT_FIELD_BYTES)
        elif name == "style_dna":
            limit = min(self.file_limit, MAX_STYLE_DNA_BYTES)
            self._part = _FilePart(name, filename, self.upload_dir / "style_dna", limit, None)
        else:
            stem = "template" if name == "template" else f"footage_{count - 1:02d}"
            self._part = _FilePart(
                name, filename, self.upload_dir / stem, self.file_limit, check_container
            )

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._part is not None:
            self._part.write(data[start:end])

    def _on_part_end(self) -> None:
        part, self._part = self._part, None
        if isinstance(part, _TextPart):
            self.options = JobOptions.parse(part.text())
            check_options(self.options, self.settings)
        elif isinstance(part, _FilePart):
            stored = part.finish()
            self.files.append(stored)
            logger.info(
                "upload_stored",
                field=stored.field,
                size_bytes=stored.size_bytes,
                container=stored.container,
            )

    def _on_end(self) -> None:
        self.ended = True


@dataclass
class _FilePart:
    """One file part: counted, sniffed on its first bytes, then written as it arrives."""

    field_name: str
    filename: str | None
    stem: Path
    limit: int
    sniff: Callable[[bytes, str], str] | None  # the container, or raises
    size: int = 0
    container: str | None = None
    path: Path | None = None
    _head: bytearray = field(default_factory=bytearray)
    _handle: IO[bytes] | None = None

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise FileTooLargeError(
                f"{self._label()} is larger than the limit of {_megabytes(self.limit)}"
            )
        if self._handle is not None:
            self._handle.write(data)
            return
        self._head += data
        if len(self._head) >= SNIFF_BYTES:
            self._open()

    def finish(self) -> StoredFile:
        if self.size == 0:
            raise EmptyFileError(f"{self._label()} is empty (0 bytes)")
        if self._handle is None:
            self._open()
        self.close()
        assert self.path is not None
        return StoredFile(self.field_name, self.filename, self.path, self.size, self.container)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _open(self) -> None:
        head = bytes(self._head)
        if self.sniff is None:
            suffix = "json"
        else:
            self.container = self.sniff(head[:SNIFF_BYTES], self._label())
            suffix = self.container
        self.path = self.stem.with_name(f"{self.stem.name}.{suffix}")
        self._handle = self.path.open("wb")
        self._handle.write(head)
        self._head.clear()

    def _label(self) -> str:
        label = f"{self.field_name} file"
        return f"{label} {self.filename!r}" if self.filename else label


@dataclass
class _TextPart:
    field_name: str
    limit: int
    _data: bytearray = field(default_factory=bytearray)

    def write(self, data: bytes) -> None:
        if len(self._data) + len(data) > self.limit:
            raise RequestTooLargeError(
                f"the {self.field_name} field is longer than {self.limit} bytes",
                code="field_too_large",
            )
        self._data += data

    def text(self) -> str:
        try:
            return self._data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UnprocessableError(
                f"the {self.field_name} field is not UTF-8 text", code="invalid_options"
            ) from exc


def _megabytes(limit: int) -> str:
    return f"{limit / (1024 * 1024):g} MB"
