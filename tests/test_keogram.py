"""Keograms: one column per frame, exact for 8- and 16-bit sources, whole or split."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

import vid2trail
from vid2trail.keograms import KeogramReducer, line_through_centre, tick_times
from vid2trail.pipeline import run_reducers
from vid2trail.reducers import make_reducer
from vid2trail.segments import combine_in_order
from vid2trail.select import FrameRange
from vid2trail.sources import open_source

from conftest import encode, invoke, read_rgb, write_folder


def band_frames(
    count: int, dtype: type = np.uint8, width: int = 40, height: int = 30
) -> np.ndarray:
    """A dark sky with a bright band that moves down one row per frame, and noise."""
    rng = np.random.default_rng(1)
    top = np.iinfo(dtype).max
    frames = rng.integers(0, top // 8, (count, height, width, 3)).astype(dtype)
    for k in range(count):
        frames[k, k % height] = top - k
    return frames


def centre_columns(frames: np.ndarray) -> np.ndarray:
    """The expected keogram: frame k's centre column is column k."""
    return np.stack([f[:, f.shape[1] // 2] for f in frames], axis=1)


def sixteen_bit_clip(frames: np.ndarray, path: Path) -> Path:
    height, width = frames.shape[1:3]
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
           "-f", "rawvideo", "-pix_fmt", "rgb48le", "-s", f"{width}x{height}", "-r", "25",
           "-i", "-", "-c:v", "ffv1", "-pix_fmt", "gbrp16le", str(path)]  # fmt: skip
    subprocess.run(cmd, input=frames.astype("<u2").tobytes(), check=True)
    return path


@pytest.fixture(scope="module")
def band8() -> np.ndarray:
    return band_frames(150)


@pytest.fixture(scope="module")
def clip8(tmp_path_factory: pytest.TempPathFactory, band8: np.ndarray) -> Path:
    return encode(band8, tmp_path_factory.mktemp("keo") / "band.mkv")


@pytest.fixture(scope="module")
def band16() -> np.ndarray:
    return band_frames(150, np.uint16)


@pytest.fixture(scope="module")
def clip16(tmp_path_factory: pytest.TempPathFactory, band16: np.ndarray) -> Path:
    return sixteen_bit_clip(band16, tmp_path_factory.mktemp("keo16") / "band16.mkv")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_videos_keogram_is_its_centre_columns(
    clip8: Path, band8: np.ndarray, clip16: Path, band16: np.ndarray, workers: int
) -> None:
    for clip, frames in ((clip8, band8), (clip16, band16)):
        keogram = vid2trail.keogram(clip, workers=workers)
        assert keogram.dtype == frames.dtype
        np.testing.assert_array_equal(keogram, centre_columns(frames))


def test_the_parts_of_a_split_run_join_in_order(clip8: Path, band8: np.ndarray) -> None:
    with open_source(clip8) as src:
        [both] = run_reducers(src, [FrameRange(0, 150)], "max", params={"keogram_angle": 0.0},
                              workers=3)  # fmt: skip
        [alone] = run_reducers(src, [FrameRange(0, 150)], "max")
    np.testing.assert_array_equal(both.keogram.result(), centre_columns(band8))  # type: ignore[attr-defined]
    np.testing.assert_array_equal(both.result(), alone.result())
    parts = [KeogramReducer() for _ in range(3)]
    for k, frame in enumerate(band8):
        parts[min(2, k // 50)].update(frame)
    np.testing.assert_array_equal(combine_in_order(parts).result(), centre_columns(band8))


def test_a_folders_keogram_in_threads(tmp_path: Path, band16: np.ndarray) -> None:
    folder = write_folder(tmp_path / "deep", band16[:60], ".png")
    for threads in (1, 2):
        keogram = vid2trail.keogram(folder, workers=threads)
        np.testing.assert_array_equal(keogram, centre_columns(band16[:60]))


def test_a_multi_pass_mode_gives_one_column_per_frame(clip8: Path, band8: np.ndarray) -> None:
    with open_source(clip8) as src:
        [both] = run_reducers(src, [FrameRange(0, 150)], "sigma",
                              params={"keogram_angle": 0.0})  # fmt: skip
    np.testing.assert_array_equal(both.keogram.result(), centre_columns(band8))  # type: ignore[attr-defined]
    assert both.name == "sigma" and both.passes == 2


def test_excluded_frames_have_no_column(clip8: Path, band8: np.ndarray) -> None:
    keogram = vid2trail.keogram(clip8, start=10, end=40, exclude="20-29")
    kept = [k for k in range(10, 40) if not 20 <= k <= 29]
    np.testing.assert_array_equal(keogram, centre_columns(band8[kept]))


def test_a_turned_line_samples_a_gradient_exactly() -> None:
    # value = 2x + 3y: bilinear sampling of a plane is exact, so each sample is 2x + 3y.
    y, x = np.mgrid[0:60, 0:80]
    plane = (2 * x + 3 * y).astype(np.float32)[:, :, None]
    reducer = KeogramReducer(angle_deg=30)
    reducer.update(plane)
    xs, ys = line_through_centre(80, 60, 30)
    np.testing.assert_allclose(reducer.result()[:, 0, 0], 2 * xs + 3 * ys, atol=0.02)
    assert np.allclose(np.diff(xs), np.sin(np.radians(30))) and len(xs) > 60
    row = KeogramReducer(angle_deg=90)
    row.update(plane)
    np.testing.assert_array_equal(row.result()[:, 0, 0], plane[30, :, 0])


def test_a_reducer_with_a_keogram_is_still_the_mode() -> None:
    both = make_reducer("mean", keogram_angle=10)
    both.update(np.full((4, 4, 3), 128, np.uint8))
    assert both.name == "mean" and both.count == 1 and both.linear
    assert both.parameters() == make_reducer("mean").parameters()


def test_hour_ticks() -> None:
    from datetime import datetime

    ticks = tick_times(datetime(2026, 8, 12, 23, 59), datetime(2026, 8, 13, 0, 5))
    assert [t.strftime("%H:%M") for t in ticks] == ["23:59"] + [f"00:0{m}" for m in range(6)]
    night = tick_times(datetime(2026, 8, 12, 21, 40, 30), datetime(2026, 8, 13, 1, 0))
    assert [t.strftime("%d %H:%M") for t in night] == ["12 22:00", "12 23:00", "13 00:00",
                                                        "13 01:00"]  # fmt: skip


def test_the_command_writes_the_keogram_beside_the_still(
    clip8: Path, band8: np.ndarray, in_tmp: Path
) -> None:
    result = invoke(clip8, "-q", "-o", "max.png", "--keogram", "keo.png")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["max.png", "keo.png"]
    np.testing.assert_array_equal(read_rgb("keo.png"), centre_columns(band8))
    result = invoke(clip8, "-q", "-o", "m2.png", "--keogram", "wide.png", "--keogram-width", "30")
    assert result.exit_code == 0 and read_rgb("wide.png").shape == (30, 30, 3)
    # A keogram saved into a folder is not one of its frames next time.
    folder = write_folder(in_tmp / "f", band8[:5])
    assert invoke(folder, "-q", "-o", "a.png", "--keogram", folder / "k.png").exit_code == 0
    again = invoke(folder, "-o", "b.png", "--keogram", "k2.png", "-q")
    assert again.exit_code == 0 and "skipped 1 image vid2trail wrote itself" in again.output


def test_the_command_with_a_video_and_a_sigma_stack(
    clip8: Path, band8: np.ndarray, in_tmp: Path
) -> None:
    result = invoke(clip8, "-q", "-m", "sigma", "--video", "t.mp4", "--trail", "window",
                    "--keogram", "k.tif")  # fmt: skip
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_rgb("k.tif"), centre_columns(band8))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--keogram-angle", "20"],
            "Error: --keogram-angle sets up the keogram: add --keogram PATH (e.g. keogram.png)",
        ),
        (["--keogram", "k.gif"], "Error: --keogram k.gif: write the keogram as .png, .tif or .jpg"),
        (
            ["--keogram", "k.png", "--keogram-width", "1"],
            "Error: --keogram-width 1: use 2 to 65535 pixels",
        ),
        (
            ["--keogram", "k.png", "--keogram-angle", "nan"],
            "Error: --keogram-angle nan: give an angle in degrees",
        ),
        (
            ["--keogram", "k.png", "--window", "0:5", "--window", "5:9"],
            "Error: --keogram takes one window: use --start/--end or a single --window",
        ),
        (
            ["-o", "k.png", "--keogram", "k.png"],
            "Error: --keogram k.png is another output's path: give it its own name",
        ),
    ],
)
def test_keogram_mistakes(clip8: Path, in_tmp: Path, args: list[str], message: str) -> None:
    result = invoke(clip8, *args)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == message
    assert not list(in_tmp.iterdir())


def test_grayscale_and_calibrated_keograms(tmp_path: Path, in_tmp: Path) -> None:
    gray = band_frames(12)[:, :, :, :1]
    folder = write_folder(tmp_path / "gray", gray, ".png")
    np.testing.assert_array_equal(vid2trail.keogram(folder), centre_columns(gray))
    # Calibrated frames are float linear light: the keogram file holds them sRGB-encoded again,
    # so a black dark gives back the frames' own columns.
    np.save(in_tmp / "dark.npy", np.zeros((30, 40, 1), np.float32))
    result = invoke(folder, "-q", "--dark", "dark.npy", "--keogram", "k.png")
    assert result.exit_code == 0, result.output
    assert np.abs(read_rgb("k.png").astype(int) - centre_columns(gray)[:, :, 0]).max() <= 1
