"""Where the models and the style transfer run: the ``device`` setting (CLIPZY_DEVICE)."""

from __future__ import annotations

import pydantic
import pytest
import torch
from support.service import make_settings

from gateway.app import Services
from pipelines.errors import InferenceError
from pipelines.inference import get_backend, resolve_device
from pipelines.settings import Settings

HAS_CUDA = torch.cuda.is_available()


def test_auto_is_the_gpu_where_torch_sees_one_else_the_cpu() -> None:
    assert resolve_device("auto") == ("cuda" if HAS_CUDA else "cpu")
    assert resolve_device("cpu") == "cpu"


@pytest.mark.skipif(HAS_CUDA, reason="this machine has a CUDA device")
def test_a_cuda_device_that_is_not_there_is_refused_by_name() -> None:
    with pytest.raises(InferenceError, match=r"'cuda:1' .* torch sees 0 CUDA device\(s\)"):
        resolve_device("cuda:1")
    with pytest.raises(InferenceError, match="use cpu or auto"):
        get_backend(Settings(device="cuda"))


def test_the_in_process_backend_runs_on_the_device_the_settings_name(tmp_path) -> None:
    backend = get_backend(Settings(device="auto", model_repository=tmp_path))
    assert backend.device == ("cuda" if HAS_CUDA else "cpu")
    assert get_backend(Settings(device="cpu", model_repository=tmp_path)).device == "cpu"


@pytest.mark.parametrize("name", ["gpu", "cuda:x", "CPU", ""])
def test_a_device_setting_that_names_no_device_is_refused(name: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="device"):
        Settings(device=name)


@pytest.mark.skipif(HAS_CUDA, reason="this machine has a CUDA device")
def test_the_service_does_not_start_on_a_gpu_that_is_not_there(tmp_path) -> None:
    with pytest.raises(InferenceError, match=r"'cuda' .* torch sees 0 CUDA device\(s\)"):
        Services.start(make_settings(tmp_path / "data", device="cuda"))
    assert not (tmp_path / "data").exists()  # refused before anything was made
    # A gateway without its worker runs no model, so it starts.
    services = Services.start(make_settings(tmp_path / "api", device="cuda", worker_enabled=False))
    services.stop()
