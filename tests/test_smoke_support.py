from support.media import click_track


def test_click_track_has_expected_length(tmp_path):
    import subprocess

    path = click_track(tmp_path / "c.wav", bpm=120, seconds=3)
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path],
        capture_output=True, text=True, check=True,
    ).stdout
    assert abs(float(out) - 3.0) < 0.01
