"""What every accuracy task shares: where inputs live, timing, and the table it prints."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[2]

T = TypeVar("T")

# Yardsticks of our cut analyzer, in the cut and transition tables and the speed table: the
# seconds its network took inside its run, and the analyzer run again with the network's
# predictions all 0 (what the picture measurements alone find, and what they cost).
OURS_NETWORK = "ours: its network alone (ref)"
OURS_WITHOUT_NETWORK = "ours without the network (ref)"
# PySceneDetect opening each file and reading every frame, with no detector.
PEER_DECODING = "PySceneDetect decoding alone (ref)"


@dataclass
class Context:
    corpus: Path | None  # None where the shared corpus is absent: corpus rows are skipped
    work: Path  # generated inputs are cached here between runs
    quick: bool = False  # fewer generated cases, for a fast look

    def corpus_file(self, relative: str) -> Path | None:
        if self.corpus is None:
            return None
        path = self.corpus / relative
        return path if path.is_file() else None


@dataclass
class Table:
    """One task's result: a row per (input, engine), with a goal verdict where one applies."""

    task: str
    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Goals this table checks, each "text" -> met? (printed under the table, summed at the end)
    goals: dict[str, bool] = field(default_factory=dict)
    # Seconds each engine took on this table's inputs, summed (the speed table reads these)
    times: dict[str, float] = field(default_factory=dict)

    def add(self, *values: Any) -> None:
        if len(values) != len(self.columns):
            raise ValueError(f"{self.title}: {len(values)} values for {len(self.columns)} columns")
        self.rows.append(list(values))

    def goal(self, text: str, met: bool) -> None:
        self.goals[text] = bool(met)

    def time(self, engine: str, seconds: float | None) -> None:
        """Count ``seconds`` to ``engine``'s time on this task (None: not measured)."""
        if seconds is not None:
            self.times[engine] = self.times.get(engine, 0.0) + float(seconds)


def default_context(quick: bool = False) -> Context:
    corpus = Path(os.environ.get("CLIPZY_CORPUS_DIR", REPO.parent / "shared" / "corpus"))
    work = Path(os.environ.get("CLIPZY_BENCH_DIR", "/tmp/clipzy-bench"))
    work.mkdir(parents=True, exist_ok=True)
    return Context(corpus if (corpus / "MANIFEST.md").is_file() else None, work, quick)


def timed(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, float]:
    """``fn(*args, **kwargs)`` and the wall seconds it took."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def fmt(value: Any, digits: int = 3) -> str:
    """A cell: floats rounded, None as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)
