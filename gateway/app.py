"""The FastAPI application: routes, the error body, and the services' lifespan.

Run it with ``clipzy serve`` or ``uvicorn --factory gateway.app:create_app``. On start it
creates the tables, fails the jobs a previous run left ``processing`` (code ``interrupted``;
the state machine has no way back to ``queued``), and starts the in-process worker unless
``CLIPZY_WORKER_ENABLED=0``. On stop it interrupts the running job and waits for the worker.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import anyio.to_thread
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway import jobs
from gateway.db import Database
from gateway.errors import NotReadyError
from gateway.logging_config import configure_logging
from gateway.schemas import ErrorBody, Health, Readiness
from gateway.store import JobStore
from gateway.webhooks import WebhookSender
from gateway.worker import Worker, WorkerThread
from pipelines.errors import ClipzyError
from pipelines.settings import Settings, get_settings

logger = structlog.stdlib.get_logger(__name__)

WORKER_STOP_TIMEOUT_S = 30.0
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "request_too_large",
    415: "unsupported_media_type",
}


@dataclass
class Services:
    """What the routes and the worker share, built in the lifespan."""

    settings: Settings
    database: Database
    store: JobStore
    webhooks: WebhookSender
    worker: WorkerThread | None = None

    @classmethod
    def start(cls, settings: Settings) -> Services:
        if settings.worker_enabled and settings.device != "cpu":
            # A GPU that is not there fails the start, by name, not every job one by one.
            from pipelines.inference import resolve_device

            resolve_device(settings.device)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        database = Database(settings.resolved_database_url)
        database.create_tables()
        store = JobStore(database, settings.data_dir)
        webhooks = WebhookSender(settings)
        services = cls(settings, database, store, webhooks)
        for job in store.recover_interrupted():
            webhooks.notify(job)
        if settings.worker_enabled:
            services.worker = WorkerThread(Worker(settings, store, webhooks))
            services.worker.start()
        logger.info(
            "service_started",
            data_dir=str(settings.data_dir),
            database=database.url.render_as_string(hide_password=True),
            worker="in-process" if settings.worker_enabled else "external",
        )
        return services

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop(WORKER_STOP_TIMEOUT_S)
        self.webhooks.close()
        self.database.dispose()
        logger.info("service_stopped")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = await anyio.to_thread.run_sync(Services.start, settings)
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(app.state.services.stop)

    app = FastAPI(
        title="Clipzy Engine",
        version="0.1.0",
        summary="Extract a template video's Style DNA and render footage in that style.",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        responses={422: {"model": ErrorBody}, 500: {"model": ErrorBody}},
    )
    app.include_router(jobs.router)
    _add_probes(app)
    _add_error_handlers(app)
    _document_job_options(app)
    return app


def _document_job_options(app: FastAPI) -> None:
    """Publish ``JobOptions`` in the OpenAPI components: the multipart body refers to it, but
    no route takes it as a typed parameter, so FastAPI would leave it out."""
    from fastapi.openapi.utils import get_openapi

    from pipelines.options import JobOptions

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            schema = JobOptions.model_json_schema(ref_template="#/components/schemas/{model}")
            components = document.setdefault("components", {}).setdefault("schemas", {})
            components.update(schema.pop("$defs", {}))
            components["JobOptions"] = schema
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_probes(app: FastAPI) -> None:
    @app.get("/healthz", response_model=Health, tags=["probes"], summary="The process is up")
    def healthz() -> Health:
        return Health()

    @app.get(
        "/readyz",
        response_model=Readiness,
        tags=["probes"],
        summary="The database, data dir and worker are usable",
        responses={503: {"model": ErrorBody}},
    )
    def readyz(request: Request) -> Readiness:
        services: Services = request.app.state.services
        try:
            services.database.ping()
        except Exception as exc:
            raise NotReadyError(f"the database cannot be reached: {exc}") from exc
        if not os.access(services.settings.data_dir, os.W_OK):
            raise NotReadyError(f"the data dir {services.settings.data_dir} is not writable")
        worker = "external"
        if services.worker is not None:
            if not services.worker.is_alive():
                raise NotReadyError("the in-process worker has stopped")
            worker = "ok"
        checks = {"database": "ok", "data_dir": "ok", "worker": worker}
        if services.settings.triton_url:
            checks.update(_triton_checks(services.settings))
        return Readiness(checks=checks)


def _triton_checks(settings: Settings) -> dict[str, str]:
    """Each model's readiness on the configured Triton server; not ready says why."""
    from pipelines.errors import InferenceError
    from pipelines.inference import get_backend

    models = sorted(
        p.name for p in settings.model_repository.iterdir() if (p / "config.pbtxt").is_file()
    )
    try:
        ready = get_backend(settings).readiness(models)  # type: ignore[attr-defined]
    except InferenceError as exc:
        raise NotReadyError(exc.message) from exc
    missing = [m for m, ok in ready.items() if not ok]
    if missing:
        raise NotReadyError(f"Triton has not loaded the models {', '.join(missing)}")
    return {f"triton:{m}": "ok" for m in ready}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = ErrorBody.model_validate({"error": {"code": code, "message": message}})
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _add_error_handlers(app: FastAPI) -> None:
    async def on_clipzy_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ClipzyError)
        if exc.http_status >= 500:
            logger.error("request_failed", path=request.url.path, code=exc.code, reason=exc.message)
        return error_response(exc.http_status, exc.code, exc.message)

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        code = _HTTP_CODES.get(status, f"http_{status}")
        if status == 404 and exc.detail == HTTPStatus.NOT_FOUND.phrase:
            message = f"no such path: {request.url.path}"
        elif status == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        else:
            message = str(exc.detail)
        return error_response(status, code, message, headers=getattr(exc, "headers", None))

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ())) or 'request'}: {err.get('msg')}"
            for err in exc.errors()
        )
        return error_response(422, "validation_error", problems or "the request is invalid")

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.error("request_crashed", path=request.url.path, method=request.method, exc_info=exc)
        # Starlette re-raises after this response and the server then drops the connection;
        # saying so lets the client open a new one instead of reusing a dead one.
        return error_response(
            500, "internal_error", "the server failed unexpectedly", {"Connection": "close"}
        )

    app.add_exception_handler(ClipzyError, on_clipzy_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)


__all__ = ["Services", "create_app", "error_response"]
