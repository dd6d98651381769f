"""Fixtures for the gateway: a real uvicorn server on 127.0.0.1, a webhook receiver, media."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.media import ffmpeg

from .helpers import LiveServer, WebhookReceiver, make_settings, pattern_clip


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """``start_server(**settings)`` starts a server on a fresh data dir; stopped at teardown."""
    servers: list[LiveServer] = []

    def start(data_dir: Path | None = None, **overrides: Any) -> LiveServer:
        folder = data_dir or tmp_path / f"data{len(servers)}"
        server = LiveServer(make_settings(folder, **overrides)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def server(start_server: Callable[..., LiveServer]) -> LiveServer:
    return start_server()


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


@pytest.fixture
def webhook_receiver() -> Iterator[Callable[..., WebhookReceiver]]:
    receivers: list[WebhookReceiver] = []

    def start(fail_first: int = 0, fail_status: int = 503) -> WebhookReceiver:
        receivers.append(WebhookReceiver(fail_first, fail_status))
        return receivers[-1]

    yield start
    for receiver in receivers:
        receiver.close()


# Media, generated once per session.


@pytest.fixture(scope="session")
def template_clip(media_dir: Path) -> Path:
    return pattern_clip(media_dir / "template.mp4", seconds=3)


@pytest.fixture(scope="session")
def footage_clip(media_dir: Path) -> Path:
    path = media_dir / "footage.mp4"
    if not path.exists():
        ffmpeg(
            "-f", "lavfi", "-i", "smptebars=s=320x240:r=25:d=2",
            "-f", "lavfi", "-i", "sine=frequency=220:duration=2",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-shortest", str(path),
        )  # fmt: skip
    return path


@pytest.fixture(scope="session")
def long_clip(media_dir: Path) -> Path:
    """Long enough to still be processing when the test cancels it."""
    return pattern_clip(media_dir / "long.mp4", seconds=50)


@pytest.fixture(scope="session")
def truncated_clip(media_dir: Path, template_clip: Path) -> Path:
    """Valid MP4 magic bytes, the rest cut off: the moov box at the end is gone."""
    path = media_dir / "truncated.mp4"
    data = template_clip.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return path


@pytest.fixture(scope="session")
def text_as_mp4(media_dir: Path) -> Path:
    path = media_dir / "notes.mp4"
    path.write_text("this is a text file wearing an .mp4 name\n" * 20)
    return path
