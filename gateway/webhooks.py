"""Signed webhooks: the job object POSTed to the job's ``webhook_url`` when it ends.

A delivery carries::

    Content-Type: application/json
    X-Clipzy-Event: job.completed | job.failed | job.cancelled
    X-Clipzy-Delivery: <uuid, the same on every retry>
    X-Clipzy-Timestamp: <unix seconds of the first attempt>
    X-Clipzy-Signature: sha256=<hex HMAC-SHA256 of the raw body, key CLIPZY_WEBHOOK_SECRET>

A receiver recomputes the HMAC over the bytes it received, before parsing them, and compares
with :func:`hmac.compare_digest`. Deliveries run on a small thread pool, never on the worker,
and are retried with exponential backoff on connection errors, timeouts, 408, 429 and 5xx.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import structlog

from gateway.db import Job
from gateway.schemas import JobPublic
from gateway.states import JobStatus
from pipelines.settings import Settings

logger = structlog.stdlib.get_logger(__name__)

SIGNATURE_HEADER = "X-Clipzy-Signature"
TIMESTAMP_HEADER = "X-Clipzy-Timestamp"
EVENT_HEADER = "X-Clipzy-Event"
DELIVERY_HEADER = "X-Clipzy-Delivery"
RETRY_STATUSES = frozenset({408, 429})


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, body: bytes, signature: str) -> bool:
    """Whether ``signature`` is the one :func:`sign` gives for ``body``."""
    return hmac.compare_digest(sign(secret, body), signature)


def encode_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


class WebhookSender:
    """Delivers webhooks in the background; :meth:`close` stops retrying and waits."""

    def __init__(self, settings: Settings, *, max_workers: int = 2) -> None:
        self.secret = settings.webhook_secret or None
        self.timeout_s = settings.webhook_timeout_s
        self.retries = settings.webhook_retries
        self.backoff_s = settings.webhook_backoff_s
        self._closing = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="webhook")

    @property
    def enabled(self) -> bool:
        return self.secret is not None

    def notify(self, job: Job) -> Future[bool] | None:
        """Send ``job``'s webhook if it asked for one and has reached a terminal status."""
        if not job.webhook_url or not JobStatus(job.status).is_terminal:
            return None
        return self.send(job.webhook_url, JobPublic.from_record(job).payload())

    def send(self, url: str, job: dict[str, Any]) -> Future[bool] | None:
        """Queue a delivery of ``job`` (a ``JobPublic`` as JSON data) to ``url``."""
        job_id = job.get("id")
        if self.secret is None:
            # Submission refuses webhook_url without a secret; this is a job from before a
            # restart that removed the secret.
            logger.warning("webhook_skipped", job_id=job_id, reason="CLIPZY_WEBHOOK_SECRET unset")
            return None
        if self._closing.is_set():
            logger.warning("webhook_skipped", job_id=job_id, reason="service stopping")
            return None
        body = encode_body(job)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "clipzy-engine-webhook/1",
            EVENT_HEADER: f"job.{job.get('status')}",
            DELIVERY_HEADER: uuid.uuid4().hex,
            TIMESTAMP_HEADER: str(int(time.time())),
            SIGNATURE_HEADER: sign(self.secret, body),
        }
        return self._pool.submit(self._deliver, url, body, headers, job_id)

    def _deliver(self, url: str, body: bytes, headers: dict[str, str], job_id: Any) -> bool:
        log = logger.bind(job_id=job_id, url=url, delivery=headers[DELIVERY_HEADER])
        attempts = 1 + self.retries
        for attempt in range(1, attempts + 1):
            try:
                with httpx.Client(timeout=self.timeout_s, follow_redirects=False) as client:
                    response = client.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    log.info("webhook_delivered", attempt=attempt, status=response.status_code)
                    return True
                reason = f"HTTP {response.status_code}"
                if response.status_code < 500 and response.status_code not in RETRY_STATUSES:
                    log.warning("webhook_refused", attempt=attempt, reason=reason)
                    return False
            if attempt == attempts or self._closing.is_set():
                log.warning("webhook_abandoned", attempts=attempt, reason=reason)
                return False
            delay = self.backoff_s * 2 ** (attempt - 1)
            log.info("webhook_retry", attempt=attempt, reason=reason, retry_in_s=delay)
            if self._closing.wait(delay):
                log.warning("webhook_abandoned", attempts=attempt, reason="service stopping")
                return False
        return False

    def close(self, *, wait: bool = True) -> None:
        self._closing.set()
        self._pool.shutdown(wait=wait)
