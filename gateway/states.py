"""The job state machine of the SPEC, enforced here and only here.

::

    queued ──> processing ──> completed
       │            ├──────> failed
       │            └──────> cancelled
       ├──────> cancelled
       └──────> failed

Every status change in the service goes through :func:`move`: it refuses an illegal move with
:class:`IllegalTransitionError`, and applies a legal one as a single conditional ``UPDATE ...
WHERE status = <expected>``, so two actors racing for the same job (the API cancelling, a
worker claiming) cannot both win, in one process or across several sharing a database.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from gateway.db import Job, utcnow
from gateway.errors import IllegalTransitionError


class JobStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})

LEGAL_MOVES: Mapping[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.PROCESSING, JobStatus.CANCELLED, JobStatus.FAILED}),
    JobStatus.PROCESSING: frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}

# Columns a move may set beside the status; the status itself and its timestamps are ours.
_MOVE_FIELDS = frozenset(
    {"stage", "error_code", "error_message", "style_dna_path", "output_path", "worker_id"}
)


def check_move(current: str, target: str) -> tuple[JobStatus, JobStatus]:
    """Both statuses, parsed, if ``current -> target`` is legal; else raise."""
    try:
        source, dest = JobStatus(current), JobStatus(target)
    except ValueError as exc:
        raise IllegalTransitionError(
            f"unknown job status in move {current!r} -> {target!r}; expected one of "
            f"{', '.join(s.value for s in JobStatus)}"
        ) from exc
    if dest not in LEGAL_MOVES[source]:
        allowed = ", ".join(sorted(s.value for s in LEGAL_MOVES[source])) or "none (terminal)"
        raise IllegalTransitionError(
            f"a job cannot move from {source.value} to {dest.value}; allowed from "
            f"{source.value}: {allowed}"
        )
    return source, dest


def move(session: Session, job_id: str, current: str, target: str, **fields: Any) -> bool:
    """Move job ``job_id`` from ``current`` to ``target`` if it still is ``current``.

    Returns whether this call made the move (False: someone else changed the job first, or it
    no longer exists). ``fields`` may set the stage, the error and the result paths. Entering
    ``processing`` stamps ``started_at``; entering a terminal status stamps ``finished_at``;
    ``completed`` sets the progress to 100, the only way it ever reaches 100.
    """
    source, dest = check_move(current, target)
    unknown = set(fields) - _MOVE_FIELDS
    if unknown:
        raise ValueError(f"move() cannot set {sorted(unknown)}; allowed: {sorted(_MOVE_FIELDS)}")

    now = utcnow()
    values: dict[str, Any] = {"status": dest.value, "updated_at": now, **fields}
    if dest is JobStatus.PROCESSING:
        values["started_at"] = now
        values["heartbeat_at"] = now
    if dest.is_terminal:
        values["finished_at"] = now
    if dest is JobStatus.COMPLETED:
        values["progress_percent"] = 100.0
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == source.value)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1
