"""The generated sets must be the same clips on every run, or their answers are not exact.

ffmpeg's ``life``, ``cellauto`` and ``gradients`` sources draw at random unless told not to
(``gradients`` also draws every colour it is not given, whatever its seed), and a random
picture made ``lavfi_shots`` pass on one run and miss a cut on the next.
"""

from __future__ import annotations

import hashlib
import subprocess

import pytest
from support import synth_color, synth_video


def _frames_digest(source: str) -> str:
    done = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", source, "-frames:v", "8",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True,
    )  # fmt: skip
    assert len(done.stdout) > 0, source
    return hashlib.sha1(done.stdout).hexdigest()


SOURCES = {
    **{f"cuts/{name}": source for name, source in synth_video.SCENES.items()},
    **{
        f"color/{name}": source.format(w=160, h=120, r=25, d=1)
        for name, source in synth_color.SCENES.items()
    },
}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_every_picture_source_draws_the_same_frames_on_each_run(name):
    source = SOURCES[name]
    assert _frames_digest(source) == _frames_digest(source), source
