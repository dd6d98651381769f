"""Signed webhooks, delivered to a real HTTP server on 127.0.0.1, with retries."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from gateway.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    WebhookSender,
    encode_body,
    sign,
    verify,
)

from .helpers import TERMINAL, WEBHOOK_SECRET, WebhookReceiver, make_settings, submit, wait_for


def test_signature_is_hmac_sha256_of_the_body() -> None:
    # The textbook HMAC-SHA256 example (key "key"), as printed in many references.
    body = b"The quick brown fox jumps over the lazy dog"
    expected = "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    assert sign("key", body) == expected
    assert verify("key", body, expected)
    assert not verify("key", body + b" ", expected)
    assert not verify("other", body, expected)


@pytest.fixture
def sender(tmp_path: Path):
    sender = WebhookSender(make_settings(tmp_path, webhook_retries=3, webhook_backoff_s=0.05))
    yield sender
    sender.close()


JOB = {"id": "0" * 32, "status": "failed", "error": {"code": "corrupt_media", "message": "x"}}


def test_delivery_is_retried_until_it_lands(
    sender: WebhookSender, webhook_receiver: Callable[..., WebhookReceiver]
) -> None:
    receiver = webhook_receiver(fail_first=2)
    assert sender.send(receiver.url, JOB).result(timeout=30) is True
    requests = receiver.wait(3)
    assert len(requests) == 3
    assert {r["body"] for r in requests} == {encode_body(JOB)}
    assert len({r["headers"][DELIVERY_HEADER] for r in requests}) == 1
    for request in requests:
        assert verify(WEBHOOK_SECRET, request["body"], request["headers"][SIGNATURE_HEADER])
        assert json.loads(request["body"]) == JOB


def test_delivery_gives_up_after_the_retries(
    sender: WebhookSender, webhook_receiver: Callable[..., WebhookReceiver]
) -> None:
    receiver = webhook_receiver(fail_first=100)
    assert sender.send(receiver.url, JOB).result(timeout=30) is False
    assert len(receiver.requests) == 4  # the first attempt and 3 retries


def test_client_errors_are_not_retried(
    sender: WebhookSender, webhook_receiver: Callable[..., WebhookReceiver]
) -> None:
    receiver = webhook_receiver(fail_first=100, fail_status=404)
    assert sender.send(receiver.url, JOB).result(timeout=30) is False
    assert len(receiver.requests) == 1


def test_connection_errors_are_retried_then_abandoned(sender: WebhookSender) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nobody listens
    assert sender.send(f"http://127.0.0.1:{port}/hook", JOB).result(timeout=60) is False


def test_without_a_secret_nothing_is_sent(
    tmp_path: Path, webhook_receiver: Callable[..., WebhookReceiver]
) -> None:
    receiver = webhook_receiver()
    sender = WebhookSender(make_settings(tmp_path, webhook_secret=None))
    try:
        assert sender.send(receiver.url, JOB) is None
    finally:
        sender.close()
    assert receiver.requests == []


@pytest.mark.slow
def test_failed_job_webhook_arrives_signed_after_a_retry(
    client: httpx.Client,
    truncated_clip: Path,
    webhook_receiver: Callable[..., WebhookReceiver],
) -> None:
    receiver = webhook_receiver(fail_first=1)
    job = submit(client, truncated_clip, webhook_url=receiver.url)
    final = wait_for(client, job["id"], TERMINAL)[-1]
    assert final["status"] == "failed"
    first, second = receiver.wait(2)
    assert first["body"] == second["body"]
    assert second["path"] == "/hooks/clipzy"
    headers = {k.lower(): v for k, v in second["headers"].items()}
    assert headers["content-type"] == "application/json"
    assert headers["x-clipzy-event"] == "job.failed"
    assert verify(WEBHOOK_SECRET, second["body"], headers["x-clipzy-signature"])
    payload = json.loads(second["body"])
    assert payload == client.get(f"/api/v1/jobs/{job['id']}").json()
    assert payload["error"]["code"] == "corrupt_media"
