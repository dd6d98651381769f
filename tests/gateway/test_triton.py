"""The service with its models on a real Triton server: readiness, jobs, and Triton dying."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from support.media import ffmpeg
from support.triton import triton_server

from .helpers import TERMINAL, submit, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def triton(tmp_path):
    with triton_server(tmp_path / "triton.log") as server:
        yield server


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=40", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", str(path))  # fmt: skip
    return path


@pytest.mark.allow_error_logs
def test_readiness_jobs_and_a_dying_triton(start_server, triton, template_clip, long_clip):
    service = start_server(triton_url=triton.grpc_url)
    with service.client() as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        checks = ready.json()["checks"]
        assert {k for k in checks if k.startswith("triton:")} == {
            "triton:beats", "triton:color_stats", "triton:motion", "triton:shot_boundaries"
        }  # fmt: skip

        done = wait_for(client, submit(client, template_clip)["id"], TERMINAL)[-1]
        assert done["status"] == "completed", done["error"]

        # Triton dies in the middle of a job: that job fails with an inference code.
        job = submit(client, long_clip)
        deadline = time.monotonic() + 120
        while client.get(job["links"]["self"]).json()["stage"] != "analyze":
            assert time.monotonic() < deadline, "the job never reached analysis"
            time.sleep(0.1)
        triton.kill()
        final = wait_for(client, job["id"], TERMINAL)[-1]
        assert final["status"] == "failed"
        assert final["error"]["code"] == "inference_unavailable", final["error"]
        assert "cannot be reached" in final["error"]["message"]
        not_ready = client.get("/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json()["error"]["code"] == "not_ready"
        assert "cannot be reached" in not_ready.json()["error"]["message"]

        # Back up on the same ports: the next job succeeds.
        triton.start()
        assert client.get("/readyz").status_code == 200
        again = wait_for(client, submit(client, template_clip)["id"], TERMINAL)[-1]
        assert again["status"] == "completed", again["error"]
