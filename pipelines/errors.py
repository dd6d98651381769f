"""Errors of the pipelines, one tree, each with a stable machine-readable ``code``.

::

    ClipzyError                      code, message, http_status
    ├── InputError                   the client's fault: 4xx at upload, or a failed job
    │   ├── EmptyFileError           empty_file
    │   ├── UnsupportedContainerError unsupported_container (415)
    │   ├── FileTooLargeError        file_too_large (413)
    │   ├── NoVideoStreamError       no_video_stream
    │   ├── CorruptMediaError        corrupt_media
    │   ├── MediaTimeoutError        media_timeout (reading the file passed its time bound)
    │   ├── DurationLimitError       duration_too_long
    │   ├── ResolutionLimitError     resolution_too_large
    │   ├── InvalidOptionsError      invalid_options
    │   └── InvalidStyleDnaError     invalid_style_dna, style_dna_version_unsupported
    ├── PipelineError                the server's fault while running a stage
    │   ├── DecodeError              decode_failed
    │   ├── InferenceError           inference_failed
    │   └── EncodeError              encode_failed
    └── JobCancelled                 cancelled (not a failure: the job ends ``cancelled``)

The gateway maps each class to one HTTP status and each ``code`` to the error body
``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations


class ClipzyError(Exception):
    """Base of every error the engine raises on purpose."""

    code = "internal_error"
    http_status = 500

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class InputError(ClipzyError):
    """The input cannot be processed; the client must change it."""

    code = "invalid_input"
    http_status = 422


class EmptyFileError(InputError):
    code = "empty_file"


class UnsupportedContainerError(InputError):
    code = "unsupported_container"
    http_status = 415


class FileTooLargeError(InputError):
    code = "file_too_large"
    http_status = 413


class NoVideoStreamError(InputError):
    code = "no_video_stream"


class CorruptMediaError(InputError):
    code = "corrupt_media"


class MediaTimeoutError(InputError):
    """Probing or decoding the file did not end within its bound: a damaged file that sends
    the demuxer or decoder into a loop, not a slow server."""

    code = "media_timeout"


class DurationLimitError(InputError):
    code = "duration_too_long"


class ResolutionLimitError(InputError):
    """A picture larger than any camera's: decoding it would take memory without bound."""

    code = "resolution_too_large"


class InvalidOptionsError(InputError):
    code = "invalid_options"


class InvalidStyleDnaError(InputError):
    code = "invalid_style_dna"


class PipelineError(ClipzyError):
    """A stage failed for a reason that is not the client's input."""

    code = "pipeline_failed"
    http_status = 500


class DecodeError(PipelineError):
    code = "decode_failed"


class InferenceError(PipelineError):
    code = "inference_failed"
    http_status = 503


class EncodeError(PipelineError):
    code = "encode_failed"


class JobCancelled(ClipzyError):
    """Raised at a checkpoint when the job's cancellation was requested."""

    code = "cancelled"
    http_status = 409
