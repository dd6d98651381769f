"""Job queries shared by the API and the worker, against a real SQLite database."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.db import Database
from gateway.errors import ConflictError, NotFoundError
from gateway.states import JobStatus
from gateway.store import JobStore


@pytest.fixture
def store(tmp_path: Path):
    database = Database(f"sqlite:///{tmp_path / 'jobs.db'}")
    database.create_tables()
    yield JobStore(database, tmp_path)
    database.dispose()


def _new(store: JobStore) -> str:
    job_id = store.new_id()
    store.create(job_id, mode="extract", options={}, inputs={})
    return job_id


def test_list_is_newest_first_and_paginated(store: JobStore) -> None:
    ids = [_new(store) for _ in range(7)]
    page, total = store.list(limit=3, offset=0)
    assert total == 7
    assert [j.id for j in page] == ids[::-1][:3]
    page, _ = store.list(limit=3, offset=6)
    assert [j.id for j in page] == [ids[0]]


def test_list_filters_by_status(store: JobStore) -> None:
    first, second = _new(store), _new(store)
    store.cancel(first)
    page, total = store.list(limit=10, offset=0, status=JobStatus.CANCELLED)
    assert (total, [j.id for j in page]) == (1, [first])
    page, total = store.list(limit=10, offset=0, status=JobStatus.QUEUED)
    assert (total, [j.id for j in page]) == (1, [second])


def test_claim_takes_the_oldest_queued_job(store: JobStore) -> None:
    first, second = _new(store), _new(store)
    claimed = store.claim_next("w1")
    assert claimed is not None and claimed.id == first
    assert claimed.status == "processing" and claimed.worker_id == "w1"
    assert store.claim_next("w1").id == second
    assert store.claim_next("w1") is None


def test_cancel_of_a_queued_job_is_immediate(store: JobStore) -> None:
    job_id = _new(store)
    job = store.cancel(job_id)
    assert job.status == "cancelled" and job.finished_at is not None
    assert store.claim_next("w1") is None


def test_cancel_of_a_processing_job_sets_the_flag(store: JobStore) -> None:
    job_id = _new(store)
    store.claim_next("w1")
    assert not store.cancel_requested(job_id)
    job = store.cancel(job_id)
    assert job.status == "processing" and job.cancel_requested
    assert store.cancel_requested(job_id)


@pytest.mark.parametrize("end", [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED])
def test_cancel_of_a_finished_job_is_a_conflict(store: JobStore, end: JobStatus) -> None:
    job_id = _new(store)
    store.claim_next("w1")
    store.finish(job_id, end)
    with pytest.raises(ConflictError) as caught:
        store.cancel(job_id)
    assert caught.value.code == "job_finished"
    assert store.get(job_id).status == end.value


def test_progress_never_falls(store: JobStore) -> None:
    job_id = _new(store)
    store.claim_next("w1")
    seen = []
    for stage, percent in [
        ("ingest", 2),
        ("decode", 10),
        ("decode", 5),
        ("analyze", 40),
        ("analyze", 39.5),
    ]:
        store.record_progress(job_id, stage, percent)
        seen.append(store.get(job_id).progress_percent)
    assert seen == [2, 10, 10, 40, 40]
    assert store.get(job_id).stage == "analyze"


def test_progress_of_a_finished_job_is_frozen(store: JobStore) -> None:
    job_id = _new(store)
    store.claim_next("w1")
    store.record_progress(job_id, "analyze", 30)
    store.finish(job_id, JobStatus.FAILED, error_code="x", error_message="y")
    store.record_progress(job_id, "encode", 90)
    job = store.get(job_id)
    assert (job.progress_percent, job.stage) == (30, "analyze")


def test_delete_refuses_unfinished_jobs_and_removes_finished_ones(store: JobStore) -> None:
    job_id = _new(store)
    folder = store.job_dir(job_id)
    (folder / "uploads").mkdir(parents=True)
    (folder / "uploads" / "template.mp4").write_bytes(b"x")
    with pytest.raises(ConflictError) as caught:
        store.delete(job_id)
    assert caught.value.code == "job_not_finished"
    store.cancel(job_id)
    store.delete(job_id)
    assert not folder.exists()
    with pytest.raises(NotFoundError):
        store.get(job_id)


def test_recover_interrupted_fails_processing_jobs_only(store: JobStore) -> None:
    running, waiting = _new(store), _new(store)
    assert store.claim_next("previous-run").id == running
    recovered = store.recover_interrupted()
    assert [j.id for j in recovered] == [running]
    job = store.get(running)
    assert (job.status, job.error_code) == ("failed", "interrupted")
    assert job.finished_at is not None
    assert store.get(waiting).status == "queued"
