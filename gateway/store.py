"""Reading and changing jobs: the queries the API and the workers share.

Each write is one short transaction of one statement, so the API and a worker (a thread here,
another process later) never hold a lock across slow work. Status changes go through
:func:`gateway.states.move`.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import case, delete, func, select, update

from gateway.db import Database, Job, utcnow
from gateway.errors import ConflictError, NotFoundError
from gateway.states import TERMINAL, JobStatus, move

logger = structlog.stdlib.get_logger(__name__)

# Progress stays below this until the job completes: 100 means "completed" and nothing else.
MAX_RUNNING_PERCENT = 99.0
INTERRUPTED_MESSAGE = "the service stopped while this job was processing; submit it again"


class JobStore:
    def __init__(self, database: Database, data_dir: Path) -> None:
        self.database = database
        self.data_dir = Path(data_dir)

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    def job_dir(self, job_id: str) -> Path:
        return self.data_dir / "jobs" / job_id

    # Reads.

    def find(self, job_id: str) -> Job | None:
        with self.database.session() as session:
            return session.scalar(select(Job).where(Job.id == job_id))

    def get(self, job_id: str) -> Job:
        job = self.find(job_id)
        if job is None:
            raise NotFoundError(f"no job with id {job_id!r}", code="job_not_found")
        return job

    def list(
        self, *, limit: int, offset: int, status: JobStatus | None = None
    ) -> tuple[list[Job], int]:
        """One page of jobs, newest first, and how many match in all."""
        query = select(Job)
        count = select(func.count()).select_from(Job)
        if status is not None:
            query = query.where(Job.status == status.value)
            count = count.where(Job.status == status.value)
        with self.database.session() as session:
            total = session.scalar(count) or 0
            jobs = list(session.scalars(query.order_by(Job.seq.desc()).limit(limit).offset(offset)))
        return jobs, total

    def cancel_requested(self, job_id: str) -> bool:
        with self.database.session() as session:
            return bool(session.scalar(select(Job.cancel_requested).where(Job.id == job_id)))

    # Writes.

    def create(self, job_id: str, *, mode: str, options: dict[str, Any], inputs: dict) -> Job:
        now = utcnow()
        job = Job(
            id=job_id,
            status=JobStatus.QUEUED.value,
            mode=mode,
            stage=None,
            progress_percent=0.0,
            cancel_requested=False,
            options=options,
            inputs=inputs,
            created_at=now,
            updated_at=now,
        )
        with self.database.session() as session:
            session.add(job)
        logger.info("job_queued", job_id=job_id, mode=mode)
        return job

    def claim_next(self, worker_id: str) -> Job | None:
        """Take the oldest queued job for ``worker_id``, or None when the queue is empty.

        The claim is the conditional move queued -> processing: if another worker (or a
        cancel) got there first, the next candidate is tried.
        """
        while True:
            with self.database.session() as session:
                candidate = session.scalar(
                    select(Job.id)
                    .where(Job.status == JobStatus.QUEUED.value)
                    .order_by(Job.seq)
                    .limit(1)
                )
            if candidate is None:
                return None
            with self.database.session() as session:
                won = move(
                    session, candidate, JobStatus.QUEUED, JobStatus.PROCESSING, worker_id=worker_id
                )
            if won:
                return self.get(candidate)

    def finish(self, job_id: str, target: JobStatus, **fields: Any) -> bool:
        """Move a processing job to a terminal status; False if it was no longer processing."""
        with self.database.session() as session:
            return move(session, job_id, JobStatus.PROCESSING, target, **fields)

    def record_progress(self, job_id: str, stage: str, percent: float) -> None:
        """Store the stage and the highest progress seen; a lower percent never lowers it."""
        percent = max(0.0, min(float(percent), MAX_RUNNING_PERCENT))
        now = utcnow()
        with self.database.session() as session:
            session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == JobStatus.PROCESSING.value)
                .values(
                    stage=stage,
                    progress_percent=case(
                        (Job.progress_percent < percent, percent), else_=Job.progress_percent
                    ),
                    heartbeat_at=now,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued job at once, or ask the worker to stop a processing one."""
        # A worker may claim the job between our read and our write; look again then.
        for _ in range(5):
            job = self.get(job_id)
            status = JobStatus(job.status)
            if status.is_terminal:
                raise ConflictError(
                    f"job {job_id} is already {status.value}; only queued or processing jobs "
                    "can be cancelled",
                    code="job_finished",
                )
            with self.database.session() as session:
                if status is JobStatus.QUEUED:
                    done = move(session, job_id, JobStatus.QUEUED, JobStatus.CANCELLED)
                else:
                    done = (
                        session.execute(
                            update(Job)
                            .where(Job.id == job_id, Job.status == JobStatus.PROCESSING.value)
                            .values(cancel_requested=True, updated_at=utcnow())
                            .execution_options(synchronize_session=False)
                        ).rowcount
                        == 1
                    )
            if done:
                logger.info("job_cancel", job_id=job_id, was=status.value)
                return self.get(job_id)
        raise ConflictError(f"job {job_id} kept changing; try again", code="job_busy")

    def delete(self, job_id: str) -> None:
        """Remove a finished job's files and its record."""
        job = self.get(job_id)
        if JobStatus(job.status) not in TERMINAL:
            raise ConflictError(
                f"job {job_id} is {job.status}; cancel it and wait for it to end before "
                "deleting it",
                code="job_not_finished",
            )
        folder = self.job_dir(job_id)
        if folder.exists():
            shutil.rmtree(folder)
        with self.database.session() as session:
            session.execute(
                delete(Job).where(Job.id == job_id, Job.status.in_([s.value for s in TERMINAL]))
            )
        logger.info("job_deleted", job_id=job_id)

    def recover_interrupted(self) -> list[Job]:
        """Fail every job left ``processing`` by a previous run of the in-process worker.

        Only safe while no other worker shares the database; separate worker processes will
        need a lease on ``heartbeat_at`` instead.
        """
        with self.database.session() as session:
            stuck = list(
                session.scalars(select(Job.id).where(Job.status == JobStatus.PROCESSING.value))
            )
        recovered = []
        for job_id in stuck:
            if self.finish(
                job_id,
                JobStatus.FAILED,
                error_code="interrupted",
                error_message=INTERRUPTED_MESSAGE,
            ):
                logger.warning("job_interrupted", job_id=job_id)
                recovered.append(self.get(job_id))
        return recovered
