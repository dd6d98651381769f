"""A live Clipzy service for tests: the real app under uvicorn on 127.0.0.1, and requests.

Shared by the gateway tests and the robustness tests (fuzzing, schema-driven API runs).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from gateway.app import create_app
from pipelines.settings import Settings
from support.media import ffmpeg

WEBHOOK_SECRET = "test-webhook-secret-4f1c"
TERMINAL = {"completed", "failed", "cancelled"}


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": None,
        "webhook_secret": WEBHOOK_SECRET,
        "worker_poll_s": 0.05,
        "webhook_backoff_s": 0.05,
        "webhook_retries": 3,
        "log_json": False,
    }
    values.update(overrides)
    return Settings(**values)


class LiveServer:
    """The real app under uvicorn in a thread, its lifespan (and worker) included."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, log_config=None, lifespan="on", timeout_keep_alive=5)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def start(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(60)
        self._socket.close()
        if self._thread.is_alive():
            raise RuntimeError("uvicorn did not stop within 60 s")

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)


def wait_for(client: httpx.Client, job_id: str, statuses: set[str], timeout_s: float = 300):
    """Poll a job until its status is in ``statuses``; every poll's JSON, oldest first."""
    polls: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while True:
        response = client.get(f"/api/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        polls.append(response.json())
        if polls[-1]["status"] in statuses:
            return polls
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {polls[-1]['status']} after {timeout_s} s")
        time.sleep(0.05)


def pattern_clip(path: Path, *, seconds: float, size: str = "320x240", tone_hz: int = 440):
    """testsrc2 with a sine tone, H.264 + AAC in MP4."""
    if not path.exists():
        ffmpeg(
            "-f", "lavfi", "-i", f"testsrc2=s={size}:r=25:d={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency={tone_hz}:duration={seconds}",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-shortest", str(path),
        )  # fmt: skip
    return path


# Valid MP4 magic (an ftyp box) and nothing else: passes the upload's sniff, fails a probe.
MP4_HEAD = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"


def assert_error(response: httpx.Response, status: int, code: str) -> str:
    """The response is the SPEC's error body with ``status`` and ``code``; its message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]["message"]


def submit(client: httpx.Client, template: Path | None, *footage: Path, **options: Any):
    """POST a job; assert the 202 and return the job."""
    files = []
    if template is not None:
        files.append(("template", (template.name, template.read_bytes(), "video/mp4")))
    files += [("footage", (f.name, f.read_bytes(), "video/mp4")) for f in footage]
    data = {"options": json.dumps(options)} if options else None
    response = client.post("/api/v1/jobs", files=files, data=data)
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] == "queued"
    return job
