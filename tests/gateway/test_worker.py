"""The worker against a real database and the real pipeline: progress, cancel, failures."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.db import Database, Job
from gateway.logging_config import configure_logging
from gateway.store import JobStore
from gateway.webhooks import WebhookSender
from gateway.worker import Worker, _CancelCheck, _checked_output, _ProgressWriter
from pipelines.errors import EncodeError

from .helpers import make_settings, queue_job


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[Worker]:
    settings = make_settings(tmp_path / "data")
    configure_logging(settings)
    database = Database(settings.resolved_database_url)
    database.create_tables()
    webhooks = WebhookSender(settings)
    yield Worker(settings, JobStore(database, settings.data_dir), webhooks, worker_id="test")
    webhooks.close()
    database.dispose()


def claim(store: JobStore) -> Job:
    job = store.claim_next("test")
    assert job is not None
    return job


def test_progress_is_stored_monotonic_and_throttled(worker: Worker, template_clip: Path) -> None:
    store = worker.store
    job_id = queue_job(store, template_clip)
    claim(store)
    progress = _ProgressWriter(store, job_id)
    stored = []
    for stage, percent in [("ingest", 0), ("ingest", 0.2), ("decode", 3), ("decode", 2),
                           ("analyze", 50), ("analyze", 100)]:  # fmt: skip
        progress(stage, percent)
        job = store.get(job_id)
        stored.append((job.stage, job.progress_percent))
    assert stored == [
        ("ingest", 0),
        ("ingest", 0),  # +0.2 within half a second: not worth a write
        ("decode", 3),
        ("decode", 3),  # lower: ignored
        ("analyze", 50),
        ("analyze", 99),  # 100 is kept for completed
    ]


def test_cancel_check_reads_the_flag_and_the_stop_event(worker: Worker, template_clip: Path):
    store = worker.store
    job_id = queue_job(store, template_clip)
    claim(store)
    stopping = threading.Event()
    check = _CancelCheck(store, job_id, stopping)
    assert check() is False
    store.cancel(job_id)
    check._checked_at = 0.0  # skip the poll interval
    assert check() is True and check.by_client
    other = _CancelCheck(store, job_id, threading.Event())
    other.stopping.set()
    assert other() is True and not other.by_client


def test_empty_or_missing_output_is_never_a_success(tmp_path: Path) -> None:
    with pytest.raises(EncodeError, match="no output"):
        _checked_output(None)
    with pytest.raises(EncodeError, match="no output"):
        _checked_output(tmp_path / "absent.mp4")
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(EncodeError, match="empty"):
        _checked_output(empty)
    empty.write_bytes(b"x")
    assert _checked_output(empty) == empty


@pytest.mark.allow_error_logs
def test_unexpected_exception_fails_the_job_as_internal_error(
    worker: Worker, template_clip: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = worker.store
    job_id = queue_job(store, template_clip)
    # The upload vanished from disk: the pipeline meets an error it has no class for.
    (store.job_dir(job_id) / "uploads" / "template.mp4").unlink()
    worker.process(claim(store))
    job = store.get(job_id)
    assert (job.status, job.error_code) == ("failed", "internal_error")
    assert job.finished_at is not None
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and errors[-1].exc_info is not None  # logged with its traceback


def test_worker_loop_outlives_failing_jobs(worker: Worker, truncated_clip: Path) -> None:
    store = worker.store
    ids = [queue_job(store, truncated_clip) for _ in range(2)]
    thread = threading.Thread(target=worker.run_forever)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all(store.get(i).status == "failed" for i in ids):
                break
            time.sleep(0.05)
    finally:
        worker.stop.set()
        thread.join(30)
    assert not thread.is_alive()
    assert [store.get(i).error_code for i in ids] == ["corrupt_media", "corrupt_media"]
