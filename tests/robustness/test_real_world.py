"""Issue #5, inputs that must give the right answer: 10-bit and HDR video."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from support.media import ffmpeg

from pipelines.decode import VideoSource
from pipelines.ingest import probe

COLOR = (128, 64, 192)  # 0x8040c0


def _clip(path: Path, *, codec: str, pix_fmt: str, transfer: str | None = None) -> Path:
    if path.exists():
        return path
    args = ["-f", "lavfi", "-i", "color=c=0x8040c0:s=320x240:r=25:d=1", "-c:v", codec]
    args += ["-pix_fmt", pix_fmt]
    if codec == "libx265":
        params = "log-level=error"
        if transfer:
            params += f":colorprim=bt2020:transfer={transfer}:colormatrix=bt2020nc"
        args += ["-x265-params", params]
    if transfer:
        args += ["-color_trc", transfer, "-color_primaries", "bt2020", "-colorspace", "bt2020nc"]
    ffmpeg(*args, str(path))
    return path


@pytest.mark.parametrize(("transfer", "kind"), [("smpte2084", "PQ"), ("arib-std-b67", "HLG")])
def test_hdr_hevc_10_bit_is_reported_as_hdr(transfer: str, kind: str, media_dir: Path) -> None:
    path = _clip(media_dir / f"hdr_{kind}.mp4", codec="libx265", pix_fmt="yuv420p10le",
                 transfer=transfer)  # fmt: skip
    info = probe(path)
    assert (info.hdr, info.bit_depth, info.color_transfer) == (True, 10, transfer)


def test_sdr_is_not_hdr_and_8_bit(media_dir: Path) -> None:
    info = probe(_clip(media_dir / "sdr8.mp4", codec="libx264", pix_fmt="yuv420p"))
    assert (info.hdr, info.bit_depth, info.color_transfer) == (False, 8, None)


def test_10_bit_frames_decode_to_the_same_colour_as_8_bit(media_dir: Path) -> None:
    """A 10-bit stream read as if it were 8-bit would come out far off (or garbled)."""
    ten = probe(_clip(media_dir / "sdr10.mp4", codec="libx265", pix_fmt="yuv420p10le"))
    eight = probe(_clip(media_dir / "sdr8.mp4", codec="libx264", pix_fmt="yuv420p"))
    assert ten.bit_depth == 10
    mean10 = VideoSource(ten).get([0, 12]).reshape(-1, 3).mean(axis=0)
    mean8 = VideoSource(eight).get([0, 12]).reshape(-1, 3).mean(axis=0)
    assert np.abs(mean10 - np.array(COLOR)).max() <= 3.0, mean10
    assert np.abs(mean10 - mean8).max() <= 3.0


def _run(template: Path, footage: Path, out: Path, **options) -> tuple[dict, dict]:
    from pipelines.options import JobOptions
    from pipelines.runner import JobRequest, run_job

    result = run_job(
        JobRequest("extract_apply", out, template, [footage], options=JobOptions(**options))
    )
    assert result.output_path is not None and result.output_path.stat().st_size > 0
    return result.style_dna, probe(result.output_path).to_dict()


@pytest.mark.slow
def test_odd_sized_footage_renders_at_an_even_size(media_dir: Path, tmp_path: Path) -> None:
    template = media_dir / "rw_template.mp4"
    if not template.exists():
        ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=2", "-f", "lavfi", "-i",
               "sine=f=440:d=2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
               "-shortest", str(template))  # fmt: skip
    odd = media_dir / "rw_odd_641x481.mp4"
    if not odd.exists():  # 4:4:4 lets x264 store the odd size at all
        ffmpeg("-f", "lavfi", "-i", "testsrc2=s=640x480:r=25:d=2", "-vf", "scale=641:481",
               "-c:v", "libx264", "-pix_fmt", "yuv444p", str(odd))  # fmt: skip
    assert (probe(odd).width, probe(odd).height) == (641, 481)
    _, out = _run(template, odd, tmp_path)
    # Scaled up to the next even size (H.264 4:2:0 needs even sides), never a broken file.
    assert (out["width"], out["height"]) == (642, 482)
    assert out["video_codec"] == "h264" and out["pix_fmt"] == "yuv420p"
    assert out["duration_s"] == pytest.approx(2.0, abs=0.1)


@pytest.mark.slow
@pytest.mark.parametrize("audio", ["template", "footage", "none"])
def test_no_audio_anywhere_renders_without_error(
    audio: str, media_dir: Path, tmp_path: Path
) -> None:
    silent = media_dir / "rw_silent_video.mp4"
    if not silent.exists():
        ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=2", "-c:v", "libx264",
               "-pix_fmt", "yuv420p", str(silent))  # fmt: skip
    dna, out = _run(silent, silent, tmp_path, audio=audio)
    assert dna["template"]["has_audio"] is False
    assert dna["rhythm"]["tempo_bpm"] is None and dna["rhythm"]["detected_beats"] == []
    assert dna["rhythm"]["beat_confidence"] < 0.5
    assert dna["audio"]["present"] is False
    assert out["duration_s"] == pytest.approx(2.0, abs=0.1)


def _rotated(media_dir: Path, degrees: int) -> Path:
    """A 320x240 clip, white box top left and red box lower right, stored with a display
    matrix from ``-metadata:s:v rotate=degrees``."""
    base = media_dir / "rw_rot_base.mp4"
    if not base.exists():
        boxes = (
            "drawbox=x=0:y=0:w=160:h=120:color=white:t=fill,"
            "drawbox=x=200:y=180:w=60:h=40:color=red:t=fill"
        )
        ffmpeg("-f", "lavfi", "-i", "color=c=black:s=320x240:r=25:d=2", "-vf", boxes,
               "-c:v", "libx264", "-pix_fmt", "yuv420p", str(base))  # fmt: skip
    path = media_dir / f"rw_rot_{degrees}.mp4"
    if not path.exists():
        ffmpeg("-i", str(base), "-c", "copy", "-metadata:s:v:0", f"rotate={degrees}", str(path))
    return path


def _ffmpeg_frame(path: Path, width: int, height: int) -> np.ndarray:
    """The first frame as ffmpeg itself shows it (it applies the display matrix), converted
    by swscale's interpolating path (``gbrp``), which keeps the colour mean, as ours does."""
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-frames:v", "1", "-vf", "format=gbrp",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True,
    )  # fmt: skip
    return np.frombuffer(done.stdout, np.uint8).reshape(height, width, 3)


def _ffprobe_times(path: Path) -> np.ndarray:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "frame=best_effort_timestamp_time", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    times = np.array([float(line.strip(",")) for line in done.stdout.split()])
    return times - times[0]


def _white_centroid(frame: np.ndarray) -> tuple[float, float]:
    rows, cols = np.nonzero(frame.min(axis=2) > 200)
    return rows.mean() / frame.shape[0], cols.mean() / frame.shape[1]


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_rotated_clip_reads_upright_as_ffmpeg_shows_it(degrees: int, media_dir: Path) -> None:
    path = _rotated(media_dir, degrees)
    info = probe(path)
    assert info.rotation in (90, 180, 270)
    assert (info.width, info.height) == ((240, 320) if info.rotation != 180 else (320, 240))
    ours = VideoSource(info).get([0])[0].astype(int)
    reference = _ffmpeg_frame(path, info.width, info.height).astype(int)
    assert np.abs(ours - reference).mean() < 1.0


@pytest.mark.slow
def test_rotated_footage_renders_upright(media_dir: Path, tmp_path: Path) -> None:
    footage = _rotated(media_dir, 90)
    template = media_dir / "rw_template.mp4"
    if not template.exists():
        ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=2", "-f", "lavfi", "-i",
               "sine=f=440:d=2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
               "-shortest", str(template))  # fmt: skip
    info = probe(footage)
    _, out = _run(template, footage, tmp_path, color_strength=0.0, recut=False)
    assert (out["width"], out["height"], out["rotation"]) == (info.width, info.height, 0)
    shown = _ffmpeg_frame(tmp_path / "output.mp4", out["width"], out["height"])
    expected = _white_centroid(_ffmpeg_frame(footage, info.width, info.height))
    assert _white_centroid(shown) == pytest.approx(expected, abs=0.03)


# (container file, video encoder args, audio encoder args or None)
CODECS = {
    "vp8.webm": (["-c:v", "libvpx", "-b:v", "1M"], ["-c:a", "libopus"]),
    "vp9.webm": (
        ["-c:v", "libvpx-vp9", "-b:v", "1M", "-deadline", "realtime"], ["-c:a", "libvorbis"]
    ),
    "mpeg4.avi": (["-c:v", "mpeg4", "-q:v", "3"], ["-c:a", "libmp3lame"]),
    "mjpeg.avi": (["-c:v", "mjpeg", "-q:v", "3", "-pix_fmt", "yuvj420p"], ["-c:a", "pcm_s16le"]),
    "h264_opus.mkv": (["-c:v", "libx264", "-pix_fmt", "yuv420p"], ["-c:a", "libopus"]),
    "prores.mov": (["-c:v", "prores_ks", "-profile:v", "2"], ["-c:a", "pcm_s16le"]),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CODECS))
def test_every_container_with_its_usual_codecs_decodes(name: str, media_dir: Path) -> None:
    path = media_dir / f"rw_codec_{name}"
    video, audio = CODECS[name]
    if not path.exists():
        ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=2", "-f", "lavfi",
               "-i", "sine=f=440:d=2:sample_rate=48000", *video, *audio, "-shortest",
               str(path))  # fmt: skip
    info = probe(path)
    assert info.container == path.suffix.lstrip(".")
    assert (info.width, info.height, info.has_audio) == (320, 240, True)
    assert info.duration_s == pytest.approx(2.0, abs=0.1)
    source = VideoSource(info)
    assert len(source) == 50
    # Times as ffprobe gives them (AVI may leave a gap where the encoder held a frame).
    assert np.allclose(source.times_s, _ffprobe_times(path), atol=1e-3)
    # Frames as ffmpeg itself decodes them (the same decoder; conversions may round apart).
    ours = source.get([0])[0].astype(int)
    reference = _ffmpeg_frame(path, 320, 240).astype(int)
    assert np.abs(ours - reference).mean() < 2.0
    from pipelines.decode import decode_audio

    track = decode_audio(info)
    assert track is not None and track.duration_s == pytest.approx(2.0, abs=0.1)


def test_b_frames_come_out_in_display_order(media_dir: Path) -> None:
    path = media_dir / "rw_bframes.mp4"
    if not path.exists():
        ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=2", "-c:v", "libx264",
               "-x264-params", "bframes=3:b-pyramid=normal:keyint=12", "-pix_fmt", "yuv420p",
               str(path))  # fmt: skip
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pict_type",
         "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "B" in done.stdout  # the file really stores frames out of display order
    info = probe(path)
    ours = VideoSource(info).get(range(50)).astype(int)
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-vf", "format=gbrp", "-f", "rawvideo",
         "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    reference = np.frombuffer(raw, np.uint8).reshape(-1, 120, 160, 3).astype(int)
    assert len(reference) == 50
    per_frame = np.abs(ours - reference).mean(axis=(1, 2, 3))
    assert per_frame.max() < 1.0, per_frame


@pytest.mark.parametrize("frames", [1, 2, 5])
def test_a_clip_of_a_few_frames_gives_what_can_be_measured(frames: int, media_dir: Path) -> None:
    from support.synth_template import few_frames

    from pipelines.inference import get_backend
    from pipelines.runner import extract

    path = few_frames(media_dir / f"rw_few_{frames}.mp4", None, frames=frames)
    info = probe(path)
    assert info.duration_s < 0.4
    assert info.has_audio or frames == 1  # 40 ms of AAC may hold no packet at all
    document, analysed = extract(info, get_backend(), analysis_width=320, progress=lambda *_: None)
    assert analysed == frames == document["template"]["frame_count"]
    assert document["extraction_confidence"] < 0.5
    assert len(document["color"]["lab_mean"]) == 3  # a grade can be read off one frame
    if info.has_audio:
        assert document["audio"]["integrated_lufs"] is None  # under one 400 ms gating block
    assert document["rhythm"]["tempo_bpm"] is None and document["rhythm"]["detected_beats"] == []
    assert document["cuts"]["times_s"] == []
