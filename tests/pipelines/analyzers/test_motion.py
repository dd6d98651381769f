"""Camera motion on clips generated with a known move: pans, tilts, zooms, still shots."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.media import ffmpeg

from pipelines.analyzers.motion import MotionAnalyzer
from pipelines.decode import VideoSource, analysis_size
from pipelines.inference import InProcessBackend
from pipelines.ingest import probe

REPO = Path(__file__).resolve().parents[3]
SOURCE = "testsrc2=s=960x720:r=25:d=3"  # detailed, textured picture larger than the crop


@pytest.fixture(scope="module")
def backend() -> InProcessBackend:
    return InProcessBackend(REPO / "model_repository")


def _analyze(path: Path, backend: InProcessBackend) -> dict:
    info = probe(path)
    analyzer = MotionAnalyzer(backend, info.fps)
    for chunk in VideoSource(info, analysis_size(info, 320)).chunks():
        analyzer.update(chunk)
    return analyzer.finish().sections["motion"]


def _render(path: Path, vf: str) -> Path:
    # A frozen frame of testsrc2, so only the simulated camera moves.
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        SOURCE,
        "-vf",
        f"trim=end_frame=1,loop=74:1:0,{vf}",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-frames:v",
        "75",
        str(path),
    )
    return path


@pytest.mark.parametrize(
    ("name", "vf", "expected", "direction_key", "direction"),
    [
        ("pan_right", "crop=480:360:x='40+t*120':y=180", "pan", "pan_direction", "right"),
        ("pan_left", "crop=480:360:x='440-t*120':y=180", "pan", "pan_direction", "left"),
        ("tilt_down", "crop=480:360:x=240:y='20+t*100'", "tilt", "tilt_direction", "down"),
        (
            "zoom_in",
            "scale=960:720,zoompan=z='1+0.006*on':x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2'"
            ":d=1:s=480x360:fps=25",
            "zoom",
            "zoom_direction",
            "in",
        ),
        ("still", "crop=480:360:x=240:y=180", "static", None, None),
    ],
)
def test_camera_motion_class(tmp_path, backend, name, vf, expected, direction_key, direction):
    motion = _analyze(_render(tmp_path / f"{name}.mp4", vf), backend)
    assert motion["dominant_camera_motion"] == expected, motion["camera_motion"]
    assert motion["camera_motion"][expected] >= 0.8, motion["camera_motion"]
    if direction_key:
        assert motion[direction_key] == direction


def test_intensity_orders_still_slow_fast(tmp_path, backend):
    still = _analyze(_render(tmp_path / "s.mp4", "crop=480:360:x=240:y=180"), backend)
    slow = _analyze(_render(tmp_path / "a.mp4", "crop=480:360:x='40+t*40':y=180"), backend)
    fast = _analyze(_render(tmp_path / "b.mp4", "crop=480:360:x='40+t*150':y=180"), backend)
    assert still["mean_intensity"] < 0.05
    assert still["mean_intensity"] < slow["mean_intensity"] < fast["mean_intensity"]
