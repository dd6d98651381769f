"""Issue #5: the frame decoder reads colour, time and order right, and never hangs.

Each test makes its input with ffmpeg and knows the answer: the colour that was encoded,
the frame a timestamp belongs to, a stream that stops arriving.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from support.media import ffmpeg

from pipelines import decode
from pipelines.colorspace import rgb_to_lab
from pipelines.decode import VideoSource, _FrameStream, analysis_size
from pipelines.errors import MediaTimeoutError
from pipelines.ingest import _rotation, probe

COLOR = (200, 60, 110)  # 0xc83c6e
UNSPECIFIED = "colour_primaries=2:transfer_characteristics=2:matrix_coefficients=2"


def _stated_matrix(path: Path) -> str | None:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=color_space", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)["streams"][0].get("color_space")


@pytest.mark.parametrize(("size", "matrix"), [("1280x720", "bt709"), ("640x360", "bt601")])
def test_untagged_video_is_read_with_the_matrix_its_size_implies(
    size: str, matrix: str, tmp_path: Path
) -> None:
    """Encoders that tag nothing use BT.709 for HD and BT.601 for SD; so must the reader
    (decord read untagged HD as BT.601: green off by ~4 levels, red and blue by more)."""
    path = tmp_path / f"untagged_{matrix}.mp4"
    ffmpeg("-f", "lavfi", "-i", f"color=c=0xc83c6e:s={size}:r=25:d=0.4,format=gbrp",
           "-vf", f"scale=out_color_matrix={matrix}:flags=accurate_rnd", "-c:v", "libx264",
           "-qp", "0", "-pix_fmt", "yuv420p", "-bsf:v", f"h264_metadata={UNSPECIFIED}",
           str(path))  # fmt: skip
    assert _stated_matrix(path) in (None, "unknown")  # nothing tells the reader the matrix
    mean = VideoSource(probe(path)).get([0, 5]).reshape(-1, 3).mean(axis=0)
    assert np.abs(mean - np.array(COLOR)).max() <= 1.5, mean


def test_analysis_frames_keep_the_full_pictures_colour_mean(tmp_path: Path) -> None:
    """One-pixel lines, a quarter red and three quarters blue: area averaging keeps their
    mean; point or bilinear sampling at a quarter of the size lands on one colour or the
    other. (Colours inside the gamut: clipping is where averaging YUV and RGB part.)"""
    path = tmp_path / "lines.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=0xc05050:s=1280x720:r=25:d=0.4,format=yuv444p",
           "-vf", "drawgrid=w=2:h=2:t=1:c=0x5050c0", "-c:v", "libx264", "-qp", "0",
           "-pix_fmt", "yuv444p", str(path))  # fmt: skip
    info = probe(path)
    full = VideoSource(info).get([0, 3]).reshape(-1, 3).astype(float).mean(axis=0)
    small_source = VideoSource(info, analysis_size(info, 320))
    assert small_source.size == (320, 180)
    small = small_source.get([0, 3]).reshape(-1, 3).astype(float).mean(axis=0)
    assert np.abs(small - full).max() <= 1.0, (small, full)
    # And the lines really were there: the full picture is not one flat colour.
    assert VideoSource(info).get([0])[0].reshape(-1, 3).std(axis=0).max() > 50


@pytest.mark.parametrize(
    ("size", "tolerance"),
    [
        ("1280x720", 0.02),
        # Above 1080p the stored chroma samples are picked, not interpolated to every pixel:
        # pure per-pixel chroma noise, the worst case for that, reads 14 % wide.
        ("2560x1440", 0.16),
    ],
)
def test_point_samples_keep_the_full_pictures_spread(
    size: str, tolerance: float, tmp_path: Path
) -> None:
    """Beside the area-scaled frames, the point samples: the full-size picture's colour
    distribution (grain and texture included), which area averaging narrows."""
    path = tmp_path / "grain.mp4"
    ffmpeg("-f", "lavfi", "-i", f"color=c=0x8a6a5a:s={size}:r=25:d=0.4", "-vf",
           "noise=alls=20:allf=t,format=yuv420p", "-c:v", "libx264", "-crf", "8",
           str(path))  # fmt: skip
    info = probe(path)
    full = VideoSource(info).get([0, 3]).reshape(-1, 3).astype(float)
    chunk = next(VideoSource(info, analysis_size(info, 320), points=True).chunks())
    assert chunk.pixels is not None and chunk.pixels.shape == chunk.frames.shape
    points = chunk.pixels[[0, 3]].reshape(-1, 3).astype(float)
    area = chunk.frames[[0, 3]].reshape(-1, 3).astype(float)

    assert np.abs(points.std(axis=0) / full.std(axis=0) - 1).max() < tolerance
    assert np.abs(points.mean(axis=0) - full.mean(axis=0)).max() < 1.0
    # And averaging really narrows it here: the test could tell the two apart.
    assert (area.std(axis=0) / full.std(axis=0)).max() < 0.7
    assert next(VideoSource(info, analysis_size(info, 320)).chunks()).pixels is None


def _numbered(path: Path, *, seconds: float = 8.0, rate: int = 25, vfr: bool = False) -> Path:
    """Each frame's grey level is its time (luma 16 + 10 a second, truncated): which came back is
    read off the picture. Keyframes every 2 s, so a jump must really seek. With ``vfr``, the
    first half keeps every fourth frame of 100 fps, the second half every frame."""
    if path.exists():
        return path
    source = f"color=c=black:s=128x96:r={100 if vfr else rate}:d={seconds}"
    chain = "geq=lum='16+T*10':cb=128:cr=128"
    if vfr:
        chain += f",select='if(lt(t,{seconds / 2}),not(mod(n,4)),1)'"
    ffmpeg("-f", "lavfi", "-i", source, "-vf", chain, "-fps_mode", "vfr" if vfr else "cfr",
           "-c:v", "libx264", "-qp", "0", "-g", "50" if not vfr else "200", "-bf", "2",
           "-pix_fmt", "yuv420p", str(path))  # fmt: skip
    return path


def _grey(t: np.ndarray | float) -> np.ndarray:
    """The RGB grey of the frame made at ``t`` (limited-range luma, BT.601 expansion)."""
    return (np.floor(16 + 10 * np.asarray(t) + 1e-9) - 16) * 255 / 219


def test_frames_picked_out_of_order_match_the_frames_read_in_order(tmp_path: Path) -> None:
    info = probe(_numbered(tmp_path / "numbered.mp4"))
    source = VideoSource(info)
    in_order = np.concatenate([chunk.frames for chunk in source.chunks()])
    assert len(in_order) == len(source) == 200
    # Forward within a group, back across one, far ahead, back to the start, repeats.
    wanted = [120, 121, 130, 7, 199, 198, 0, 55, 55, 64]
    picked = source.get(wanted)
    for index, frame in zip(wanted, picked, strict=True):
        assert np.array_equal(frame, in_order[index]), index
    # And each is the frame encoded for its time (grey 16 + 10 per second).
    grey = picked[..., 1].reshape(len(wanted), -1).mean(axis=1)
    assert np.allclose(grey, _grey(source.times_s[wanted]), atol=1.0), grey


def test_variable_frame_rate_frames_are_found_by_their_timestamps(tmp_path: Path) -> None:
    info = probe(_numbered(tmp_path / "vfr.mp4", vfr=True))
    assert info.variable_frame_rate
    source = VideoSource(info)
    steps = np.round(np.diff(source.times_s) * 100).astype(int)
    assert set(steps) == {1, 4}  # 25 fps, then 100 fps, as made
    for t in (0.5, 3.0, 4.21, 6.5, 1.0):  # out of order, across the change of rate
        frame = source.frame_at(t)
        shown = source.times_s[source.index_at(t)]
        assert frame[..., 1].mean() == pytest.approx(_grey(shown), abs=1.0), t


def test_closing_a_decoder_mid_stream_leaves_no_reader_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing the decoder while its log reader is inside a read (a damaged file is refused
    after its first frames, with ffmpeg still writing) must end the reader quietly, its pipe
    closed by the reader itself, never by the thread that closes the decoder."""
    info = probe(_numbered(tmp_path / "numbered.mp4"))
    failures: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: failures.append(args.exc_value))
    pattern = decode._SHOWINFO

    class SlowPattern:  # a reader behind the decoder, as on a loaded machine
        def search(self, line: str) -> re.Match[str] | None:
            time.sleep(0.005)
            return pattern.search(line)

    monkeypatch.setattr(decode, "_SHOWINFO", SlowPattern())
    for _ in range(5):
        stream = _FrameStream(info, (160, 120), None, stall_s=5.0)
        assert stream.next() is not None
        stream.close()
        assert not stream._reader.is_alive()
        assert stream._proc.stderr is not None and stream._proc.stderr.closed
    assert failures == []


def _stalling_fifo(tmp_path: Path, stop: threading.Event) -> Path:
    """A named pipe that delivers the first half of an MPEG-TS clip, then nothing, held open:
    what a reader sees from a network mount or device that stopped answering."""
    clip = tmp_path / "whole.ts"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=4", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", str(clip))  # fmt: skip
    data = clip.read_bytes()
    fifo = tmp_path / "stalled.ts"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "wb") as pipe:  # blocks until the reader opens it
            pipe.write(data[: len(data) // 2])
            pipe.flush()
            stop.wait(60)

    threading.Thread(target=feed, daemon=True).start()
    return fifo


def test_a_decoder_that_stops_getting_data_is_stopped_by_the_bound(tmp_path: Path) -> None:
    info = probe(_numbered(tmp_path / "numbered.mp4", seconds=1.0))
    stop = threading.Event()
    try:
        fifo = _stalling_fifo(tmp_path, stop)
        stalled = info.__class__(**{**info.to_dict(), "path": str(fifo), "container": "mpegts"})
        stream = _FrameStream(stalled, (160, 120), None, stall_s=1.5)
        began = time.monotonic()
        with pytest.raises(MediaTimeoutError, match=r"no frame for 1\.5 s"):
            while stream.next() is not None:
                pass
        assert time.monotonic() - began < 10
        assert stream._proc.poll() is not None  # the decoder was killed, not left behind
    finally:
        stop.set()


def test_a_frame_index_that_never_ends_is_stopped_by_the_bound(tmp_path: Path) -> None:
    info = probe(_numbered(tmp_path / "numbered.mp4", seconds=1.0))
    stop = threading.Event()
    try:
        fifo = _stalling_fifo(tmp_path, stop)
        stalled = info.__class__(**{**info.to_dict(), "path": str(fifo)})
        began = time.monotonic()
        with pytest.raises(MediaTimeoutError) as caught:
            VideoSource(stalled, stall_timeout_s=1.5)
        assert caught.value.code == "media_timeout"
        assert time.monotonic() - began < 10
    finally:
        stop.set()


def _lab(rgb: np.ndarray) -> np.ndarray:
    return rgb_to_lab(torch.from_numpy(np.ascontiguousarray(rgb))).double().numpy()


PATCHES = ["0xb03020", "0x30a040", "0x3040b0", "0x808080"]  # red, green, blue, mid grey


def test_hdr_point_samples_are_tone_mapped_like_the_frames(tmp_path: Path) -> None:
    """The point samples take their own path through the filters (chroma upsampled first):
    HDR there is tone-mapped too, to the frames' colours on flat patches."""
    inputs, pads = [], []
    for i, colour in enumerate(PATCHES):
        inputs += ["-f", "lavfi", "-i", f"color=c={colour}:s=320x720:r=25:d=0.2"]
        pads.append(f"[{i}:v]")
    to_hdr = (
        f"{''.join(pads)}hstack=inputs={len(PATCHES)},format=gbrp,"
        "zscale=tin=bt709:min=gbr:pin=bt709:rin=full:t=smpte2084:p=bt2020:m=bt2020nc:"
        "r=limited:npl=203,format=yuv420p10le"
    )
    path = tmp_path / "hdr_wide.mp4"
    ffmpeg(*inputs, "-filter_complex", to_hdr, "-c:v", "libx265", "-pix_fmt", "yuv420p10le",
           "-x265-params", "log-level=error:colorprim=bt2020:transfer=smpte2084:"
           "colormatrix=bt2020nc", "-color_trc", "smpte2084", "-color_primaries", "bt2020",
           "-colorspace", "bt2020nc", str(path))  # fmt: skip
    info = probe(path)
    chunk = next(VideoSource(info, analysis_size(info, 320), points=True).chunks())
    assert chunk.pixels is not None and chunk.pixels is not chunk.frames
    for i in range(len(PATCHES)):  # the middle of each patch, away from its edges
        inner = np.s_[:, 30:60, 80 * i + 20 : 80 * i + 60]
        frames = chunk.frames[inner].reshape(-1, 3).mean(axis=0)
        points = chunk.pixels[inner].reshape(-1, 3).mean(axis=0)
        assert np.abs(points - frames).max() <= 2.0, (i, points, frames)
    # And both are tone-mapped: the grey patch is the SDR grey it was made from.
    grey = chunk.pixels[:, 30:60, 260:300].reshape(-1, 3).mean(axis=0)
    assert np.abs(grey - 128).max() < 8, grey


@pytest.mark.parametrize("tags", ["all tags", "transfer only"])
@pytest.mark.parametrize("transfer", ["smpte2084", "arib-std-b67"])
def test_hdr_is_tone_mapped_before_colour_statistics(
    transfer: str, tags: str, tmp_path: Path
) -> None:
    """BT.709 patches carried in a BT.2020 PQ or HLG stream, SDR white at HDR reference white
    (203 cd/m2, BT.2408), come back as they were, grey neutral; read as if SDR (no transfer
    or primaries conversion) they lose a third of their chroma or more. A stream that states
    only its transfer (no primaries, no matrix) is read as the BT.2020 it is."""
    inputs, pads = [], []
    for i, colour in enumerate(PATCHES):
        inputs += ["-f", "lavfi", "-i", f"color=c={colour}:s=80x80:r=25:d=0.4"]
        pads.append(f"[{i}:v]")
    to_hdr = (
        f"{''.join(pads)}hstack=inputs={len(PATCHES)},format=gbrp,"
        f"zscale=tin=bt709:min=gbr:pin=bt709:rin=full:t={transfer}:p=bt2020:m=bt2020nc:"
        "r=limited:npl=203,format=yuv420p10le"
    )
    path = tmp_path / f"patches_{transfer}.mp4"
    ffmpeg(*inputs, "-filter_complex", to_hdr, "-c:v", "libx265", "-pix_fmt", "yuv420p10le",
           "-x265-params", f"log-level=error:colorprim=bt2020:transfer={transfer}:"
           "colormatrix=bt2020nc", "-color_trc", transfer, "-color_primaries", "bt2020",
           "-colorspace", "bt2020nc", str(path))  # fmt: skip
    if tags == "transfer only":  # primaries and matrix set to "unspecified" in the bitstream
        path = path.rename(path.with_name("tagged.mp4")).with_name(path.name)
        ffmpeg("-i", str(path.with_name("tagged.mp4")), "-c", "copy", "-bsf:v",
               "hevc_metadata=colour_primaries=2:matrix_coefficients=2", str(path))  # fmt: skip
    info = probe(path)
    assert info.hdr
    if tags == "transfer only":
        assert info.color_primaries is None and info.color_space is None
    frame = VideoSource(info).get([2])[0]
    naive = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-frames:v", "1", "-f", "rawvideo",
         "-pix_fmt", "rgb24", "-"], capture_output=True, check=True,
    ).stdout  # fmt: skip
    naive_frame = np.frombuffer(naive, np.uint8).reshape(frame.shape)
    truth = _lab(np.array([[int(c[2:4], 16), int(c[4:6], 16), int(c[6:], 16)]
                           for c in PATCHES], dtype=np.uint8))  # fmt: skip

    def patch_lab(picture: np.ndarray) -> np.ndarray:
        means = [picture[20:60, 80 * i + 20 : 80 * i + 60].reshape(-1, 3).mean(axis=0)
                 for i in range(len(PATCHES))]  # fmt: skip
        return _lab(np.round(np.array(means)).astype(np.uint8))

    ours, misread = patch_lab(frame), patch_lab(naive_frame)

    def hue_error(lab: np.ndarray) -> np.ndarray:
        angle = np.degrees(np.arctan2(lab[:3, 2], lab[:3, 1]))
        want = np.degrees(np.arctan2(truth[:3, 2], truth[:3, 1]))
        return np.abs((angle - want + 180) % 360 - 180)

    assert hue_error(ours).max() < 12, (ours, truth)
    assert np.hypot(*ours[3, 1:]) < 3  # grey stays grey
    chroma = np.hypot(ours[:3, 1], ours[:3, 2]) / np.hypot(truth[:3, 1], truth[:3, 2])
    lost = np.hypot(misread[:3, 1], misread[:3, 2]) / np.hypot(truth[:3, 1], truth[:3, 2])
    assert np.all(np.abs(chroma - 1) < 0.1), chroma
    assert np.abs(ours[:, 0] - truth[:, 0]).max() < 3, (ours, truth)  # and lightness
    assert lost.min() < 0.67, lost


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        ({"side_data_list": [{"side_data_type": "Display Matrix", "rotation": -90}]}, 90),
        ({"side_data_list": [{"rotation": 180}]}, 180),
        ({"side_data_list": [{"rotation": 90}], "tags": {"rotate": "270"}}, 270),
        ({"tags": {"rotate": "90"}}, 90),  # older ffprobe: the tag alone
        ({"tags": {"rotate": "-90"}}, 270),
        ({"tags": {"rotate": "sideways"}}, 0),
        ({}, 0),
    ],
)
def test_rotation_comes_from_the_display_matrix_or_the_older_rotate_tag(
    stream: dict, expected: int
) -> None:
    assert _rotation(stream) == expected


@pytest.mark.parametrize("stage", ["template", "footage"])
def test_a_job_whose_decoder_hangs_fails_media_timeout(
    stage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole job: probing works, then the frame decoder never delivers a frame (an
    ``ffmpeg`` first on PATH that sleeps when asked for raw frames of the hanging clip and
    runs the real one otherwise). The job fails ``media_timeout`` after the configured bound
    and leaves no decoder running."""
    from pipelines.options import JobOptions
    from pipelines.runner import JobRequest, run_job
    from pipelines.settings import Settings

    good = _numbered(tmp_path / "good.mp4", seconds=1.0)
    hanging = _numbered(tmp_path / "hangs.mp4", seconds=1.0)
    real = shutil.which("ffmpeg")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "ffmpeg"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'case "$*" in *{hanging.name}*rawvideo*) echo $$ > {tmp_path}/hung.pid; '
        "exec sleep 300;; esac\n"
        f'exec {real} "$@"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    template, footage = (hanging, good) if stage == "template" else (good, hanging)
    settings = Settings(decode_stall_s=1.5, data_dir=tmp_path / "data")
    request = JobRequest(
        "extract_apply", tmp_path / "out", template, [footage], options=JobOptions()
    )
    began = time.monotonic()
    with pytest.raises(MediaTimeoutError) as caught:
        run_job(request, settings=settings)
    assert caught.value.code == "media_timeout"
    assert "1.5 s" in str(caught.value)
    assert time.monotonic() - began < 60
    # The hung decoder itself, by its pid (not by name: any other "sleep" would match).
    pid = int((tmp_path / "hung.pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.parametrize(
    ("stated", "expected"),
    [("64:45", 64 / 45), ("1:1", 1.0), ("0:1", 1.0), ("N/A", 1.0), ("", 1.0), ("100:1", 1.0)],
)
def test_pixel_aspect_is_read_where_stated_and_sane(stated: str, expected: float) -> None:
    from pipelines.ingest import _pixel_aspect

    assert float(_pixel_aspect({"sample_aspect_ratio": stated})) == pytest.approx(expected)


def test_non_square_pixels_are_shown_at_their_display_shape(tmp_path: Path) -> None:
    """A 360x240 picture stored with 2:1 pixels is 720x240 on screen: a 90-px box at x=0
    stored is 180 px wide shown. Analysis and output use the shown shape."""
    path = tmp_path / "anamorphic.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=360x240:r=25:d=0.4",
           "-vf", "drawbox=x=0:y=0:w=90:h=240:color=white:t=fill,setsar=2",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path))  # fmt: skip
    info = probe(path)
    assert (info.coded_width, info.width, info.height, info.pixel_aspect) == (360, 720, 240, 2)
    frame = VideoSource(info).get([0])[0]
    assert frame.shape == (240, 720, 3)
    white = np.flatnonzero(frame[120, :, 1] > 128)
    assert (white.min(), white.max()) == pytest.approx((0, 179), abs=2)
    small = VideoSource(info, analysis_size(info, 360)).get([0])[0]
    assert small.shape == (120, 360, 3)  # the display aspect, 3:1


def _combing(frames: np.ndarray) -> float:
    """How much each line differs from the mean of its neighbours (interlace combing)."""
    luma = frames[..., 1].astype(float)
    return float(np.abs(luma[:, 1:-1] - (luma[:, :-2] + luma[:, 2:]) / 2).mean())


def test_interlaced_video_is_deinterlaced_before_analysis(tmp_path: Path) -> None:
    """Fields of a fast pan 1/50 s apart, woven into one frame, comb; read frame by frame as
    stored, the combing stays; deinterlaced, it drops to what the progressive pan has."""
    pan = "testsrc2=s=320x240:r=50:d=1.2,crop=240:240:'t*200':0"
    progressive = tmp_path / "pan_p.mp4"
    ffmpeg("-f", "lavfi", "-i", pan, "-vf", "fps=25", "-c:v", "libx264", "-qp", "0",
           "-pix_fmt", "yuv420p", str(progressive))  # fmt: skip
    interlaced = tmp_path / "pan_i.mp4"
    ffmpeg("-f", "lavfi", "-i", pan, "-vf", "tinterlace=interleave_top,setfield=tff",
           "-c:v", "libx264", "-qp", "0", "-flags", "+ildct+ilme", "-x264-params", "tff=1",
           "-pix_fmt", "yuv420p", str(interlaced))  # fmt: skip
    info = probe(interlaced)
    assert info.interlaced and not probe(progressive).interlaced
    woven = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(interlaced), "-f", "rawvideo", "-pix_fmt",
         "rgb24", "-"], capture_output=True, check=True,
    ).stdout  # fmt: skip
    stored = _combing(np.frombuffer(woven, np.uint8).reshape(-1, 240, 240, 3))
    ours = _combing(np.concatenate([c.frames for c in VideoSource(info).chunks()]))
    reference = _combing(
        np.concatenate([c.frames for c in VideoSource(probe(progressive)).chunks()])
    )
    assert ours < 0.5 * stored, (ours, stored)
    assert ours < 1.5 * reference, (ours, reference)
