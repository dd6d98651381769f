"""The one small shape every analyzer has.

A frame analyzer is fed :class:`~pipelines.decode.FrameChunk` s in display order (so memory
stays bounded however long the clip) and finishes with a result; an audio analyzer gets the
whole decoded track once (or None when the clip has no audio). Either emits
:class:`AnalyzerResult`: the Style DNA sections it owns and a confidence in [0, 1].
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from pipelines.decode import AudioTrack, FrameChunk


@dataclass
class AnalyzerResult:
    sections: dict[str, dict[str, Any]]
    confidence: float
    # Values other stages may use but that do not go into the document as they are.
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be in [0, 1], got {self.confidence}")


class FrameAnalyzer(ABC):
    name: str

    @abstractmethod
    def update(self, chunk: FrameChunk) -> None:
        """Consume the next frames (uint8 RGB [N, H, W, 3] at the analysis size)."""

    @abstractmethod
    def finish(self) -> AnalyzerResult:
        """Everything has been fed: emit the sections."""


class AudioAnalyzer(ABC):
    name: str

    @abstractmethod
    def analyze(self, audio: AudioTrack | None) -> AnalyzerResult:
        """Analyse the whole track; ``None`` means the clip has no audio stream."""
