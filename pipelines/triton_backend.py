"""The inference interface over a real Triton Inference Server (``CLIPZY_TRITON_URL``).

``grpc://host:8001`` (the default scheme) or ``http://host:8000``. Tensors go as they are,
batch dimension first, in requests no larger than the model's ``max_batch_size`` (the
analyzers already batch to it). tritonclient is imported here only, so the in-process
default needs none of it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from pipelines.errors import InferenceError
from pipelines.inference import TRITON_DTYPES, ModelConfig, TensorSpec, check_inputs

logger = logging.getLogger(__name__)

TIMEOUT_S = 120.0


def _tensors(entries: list[dict[str, Any]]) -> tuple[TensorSpec, ...]:
    return tuple(
        TensorSpec(
            name=e["name"],
            dtype=np.dtype(TRITON_DTYPES[e["data_type"]]),
            dims=tuple(int(d) for d in e.get("dims", [])),
        )
        for e in entries
    )


class TritonBackend:
    """``InferenceBackend`` over tritonclient, gRPC or HTTP by the URL's scheme."""

    def __init__(self, url: str) -> None:
        parsed = urlparse(url if "://" in url else f"grpc://{url}")
        if parsed.scheme not in ("grpc", "http") or not parsed.hostname:
            raise ValueError(
                f"CLIPZY_TRITON_URL must look like grpc://host:8001 or http://host:8000, "
                f"got {url!r}"
            )
        self.url, self.protocol = url, parsed.scheme
        self.address = (
            f"{parsed.hostname}:{parsed.port or (8001 if parsed.scheme == 'grpc' else 8000)}"
        )
        self._configs: dict[str, ModelConfig] = {}
        self._local = threading.local()

    @property
    def _module(self) -> Any:
        if self.protocol == "grpc":
            import tritonclient.grpc as module
        else:
            import tritonclient.http as module
        return module

    @property
    def client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._module.InferenceServerClient(self.address)
            self._local.client = client
        return client

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from tritonclient.utils import InferenceServerException

        try:
            return fn(*args, **kwargs)
        except InferenceServerException as exc:
            message = exc.message() or str(exc)
            if "UNAVAILABLE" in str(exc.status()) or "connect" in message.lower():
                # A gRPC channel that lost its server backs off for a while: start afresh.
                self._local.client = None
                raise InferenceError(
                    f"Triton at {self.url} cannot be reached ({what}): {message}",
                    code="inference_unavailable",
                ) from exc
            raise InferenceError(f"Triton at {self.url}: {what} failed: {message}") from exc
        except Exception as exc:  # connection refused, reset, timeout
            self._local.client = None
            raise InferenceError(
                f"Triton at {self.url} cannot be reached ({what}): {type(exc).__name__}: {exc}",
                code="inference_unavailable",
            ) from exc

    def config(self, model: str) -> ModelConfig:
        if model not in self._configs:
            if self.protocol == "grpc":
                raw = self._call("model config", self.client.get_model_config, model, as_json=True)
                raw = raw["config"]
            else:
                raw = self._call("model config", self.client.get_model_config, model)
            self._configs[model] = ModelConfig(
                name=raw["name"],
                max_batch_size=int(raw.get("max_batch_size", 0)),
                inputs=_tensors(raw.get("input", [])),
                outputs=_tensors(raw.get("output", [])),
                path=Path(model),
            )
        return self._configs[model]

    def infer(self, model: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        config = self.config(model)
        check_inputs(config, inputs)
        from tritonclient.utils import np_to_triton_dtype

        module = self._module
        requests = []
        for spec in config.inputs:
            array = np.ascontiguousarray(inputs[spec.name])
            tensor = module.InferInput(
                spec.name, list(array.shape), np_to_triton_dtype(array.dtype)
            )
            tensor.set_data_from_numpy(array)
            requests.append(tensor)
        outputs = [module.InferRequestedOutput(spec.name) for spec in config.outputs]
        timeout = {"client_timeout": TIMEOUT_S} if self.protocol == "grpc" else {}
        result = self._call(
            f"inference on {model}", self.client.infer, model, requests, outputs=outputs,
            **timeout,
        )  # fmt: skip
        return {spec.name: result.as_numpy(spec.name) for spec in config.outputs}

    def readiness(self, models: list[str]) -> dict[str, bool]:
        """Each model's readiness; raises ``InferenceError`` when the server is unreachable."""
        if not self._call("readiness", self.client.is_server_ready):
            raise InferenceError(f"Triton at {self.url} is up but not ready")
        return {m: bool(self._call("readiness", self.client.is_model_ready, m)) for m in models}

    def statistics(self, model: str) -> dict[str, Any]:
        if self.protocol == "grpc":
            return self._call(
                "statistics", self.client.get_inference_statistics, model, as_json=True
            )
        return self._call("statistics", self.client.get_inference_statistics, model)
