"""Configure stdlib logging and structlog once, for the whole service.

Lines are key-value on a terminal and JSON with ``CLIPZY_LOG_JSON=1``. Context bound with
``structlog.contextvars`` (the worker binds ``job_id``) is merged into every line, including
the lines of the stdlib loggers under ``pipelines/``, because the merge happens in the one
root handler's formatter, on the thread that logged.
"""

from __future__ import annotations

import logging
import sys
import threading

import structlog

from pipelines.settings import Settings

HANDLER_NAME = "clipzy"
_lock = threading.Lock()

_SHARED_PROCESSORS: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def build_formatter(*, json: bool, colors: bool = False) -> logging.Formatter:
    """The formatter of the service's handler: key-value text, or one JSON object a line."""
    processors: list[structlog.types.Processor] = [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta
    ]
    if json:
        # JSON needs the traceback as a string; the console renderer prints it itself.
        processors += [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        processors.append(
            structlog.dev.ConsoleRenderer(
                colors=colors, exception_formatter=structlog.dev.plain_traceback
            )
        )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_SHARED_PROCESSORS, structlog.stdlib.ExtraAdder(), _drop_color_message],
        processors=processors,
    )


def _drop_color_message(
    _logger: object, _name: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    # uvicorn attaches an ANSI-coloured copy of its message as an extra.
    event.pop("color_message", None)
    # Set on the record by any handler that formatted it before ours; the event says it.
    event.pop("message", None)
    return event


def configure_logging(settings: Settings) -> None:
    """Route structlog through stdlib logging and install one root handler; idempotent.

    Other handlers already on the root logger (pytest's capture, a host application's) are
    left in place.
    """
    with _lock:
        structlog.configure(
            processors=[
                *_SHARED_PROCESSORS,
                structlog.processors.StackInfoRenderer(),
                structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
            ],
            logger_factory=structlog.stdlib.LoggerFactory(),
            wrapper_class=structlog.stdlib.BoundLogger,
            # Off: a logger used before this call must not keep the default configuration.
            cache_logger_on_first_use=False,
        )
        root = logging.getLogger()
        handler = next((h for h in root.handlers if h.get_name() == HANDLER_NAME), None)
        if handler is None:
            handler = logging.StreamHandler(sys.stderr)
            handler.set_name(HANDLER_NAME)
            root.addHandler(handler)
        handler.setFormatter(build_formatter(json=settings.log_json, colors=sys.stderr.isatty()))
        root.setLevel(settings.log_level.upper())
