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
from pipelines.triton_server import TritonServer

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
    # Field by field: counts, frames, strings and flags exactly; floats within 1e-3 (the same
    # code on the same CPU, only serialised in between). Only the creation time may differ.
    a.pop("created_at"), b.pop("created_at")
    assert _differences(a, b) == []
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


def _differences(a, b, path: str = "") -> list[str]:
    """Where two JSON values differ: exactly for all but floats, which may differ by 1e-3."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a.keys() ^ b.keys())}"]
        return [d for k in a for d in _differences(a[k], b[k], f"{path}/{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items vs {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in _differences(x, y, f"{path}/{i}")]  # fmt: skip
    if isinstance(a, float) or isinstance(b, float):
        ok = isinstance(a, int | float) and isinstance(b, int | float)
        return [] if ok and abs(a - b) <= 1e-3 * max(1.0, abs(a)) else [f"{path}: {a} vs {b}"]
    return [] if a == b and type(a) is type(b) else [f"{path}: {a!r} vs {b!r}"]


def test_gpu_nodes_get_the_same_files_with_kind_gpu(tmp_path):
    server = TritonServer(REPO / "model_repository", instance_kind="gpu")
    served = server.served_repository(tmp_path)
    for model in MODELS:
        config = (served / model / "config.pbtxt").read_text()
        assert "KIND_GPU" in config and "KIND_CPU" not in config
        ours = (REPO / "model_repository" / model / "config.pbtxt").read_text()
        assert config == ours.replace("KIND_CPU", "KIND_GPU")
        assert (served / model / "1").resolve() == (REPO / "model_repository" / model / "1")
    assert TritonServer(REPO / "model_repository").served_repository(tmp_path) == (
        REPO / "model_repository"
    )
