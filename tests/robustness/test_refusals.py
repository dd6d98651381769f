"""Inputs the service must refuse, clearly (issue #5), each made here, against a live server.

Where the upload can know it, the refusal is a 4xx with the error body; where only a probe
can, the job is accepted and ends ``failed`` with the code. One server (worker on) takes
every refusal of this module and answers ``/healthz`` after each; the last test has it run
a good job to completion after all of them.

Refusals tested elsewhere, each once: zero bytes (``test_uploads.py::test_empty_file_is_
refused``, 422 ``empty_file``); text under a video name (``::test_text_named_mp4_is_refused_
415``); options not JSON, an unknown option, a value out of range (``::test_bad_options_are_
refused_before_the_files``, 422 ``invalid_options``); a stored Style DNA failing the schema or
of a newer schema version (``::test_malformed_forms_are_refused``, 422 ``invalid_style_dna`` /
``style_dna_version_unsupported``).

The extension decision: the container is what the content is (SPEC: "recognised from the
file's content"). A supported container under another one's name (an MKV called ``.mp4``)
is accepted and reported as what it is (``inputs.template.container``); content that is none
of the five, whatever its name, is refused 415 ``unsupported_container``, naming what it is.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from support import bad_media
from support.service import MP4_HEAD, TERMINAL, LiveServer, assert_error, wait_for

MAX_DURATION_S = 3.0


@pytest.fixture(scope="module")
def server(start_module_server: Callable[..., LiveServer]) -> LiveServer:
    # A small analysis width keeps the one good job short; the limit is the one under test.
    return start_module_server(analysis_width=64, max_duration_s=MAX_DURATION_S)


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http
        assert http.get("/healthz").json() == {"status": "ok"}


def upload(client: httpx.Client, path: Path, name: str) -> httpx.Response:
    return client.post("/api/v1/jobs", files={"template": (name, path.read_bytes(), "video/mp4")})


def failed_with(client: httpx.Client, server: LiveServer, path: Path, name: str, code: str):
    """Upload ``path`` as ``name``: accepted (202), then ``failed`` with ``code``; the message."""
    response = upload(client, path, name)
    assert response.status_code == 202, response.text
    job = wait_for(client, response.json()["id"], TERMINAL, timeout_s=120)[-1]
    assert job["status"] == "failed", job
    assert job["error"]["code"] == code, job["error"]
    assert job["progress_percent"] < 100
    message = job["error"]["message"]
    assert name in message and str(server.settings.data_dir) not in message, message
    assert_error(client.get(job["links"]["style_dna"]), 409, "no_result")
    return message


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (bad_media.png_image, "a PNG image"),
        (bad_media.jpeg_image, "a JPEG image"),
        (bad_media.avif_image, "a HEIF/AVIF still image"),
        (bad_media.mpegts_clip, "an MPEG transport stream"),
    ],
)
def test_content_that_is_no_accepted_container_is_refused_415(
    client: httpx.Client, media_dir: Path, make: Callable[[Path], Path], what: str
) -> None:
    """An image, or a real video in a container the SPEC does not take, under a .mp4 name."""
    path = make(media_dir / f"{make.__name__}.bin")
    message = assert_error(upload(client, path, "holiday.mp4"), 415, "unsupported_container")
    assert message.startswith("template file 'holiday.mp4' is not one of the accepted")
    assert f"its content is {what}" in message


def test_mp4_cut_in_the_middle_fails_corrupt_media(
    client: httpx.Client, server: LiveServer, media_dir: Path
) -> None:
    # The index is at the front, whole: only the media data is cut.
    whole = bad_media.mp4_clip(media_dir / "faststart.mp4", faststart=True)
    cut = bad_media.truncated(whole, media_dir / "cut_middle.mp4", 0.5)
    message = failed_with(client, server, cut, "half.mp4", "corrupt_media")
    assert "is cut short or damaged" in message and "send the whole file" in message


def test_mp4_without_its_index_fails_corrupt_media(
    client: httpx.Client, server: LiveServer, media_dir: Path
) -> None:
    whole = bad_media.mp4_clip(media_dir / "plain.mp4")
    unindexed = bad_media.without_box(whole, media_dir / "no_moov.mp4", b"moov")
    message = failed_with(client, server, unindexed, "unfinished.mp4", "corrupt_media")
    assert "no index (no 'moov' box)" in message


def test_audio_only_fails_no_video_stream(
    client: httpx.Client, server: LiveServer, media_dir: Path
) -> None:
    song = bad_media.audio_only_mp4(media_dir / "audio_only.mp4")
    message = failed_with(client, server, song, "song.mp4", "no_video_stream")
    assert "only audio" in message


def test_clip_over_the_max_duration_fails_duration_too_long(
    client: httpx.Client, server: LiveServer, media_dir: Path
) -> None:
    long = bad_media.mp4_clip(media_dir / "four_seconds.mp4", seconds=MAX_DURATION_S + 1)
    message = failed_with(client, server, long, "long.mp4", "duration_too_long")
    assert f"lasts {MAX_DURATION_S + 1:.1f} s; the limit is {MAX_DURATION_S:.0f} s" in message


@pytest.mark.slow
def test_a_lying_extension_is_read_as_its_content_and_served(
    client: httpx.Client, media_dir: Path
) -> None:
    """The last test on the module's server: after every refusal above, it runs this job."""
    mkv = bad_media.mkv_clip(media_dir / "matroska.bin", seconds=2)
    response = upload(client, mkv, "clip.mp4")
    assert response.status_code == 202, response.text
    assert response.json()["inputs"]["template"] == {
        "filename": "clip.mp4",
        "size_bytes": mkv.stat().st_size,
        "container": "mkv",
    }
    job = wait_for(client, response.json()["id"], TERMINAL, timeout_s=300)[-1]
    assert job["status"] == "completed", job["error"]
    dna = client.get(job["links"]["style_dna"]).json()
    assert dna["template"]["duration_s"] == pytest.approx(2.0, abs=0.05)
    assert (dna["template"]["width"], dna["template"]["height"]) == (320, 240)
    assert dna["template"]["has_audio"] is True


# Over MAX_FILE_SIZE_MB: refused while it streams in, with the server's memory flat.

LIMIT_MB = 50
UPLOAD_MB = 200
# A server that held the file would grow by the limit at least; streaming to disk and then
# discarding the rest costs a few buffers.
MAX_GROWTH_MB = 16
BOUNDARY = "clipzy-robustness-7e1f"


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_file_over_the_limit_is_refused_with_memory_flat(
    start_server: Callable[..., LiveServer],
) -> None:
    """The server runs in this process (uvicorn on a thread), so its RSS is this process's;
    the client sends one reused 1 MiB chunk, so the client adds nothing to it."""
    server = start_server(worker_enabled=False, max_file_size_mb=LIMIT_MB)
    chunk = os.urandom(1024 * 1024)
    sent = [0]

    def body() -> Iterator[bytes]:
        yield (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="template"; '
            'filename="huge.mp4"\r\nContent-Type: video/mp4\r\n\r\n'
        ).encode() + MP4_HEAD
        for _ in range(UPLOAD_MB):
            sent[0] += len(chunk)
            yield chunk
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(_rss_bytes())
            time.sleep(0.005)

    with server.client() as client:
        client.get("/healthz")  # the connection and the app are warm before the baseline
        before = _rss_bytes()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            response = client.post(
                "/api/v1/jobs",
                content=body(),
                headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
            )
        finally:
            done.set()
            sampler.join()
        message = assert_error(response, 413, "file_too_large")
        assert "huge.mp4" in message and f"{LIMIT_MB} MB" in message
        growth_mb = (max([*samples, _rss_bytes()]) - before) / 2**20
        assert sent[0] > LIMIT_MB * 2**20  # the refusal came after the limit, not before
        assert growth_mb < MAX_GROWTH_MB, f"RSS grew {growth_mb:.1f} MB during the upload"
        assert client.get("/api/v1/jobs").json()["total"] == 0
        assert client.get("/healthz").status_code == 200
    assert not any((server.settings.data_dir / "jobs").rglob("*.mp4"))
