"""The learned model's weights are the pinned, MIT-licensed ones (training/transnetv2_weights)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location(
        "transnetv2_weights", REPO / "training" / "transnetv2_weights.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_transnetv2_weights_are_the_pinned_ones() -> None:
    script = _script()
    assert script.check_package() == []


def test_transnetv2_weights_find_a_generated_cut() -> None:
    assert _script().check_cut() == []
