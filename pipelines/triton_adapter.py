"""Runs a repository model's ``create_model`` inside Triton's python backend.

Imported only by ``model_repository/*/1/model.py`` when Triton loads them; the import of
``triton_python_backend_utils`` happens here, so the in-process path never needs it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


class TritonAdapter:
    def __init__(self, args: dict[str, Any], create_model: Callable[[str], Any]) -> None:
        import triton_python_backend_utils as pb_utils

        self.pb = pb_utils
        config = json.loads(args["model_config"])
        self.output_names = [o["name"] for o in config["output"]]
        self.input_names = [i["name"] for i in config["input"]]
        kind = args.get("model_instance_kind", "CPU")
        device = f"cuda:{args.get('model_instance_device_id', 0)}" if kind == "GPU" else "cpu"
        self.model = create_model(device)

    def execute(self, requests: list[Any]) -> list[Any]:
        responses = []
        for request in requests:
            try:
                inputs = {
                    name: self.pb.get_input_tensor_by_name(request, name).as_numpy()
                    for name in self.input_names
                }
                outputs = self.model.infer(inputs)
                tensors = [self.pb.Tensor(name, outputs[name]) for name in self.output_names]
                responses.append(self.pb.InferenceResponse(output_tensors=tensors))
            except Exception as exc:  # per-request errors go back in the response
                responses.append(
                    self.pb.InferenceResponse(
                        output_tensors=[], error=self.pb.TritonError(str(exc))
                    )
                )
        return responses


def triton_python_model(create_model: Callable[[str], Any]) -> type:
    """The ``TritonPythonModel`` class Triton's python backend looks up in a ``model.py``."""

    class TritonPythonModel:
        def initialize(self, args: dict[str, Any]) -> None:
            self.adapter = TritonAdapter(args, create_model)

        def execute(self, requests: list[Any]) -> list[Any]:
            return self.adapter.execute(requests)

    return TritonPythonModel
