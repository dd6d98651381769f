"""Run the accuracy benchmark and print one table per task (see the package docstring)."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import platform
import sys
import time
from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table as RichTable

from benchmarks.accuracy.common import (
    OURS_NETWORK,
    OURS_WITHOUT_NETWORK,
    PEER_DECODING,
    Table,
    default_context,
    fmt,
)

TASKS = ("cuts", "transitions", "beats", "color", "loudness", "motion", "confidence")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.accuracy")
    parser.add_argument("tasks", nargs="*", help=f"any of {', '.join(TASKS)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="fewer generated cases")
    parser.add_argument("--json", help="also write the tables to this JSON file")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.tasks) - set(TASKS))
    if unknown:
        parser.error(f"unknown task {', '.join(unknown)}; choose from {', '.join(TASKS)}")
    logging.basicConfig(level=logging.WARNING)
    ctx = default_context(quick=args.quick)
    console = Console(width=160)
    console.print(
        f"accuracy benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"{platform.python_version()}, corpus: {ctx.corpus or 'absent (corpus rows skipped)'}"
    )
    tables: list[Table] = []
    for task in args.tasks or TASKS:
        module = importlib.import_module(f"benchmarks.accuracy.{task}")
        start = time.perf_counter()
        produced = module.run(ctx)
        for table in produced:
            _print(console, table)
        console.print(f"[dim]{task}: {time.perf_counter() - start:.1f} s[/dim]\n")
        tables.extend(produced)
    if tables:
        speed = speed_table(tables)
        _print(console, speed)
        tables.append(speed)
    goals = [(t.task, text, met) for t in tables for text, met in t.goals.items()]
    missed = [(task, text) for task, text, met in goals if not met]
    console.print(f"goals met: {len(goals) - len(missed)} of {len(goals)}")
    for task, text in missed:
        console.print(f"  [red]missed[/red] ({task}) {text}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump([t.__dict__ for t in tables], out, indent=1, default=str)
    return 0


def speed_table(tables: list[Table]) -> Table:
    """Seconds per task and engine, beside ours, with the issue's speed goal per task: our
    quality must not come from being slower than the peers. Engines marked ``(ref)`` are
    yardsticks, not peers the goal names."""
    speed = Table("speed", "seconds each engine took per task (same inputs, same run)",
                  ["task", "engine", "seconds", "× ours"])  # fmt: skip
    totals: dict[str, dict[str, float]] = {}
    for table in tables:
        for engine, seconds in table.times.items():
            task = totals.setdefault(table.task, {})
            task[engine] = task.get(engine, 0.0) + seconds
    for task, engines in totals.items():
        ours = engines.get("ours")
        # Ours, then the peers, then the yardsticks.
        order = sorted(engines, key=lambda e: (e != "ours", "(ref)" in e))
        for engine, seconds in ((e, engines[e]) for e in order):
            ratio = seconds / ours if ours else None
            speed.add(task, engine, seconds, None if engine == "ours" else ratio)
        peers = {e: s for e, s in engines.items() if e != "ours" and "(ref)" not in e}
        if ours is None or not peers:
            continue
        faster = [e for e, s in peers.items() if s < ours]
        speed.goal(
            f"{task}: ours ({ours:.1f} s) no slower than any peer"
            + (f" (slower than {', '.join(faster)})" if faster else ""),
            not faster,
        )
        if faster and OURS_NETWORK in engines:
            speed.notes.append(_floor(task, engines, peers))
    speed.notes.append(
        "ours includes everything the engine does for the task (decoding included where the "
        "engine decodes); a peer's, what its rows time (see each task's notes)"
    )
    return speed


def _floor(task: str, engines: dict[str, float], peers: dict[str, float]) -> str:
    """Where ours is slower on a task with a network: what the network alone took, and what
    ours took without it, against the fastest peer's whole run."""
    fastest = min(peers, key=peers.__getitem__)
    network, quickest = engines[OURS_NETWORK], peers[fastest]
    text = (
        f"{task}: the network alone took {network:.1f} s inside ours, "
        f"{network / quickest:.1f}× {fastest}'s whole run ({quickest:.1f} s)"
    )
    if OURS_WITHOUT_NETWORK in engines:
        without = engines[OURS_WITHOUT_NETWORK]
        text += f"; ours without the network took {without:.1f} s ({without / quickest:.1f}×)"
    if PEER_DECODING in engines:
        decoding = engines[PEER_DECODING]
        text += (
            f"; PySceneDetect spends {decoding:.1f} s of it just decoding the frames "
            f"({decoding / quickest:.0%}), which any engine reading the same frames pays too"
        )
    return text


def _print(console: Console, table: Table) -> None:
    rich = RichTable(title=f"{table.task}: {table.title}", title_justify="left")
    for column in table.columns:
        rich.add_column(column)
    for row in table.rows:
        rich.add_row(*(fmt(v) for v in row))
    console.print(rich)
    for note in table.notes:
        console.print(f"  {note}")
    for text, met in table.goals.items():
        console.print(f"  goal {'[green]met[/green]' if met else '[red]missed[/red]'}: {text}")


if __name__ == "__main__":
    sys.exit(main())
