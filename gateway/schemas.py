"""Schemas of the REST API, named as families: ``JobCreate``, ``JobPublic``, ``JobList``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.db import Job
from gateway.states import JobStatus
from pipelines.options import JobOptions

API_PREFIX = "/api/v1"
Mode = Literal["extract", "extract_apply"]


class ErrorDetail(BaseModel):
    code: str = Field(description="stable, machine-readable error code", examples=["job_not_found"])
    message: str = Field(description="what went wrong, for a person")


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


class InputFile(BaseModel):
    filename: str | None = Field(description="the name the client gave the file")
    size_bytes: int
    container: str | None = Field(description="container recognised from the file's content")


class JobInputs(BaseModel):
    template: InputFile | None = None
    footage: list[InputFile] = Field(default_factory=list)
    style_dna: InputFile | None = None


class JobCreate(BaseModel):
    """A submission after its multipart body was streamed to disk and checked."""

    id: str
    mode: Mode
    options: JobOptions
    inputs: dict[str, Any] = Field(description="stored input entries, paths relative to the job")


class JobLinks(BaseModel):
    # ``self`` on the wire, ``self_`` in Python, whichever way the model is dumped.
    model_config = ConfigDict(validate_by_name=True, serialize_by_alias=True)

    self_: str = Field(alias="self")
    style_dna: str
    output: str | None = Field(description="null for extract jobs, which render no video")
    cancel: str


class JobPublic(BaseModel):
    """A job as clients see it."""

    id: str
    status: JobStatus
    mode: Mode
    stage: str | None = Field(description="the current or last stage's name")
    progress_percent: float = Field(
        ge=0, le=100, description="never goes down; 100 only when completed"
    )
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: ErrorDetail | None = Field(description="set when the job failed")
    options: dict[str, Any]
    inputs: JobInputs
    links: JobLinks

    def payload(self) -> dict[str, Any]:
        """The JSON data sent to clients, in responses and webhooks alike."""
        return self.model_dump(mode="json", by_alias=True)

    @classmethod
    def from_record(cls, job: Job) -> JobPublic:
        base = f"{API_PREFIX}/jobs/{job.id}"
        error = None
        if job.error_code is not None:
            error = ErrorDetail(code=job.error_code, message=job.error_message or "")
        stored = job.inputs or {}
        inputs = JobInputs(
            template=_input_file(stored.get("template")),
            footage=[_input_file(item) for item in stored.get("footage", [])],
            style_dna=_input_file(stored.get("style_dna")),
        )
        return cls(
            id=job.id,
            status=JobStatus(job.status),
            mode=job.mode,  # type: ignore[arg-type]
            stage=job.stage,
            progress_percent=round(job.progress_percent or 0.0, 1),
            cancel_requested=bool(job.cancel_requested),
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            error=error,
            options=job.options or {},
            inputs=inputs,
            links=JobLinks(
                self_=base,
                style_dna=f"{base}/style-dna",
                output=f"{base}/output" if job.mode == "extract_apply" else None,
                cancel=f"{base}/cancel",
            ),
        )


def _input_file(entry: dict[str, Any] | None) -> InputFile | None:
    if entry is None:
        return None
    return InputFile(
        filename=entry.get("filename"),
        size_bytes=int(entry.get("size_bytes", 0)),
        container=entry.get("container"),
    )


class JobList(BaseModel):
    """One page of jobs, newest first."""

    items: list[JobPublic]
    total: int = Field(description="jobs matching the query, over all pages")
    limit: int
    offset: int
    next: str | None = Field(description="the next page's URL, null on the last page")


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    checks: dict[str, str]
