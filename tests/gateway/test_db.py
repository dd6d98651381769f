"""The job store's database: SQLite in WAL mode with a busy timeout, UTC times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from gateway.db import SQLITE_BUSY_TIMEOUT_MS, Database
from gateway.store import JobStore


@pytest.fixture
def database(tmp_path: Path):
    db = Database(f"sqlite:///{tmp_path / 'nested' / 'jobs.db'}")
    db.create_tables()
    yield db
    db.dispose()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(database: Database) -> None:
    with database.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == SQLITE_BUSY_TIMEOUT_MS


def test_create_tables_makes_the_folder(database: Database, tmp_path: Path) -> None:
    assert (tmp_path / "nested" / "jobs.db").is_file()


def test_times_come_back_as_utc(database: Database, tmp_path: Path) -> None:
    store = JobStore(database, tmp_path)
    store.create("a" * 32, mode="extract", options={}, inputs={})
    job = store.get("a" * 32)
    assert job.created_at.tzinfo is UTC
    assert abs(job.created_at - datetime.now(UTC)) < timedelta(minutes=1)


def test_naive_times_are_refused(database: Database) -> None:
    from gateway.db import UTCDateTime

    column = UTCDateTime()
    with pytest.raises(ValueError, match="timezone-aware"):
        column.process_bind_param(datetime(2026, 1, 1), database.engine.dialect)
    local = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    assert column.process_bind_param(local, database.engine.dialect) == datetime(2026, 1, 1, 10)
