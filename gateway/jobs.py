"""The jobs API: submit, read, list, cancel, fetch results, delete."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import structlog
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from gateway.db import Job
from gateway.errors import ConflictError, NotFoundError, ResultMissingError
from gateway.schemas import API_PREFIX, ErrorBody, JobList, JobPublic
from gateway.states import JobStatus
from gateway.store import JobStore
from gateway.uploads import MAX_FOOTAGE_FILES, receive_job
from gateway.webhooks import WebhookSender
from pipelines.settings import Settings

logger = structlog.stdlib.get_logger(__name__)

router = APIRouter(prefix=API_PREFIX, tags=["jobs"])
# The database takes a signed 64-bit offset; past this no page can hold a job anyway.
MAX_OFFSET = 2**31 - 1


def get_store(request: Request) -> JobStore:
    return request.app.state.services.store


def get_settings(request: Request) -> Settings:
    return request.app.state.services.settings


def get_webhooks(request: Request) -> WebhookSender:
    return request.app.state.services.webhooks


StoreDep = Annotated[JobStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
WebhooksDep = Annotated[WebhookSender, Depends(get_webhooks)]


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody} for status in statuses}


_VIDEO = {"type": "string", "format": "binary"}
CREATE_JOB_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "Streamed to disk as it arrives; each file is at most MAX_FILE_SIZE_MB "
        "and must be MP4, MOV, AVI, MKV or WebM by content.",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "template": {
                            **_VIDEO,
                            "description": "the video whose style is wanted; required unless a "
                            "style_dna is sent with footage",
                        },
                        "footage": {
                            "type": "array",
                            "items": _VIDEO,
                            "maxItems": MAX_FOOTAGE_FILES,
                            "description": "clips to render in the template's style; any "
                            "given makes the job extract_apply, none makes it extract",
                        },
                        "style_dna": {
                            "type": "string",
                            "format": "binary",
                            "contentMediaType": "application/json",
                            "description": "a stored Style DNA used in place of the template "
                            "(only with footage)",
                        },
                        "options": {
                            "type": "string",
                            "contentMediaType": "application/json",
                            "description": "a JSON object of job options (schema JobOptions); "
                            "unknown names and out-of-range values are refused",
                            "contentSchema": {"$ref": "#/components/schemas/JobOptions"},
                            "example": '{"webhook_url": "https://example.com/hooks/clipzy", '
                            '"audio": "template"}',
                        },
                    },
                },
                "encoding": {
                    "template": {"contentType": "video/*, application/octet-stream"},
                    "footage": {"contentType": "video/*, application/octet-stream"},
                    "style_dna": {"contentType": "application/json"},
                },
            }
        },
    },
}


def public(job: Job) -> dict[str, Any]:
    return JobPublic.from_record(job).payload()


@router.post(
    "/jobs",
    status_code=202,
    response_model=JobPublic,
    summary="Submit a job",
    openapi_extra=CREATE_JOB_BODY,
    responses=_errors(400, 413, 415, 422),
)
async def create_job(request: Request, store: StoreDep, settings: SettingsDep) -> JSONResponse:
    job_id = store.new_id()
    job_dir = store.job_dir(job_id)
    submission = await receive_job(request, job_id=job_id, job_dir=job_dir, settings=settings)
    try:
        job = await run_in_threadpool(
            store.create,
            job_id,
            mode=submission.mode,
            options=submission.options.model_dump(mode="json"),
            inputs=submission.inputs,
        )
    except BaseException:
        await run_in_threadpool(_remove_dir, job_dir)
        raise
    return JSONResponse(
        public(job), status_code=202, headers={"Location": f"{API_PREFIX}/jobs/{job.id}"}
    )


@router.get("/jobs", response_model=JobList, summary="List jobs, newest first")
def list_jobs(
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=100, description="page size")] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="jobs to skip")] = 0,
    status: Annotated[JobStatus | None, Query(description="only jobs in this status")] = None,
) -> JobList:
    jobs, total = store.list(limit=limit, offset=offset, status=status)
    next_url = None
    if offset + len(jobs) < total:
        query = {"limit": limit, "offset": offset + len(jobs)}
        if status is not None:
            query["status"] = status.value
        next_url = f"{API_PREFIX}/jobs?{urlencode(query)}"
    return JobList(
        items=[JobPublic.from_record(job) for job in jobs],
        total=total,
        limit=limit,
        offset=offset,
        next=next_url,
    )


@router.get(
    "/jobs/{job_id}", response_model=JobPublic, summary="Read a job", responses=_errors(404)
)
def get_job(job_id: str, store: StoreDep) -> JobPublic:
    return JobPublic.from_record(store.get(job_id))


@router.post(
    "/jobs/{job_id}/cancel",
    response_model=JobPublic,
    summary="Cancel a job",
    description="A queued job is cancelled at once (200). For a processing job the request is "
    "recorded (202, `cancel_requested: true`) and the job ends `cancelled` at the pipeline's "
    "next checkpoint, unless it completes first. A finished job answers 409 `job_finished`.",
    responses={202: {"model": JobPublic}, **_errors(404, 409)},
)
def cancel_job(job_id: str, store: StoreDep, webhooks: WebhooksDep) -> JSONResponse:
    job = store.cancel(job_id)
    done = JobStatus(job.status).is_terminal
    if done:
        # A queued job ends here, not on a worker: its webhook goes from here too.
        webhooks.notify(job)
    return JSONResponse(public(job), status_code=200 if done else 202)


@router.get(
    "/jobs/{job_id}/style-dna",
    summary="Download the Style DNA",
    response_class=FileResponse,
    responses={200: {"content": {"application/json": {}}}, **_errors(404, 409)},
)
def get_style_dna(job_id: str, store: StoreDep) -> FileResponse:
    job = store.get(job_id)
    path = _result(store, job, job.style_dna_path, "Style DNA")
    return FileResponse(path, media_type="application/json", filename=f"{job.id}.style.json")


@router.get(
    "/jobs/{job_id}/output",
    summary="Download the rendered MP4",
    response_class=FileResponse,
    responses={200: {"content": {"video/mp4": {}}}, **_errors(404, 409)},
)
def get_output(job_id: str, store: StoreDep) -> FileResponse:
    job = store.get(job_id)
    if job.mode != "extract_apply":
        raise NotFoundError(
            f"job {job.id} is an extract job: it renders no video, only the Style DNA at "
            f"{API_PREFIX}/jobs/{job.id}/style-dna",
            code="no_output",
        )
    path = _result(store, job, job.output_path, "rendered video")
    return FileResponse(path, media_type="video/mp4", filename=f"{job.id}.mp4")


@router.delete(
    "/jobs/{job_id}",
    status_code=204,
    summary="Delete a finished job and its files",
    responses=_errors(404, 409),
)
def delete_job(job_id: str, store: StoreDep) -> Response:
    store.delete(job_id)
    return Response(status_code=204)


def _result(store: JobStore, job: Job, relative: str | None, what: str) -> Path:
    status = JobStatus(job.status)
    if status is not JobStatus.COMPLETED:
        if status.is_terminal:
            raise ConflictError(
                f"job {job.id} is {status.value}; it has no {what}", code="no_result"
            )
        raise ConflictError(
            f"job {job.id} is {status.value}; its {what} is ready once it is completed",
            code="result_not_ready",
        )
    path = store.job_dir(job.id) / (relative or "")
    if not relative or not path.is_file():
        raise ResultMissingError(f"the {what} of completed job {job.id} is missing on disk")
    return path


def _remove_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
