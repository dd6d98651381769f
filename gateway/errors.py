"""Errors of the HTTP layer, one base under the engine's ``ClipzyError`` tree.

::

    ClipzyError (pipelines.errors)
    └── GatewayError                  code, message, http_status
        ├── BadRequestError           invalid_multipart, ... (400)
        ├── NotFoundError             job_not_found, no_output, ... (404)
        ├── ConflictError             job_finished, job_not_finished, ... (409)
        │   └── IllegalTransitionError illegal_transition (409)
        ├── RequestTooLargeError      request_too_large (413)
        ├── UnsupportedMediaTypeError expected_multipart (415)
        ├── UnprocessableError        missing_template, unknown_field, ... (422)
        ├── ResultMissingError        result_missing (500)
        └── NotReadyError             not_ready (503)

Every class carries one HTTP status; the ``code`` is stable and may be narrowed per raise
(``ConflictError("...", code="job_not_finished")``). The app maps each one, and every
pipeline error, to the body ``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

from pipelines.errors import ClipzyError


class GatewayError(ClipzyError):
    """A request the service refuses, or cannot serve, for a reason it can name."""

    code = "bad_request"
    http_status = 400


class BadRequestError(GatewayError):
    code = "bad_request"
    http_status = 400


class NotFoundError(GatewayError):
    code = "not_found"
    http_status = 404


class ConflictError(GatewayError):
    code = "conflict"
    http_status = 409


class IllegalTransitionError(ConflictError):
    """A status change the SPEC's state machine does not allow."""

    code = "illegal_transition"


class RequestTooLargeError(GatewayError):
    code = "request_too_large"
    http_status = 413


class UnsupportedMediaTypeError(GatewayError):
    code = "expected_multipart"
    http_status = 415


class UnprocessableError(GatewayError):
    code = "invalid_request"
    http_status = 422


class ResultMissingError(GatewayError):
    """A completed job's result file is gone from disk: the server lost it, not the client."""

    code = "result_missing"
    http_status = 500


class NotReadyError(GatewayError):
    code = "not_ready"
    http_status = 503
