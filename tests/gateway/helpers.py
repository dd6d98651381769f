"""Helpers of the gateway tests: a live uvicorn server, a webhook receiver, requests."""

from __future__ import annotations

import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from support.service import (
    MP4_HEAD,
    TERMINAL,
    WEBHOOK_SECRET,
    LiveServer,
    assert_error,
    make_settings,
    pattern_clip,
    submit,
    wait_for,
)

from gateway.store import JobStore

__all__ = [
    "MP4_HEAD",
    "TERMINAL",
    "WEBHOOK_SECRET",
    "LiveServer",
    "WebhookReceiver",
    "assert_error",
    "make_settings",
    "pattern_clip",
    "queue_job",
    "submit",
    "wait_for",
]


class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 recording every POST; answers the first ``fail_first``
    with ``fail_status``, then 200."""

    def __init__(self, fail_first: int = 0, fail_status: int = 503) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.arrived:
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                    failing = len(receiver.requests) <= receiver.fail_first
                    status = receiver.fail_status if failing else 200
                    receiver.arrived.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/hooks/clipzy"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def wait(self, count: int, timeout_s: float = 30) -> list[dict[str, Any]]:
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.requests) >= count, timeout_s):
                raise AssertionError(f"{len(self.requests)} webhook(s) arrived, wanted {count}")
            return list(self.requests)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def queue_job(store: JobStore, template: Path) -> str:
    """An extract job put straight into the store, as the API would after an upload."""
    job_id = store.new_id()
    uploads = store.job_dir(job_id) / "uploads"
    uploads.mkdir(parents=True)
    shutil.copy(template, uploads / "template.mp4")
    entry = {"path": "uploads/template.mp4", "filename": template.name,
             "size_bytes": template.stat().st_size, "container": "mp4"}  # fmt: skip
    store.create(job_id, mode="extract", options={}, inputs={"template": entry})
    return job_id
