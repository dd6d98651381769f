"""Memory and speed on a 4K template of a minute: our decoder and analysis beside decord.

    python benchmarks/long_4k.py [--seconds 60] [--clip PATH] [--keep]

Makes (or reuses) a 3840x2160, 30 fps H.264 clip with a tone, then runs each row in a fresh
process and samples the memory of that process and every process it starts (our decoder is
an ffmpeg child) every 20 ms. Rows: our decoder alone at the analysis size, the same with
the point samples the colour statistics read (what the analysis decodes), decord (the decoder
this engine used before) reading the same frames in the same chunks, and the whole template
analysis (decode, every analyzer, the Style DNA).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent

# Each row runs as `python -c` in a fresh interpreter; it prints one JSON line.
ROWS = {
    "ours: decode (ffmpeg pipe)": """
from pipelines.decode import VideoSource, analysis_size
from pipelines.ingest import probe
info = probe(CLIP)
n = sum(len(c.frames) for c in VideoSource(info, analysis_size(info, 320)).chunks())
""",
    "ours: decode with point samples (as the analysis reads)": """
from pipelines.decode import VideoSource, analysis_size
from pipelines.ingest import probe
info = probe(CLIP)
source = VideoSource(info, analysis_size(info, 320), points=True)
n = sum(len(c.frames) for c in source.chunks())
""",
    "decord: decode (same size, same chunks)": """
import decord
from pipelines.decode import CHUNK_FRAMES, analysis_size
from pipelines.ingest import probe
info = probe(CLIP)
w, h = analysis_size(info, 320)
reader = decord.VideoReader(CLIP, ctx=decord.cpu(0), width=w, height=h, num_threads=1)
n = 0
for start in range(0, len(reader), CHUNK_FRAMES):
    n += reader.get_batch(list(range(start, min(len(reader), start + CHUNK_FRAMES)))).shape[0]
""",
    "ours: whole template analysis": """
from pipelines.inference import get_backend
from pipelines.ingest import probe
from pipelines.runner import extract
from pipelines.settings import get_settings
_, n = extract(probe(CLIP), get_backend(), analysis_width=get_settings().analysis_width,
               progress=lambda stage, done: None)
""",
}


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, MB."""
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) / 1024
                        break
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo += [int(child) for child in children.read().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def run_row(code: str, clip: Path) -> dict:
    script = f"CLIP = {str(clip)!r}\nimport json, time\nt0 = time.perf_counter()\n{code}\n"
    script += "print(json.dumps({'frames': int(n), 'seconds': time.perf_counter() - t0}))\n"
    proc = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    peak = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.02):
            peak = max(peak, tree_rss_mb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    done.set()
    sampler.join()
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}", "peak_mb": peak}
    row = json.loads(out.strip().splitlines()[-1])
    row["peak_mb"] = peak
    return row


def make_clip(path: Path, seconds: float) -> None:
    cmd = [
        "ffmpeg", "-nostdin", "-y", "-v", "error",
        "-f", "lavfi", "-i", f"testsrc2=s=3840x2160:r=30:d={seconds}",
        "-f", "lavfi", "-i", f"sine=f=440:d={seconds}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-shortest", str(path),
    ]  # fmt: skip
    subprocess.run(cmd, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clip", type=Path, help="use this clip instead of making one")
    parser.add_argument("--keep", action="store_true", help="keep the generated clip")
    args = parser.parse_args()
    console = Console(width=110)
    workdir = Path(tempfile.mkdtemp(prefix="clipzy-4k-"))
    clip = args.clip or workdir / f"uhd_{args.seconds:g}s.mp4"
    if not clip.exists():
        console.print(f"making a {args.seconds:g} s 3840x2160 clip in {clip} ...")
        began = time.perf_counter()
        make_clip(clip, args.seconds)
        console.print(f"  made in {time.perf_counter() - began:.0f} s")
    table = Table(title=f"{clip.name}: {clip.stat().st_size / 1e6:.0f} MB, analysed at 320 px")
    for column in ("row", "frames", "seconds", "fps", "peak MB (process + children)"):
        table.add_column(column, justify="left" if column == "row" else "right")
    for name, code in ROWS.items():
        row = run_row(code, clip)
        if "error" in row:
            table.add_row(name, "—", "—", "—", f"{row['peak_mb']:.0f} ({row['error']})")
            continue
        fps = row["frames"] / row["seconds"] if row["seconds"] else 0.0
        table.add_row(name, str(row["frames"]), f"{row['seconds']:.1f}", f"{fps:.0f}",
                      f"{row['peak_mb']:.0f}")  # fmt: skip
    console.print(table)
    if not args.keep and not args.clip:
        clip.unlink(missing_ok=True)
        workdir.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
