"""Shared fixtures: the media corpus, generated media, and a guard against ERROR logs."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("CLIPZY_CORPUS_DIR", REPO.parent / "shared" / "corpus"))


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared media corpus (``CLIPZY_CORPUS_DIR``); tests using it skip where it is absent."""
    if not (CORPUS / "MANIFEST.md").is_file():
        pytest.skip(f"media corpus not found at {CORPUS} (set CLIPZY_CORPUS_DIR)")
    return CORPUS


@pytest.fixture(scope="session", autouse=True)
def _ffmpeg_present() -> None:
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        pytest.fail("ffmpeg and ffprobe must be on PATH (make setup installs them)")


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session-wide folder for media the tests generate (cached between tests)."""
    return tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def _fail_on_error_logs(caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest):
    """Any ERROR log a test did not expect fails it (mark with ``allow_error_logs``)."""
    caplog.set_level(logging.INFO)
    yield
    if request.node.get_closest_marker("allow_error_logs"):
        return
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    if errors:
        pytest.fail("unexpected ERROR log: " + "; ".join(r.getMessage() for r in errors))
