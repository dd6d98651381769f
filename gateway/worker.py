"""The job worker: claims queued jobs from the store and runs them through the pipeline.

By default one :class:`WorkerThread` runs inside the API process. Everything a worker needs
goes through the database and the data dir (the claim, progress, the cancel flag, result
paths), so the same :class:`Worker` can run in separate processes sharing them.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from pathlib import Path

import structlog

from gateway.db import Job
from gateway.states import JobStatus
from gateway.store import INTERRUPTED_MESSAGE, JobStore
from gateway.webhooks import WebhookSender
from pipelines import runner
from pipelines.errors import ClipzyError, EncodeError, InputError, JobCancelled
from pipelines.inference import get_backend
from pipelines.options import JobOptions
from pipelines.settings import Settings

logger = structlog.stdlib.get_logger(__name__)

# Progress is written when the stage changes, when it rose this much, or this long after the
# last write; the pipeline may report per frame, which would be a write per frame.
PROGRESS_STEP_PERCENT = 1.0
PROGRESS_INTERVAL_S = 0.5
# How stale the cancel flag may be: the pipeline may ask per frame.
CANCEL_POLL_S = 0.2
CLAIM_ERROR_BACKOFF_S = 2.0


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    """Runs jobs one at a time until ``stop`` is set."""

    def __init__(
        self,
        settings: Settings,
        store: JobStore,
        webhooks: WebhookSender,
        *,
        worker_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.webhooks = webhooks
        self.worker_id = worker_id or new_worker_id()
        self.stop = threading.Event()

    def run_forever(self) -> None:
        logger.info("worker_started", worker_id=self.worker_id)
        while not self.stop.is_set():
            try:
                job = self.store.claim_next(self.worker_id)
            except Exception:
                # A database hiccup must not end the worker; the next claim may succeed.
                logger.exception("worker_claim_failed", worker_id=self.worker_id)
                self.stop.wait(CLAIM_ERROR_BACKOFF_S)
                continue
            if job is None:
                self.stop.wait(self.settings.worker_poll_s)
                continue
            self.process(job)
        logger.info("worker_stopped", worker_id=self.worker_id)

    def process(self, job: Job) -> None:
        """Run one claimed (processing) job to a terminal status, whatever happens."""
        with structlog.contextvars.bound_contextvars(job_id=job.id):
            try:
                self._run(job)
            except Exception:
                # Even the bookkeeping failed (database gone?): never let it end the worker.
                logger.exception("job_bookkeeping_failed")
            self._notify(job.id)

    def _run(self, job: Job) -> None:
        progress = _ProgressWriter(self.store, job.id)
        cancel = _CancelCheck(self.store, job.id, self.stop)
        started = time.monotonic()
        logger.info("job_started", mode=job.mode, worker_id=self.worker_id)
        try:
            request = self._request(job)
            result = runner.run_job(
                request, on_progress=progress, should_cancel=cancel,
                backend=get_backend(self.settings), settings=self.settings,
            )  # fmt: skip
            output = None
            if job.mode == "extract_apply":
                output = _checked_output(result.output_path)
        except JobCancelled:
            if cancel.by_client or self.store.cancel_requested(job.id):
                self._finish(job, JobStatus.CANCELLED, stage=progress.stage)
                logger.info("job_cancelled", seconds=_since(started))
            else:
                self._finish(
                    job,
                    JobStatus.FAILED,
                    stage=progress.stage,
                    error_code="interrupted",
                    error_message=INTERRUPTED_MESSAGE,
                )
                logger.warning("job_interrupted", seconds=_since(started))
            return
        except InputError as exc:
            self._fail(job, progress, exc)
            logger.warning("job_failed", code=exc.code, reason=exc.message)
            return
        except ClipzyError as exc:
            self._fail(job, progress, exc)
            logger.error("job_failed", code=exc.code, reason=exc.message)
            return
        except Exception as exc:
            self._fail(job, progress, exc)
            logger.exception("job_failed", code="internal_error")
            return

        job_dir = self.store.job_dir(job.id)
        self._finish(
            job,
            JobStatus.COMPLETED,
            stage=progress.stage,
            style_dna_path=_relative(result.style_dna_path, job_dir),
            output_path=_relative(output, job_dir) if output else None,
        )
        logger.info("job_completed", seconds=_since(started))

    def _request(self, job: Job) -> runner.JobRequest:
        job_dir = self.store.job_dir(job.id)
        inputs = job.inputs or {}

        def path_of(entry: dict | None) -> Path | None:
            return job_dir / entry["path"] if entry else None

        output_dir = job_dir / "results"
        output_dir.mkdir(parents=True, exist_ok=True)
        return runner.JobRequest(
            mode=job.mode,  # type: ignore[arg-type]
            output_dir=output_dir,
            template=path_of(inputs.get("template")),
            footage=[job_dir / entry["path"] for entry in inputs.get("footage", [])],
            style_dna=path_of(inputs.get("style_dna")),
            options=JobOptions.parse(job.options or {}),
        )

    def _fail(self, job: Job, progress: _ProgressWriter, exc: Exception) -> None:
        if isinstance(exc, ClipzyError):
            code, message = exc.code, self._private_paths_removed(job, exc.message)
        else:
            code, message = "internal_error", "the engine failed unexpectedly; see the logs"
        self._finish(
            job,
            JobStatus.FAILED,
            stage=progress.stage,
            error_code=code,
            error_message=message,
        )

    def _private_paths_removed(self, job: Job, message: str) -> str:
        """``message`` with the job folder's path cut and each stored file called by the name
        the client uploaded it under: clients need not see the server's names."""
        folder = self.store.job_dir(job.id)
        for prefix in {str(folder), str(folder.resolve())}:
            message = message.replace(prefix + os.sep, "")
        inputs = job.inputs or {}
        entries = [inputs.get("template"), inputs.get("style_dna"), *inputs.get("footage", [])]
        for entry in entries:
            if entry and entry.get("filename"):
                stored = str(entry["path"])
                message = message.replace(stored, entry["filename"])
                message = message.replace(os.path.basename(stored), entry["filename"])
        return message

    def _finish(self, job: Job, target: JobStatus, **fields: object) -> None:
        if not self.store.finish(job.id, target, **fields):
            current = self.store.find(job.id)
            logger.warning(
                "job_finish_lost",
                wanted=target.value,
                status=current.status if current else "deleted",
            )

    def _notify(self, job_id: str) -> None:
        job = self.store.find(job_id)
        if job is not None:
            self.webhooks.notify(job)


class WorkerThread:
    """A :class:`Worker` on a daemon thread, stopped cleanly by :meth:`stop`."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self._thread = threading.Thread(
            target=worker.run_forever, name="clipzy-worker", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Ask the worker to stop (a running job is interrupted) and wait; True if it did."""
        self.worker.stop.set()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            logger.warning("worker_stop_timeout", timeout_s=timeout_s)
            return False
        return True


class _ProgressWriter:
    """``on_progress`` for the pipeline: stores the stage and a never-falling percent."""

    def __init__(self, store: JobStore, job_id: str) -> None:
        self.store = store
        self.job_id = job_id
        self.stage: str | None = None
        self._written = -1.0
        self._written_at = 0.0

    def __call__(self, stage: str, percent: float) -> None:
        now = time.monotonic()
        changed = stage != self.stage
        rose = percent - self._written
        if not changed and (
            rose <= 0
            or (rose < PROGRESS_STEP_PERCENT and now - self._written_at < PROGRESS_INTERVAL_S)
        ):
            return
        if changed:
            logger.info("job_stage", stage=stage, percent=round(percent, 1))
        self.stage = stage
        self._written = max(self._written, percent)
        self._written_at = now
        self.store.record_progress(self.job_id, stage, percent)


class _CancelCheck:
    """``should_cancel`` for the pipeline: the client's cancel flag, or the service stopping."""

    def __init__(self, store: JobStore, job_id: str, stopping: threading.Event) -> None:
        self.store = store
        self.job_id = job_id
        self.stopping = stopping
        self.by_client = False
        self._checked_at = 0.0

    def __call__(self) -> bool:
        if self.by_client or self.stopping.is_set():
            return True
        now = time.monotonic()
        if now - self._checked_at >= CANCEL_POLL_S:
            self._checked_at = now
            self.by_client = self.store.cancel_requested(self.job_id)
        return self.by_client


def _checked_output(path: Path | None) -> Path:
    """The rendered video, refused if missing or empty: a zero-byte file is never a success."""
    if path is None or not Path(path).is_file():
        raise EncodeError(f"the pipeline reported no output video (got {path!r})")
    if Path(path).stat().st_size == 0:
        raise EncodeError(f"the output video {Path(path).name} is empty (0 bytes)")
    return Path(path)


def _relative(path: Path | str, job_dir: Path) -> str:
    path = Path(path).resolve()
    try:
        return str(path.relative_to(job_dir.resolve()))
    except ValueError:
        # Outside the job's folder: keep it absolute; deleting the job will not remove it.
        return str(path)


def _since(started: float) -> float:
    return round(time.monotonic() - started, 2)
