"""Fixtures of the robustness tests: live servers on fresh data dirs, stopped at teardown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.service import LiveServer, make_settings


@pytest.fixture(scope="module")
def start_module_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., LiveServer]]:
    """``start_module_server(**settings)``: a server shared by the tests of one module."""
    servers: list[LiveServer] = []

    def start(**overrides: Any) -> LiveServer:
        folder = tmp_path_factory.mktemp("service")
        servers.append(LiveServer(make_settings(folder, **overrides)).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """``start_server(**settings)``: a server for one test."""
    servers: list[LiveServer] = []

    def start(**overrides: Any) -> LiveServer:
        servers.append(LiveServer(make_settings(tmp_path / f"data{len(servers)}", **overrides)))
        return servers[-1].start()

    yield start
    for server in servers:
        server.stop()
