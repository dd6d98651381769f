"""Stage 4, style_dna: assemble the analyzers' sections into a validated Style DNA document.

Every document the engine writes or accepts is checked against the JSON Schema shipped in
``pipelines/schemas/``. The overall ``extraction_confidence`` is earned from the parts: a
steady grade, a clear beat, enough frames and a clip under ten minutes score high.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from pipelines import __version__
from pipelines.analyzers.base import AnalyzerResult
from pipelines.errors import InvalidStyleDnaError
from pipelines.ingest import MediaInfo

SCHEMA_VERSION = "1.0"
SCHEMA_MAJOR = 1
# A cut counts as on the beat within this distance of one (about a frame and a half at 30 fps
# on each side; the 70 ms window of beat tracking evaluation, Davies et al. 2009).
ON_BEAT_WINDOW_S = 0.07
LONG_TEMPLATE_S = 600.0
MIN_FRAMES = 24
# How much each part weighs in the overall confidence (``picture`` is not weighed: it enters
# through the count of evidence frames instead).
WEIGHTS = {"color": 0.3, "cuts": 0.2, "motion": 0.15, "rhythm": 0.25, "audio": 0.1}
PART_FLOOR = 0.01
WEAK_PART = 0.5


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    text = resources.files("pipelines").joinpath("schemas/style_dna.v1.json").read_text()
    return json.loads(text)


def validate(document: Any) -> dict[str, Any]:
    """Return ``document`` if it is a valid Style DNA, else raise ``InvalidStyleDnaError``."""
    if not isinstance(document, dict):
        raise InvalidStyleDnaError(
            f"a Style DNA must be a JSON object, got {type(document).__name__}"
        )
    version = document.get("schema_version")
    if isinstance(version, str) and version.split(".")[0].isdigit():
        major = int(version.split(".")[0])
        if major > SCHEMA_MAJOR:
            raise InvalidStyleDnaError(
                f"this Style DNA was written by a newer schema (version {version}); this "
                f"engine reads {SCHEMA_MAJOR}.x",
                code="style_dna_version_unsupported",
            )
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(document)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InvalidStyleDnaError(f"Style DNA is invalid at {where}: {first.message}{more}")
    return document


def load(path: Path | str) -> dict[str, Any]:
    """Read and validate a stored Style DNA."""
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidStyleDnaError(f"the Style DNA is not readable JSON: {exc}") from exc
    return validate(document)


def write(document: dict[str, Any], path: Path | str) -> Path:
    validate(document)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n")
    tmp.replace(path)
    return path


def build(
    info: MediaInfo, results: dict[str, AnalyzerResult], *, frame_count: int
) -> dict[str, Any]:
    """Assemble the document from the template's facts and each analyzer's result."""
    sections: dict[str, dict[str, Any]] = {}
    for result in results.values():
        sections.update(result.sections)
    confidence = {name: result.confidence for name, result in results.items()}
    picture = results.get("picture")
    evidence = picture.extras.get("evidence_frames", frame_count) if picture else frame_count
    overall, reasons = overall_confidence(confidence, info, evidence)

    cuts = sections.setdefault("cuts", {"times_s": [], "frames": [], "cuts_per_minute": 0.0})
    rhythm = sections.setdefault(
        "rhythm", {"tempo_bpm": None, "detected_beats": [], "beat_confidence": 0.0}
    )
    on_beat = _on_beat(cuts.get("times_s", []), rhythm.get("detected_beats", []))
    cuts["on_beat_count"] = on_beat
    cuts["on_beat_ratio"] = round(on_beat / len(cuts["times_s"]), 4) if cuts["times_s"] else None

    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "engine": {"name": "clipzy-engine", "version": __version__},
        "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "template": {
            "duration_s": round(info.duration_s, 4),
            "fps": round(info.fps, 4),
            "width": info.width,
            "height": info.height,
            "rotation": info.rotation,
            "variable_frame_rate": info.variable_frame_rate,
            "has_audio": info.has_audio,
            "frame_count": frame_count,
            "container": info.container,
            "video_codec": info.video_codec,
            "pix_fmt": info.pix_fmt,
            "hdr": info.hdr,
            "color_transfer": info.color_transfer,
            "bit_depth": info.bit_depth,
            **sections.get("picture", {}),
        },
        "color": sections.get("color", {}),
        "cuts": cuts,
        "transitions": sections.get("transitions", {"counts": {}, "events": []}),
        "motion": sections.get("motion", {}),
        "audio": sections.get("audio", {"present": info.has_audio}),
        "rhythm": rhythm,
        "confidence": {k: round(v, 4) for k, v in confidence.items()},
        "extraction_confidence": overall,
        "confidence_notes": reasons,
    }
    return validate(document)


def overall_confidence(
    parts: dict[str, float], info: MediaInfo, evidence_frames: int
) -> tuple[float, list[str]]:
    """The overall confidence in [0, 1] and, for each thing that lowered it, a reason.

    The parts combine as a weighted *geometric* mean: a Style DNA is only as trustworthy as
    its weakest part, so one part that could not be measured (silence where the music should
    be, a grade that changes every frame) pulls the whole down much more than an average
    would, while parts that all score ~0.9 give ~0.9. Each part counts at least
    :data:`PART_FLOOR`, so no single part can zero the score by itself.

    It is then scaled by how much picture there was: ``evidence_frames`` counts frames that
    are new (not a repeat of the one before) and not noise, and under :data:`MIN_FRAMES` of
    them a grade, a cutting rhythm and motion cannot be told apart from chance — whether the
    clip is a few frames long, a still image held for minutes, or static. Templates over ten
    minutes decay too: one style rarely holds that long.
    """
    reasons: list[str] = []
    weighted = {name: WEIGHTS[name] for name in parts if name in WEIGHTS}
    total = sum(weighted.values())
    if total:
        log_score = sum(w * math.log(max(PART_FLOOR, parts[name])) for name, w in weighted.items())
        score = math.exp(log_score / total)
    else:
        score = 0.0
    for name in weighted:
        if parts[name] < WEAK_PART:
            reasons.append(f"{name} confidence is low ({parts[name]:.2f})")
    if evidence_frames < MIN_FRAMES:
        score *= (max(0, evidence_frames) / MIN_FRAMES) ** 0.5
        reasons.append(
            f"only {evidence_frames} distinct, non-noise frames (a still image, noise or a very "
            f"short clip); {MIN_FRAMES} are needed for a full score"
        )
    if info.duration_s > LONG_TEMPLATE_S:
        score *= math.exp(-(info.duration_s - LONG_TEMPLATE_S) / LONG_TEMPLATE_S)
        reasons.append(f"the template is longer than {LONG_TEMPLATE_S / 60:.0f} minutes")
    return round(min(1.0, max(0.0, score)), 4), reasons


def _on_beat(cuts: list[float], beats: list[float]) -> int:
    if not cuts or not beats:
        return 0
    return sum(1 for t in cuts if min(abs(t - b) for b in beats) <= ON_BEAT_WINDOW_S)
