"""The accuracy benchmark: our engine beside the free tools a user would otherwise reach for.

    python -m benchmarks.accuracy [TASK ...] [--json PATH]        (or: make bench-accuracy)

One module per task (``cuts``, ``transitions``, ``beats``, ``color``, ``loudness``, ``motion``,
``confidence``); each returns :class:`~benchmarks.accuracy.common.Table` s with our engine and
each peer as rows, run on the same files in the same run, with the time each took. Inputs are
the shared corpus (ground truth from its ``MANIFEST.md``) and clips the benchmark generates
with ffmpeg, whose answers are exact. Peers are the ``bench`` extra of ``pyproject.toml``;
they are never dependencies of the service.
"""

import sys
from pathlib import Path

# The generators the tests use (``support.*``), so benchmark and tests measure the same
# inputs; set here so that importing any task module finds them.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "_lib"))
