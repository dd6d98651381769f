"""Submission bodies stream to disk and are refused early, against a real server.

The worker is off in these tests: each job stays ``queued``, so only the upload is tested.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from support.dna import minimal_style_dna

from gateway.uploads import MAX_FOOTAGE_FILES, body_limit

from .helpers import MP4_HEAD, LiveServer, assert_error

BOUNDARY = "clipzy-test-boundary-7d2e"


@pytest.fixture
def upload_server(start_server: Callable[..., LiveServer]) -> LiveServer:
    return start_server(worker_enabled=False)


def part(name: str, data: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
    if filename is not None:
        head += "Content-Type: application/octet-stream\r\n"
    return head.encode() + b"\r\n" + data + b"\r\n"


def closing() -> bytes:
    return f"--{BOUNDARY}--\r\n".encode()


def post_raw(client: httpx.Client, content: bytes | Iterator[bytes]) -> httpx.Response:
    return client.post(
        "/api/v1/jobs",
        content=content,
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )


def stored_files(server: LiveServer) -> list[Path]:
    """The files under the jobs folder; the server may delete some while this walks."""
    jobs = server.settings.data_dir / "jobs"
    found = []
    for folder, _, names in os.walk(jobs):  # os.walk skips folders that vanish mid-walk
        found += [Path(folder) / n for n in names if (Path(folder) / n).is_file()]
    return sorted(found)


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def job_count(client: httpx.Client) -> int:
    return client.get("/api/v1/jobs").json()["total"]


def test_upload_is_stored_as_sent(upload_server: LiveServer, template_clip: Path) -> None:
    with upload_server.client() as client:
        response = client.post(
            "/api/v1/jobs",
            files={"template": ("my template.mp4", template_clip.read_bytes(), "video/mp4")},
            data={"options": json.dumps({"audio": "none"})},
        )
        assert response.status_code == 202, response.text
        job = response.json()
        assert response.headers["location"] == f"/api/v1/jobs/{job['id']}"
        assert (job["status"], job["mode"], job["progress_percent"]) == ("queued", "extract", 0)
        assert job["options"]["audio"] == "none"
        assert job["inputs"]["template"] == {
            "filename": "my template.mp4",
            "size_bytes": template_clip.stat().st_size,
            "container": "mp4",
        }
        assert client.get(f"/api/v1/jobs/{job['id']}").json()["status"] == "queued"
    [stored] = stored_files(upload_server)
    assert stored.name == "template.mp4"
    assert (
        hashlib.sha256(stored.read_bytes()).digest()
        == hashlib.sha256(template_clip.read_bytes()).digest()
    )


def test_footage_makes_an_extract_apply_job(
    upload_server: LiveServer, template_clip: Path, footage_clip: Path
) -> None:
    with upload_server.client() as client:
        response = client.post(
            "/api/v1/jobs",
            files=[
                ("template", ("t.mp4", template_clip.read_bytes(), "video/mp4")),
                ("footage", ("a.mp4", footage_clip.read_bytes(), "video/mp4")),
                ("footage", ("b.mp4", footage_clip.read_bytes(), "video/mp4")),
            ],
        )
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["mode"] == "extract_apply"
    assert [f["filename"] for f in job["inputs"]["footage"]] == ["a.mp4", "b.mp4"]
    assert job["links"]["output"] == f"/api/v1/jobs/{job['id']}/output"
    names = [p.name for p in stored_files(upload_server)]
    assert names == ["footage_00.mp4", "footage_01.mp4", "template.mp4"]


def test_style_dna_may_replace_the_template(upload_server: LiveServer, footage_clip: Path) -> None:
    with upload_server.client() as client:
        response = client.post(
            "/api/v1/jobs",
            files=[
                ("style_dna", ("s.json", json.dumps(minimal_style_dna()), "application/json")),
                ("footage", ("a.mp4", footage_clip.read_bytes(), "video/mp4")),
            ],
        )
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["mode"] == "extract_apply" and job["inputs"]["template"] is None
    assert job["inputs"]["style_dna"]["filename"] == "s.json"


def test_upload_streams_to_disk_while_it_arrives(upload_server: LiveServer) -> None:
    """The first bytes are on disk before the client has sent the rest."""
    chunk = os.urandom(256 * 1024)
    seen_on_disk: list[int] = []

    def body() -> Iterator[bytes]:
        yield part("template", b"", "big.mp4")[:-2] + MP4_HEAD
        for _ in range(4):
            yield chunk

        def partial() -> bool:
            files = stored_files(upload_server)
            return bool(files) and files[0].stat().st_size > 512 * 1024

        if wait_until(partial):
            seen_on_disk.append(stored_files(upload_server)[0].stat().st_size)
        for _ in range(4):
            yield chunk
        yield b"\r\n" + closing()

    with upload_server.client() as client:
        response = post_raw(client, body())
    assert response.status_code == 202, response.text
    assert seen_on_disk, "no partial upload appeared on disk while the body was still streaming"
    assert response.json()["inputs"]["template"]["size_bytes"] == len(MP4_HEAD) + 8 * len(chunk)


def test_file_over_the_limit_is_refused_while_it_streams(
    start_server: Callable[..., LiveServer],
) -> None:
    server = start_server(worker_enabled=False, max_file_size_mb=1)
    chunk = os.urandom(128 * 1024)
    events: list[str] = []

    def body() -> Iterator[bytes]:
        yield part("template", b"", "big.mp4")[:-2] + MP4_HEAD
        for _ in range(6):  # 768 KiB: under the limit, so on disk
            yield chunk
        on_disk = wait_until(lambda: bool(stored_files(server)))
        events.append("partial on disk" if on_disk else "nothing on disk")
        for _ in range(4):  # past 1 MiB
            yield chunk
        # Refused by now, before the rest is sent: the partial file is deleted already.
        gone = wait_until(lambda: not stored_files(server))
        events.append("deleted" if gone else "still on disk")
        for _ in range(6):  # 2 MiB in all
            yield chunk
        yield b"\r\n" + closing()

    with server.client() as client:
        response = post_raw(client, body())
        message = assert_error(response, 413, "file_too_large")
        assert "big.mp4" in message and "1 MB" in message
        assert job_count(client) == 0
    assert events == ["partial on disk", "deleted"]
    assert stored_files(server) == []


def test_file_over_the_limit_from_a_plain_client(start_server: Callable[..., LiveServer]) -> None:
    server = start_server(worker_enabled=False, max_file_size_mb=1)
    data = MP4_HEAD + os.urandom(2 * 1024 * 1024)
    with server.client() as client:
        response = client.post("/api/v1/jobs", files={"template": ("big.mp4", data, "video/mp4")})
        assert_error(response, 413, "file_too_large")
        assert job_count(client) == 0
    assert stored_files(server) == []


def test_content_length_over_the_cap_is_refused_before_the_body(
    start_server: Callable[..., LiveServer],
) -> None:
    server = start_server(worker_enabled=False, max_file_size_mb=1)
    announced = body_limit(1024 * 1024) + 1
    request = (
        "POST /api/v1/jobs HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {announced}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)  # and not one byte of the body
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    error = json.loads(body)["error"]
    assert error["code"] == "request_too_large"
    assert str(announced) in error["message"]
    assert stored_files(server) == []


def test_cap_covers_every_allowed_file() -> None:
    limit = 5 * 1024 * 1024
    assert body_limit(limit) >= (MAX_FOOTAGE_FILES + 2) * limit


def test_text_named_mp4_is_refused_415(upload_server: LiveServer, text_as_mp4: Path) -> None:
    with upload_server.client() as client:
        response = client.post(
            "/api/v1/jobs", files={"template": ("notes.mp4", text_as_mp4.read_bytes(), "video/mp4")}
        )
        message = assert_error(response, 415, "unsupported_container")
        assert "notes.mp4" in message and "webm" in message and "its content is text" in message
        assert job_count(client) == 0
        assert client.get("/healthz").status_code == 200
    assert stored_files(upload_server) == []


def test_spoofed_footage_is_refused_and_the_template_removed(
    upload_server: LiveServer, template_clip: Path
) -> None:
    with upload_server.client() as client:
        response = client.post(
            "/api/v1/jobs",
            files=[
                ("template", ("t.mp4", template_clip.read_bytes(), "video/mp4")),
                ("footage", ("clip.webm", b"GIF89a" + bytes(200), "video/webm")),
            ],
        )
        assert_error(response, 415, "unsupported_container")
    assert stored_files(upload_server) == []


def test_empty_file_is_refused(upload_server: LiveServer) -> None:
    with upload_server.client() as client:
        response = client.post("/api/v1/jobs", files={"template": ("t.mp4", b"", "video/mp4")})
        assert "empty" in assert_error(response, 422, "empty_file")
        assert job_count(client) == 0
        assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ("{not json", "not valid JSON"),
        ('{"colour_strength": 0.5}', "colour_strength"),
        ('{"color_strength": 3}', "color_strength"),
        ('{"audio": "loud"}', "audio"),
        ("[1, 2]", "JSON object"),
    ],
)
def test_bad_options_are_refused_before_the_files(
    upload_server: LiveServer, template_clip: Path, options: str, needle: str
) -> None:
    body = part("options", options.encode())
    body += part("template", template_clip.read_bytes(), "t.mp4") + closing()
    with upload_server.client() as client:
        assert needle in assert_error(post_raw(client, body), 422, "invalid_options")
        assert job_count(client) == 0
        assert client.get("/healthz").status_code == 200
    assert stored_files(upload_server) == []


def test_webhook_without_a_secret_is_refused(
    start_server: Callable[..., LiveServer], template_clip: Path
) -> None:
    server = start_server(worker_enabled=False, webhook_secret=None)
    with server.client() as client:
        response = client.post(
            "/api/v1/jobs",
            files={"template": ("t.mp4", template_clip.read_bytes(), "video/mp4")},
            data={"options": json.dumps({"webhook_url": "http://127.0.0.1:9/hook"})},
        )
        assert "CLIPZY_WEBHOOK_SECRET" in assert_error(response, 422, "webhooks_disabled")


def _dna(**changes: object) -> bytes:
    """A stored Style DNA, valid but for ``changes``."""
    return json.dumps(minimal_style_dna() | changes).encode()


@pytest.mark.parametrize(
    ("parts", "status", "code"),
    [
        ([("options", None, b"{}")], 422, "missing_template"),
        ([("footage", "f.mp4", MP4_HEAD)], 422, "missing_template"),
        ([("style_dna", "s.json", b"{}")], 422, "style_dna_needs_footage"),
        (
            [("template", "t.mp4", MP4_HEAD), ("style_dna", "s.json", b"{}"),
             ("footage", "f.mp4", MP4_HEAD)],
            422, "template_and_style_dna",
        ),
        (
            [("style_dna", "s.json", b"not json"), ("footage", "f.mp4", MP4_HEAD)],
            422, "invalid_style_dna",
        ),
        (
            [("style_dna", "s.json", b"[1]"), ("footage", "f.mp4", MP4_HEAD)],
            422, "invalid_style_dna",
        ),
        (
            [("style_dna", "s.json", b'{"schema_version": "1.0"}'),
             ("footage", "f.mp4", MP4_HEAD)],
            422, "invalid_style_dna",
        ),
        (
            [("style_dna", "s.json", _dna(extraction_confidence=1.5)),
             ("footage", "f.mp4", MP4_HEAD)],
            422, "invalid_style_dna",
        ),
        (
            [("style_dna", "s.json", _dna(schema_version="2.0")), ("footage", "f.mp4", MP4_HEAD)],
            422, "style_dna_version_unsupported",
        ),
        ([("template", "t.mp4", MP4_HEAD), ("music", "m.mp3", b"ID3")], 422, "unknown_field"),
        ([("template", "t.mp4", MP4_HEAD), ("template", "u.mp4", MP4_HEAD)], 422,
         "duplicate_field"),
        ([("footage", f"{i}.mp4", MP4_HEAD) for i in range(MAX_FOOTAGE_FILES + 1)], 422,
         "too_many_files"),
    ],
)  # fmt: skip
def test_malformed_forms_are_refused(
    upload_server: LiveServer, parts: list, status: int, code: str
) -> None:
    body = b"".join(part(name, data, filename) for name, filename, data in parts) + closing()
    with upload_server.client() as client:
        assert_error(post_raw(client, body), status, code)
        assert job_count(client) == 0
        assert client.get("/healthz").status_code == 200
    assert stored_files(upload_server) == []


def test_body_without_closing_boundary_is_refused(upload_server: LiveServer) -> None:
    body = part("template", MP4_HEAD + bytes(1000), "t.mp4")  # no closing boundary
    with upload_server.client() as client:
        assert_error(post_raw(client, body), 400, "invalid_multipart")
    assert stored_files(upload_server) == []


def test_json_body_is_refused_415(upload_server: LiveServer) -> None:
    with upload_server.client() as client:
        response = client.post("/api/v1/jobs", json={"template": "https://example.com/a.mp4"})
        assert "multipart/form-data" in assert_error(response, 415, "expected_multipart")
