"""The application: OpenAPI, probes, the error body for every failure, restarts."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from gateway.db import Database
from gateway.store import JobStore

from .helpers import TERMINAL, LiveServer, assert_error, submit, wait_for


def test_openapi_documents_the_multipart_body(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    create = document["paths"]["/api/v1/jobs"]["post"]
    schema = create["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(schema["properties"]) == {"template", "footage", "style_dna", "options"}
    assert schema["properties"]["footage"]["type"] == "array"
    assert "202" in create["responses"]
    assert {"413", "415", "422"} <= set(create["responses"])
    job = document["components"]["schemas"]["JobPublic"]
    for name in ["id", "status", "mode", "stage", "progress_percent", "created_at",
                 "started_at", "finished_at", "error", "links", "options"]:  # fmt: skip
        assert name in job["properties"], name
    assert "ErrorBody" in document["components"]["schemas"]
    for path in ["/api/v1/jobs/{job_id}", "/api/v1/jobs/{job_id}/cancel",
                 "/api/v1/jobs/{job_id}/style-dna", "/api/v1/jobs/{job_id}/output",
                 "/healthz", "/readyz"]:  # fmt: skip
        assert path in document["paths"], path


def test_probes(start_server: Callable[..., LiveServer]) -> None:
    with start_server().client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz").json()
        assert ready == {"status": "ready", "checks": {"database": "ok", "data_dir": "ok",
                                                       "worker": "ok"}}  # fmt: skip
    with start_server(worker_enabled=False).client() as client:
        assert client.get("/readyz").json()["checks"]["worker"] == "external"


def test_http_errors_use_the_error_body(client: httpx.Client) -> None:
    assert "/no/such/path" in assert_error(client.get("/no/such/path"), 404, "not_found")
    response = client.delete("/healthz")
    assert "DELETE" in assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"]
    assert_error(client.put("/api/v1/jobs"), 405, "method_not_allowed")
    message = assert_error(client.get("/api/v1/jobs?offset=-1"), 422, "validation_error")
    assert "offset" in message


@pytest.mark.allow_error_logs
def test_unexpected_errors_are_500_with_the_error_body(
    server: LiveServer, client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    def boom() -> None:
        raise RuntimeError("a bug")

    server.app.add_api_route("/boom", boom)
    response = client.get("/boom")
    message = assert_error(response, 500, "internal_error")
    assert "a bug" not in message  # internals stay in the log
    crashed = [r for r in caplog.records if r.levelno == logging.ERROR and r.name == "gateway.app"]
    assert crashed, "the crash was not logged"
    assert client.get("/healthz").status_code == 200


@pytest.mark.slow
def test_restart_fails_interrupted_jobs_and_keeps_queued_ones(
    start_server: Callable[..., LiveServer], template_clip: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "shared-data"
    first = start_server(data_dir, worker_enabled=False)
    with first.client() as client:
        running = submit(client, template_clip)
        waiting = submit(client, template_clip)
    first.stop()

    # A worker claims the older job and dies with it: the row stays processing.
    database = Database(first.settings.resolved_database_url)
    assert JobStore(database, data_dir).claim_next("worker-that-died").id == running["id"]
    database.dispose()

    with start_server(data_dir).client() as client:
        job = client.get(f"/api/v1/jobs/{running['id']}").json()
        assert job["status"] == "failed"
        assert job["error"]["code"] == "interrupted"
        final = wait_for(client, waiting["id"], TERMINAL)[-1]
        assert final["status"] == "completed", final["error"]


@pytest.mark.slow
def test_stopping_the_service_interrupts_the_running_job(
    start_server: Callable[..., LiveServer], long_clip: Path, tmp_path: Path
) -> None:
    server = start_server(tmp_path / "data")
    with server.client() as client:
        job = submit(client, long_clip)
        polls = wait_for(client, job["id"], {"processing", *TERMINAL})
        assert polls[-1]["status"] == "processing"
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 30

    database = Database(server.settings.resolved_database_url)
    stopped = JobStore(database, server.settings.data_dir).get(job["id"])
    database.dispose()
    assert (stopped.status, stopped.error_code) == ("failed", "interrupted")
    assert stopped.finished_at is not None
