"""A real Triton Inference Server for tests, on free loopback ports."""

from __future__ import annotations

import socket
from pathlib import Path

from pipelines.triton_server import TritonServer

REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def triton_server(log_path: Path) -> TritonServer:
    """A server (not yet started) for the project's model repository."""
    return TritonServer(
        REPO / "model_repository", http_port=free_port(), grpc_port=free_port(),
        metrics_port=free_port(), log_path=log_path,
    )  # fmt: skip
