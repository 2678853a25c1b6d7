"""Seeking lands on the asked frame in files whose keyframes are not clean cut points.

x265's default open GOP puts leading (RASL) frames after each CRA keyframe in decode order; a
seek that starts decoding at that keyframe cannot decode them, so frames were lost and the rest
mislabelled. MPEG-TS has no index, and OpenCV's frame seek misses there.
"""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from vid2trail.sources import open_source

from conftest import encode, frame_index_of, make_frames


def _reencode(src: Path, out: Path, *args: str) -> Path:
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
           "-i", str(src), *args, str(out)]  # fmt: skip
    subprocess.run(cmd, check=True)
    return out


@pytest.fixture(scope="module")
def frames42() -> np.ndarray:
    return make_frames(42)


@pytest.fixture(scope="module")
def open_gop_hevc(tmp_path_factory: pytest.TempPathFactory, frames42: np.ndarray) -> Path:
    folder = tmp_path_factory.mktemp("opengop")
    lossless = encode(frames42, folder / "src.mkv")
    return _reencode(lossless, folder / "open.mp4", "-c:v", "libx265", "-x265-params",
                     "log-level=none:keyint=10:bframes=4:open-gop=1:lossless=1",
                     "-pix_fmt", "yuv420p")  # fmt: skip


@pytest.fixture(scope="module")
def ts_clip(tmp_path_factory: pytest.TempPathFactory, frames42: np.ndarray) -> Path:
    folder = tmp_path_factory.mktemp("ts")
    lossless = encode(frames42, folder / "src.mkv")
    return _reencode(lossless, folder / "clip.ts", "-c:v", "libx264", "-bf", "3", "-g", "10",
                     "-crf", "4", "-pix_fmt", "yuv420p")  # fmt: skip


def _indices(src: object, start: int, end: int | None, step: int) -> list[tuple[int, int]]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a "frames lost" warning fails the test
        return [(f.index, frame_index_of(f.pixels)) for f in src.frames(start, end, step)]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("start", "end", "step"), [(9, 13, 1), (10, 13, 1), (9, None, 3), (20, None, 7)]
)
def test_seek_in_open_gop_hevc(open_gop_hevc: Path, start: int, end: int | None, step: int) -> None:
    src = open_source(open_gop_hevc)
    got = _indices(src, start, end, step)
    expected = list(range(start, 42 if end is None else end, step))
    assert [i for i, _ in got] == expected
    assert [shown for _, shown in got] == expected


@pytest.mark.parametrize(("start", "end", "step"), [(1, 4, 1), (9, None, 3), (20, 25, 2)])
def test_seek_in_mpegts(ts_clip: Path, start: int, end: int | None, step: int) -> None:
    src = open_source(ts_clip)
    got = _indices(src, start, end, step)
    expected = list(range(start, 42 if end is None else end, step))
    assert [i for i, _ in got] == expected
    assert [shown for _, shown in got] == expected


@pytest.mark.parametrize(("frames", "start"), [(40, 20), (40, 30), (400, 300), (400, 398)])
def test_start_past_the_end_of_a_truncated_video(tmp_path: Path, frames: int, start: int) -> None:
    """A start past the frames a truncated file still holds is the past-end error, alone."""
    from typer.testing import CliRunner

    from vid2trail.cli import app

    whole = encode(make_frames(frames), tmp_path / "whole.mp4", codec="h264",
                   extra=("-movflags", "+faststart"))  # fmt: skip
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    held = open_source(cut).count_frames()[0]  # type: ignore[index]
    assert held < start
    result = CliRunner().invoke(
        app, ["stack", str(cut), "--start", str(start), "-q", "-o", str(tmp_path / "o.png")]
    )
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"Error: --start frame {start} is past the last frame of {cut}: it has {held} frames "
        f"({held / 25:.2f} s); give a smaller --start"
    ]


@pytest.fixture(scope="module")
def long_audio_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """130 video frames (5.2 s at 25 fps) muxed with 20 s of audio: the container lasts 20 s."""
    folder = tmp_path_factory.mktemp("audio")
    video = encode(make_frames(130), folder / "v.mkv")
    out = folder / "clip.mkv"
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
           "-i", str(video), "-f", "lavfi", "-i", "sine=d=20", "-map", "0:v", "-map", "1:a",
           "-c:v", "copy", "-c:a", "flac", str(out)]  # fmt: skip
    subprocess.run(cmd, check=True)
    return out


def test_workers_split_the_video_not_the_longer_audio(long_audio_clip: Path) -> None:
    """The split and the progress total follow the video's frames, not the container's length."""
    from vid2trail.pipeline import run_reducers
    from vid2trail.select import FrameRange

    calls: list[tuple[int, int | None]] = []
    src = open_source(long_audio_clip)
    [reducer] = run_reducers(
        src, [FrameRange(0, None)], "max", lambda d, t: calls.append((d, t)), workers=2
    )
    assert reducer.count == 130
    assert calls[-1] == (130, 130)


def test_info_duration_is_the_video_stream_s(long_audio_clip: Path) -> None:
    from vid2trail.info import describe

    facts = describe(long_audio_clip)
    assert facts["video"]["frame_count"] == 130
    assert facts["video"]["duration_s"] == pytest.approx(5.2)


def test_folder_ignores_hidden_files_as_a_glob_does(tmp_path: Path) -> None:
    """macOS leaves ``._name.jpg`` resource forks beside copied photos; they are not frames."""
    from vid2trail.sources.images import list_images

    from conftest import write_folder

    frames = make_frames(3)
    folder = write_folder(tmp_path / "night", frames)
    (folder / "._f1.png").write_bytes(b"\x00\x05\x16\x07")
    (folder / ".hidden.png").write_bytes((folder / "f0.png").read_bytes())
    expected = [str(folder / f"f{k}.png") for k in range(3)]
    assert list_images(str(folder)) == expected
    assert sorted(list_images(str(folder / "*.png"))) == sorted(expected)
    src = open_source(folder)
    assert src.info.frame_count == 3
    assert len(list(src.frames())) == 3


def test_frames_an_edit_list_hides_are_not_counted(tmp_path: Path) -> None:
    """A clip cut with ``-ss ... -c copy`` keeps the keyframe before the cut, hidden by an edit
    list: it is no frame of the clip, so counting it would warn of a lost frame."""
    whole = encode(make_frames(42), tmp_path / "whole.mp4", codec="h264")
    cut = tmp_path / "cut.mp4"
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
           "-ss", "0.5", "-i", str(whole), "-c", "copy", str(cut)]  # fmt: skip
    subprocess.run(cmd, check=True)
    src = open_source(cut)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shown = _indices(src, 0, None, 1)
    assert len(src.frame_times()) == len(shown) == src.exact_info().frame_count


def test_glob_in_a_folder_whose_name_has_brackets(tmp_path: Path) -> None:
    """``'night [1]/*.png'``: the folder exists, so its brackets are its name, not a pattern."""
    from conftest import write_folder

    folder = write_folder(tmp_path / "night [1]", make_frames(3))
    src = open_source(str(folder / "*.png"))
    assert src.info.frame_count == 3
    assert len(list(src.frames())) == 3


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_unwritable_folder_names_the_output_not_the_temporary_file() -> None:
    """A folder that takes no new file (read-only, /proc) is reported with the output's name."""
    from vid2trail.errors import OutputError
    from vid2trail.writers import write_still

    with pytest.raises(OutputError, match=r"^cannot write /proc/vid2trail-out\.png: "):
        write_still("/proc/vid2trail-out.png", np.zeros((4, 4, 3), np.uint8))
