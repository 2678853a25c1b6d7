"""Sources: the bundled-ffmpeg pipe, OpenCV, and image folders; seeking, steps, metadata."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from vid2trail.errors import (
    DecodeError,
    SourceError,
    SourceNotFoundError,
    UsageError,
    as_flags,
    in_words,
)
from vid2trail.hdr import HdrToSdr
from vid2trail.sources import Source, open_source
from vid2trail.sources.images import natural_key
from vid2trail.sources.media import bits_per_sample, display_transform

from conftest import SHARED_DATA, encode, frame_index_of, make_frames, write_folder


def collect(path: Path, start: int = 0, end: int | None = None, step: int = 1,
            backend: str = "auto") -> list[tuple[int, np.ndarray]]:  # fmt: skip
    with open_source(path, backend=backend) as src:
        return [(f.index, f.pixels.copy()) for f in src.frames(start, end, step)]


def test_video_info(lossless_clip: Path) -> None:
    with open_source(lossless_clip) as src:
        info = src.info
    assert (info.width, info.height, info.channels, info.dtype) == (64, 48, 3, np.uint8)
    assert info.fps == 25.0 and info.duration_s == pytest.approx(1.6)
    assert (info.frame_count, info.frame_count_exact) == (40, False)
    assert info.backend == "pyav" and info.codec == "ffv1"


def test_ffmpeg_decodes_lossless_frames_exactly(lossless_clip: Path, frames40: np.ndarray) -> None:
    got = collect(lossless_clip)
    assert [i for i, _ in got] == list(range(40))
    np.testing.assert_array_equal(np.stack([p for _, p in got]), frames40)


@pytest.mark.parametrize(("start", "end", "step"), [(0, 10, 1), (7, 31, 1), (13, 40, 4),
                                                     (25, None, 3), (39, None, 1)])  # fmt: skip
def test_ffmpeg_seek_and_step_are_frame_accurate(lossless_clip: Path, frames40: np.ndarray,
                                                 start: int, end: int | None,
                                                 step: int) -> None:  # fmt: skip
    got = collect(lossless_clip, start, end, step)
    want = list(range(start, 40 if end is None else end, step))
    assert [i for i, _ in got] == want
    assert [frame_index_of(p) for _, p in got] == want
    np.testing.assert_array_equal(np.stack([p for _, p in got]), frames40[want])


def test_h264_seek_lands_on_the_exact_frame(h264_clip: Path, frames40: np.ndarray) -> None:
    # Keyframes every 12 frames: frame 29 needs a seek to 24 and decoding forward.
    got = collect(h264_clip, 29, 35)
    assert [i for i, _ in got] == list(range(29, 35))
    assert [frame_index_of(p) for _, p in got] == list(range(29, 35))
    # The same decoder gives the same pixels whether it seeked or decoded from the start.
    everything = collect(h264_clip)
    np.testing.assert_array_equal(np.stack([p for _, p in got]),
                                  np.stack([p for _, p in everything[29:35]]))  # fmt: skip


def test_seek_with_audio_track_starting_first(tmp_path: Path, frames40: np.ndarray) -> None:
    """A clip whose audio starts before the video still seeks to the right frame."""
    import subprocess

    import imageio_ffmpeg

    video = encode(frames40, tmp_path / "v.mkv")
    out = tmp_path / "av.mkv"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error",
                    "-itsoffset", "0.1", "-i", str(video), "-f", "lavfi", "-i",
                    "sine=d=2", "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "flac",
                    "-shortest", str(out)], check=True)  # fmt: skip
    got = collect(out, 10, 14)
    assert [frame_index_of(p) for _, p in got] == [10, 11, 12, 13]


def test_not_a_video(tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n" * 20)
    with pytest.raises(DecodeError, match=r"notes.mp4 is not a video FFmpeg can read"):
        open_source(fake)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(DecodeError, match=r"empty.mp4 is empty \(0 bytes\)"):
        open_source(empty)


@pytest.mark.parametrize("path", ["http://example.com/a.mp4", "concat:a.mp4|b.mp4", "pipe:0",
                                  "/dev/zero", "-"])  # fmt: skip
def test_only_local_files(path: str) -> None:
    with pytest.raises(UsageError):
        open_source(path)


def test_missing_input(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFoundError, match="does not exist"):
        open_source(tmp_path / "nope.mp4")
    with pytest.raises(SourceNotFoundError, match="no files match"):
        open_source(str(tmp_path / "*.jpg"))


def test_folder_natural_order_and_non_images_ignored(tmp_path: Path) -> None:
    frames = make_frames(12)
    folder = write_folder(tmp_path / "seq", frames, pattern="img{}")
    (folder / "notes.txt").write_text("ignore me")
    (folder / "thumbs.db").write_bytes(b"\0")
    with open_source(folder) as src:
        assert src.info.frame_count == 12 and src.info.frame_count_exact
        assert [Path(f).name for f in src.files][:3] == ["img0.png", "img1.png", "img2.png"]
        got = [(f.index, frame_index_of(f.pixels)) for f in src.frames(2, 11, 4)]
    assert got == [(2, 2), (6, 6), (10, 10)]
    assert sorted(["f10", "f2", "f1"], key=natural_key) == ["f1", "f2", "f10"]


def test_glob_and_formats(tmp_path: Path) -> None:
    frames = make_frames(3)
    write_folder(tmp_path, frames, ".jpg", "a{}")
    write_folder(tmp_path, frames, ".png", "b{}")
    with open_source(str(tmp_path / "b*.png")) as src:
        got = np.stack([f.pixels.copy() for f in src])
    np.testing.assert_array_equal(got, frames)
    with open_source(str(tmp_path / "a*.jpg")) as src:
        assert src.info.frame_count == 3 and src.info.dtype == np.uint8


def test_sixteen_bit_and_grayscale_tiff(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    deep = rng.integers(0, 65536, (4, 10, 12, 3), dtype=np.uint16)
    write_folder(tmp_path / "deep", deep, ".tif")
    with open_source(tmp_path / "deep") as src:
        assert src.info.dtype == np.uint16
        np.testing.assert_array_equal(np.stack([f.pixels.copy() for f in src]), deep)
    gray = rng.integers(0, 256, (3, 10, 12, 1), dtype=np.uint8)
    write_folder(tmp_path / "gray", gray, ".tiff")
    with open_source(tmp_path / "gray") as src:
        assert src.info.channels == 1
        np.testing.assert_array_equal(np.stack([f.pixels.copy() for f in src]), gray)


def test_folder_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images")
    with pytest.raises(SourceError, match="no images in folder"):
        open_source(tmp_path / "empty")
    mixed = write_folder(tmp_path / "mixed", make_frames(3))
    cv2.imwrite(str(mixed / "f3.png"), np.zeros((10, 10, 3), np.uint8))
    with (
        open_source(mixed) as src,
        pytest.raises(SourceError, match=r"f3.png is 10x10 but .*f0.png is 64x48"),
    ):  # noqa: E501
        list(src)


def test_pixel_formats_and_display_matrices() -> None:
    import struct

    assert bits_per_sample("yuv420p12le") == 12 and bits_per_sample("gbrp") == 8
    assert bits_per_sample("p010le") == 10 and bits_per_sample("rgb48le") == 16

    def matrix(a: int, b: int, c: int, d: int) -> bytes:
        return struct.pack("<9i", a << 16, b << 16, 0, c << 16, d << 16, 0, 0, 0, 1 << 30)

    # What `ffmpeg -display_rotation N` writes, and the filter ffmpeg's autorotation picks.
    assert display_transform(matrix(0, -1, 1, 0)) == (90, False, (("transpose", "cclock"),))
    assert display_transform(matrix(-1, 0, 0, -1)) == (180, False, (("hflip", ""), ("vflip", "")))
    assert display_transform(matrix(0, 1, -1, 0)) == (270, False, (("transpose", "clock"),))
    # A mirror: ffmpeg reads it as a half turn plus a flip, and undoes it with hflip.
    assert display_transform(matrix(-1, 0, 0, 1)) == (180, True, (("hflip", ""),))
    assert display_transform(matrix(1, 0, 0, 1)) == (0, False, ())


@pytest.mark.skipif(not (SHARED_DATA / "rotation-hevc").is_dir(), reason="../shared/data absent")
def test_shared_rotated_and_hevc_clips() -> None:
    with open_source(SHARED_DATA / "rotation-hevc" / "with_sound_90.mp4") as src:
        assert (src.info.width, src.info.height, src.info.rotation_deg) == (360, 640, 90)
        first = next(iter(src))
        assert first.pixels.shape == (640, 360, 3)
    with open_source(SHARED_DATA / "rotation-hevc" / "with_sound_hevc.mp4") as src:
        assert src.info.codec == "hevc"
        assert sum(1 for _ in src) == 50


@pytest.mark.skipif(not (SHARED_DATA / "codec-samples").is_dir(), reason="../shared/data absent")
def test_shared_ten_bit_decodes_at_sixteen_bits() -> None:
    with open_source(SHARED_DATA / "codec-samples" / "h265_10bits.mp4") as src:
        assert src.info.dtype == np.uint16 and src.info.bits_per_sample == 10
        frame = next(iter(src)).pixels
    assert frame.dtype == np.uint16 and frame.shape == (200, 200, 3)


# --- what a source declares ---------------------------------------------------------------------


def test_info_never_changes_and_exact_info_counts(lossless_clip: Path) -> None:
    with open_source(lossless_clip) as src:
        opened = src.info
        assert src.known_times() is None and src.known_info() is opened
        exact = src.exact_info()
        assert src.info is opened and not opened.frame_count_exact
        assert (exact.frame_count, exact.frame_count_exact, exact.variable_fps) == (40, True, False)
        assert exact.duration_s == pytest.approx(1.6)
        assert src.known_info() == exact and src.known_times() == src.frame_times()
        assert src.count_frames() == (40, pytest.approx(1.6))
        small = src.downscaled(32)
        assert small is not None and small.info.width == 32 and src.info.width == 64
        assert small.exact_info() == replace(exact, width=32, height=24)


def test_declared_capabilities_and_their_defaults(h264_clip: Path, png_folder: Path) -> None:
    with open_source(png_folder) as folder:
        assert isinstance(folder, Source) and len(folder.files) == 40
        assert Path(folder.files[0]).name == "f0.png"
        assert folder.seekable and not folder.exact_seek and not folder.keyframes_only
        assert folder.keyframes_in(0, None) is None and folder.frame_times() is None
        assert folder.downscaled(16) is None and folder.exact_info() is folder.info
        assert folder.known_info() is folder.info and folder.count_frames() == (40, 0.0)
    with open_source(h264_clip) as video:
        assert isinstance(video, Source) and video.files == (str(h264_clip),)
        assert video.seekable and video.exact_seek
        assert video.keyframes_in(0, None) == [0, 12, 24, 36]
        assert (video.threads, video.decoder_threads) == (1, None)


def test_configured_copies_and_leaves_the_source_alone(h264_clip: Path, png_folder: Path) -> None:
    with open_source(h264_clip) as video:
        keys = video.configured(keyframes_only=True, decoder_threads=1, threads=3)
        assert (keys.keyframes_only, keys.decoder_threads, keys.threads) == (True, 1, 1)
        assert (video.keyframes_only, video.decoder_threads) == (False, None)
        assert [f.index for f in keys.frames()] == [0, 12, 24, 36]
        assert len(list(video.frames())) == 40
    with open_source(png_folder, threads=4) as folder:
        single = folder.configured(threads=1, decoder_threads=2)
        assert (single.threads, single.decoder_threads, folder.threads) == (1, None, 4)
        assert folder.configured(keyframes_only=False).keyframes_only is False
        with pytest.raises(UsageError, match=r"^keyframes_only=True: ImageFolderSource has no "):
            folder.configured(keyframes_only=True)
        with pytest.raises(UsageError, match=r"^threads=0: give 1 or more$"):
            folder.configured(threads=0)


def test_messages_name_options_in_library_words(lossless_clip: Path) -> None:
    cases = [
        ({"stream": -1}, "{stream} -1: video streams count from 0"),
        ({"backend": "vlc"}, "unknown {backend} 'vlc': choose one of auto, pyav, ffmpeg"),
        ({"hdr": "bright"}, "{hdr} 'bright': choose one of tonemap, keep"),
        ({"hwaccel": "vulkan"}, "{hwaccel} 'vulkan': choose one of none, auto, cuda"),
        ({"stream": 2}, f"{{stream}} 2: {lossless_clip}: there is no video stream 2: the file "
                        "has 1 ({stream} 0 to 0)"),
    ]  # fmt: skip
    words = {name: name for name in ("stream", "backend", "hdr", "hwaccel")}
    flags = {name: f"--{name}" for name in words}
    for kwargs, text in cases:
        with pytest.raises(UsageError) as caught:
            open_source(lossless_clip, **kwargs)  # type: ignore[arg-type]
        assert str(caught.value) == text.format(**words)
        assert as_flags(caught.value.message()) == text.format(**flags)
    with open_source(lossless_clip, backend="opencv") as src:
        [note] = src.info.notes
    assert in_words(note).startswith("backend opencv is retired: PyAV decodes in-process")
    assert as_flags(note).startswith("--backend opencv is retired: PyAV decodes in-process")
    kept = HdrToSdr("smpte2084", keep=True).note()
    assert in_words(kept).endswith("survive only in bit_depth 32 outputs (.tif, .fits, .npy)")
    assert as_flags(kept).endswith("survive only in --bit-depth 32 outputs (.tif, .fits, .npy)")


def test_hwaccel_refusal_and_fallback_in_library_words(h264_clip: Path) -> None:
    import av

    try:
        av.open(str(h264_clip), hwaccel=av.codec.hwaccel.HWAccel("cuda")).close()
        pytest.skip("this machine has an NVIDIA GPU: the refusal cannot be shown here")
    except av.error.FFmpegError:
        pass
    with pytest.raises(UsageError) as caught:
        open_source(h264_clip, hwaccel="cuda")
    assert str(caught.value).startswith("hwaccel cuda: ")
    assert str(caught.value).endswith("; use hwaccel auto or none")
    with open_source(h264_clip, hwaccel="auto") as src:
        [note] = src.info.notes
    assert in_words(note).startswith("hwaccel auto: ") and note.endswith("; decoding in software")
