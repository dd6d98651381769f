"""Structured logs: key-value or JSON, with the job id on every line of a job's work."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from gateway.db import Database
from gateway.logging_config import HANDLER_NAME, build_formatter, configure_logging
from gateway.store import JobStore
from gateway.webhooks import WebhookSender
from gateway.worker import Worker

from .helpers import make_settings, queue_job


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Everything logged through the root logger, rendered by the service's JSON formatter."""
    configure_logging(make_settings(Path("/tmp")))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(build_formatter(json=True))
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_stdlib_and_structlog_lines_carry_bound_context(json_lines: io.StringIO) -> None:
    with structlog.contextvars.bound_contextvars(job_id="j-123"):
        logging.getLogger("pipelines.example").info("probed %s in %.1f s", "a.mp4", 0.5)
        structlog.stdlib.get_logger("gateway.example").warning("job_stage", stage="decode")
    logging.getLogger("pipelines.example").info("outside any job")
    first, second, third = lines(json_lines)
    assert first["event"] == "probed a.mp4 in 0.5 s"
    assert (first["job_id"], first["logger"], first["level"]) == ("j-123", "pipelines.example",
                                                                  "info")  # fmt: skip
    assert (second["event"], second["stage"], second["job_id"]) == ("job_stage", "decode", "j-123")
    assert second["level"] == "warning" and second["timestamp"].endswith("Z")
    assert "job_id" not in third


def test_key_value_lines_on_a_terminal() -> None:
    record = logging.LogRecord("pipelines.x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    with structlog.contextvars.bound_contextvars(job_id="j-9"):
        text = build_formatter(json=False).format(record)
    assert "hello you" in text and "job_id=j-9" in text and "[pipelines.x]" in text


def test_configure_logging_installs_one_handler_and_keeps_others() -> None:
    root = logging.getLogger()
    other = logging.NullHandler()
    root.addHandler(other)
    try:
        settings = make_settings(Path("/tmp"))
        configure_logging(settings)
        configure_logging(settings)
        ours = [h for h in root.handlers if h.get_name() == HANDLER_NAME]
        assert len(ours) == 1
        assert other in root.handlers
    finally:
        root.removeHandler(other)


@pytest.mark.slow
def test_every_line_of_a_job_carries_its_id(
    json_lines: io.StringIO, template_clip: Path, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "data")
    database = Database(settings.resolved_database_url)
    database.create_tables()
    store = JobStore(database, settings.data_dir)
    webhooks = WebhookSender(settings)
    job_id = queue_job(store, template_clip)
    job = store.claim_next("test")
    json_lines.seek(0)
    json_lines.truncate()
    try:
        Worker(settings, store, webhooks).process(job)
    finally:
        webhooks.close()
    assert store.get(job_id).status == "completed"
    database.dispose()

    logged = lines(json_lines)
    loggers = {line["logger"] for line in logged}
    assert {"gateway.worker", "pipelines.ingest", "pipelines.runner"} <= loggers, loggers
    missing = [line for line in logged if line.get("job_id") != job_id]
    assert not missing, missing
