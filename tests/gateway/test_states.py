"""The SPEC's state machine: every legal move allowed, every other one refused, in one place."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.db import Database, Job
from gateway.errors import IllegalTransitionError
from gateway.states import LEGAL_MOVES, TERMINAL, JobStatus, check_move, move
from gateway.store import JobStore

LEGAL = {
    ("queued", "processing"),
    ("queued", "cancelled"),
    ("queued", "failed"),
    ("processing", "completed"),
    ("processing", "failed"),
    ("processing", "cancelled"),
}
ALL_PAIRS = list(itertools.product([s.value for s in JobStatus], repeat=2))


def test_table_is_the_specs() -> None:
    table = {(a.value, b.value) for a, targets in LEGAL_MOVES.items() for b in targets}
    assert table == LEGAL
    assert {s.value for s in TERMINAL} == {"completed", "failed", "cancelled"}


@pytest.mark.parametrize(("current", "target"), sorted(LEGAL))
def test_legal_moves_pass(current: str, target: str) -> None:
    assert check_move(current, target) == (JobStatus(current), JobStatus(target))


@pytest.mark.parametrize(("current", "target"), sorted(set(ALL_PAIRS) - LEGAL))
def test_illegal_moves_are_refused(current: str, target: str) -> None:
    with pytest.raises(IllegalTransitionError) as caught:
        check_move(current, target)
    assert caught.value.code == "illegal_transition"
    assert caught.value.http_status == 409
    assert f"from {current} to {target}" in caught.value.message


def test_unknown_status_is_refused() -> None:
    with pytest.raises(IllegalTransitionError, match="unknown job status"):
        check_move("queued", "paused")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    database = Database(f"sqlite:///{tmp_path / 'jobs.db'}")
    database.create_tables()
    yield JobStore(database, tmp_path)
    database.dispose()


def _status(store: JobStore, job_id: str) -> str:
    with store.database.session() as session:
        return session.scalar(select(Job.status).where(Job.id == job_id))


def _new(store: JobStore) -> str:
    job_id = store.new_id()
    store.create(job_id, mode="extract", options={}, inputs={})
    return job_id


@pytest.mark.parametrize(("current", "target"), sorted(set(ALL_PAIRS) - LEGAL))
def test_illegal_move_leaves_the_row_alone(store: JobStore, current: str, target: str) -> None:
    job_id = _new(store)
    # Bring the row to ``current`` through legal moves only.
    path = {
        "queued": [],
        "processing": ["processing"],
        "completed": ["processing", "completed"],
        "failed": ["processing", "failed"],
        "cancelled": ["cancelled"],
    }[current]
    status = "queued"
    for step in path:
        with store.database.session() as session:
            assert move(session, job_id, status, step)
        status = step
    with pytest.raises(IllegalTransitionError), store.database.session() as session:
        move(session, job_id, current, target)
    assert _status(store, job_id) == current


def test_move_is_conditional_on_the_current_status(store: JobStore) -> None:
    job_id = _new(store)
    with store.database.session() as session:
        assert move(session, job_id, "queued", "cancelled")
    # The caller believed the job was still queued: the move does not happen.
    with store.database.session() as session:
        assert not move(session, job_id, "queued", "processing")
    assert _status(store, job_id) == "cancelled"


def test_move_stamps_times_and_progress(store: JobStore) -> None:
    job_id = _new(store)
    with store.database.session() as session:
        move(session, job_id, "queued", "processing")
    started = store.get(job_id)
    assert started.started_at is not None and started.finished_at is None
    assert started.started_at.tzinfo is not None
    store.record_progress(job_id, "analyze", 250.0)
    assert store.get(job_id).progress_percent == 99.0  # 100 is kept for completed
    assert store.finish(job_id, JobStatus.COMPLETED)
    done = store.get(job_id)
    assert done.progress_percent == 100.0
    assert done.finished_at is not None and done.finished_at >= done.started_at


def test_move_refuses_unknown_fields(store: JobStore) -> None:
    job_id = _new(store)
    with pytest.raises(ValueError, match="cannot set"), store.database.session() as session:
        move(session, job_id, "queued", "processing", progress_percent=100.0)


def test_racing_claims_have_one_winner(store: JobStore) -> None:
    job_id = _new(store)
    wins: list[bool] = []
    barrier = threading.Barrier(4)

    def claim() -> None:
        barrier.wait()
        with store.database.session() as session:
            wins.append(move(session, job_id, "queued", "processing"))

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False, False, False, True]
