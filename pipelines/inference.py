"""One inference interface for every model in ``model_repository/``.

The pipelines call :meth:`InferenceBackend.infer` with named numpy tensors, batch dimension
first, exactly as a Triton client would send them. :class:`InProcessBackend` loads each
model's ``1/model.py`` from the repository and runs it in this process (the default); a
Triton client implements the same interface (``CLIPZY_TRITON_URL``, see issue #3).
"""

from __future__ import annotations

import importlib.util
import logging
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from pipelines.errors import InferenceError

logger = logging.getLogger(__name__)

TRITON_DTYPES = {
    "TYPE_UINT8": np.uint8,
    "TYPE_INT32": np.int32,
    "TYPE_INT64": np.int64,
    "TYPE_FP16": np.float16,
    "TYPE_FP32": np.float32,
    "TYPE_FP64": np.float64,
    "TYPE_BOOL": np.bool_,
}


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: np.dtype
    dims: tuple[int, ...]


@dataclass(frozen=True)
class ModelConfig:
    """The parts of a ``config.pbtxt`` the pipelines rely on."""

    name: str
    max_batch_size: int
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    path: Path = field(compare=False)

    @classmethod
    def load(cls, model_dir: Path) -> ModelConfig:
        text = (model_dir / "config.pbtxt").read_text()
        name = _scalar(text, "name") or model_dir.name
        max_batch = int(_scalar(text, "max_batch_size") or 0)
        return cls(
            name=name.strip('"'),
            max_batch_size=max_batch,
            inputs=tuple(_tensors(text, "input")),
            outputs=tuple(_tensors(text, "output")),
            path=model_dir,
        )


def _scalar(text: str, key: str) -> str | None:
    match = re.search(rf"^\s*{key}\s*:\s*(\S+)", text, re.MULTILINE)
    return match.group(1) if match else None


def _tensors(text: str, section: str) -> Iterator[TensorSpec]:
    block = re.search(rf"^{section}\s*\[(.*?)^\]", text, re.MULTILINE | re.DOTALL)
    if block is None:
        return
    for body in re.findall(r"\{(.*?)\}", block.group(1), re.DOTALL):
        name = re.search(r'name\s*:\s*"([^"]+)"', body)
        dtype = re.search(r"data_type\s*:\s*(\w+)", body)
        dims = re.search(r"dims\s*:\s*\[([^\]]*)\]", body)
        if not (name and dtype and dims):
            raise ValueError(f"malformed {section} tensor in config.pbtxt: {body.strip()!r}")
        yield TensorSpec(
            name=name.group(1),
            dtype=np.dtype(TRITON_DTYPES[dtype.group(1)]),
            dims=tuple(int(d) for d in dims.group(1).split(",") if d.strip()),
        )


class InferenceBackend(Protocol):
    """What the analyzers need from a model server."""

    def config(self, model: str) -> ModelConfig: ...

    def infer(self, model: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]: ...


class InProcessBackend:
    """Runs the repository's models inside this process, loading each on first use."""

    def __init__(self, repository: Path, device: str = "cpu") -> None:
        self.repository = Path(repository)
        self.device = device
        self._models: dict[str, Any] = {}
        self._configs: dict[str, ModelConfig] = {}
        self._lock = threading.Lock()

    def config(self, model: str) -> ModelConfig:
        if model not in self._configs:
            model_dir = self.repository / model
            if not (model_dir / "config.pbtxt").is_file():
                raise InferenceError(f"model {model!r} not found in {self.repository}")
            self._configs[model] = ModelConfig.load(model_dir)
        return self._configs[model]

    def _model(self, model: str) -> Any:
        with self._lock:
            if model not in self._models:
                config = self.config(model)
                source = config.path / "1" / "model.py"
                spec = importlib.util.spec_from_file_location(f"clipzy_models.{model}", source)
                if spec is None or spec.loader is None:
                    raise InferenceError(f"cannot load {source}")
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                self._models[model] = module.create_model(self.device)
                logger.info("loaded model %s from %s on %s", model, source, self.device)
            return self._models[model]

    def infer(self, model: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        config = self.config(model)
        check_inputs(config, inputs)
        try:
            outputs = self._model(model).infer(dict(inputs))
        except InferenceError:
            raise
        except Exception as exc:
            raise InferenceError(f"model {model!r} failed: {exc}") from exc
        missing = {t.name for t in config.outputs} - outputs.keys()
        if missing:
            raise InferenceError(f"model {model!r} returned no {sorted(missing)}")
        return outputs


def check_inputs(config: ModelConfig, inputs: Mapping[str, np.ndarray]) -> None:
    """Refuse, before any model runs, inputs whose names, types or batch break ``config``."""
    for spec in config.inputs:
        if spec.name not in inputs:
            raise InferenceError(f"model {config.name!r} expects input {spec.name}")
        array = inputs[spec.name]
        if array.dtype != spec.dtype:
            raise InferenceError(
                f"{config.name}.{spec.name}: expected {spec.dtype}, got {array.dtype}"
            )
        batch = 1 if config.max_batch_size > 0 else 0
        if array.ndim != len(spec.dims) + batch:
            raise InferenceError(
                f"{config.name}.{spec.name}: expected {len(spec.dims) + batch} dims "
                f"(batch first: {batch == 1}), got shape {list(array.shape)}"
            )
        if batch and array.shape[0] > config.max_batch_size:
            raise InferenceError(
                f"{config.name}.{spec.name}: batch of {array.shape[0]} exceeds "
                f"max_batch_size {config.max_batch_size}"
            )


def batches(n: int, size: int) -> Iterator[slice]:
    """Slices of ``range(n)`` of at most ``size`` items: one request per batch, never per item."""
    for start in range(0, n, max(1, size)):
        yield slice(start, min(n, start + size))


_backends: dict[tuple[str | None, str], InferenceBackend] = {}
_backend_lock = threading.Lock()


def resolve_device(name: str) -> str:
    """The torch device a ``device`` setting names: ``auto`` is the first CUDA GPU where torch
    sees one, else the CPU; a CUDA device that is not there is refused by name."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        index = int(name.partition(":")[2] or 0)
        visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if index >= visible:
            raise InferenceError(
                f"device {name!r} was asked for (CLIPZY_DEVICE), but torch sees {visible} CUDA "
                "device(s) here; use cpu or auto"
            )
    return name


def get_backend(settings: Any = None) -> InferenceBackend:
    """The backend the settings choose (in-process unless Triton is set), one per choice."""
    from pipelines.settings import get_settings

    settings = settings or get_settings()
    device = resolve_device(settings.device)
    key = (settings.triton_url, str(settings.model_repository), device)
    with _backend_lock:
        if key not in _backends:
            if settings.triton_url:
                from pipelines.triton_backend import TritonBackend

                _backends[key] = TritonBackend(settings.triton_url)
            else:
                _backends[key] = InProcessBackend(settings.model_repository, device=device)
        return _backends[key]
