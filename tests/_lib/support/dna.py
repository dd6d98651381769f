"""A small Style DNA that passes the schema, for tests that need one without extracting."""

from __future__ import annotations

import copy
from typing import Any

_MINIMAL: dict[str, Any] = {
    "schema_version": "1.0",
    "template": {
        "duration_s": 4.0, "fps": 25.0, "width": 320, "height": 240, "rotation": 0,
        "variable_frame_rate": False, "has_audio": False,
    },
    "color": {
        "lab_mean": [55.0, 4.0, 10.0],
        "lab_std": [18.0, 8.0, 9.0],
        "lab_covariance": [[324.0, 0.0, 0.0], [0.0, 64.0, 0.0], [0.0, 0.0, 81.0]],
    },
    "cuts": {"times_s": [2.0], "frames": [50], "cuts_per_minute": 15.0},
    "transitions": {
        "counts": {"cut": 1},
        "events": [{"type": "cut", "start_s": 2.0, "end_s": 2.0}],
    },
    "motion": {"mean_intensity": 0.2},
    "audio": {"present": False},
    "rhythm": {"tempo_bpm": None, "detected_beats": [], "beat_confidence": 0.0},
    "confidence": {"color": 0.9},
    "extraction_confidence": 0.5,
}  # fmt: skip


def minimal_style_dna() -> dict[str, Any]:
    return copy.deepcopy(_MINIMAL)
