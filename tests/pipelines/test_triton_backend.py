"""The models served by a real Triton Inference Server give the in-process answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support.media import ffmpeg
from support.triton import free_port, triton_server

from pipelines.errors import InferenceError
from pipelines.inference import InProcessBackend
from pipelines.runner import JobRequest, run_job
from pipelines.triton_backend import TritonBackend

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
MODELS = ("beats", "color_stats", "motion", "shot_boundaries")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with triton_server(tmp_path_factory.mktemp("triton") / "triton.log") as triton:
        yield triton


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tpl") / "template.mp4"
    # Two scenes with a hard cut at frame 50, over a 120 BPM click.
    ffmpeg(
        "-filter_complex",
        "testsrc2=s=320x240:r=25:d=2[a];mandelbrot=s=320x240:r=25,trim=duration=2[b];"
        "[a][b]concat=n=2:v=1:a=0,format=yuv420p[v];"
        "aevalsrc='if(lt(mod(t,0.5),0.01),sin(2*PI*1000*t),0)':s=44100:d=4[au]",
        "-map", "[v]", "-map", "[au]", "-c:v", "libx264", "-c:a", "aac", str(path),
    )  # fmt: skip
    return path


def test_a_whole_job_through_triton_equals_in_process(tmp_path, server, template):
    local = run_job(
        JobRequest("extract_apply", tmp_path / "local", template=template, footage=[template]),
        backend=InProcessBackend(REPO / "model_repository"),
    )
    remote_backend = TritonBackend(server.grpc_url)
    remote = run_job(
        JobRequest("extract_apply", tmp_path / "triton", template=template, footage=[template]),
        backend=remote_backend,
    )
    a, b = local.style_dna, remote.style_dna
    assert b["cuts"]["frames"] == a["cuts"]["frames"] == [50]
    assert b["transitions"]["counts"] == a["transitions"]["counts"]
    assert b["rhythm"]["tempo_bpm"] == pytest.approx(a["rhythm"]["tempo_bpm"], abs=1e-3)
    assert np.allclose(b["rhythm"]["detected_beats"], a["rhythm"]["detected_beats"], atol=1e-4)
    # Floats within 1e-3: the same code on the same CPU, only serialised in between.
    assert np.allclose(b["color"]["lab_mean"], a["color"]["lab_mean"], atol=1e-3)
    assert np.allclose(b["color"]["lab_covariance"], a["color"]["lab_covariance"], atol=1e-2)
    assert b["motion"]["mean_intensity"] == pytest.approx(a["motion"]["mean_intensity"], abs=1e-3)
    assert b["extraction_confidence"] == pytest.approx(a["extraction_confidence"], abs=1e-3)
    assert remote.output_path is not None and remote.output_path.stat().st_size > 0

    # Triton's own statistics: every model really served requests.
    for model in MODELS:
        stats = remote_backend.statistics(model)["model_stats"][0]["inference_stats"]
        assert int(stats["success"]["count"]) > 0, model
    assert remote_backend.readiness(list(MODELS)) == dict.fromkeys(MODELS, True)


def test_http_protocol_gives_the_same_tensors(server):
    frames = np.random.default_rng(3).integers(0, 255, (4, 90, 160, 3), dtype=np.uint8)
    local = InProcessBackend(REPO / "model_repository").infer("color_stats", {"FRAMES": frames})
    remote = TritonBackend(server.http_url).infer("color_stats", {"FRAMES": frames})
    for name, value in local.items():
        assert np.allclose(remote[name], value, atol=1e-5), name


def test_unreachable_server_is_an_inference_error():
    backend = TritonBackend(f"grpc://127.0.0.1:{free_port()}")
    with pytest.raises(InferenceError, match="cannot be reached") as info:
        backend.config("color_stats")
    assert info.value.code == "inference_unavailable"


def test_bad_url_is_refused():
    with pytest.raises(ValueError, match="grpc://host:8001"):
        TritonBackend("ftp://example:21")
