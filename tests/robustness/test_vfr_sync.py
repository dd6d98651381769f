"""Issue #5: variable frame rate. Cut times, beats and the rendered output stay in sync with
the audio to within one frame, because every time comes from timestamps.

Both clips switch rate mid-way (15 fps and 60 fps), so reading times as index / mean rate
would put the template's cut 0.9 s early and the footage's frames up to half a second off.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from support.media import ffmpeg

from pipelines.decode import VideoSource, decode_audio
from pipelines.ingest import probe

SECONDS = 4.0
CUT_S = 2.5
BEATS_S = [0.5 * k for k in range(1, 8)]  # 120 BPM clicks from 0.5 s
BAR_PX_PER_S = 80.0  # the footage's bar moves 80 px a second: its place is the frame's time


def _clicks() -> str:
    expr = "if(lt(mod(t+0.5,0.5),0.01)*gte(t,0.5),sin(2*PI*1000*t),0)"
    return f"aevalsrc='{expr}':s=48000:d={SECONDS}"


def _vfr(slow_first: bool) -> str:
    """Keep every fourth frame of 60 fps on one side of 2 s (15 fps), all on the other."""
    slow = "lt(t,2)" if slow_first else "gte(t,2)"
    return f"select='if({slow},not(mod(n,4)),1)'"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("vfr") / "template_vfr.mp4"
    shots = (
        f"testsrc2=s=320x180:r=60:d={CUT_S}[a];"
        f"mandelbrot=s=320x180:r=60,trim=duration={SECONDS - CUT_S}[b];"
        f"[a][b]concat=n=2:v=1:a=0,{_vfr(slow_first=True)}[v]"
    )
    ffmpeg("-filter_complex", shots, "-f", "lavfi", "-i", _clicks(), "-map", "[v]",
           "-map", "0:a", "-fps_mode", "vfr", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-b:a", "192k", str(path))  # fmt: skip
    return path


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bright 8-px bar at x = 80 px/s × t on black: each frame shows its own time."""
    path = tmp_path_factory.mktemp("vfr") / "footage_vfr.mp4"
    bar = f"geq=lum='if(lt(abs(X-4-T*{BAR_PX_PER_S}),4),235,16)':cb=128:cr=128"
    ffmpeg("-f", "lavfi", "-i", f"color=c=black:s=336x240:r=60:d={SECONDS}",
           "-vf", f"{bar},{_vfr(slow_first=False)}", "-fps_mode", "vfr", "-c:v", "libx264",
           "-qp", "0", "-pix_fmt", "yuv420p", str(path))  # fmt: skip
    return path


def _bar_time(frame: np.ndarray) -> float:
    """The time a frame of the footage shows, from the centroid of its bar."""
    weight = np.clip(frame[..., 1].astype(float).mean(axis=0) - 40, 0, None)
    return float((np.arange(len(weight)) * weight).sum() / weight.sum() - 4) / BAR_PX_PER_S


def test_the_clips_really_change_rate(template: Path, footage: Path) -> None:
    for path in (template, footage):
        info = probe(path)
        assert info.variable_frame_rate
        steps = np.round(np.diff(VideoSource(info, (64, 48)).times_s) * 60).astype(int)
        assert set(steps) == {1, 4}
    # The bar reads back the time of each footage frame, to a fraction of a 60 fps frame.
    source = VideoSource(probe(footage))
    for index in (0, 50, len(source) - 1):
        assert _bar_time(source.get([index])[0]) == pytest.approx(source.times_s[index], abs=4e-3)


def test_template_cut_and_beats_are_within_one_frame(template: Path) -> None:
    from pipelines.inference import get_backend
    from pipelines.runner import extract

    info = probe(template)
    dna, _ = extract(info, get_backend(), analysis_width=160, progress=lambda *_: None)
    frame = 1.0 / 60  # the frame at the cut is a 60 fps one
    assert dna["cuts"]["times_s"] == [pytest.approx(CUT_S, abs=frame)]
    beats = dna["rhythm"]["detected_beats"]
    mean_frame = 1.0 / info.fps
    hits = [b for b in beats if min(abs(b - t) for t in BEATS_S) <= mean_frame]
    assert len(hits) >= len(BEATS_S) - 1 and len(hits) == len(beats), beats


def _stream_starts(path: Path) -> dict[str, float]:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,start_time",
         "-of", "json", str(path)], capture_output=True, text=True, check=True,
    )  # fmt: skip
    return {s["codec_type"]: float(s["start_time"]) for s in json.loads(done.stdout)["streams"]}


@pytest.mark.slow
def test_rendered_frames_and_music_stay_in_sync(
    template: Path, footage: Path, tmp_path: Path
) -> None:
    from pipelines.options import JobOptions
    from pipelines.runner import JobRequest, run_job

    options = JobOptions(color_strength=0.0, audio="template")
    result = run_job(JobRequest("extract_apply", tmp_path, template, [footage], options=options))
    assert result.output_path is not None
    out = probe(result.output_path)
    frame = 1.0 / out.fps
    # The video and the music start together in the file.
    starts = _stream_starts(result.output_path)
    assert abs(starts["video"] - starts["audio"]) < frame, starts
    # Each output frame shows the footage frame that was on screen at its time (no recut
    # shift here: one clip, as long as the template, placed from its start).
    source_times = VideoSource(probe(footage)).times_s
    rendered = VideoSource(out)
    errors = []
    for chunk in rendered.chunks():
        for t, picture in zip(chunk.times_s, chunk.frames, strict=True):
            on_screen = source_times[np.searchsorted(source_times, t + 1e-6, side="right") - 1]
            errors.append(abs(_bar_time(picture) - on_screen))
    assert max(errors) <= frame, max(errors)
    # And the clicks of the music land on the beats, within one frame.
    track = decode_audio(out)
    assert track is not None
    loud = np.flatnonzero(np.abs(track.mono()) > 0.1) / track.sample_rate
    onsets = loud[np.concatenate([[True], np.diff(loud) > 0.2])]
    assert len(onsets) == len(BEATS_S)
    assert np.abs(onsets - np.array(BEATS_S)).max() <= frame, onsets


def _onsets(track) -> np.ndarray:
    loud = np.flatnonzero(np.abs(track.mono()) > 0.1) / track.sample_rate
    return loud[np.concatenate([[True], np.diff(loud) > 0.2])] if len(loud) else loud


@pytest.mark.parametrize("delayed", ["audio", "video"])
def test_streams_that_start_apart_are_measured_on_the_video_clock(
    delayed: str, tmp_path: Path
) -> None:
    """One stream starts 0.4 s after the other (an edit list, a camera's MPEG-TS): times in
    the Style DNA count from the first frame, so the clicks are heard where they were."""
    from pipelines.inference import get_backend
    from pipelines.options import JobOptions
    from pipelines.runner import JobRequest, extract, run_job

    video, audio = tmp_path / "video.mp4", tmp_path / "clicks.m4a"
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s=320x240:r=25:d={SECONDS}", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", str(video))  # fmt: skip
    ffmpeg("-f", "lavfi", "-i", _clicks(), "-c:a", "aac", "-b:a", "192k", str(audio))
    late = ["-itsoffset", "0.4"]
    streams = (["-i", str(video), *late, "-i", str(audio)] if delayed == "audio"
               else [*late, "-i", str(video), "-i", str(audio)])  # fmt: skip
    path = tmp_path / f"{delayed}_late.mp4"
    ffmpeg(*streams, "-map", "0:v", "-map", "1:a", "-c", "copy", str(path))
    info = probe(path)
    shift = 0.4 if delayed == "audio" else -0.4
    assert info.video_lead_s == pytest.approx(max(0.0, -shift), abs=0.03)
    heard_at = np.array([t + shift for t in BEATS_S if t + shift > 0])
    expected = heard_at[heard_at < info.duration_s]  # the clicks within the template
    frame = 1.0 / info.fps
    track = decode_audio(info)
    assert track is not None
    heard = _onsets(track)
    assert len(heard) == len(heard_at), heard
    assert np.abs(heard - heard_at).max() <= frame, heard
    dna, _ = extract(info, get_backend(), analysis_width=160, progress=lambda *_: None)
    beats = np.asarray(dna["rhythm"]["detected_beats"])
    assert len(beats) >= len(expected) - 1
    assert all(np.abs(expected - b).min() <= frame for b in beats), beats
    # Rendered on the same clock: the output's music has its clicks at the same times.
    result = run_job(JobRequest("extract_apply", tmp_path / "out", path, [path],
                                options=JobOptions(color_strength=0.0)))  # fmt: skip
    assert result.output_path is not None
    rendered = decode_audio(probe(result.output_path))
    assert rendered is not None
    heard_out = _onsets(rendered)
    in_output = expected[expected < probe(result.output_path).duration_s - 0.05]
    assert len(heard_out) == len(in_output), heard_out
    assert np.abs(heard_out - in_output).max() <= frame, heard_out
