"""Astro stacking: outlier rejection, exact median in bounded memory, darks, hot pixels, argmax."""

from __future__ import annotations

import copy
import os
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from vid2trail.calibrate import Calibration, find_hot_pixels
from vid2trail.color import linear_to_srgb, srgb_to_linear, to_linear, to_output
from vid2trail.errors import DiskSpaceError, Vid2TrailWarning
from vid2trail.median import MedianReducer, parse_size
from vid2trail.outputs import render
from vid2trail.pipeline import run_reducers
from vid2trail.reducers import ArgmaxReducer
from vid2trail.select import FrameRange

from conftest import SHARED_DATA, FakeSource, invoke, make_frames, write_folder

ALL = [FrameRange(0, None)]


pytestmark = pytest.mark.usefixtures("in_tmp")


def plane_stack(seed: int = 3) -> np.ndarray:
    """50 frames: noisy sky (code 20, sd 3), fixed stars, and a plane streak in frames 10 and 11."""
    rng = np.random.default_rng(seed)
    frames = np.clip(rng.normal(20, 3, (50, 48, 64, 3)), 0, 255).astype(np.uint8)
    frames[:, 5, 7] = frames[:, 30, 50] = 230  # stars
    frames[10, 20, 4:60] = 250  # the plane's streak, then its blinking beacon trail
    frames[11, 21, 4:60] = 240
    return frames


@pytest.mark.parametrize("mode", ["sigma", "winsor"])
def test_plane_streak_is_rejected_while_stars_stay(mode: str) -> None:
    frames = plane_stack()
    [reducer] = run_reducers(FakeSource(frames), ALL, mode)
    light = srgb_to_linear(frames / 255.0)
    clean = np.delete(light, [10, 11], axis=0).mean(axis=0)
    noise = light[:, 30:45, 10:40].std() / np.sqrt(48)  # standard error of a clean mean
    got = reducer.result()
    streak = (slice(20, 22), slice(4, 60))
    plain = light.mean(axis=0)
    assert (plain[streak] - clean[streak]).min() > 50 * noise  # the mean shows the plane
    # Within noise of the clean sky; winsor gets its default 2 iterations, sigma 1.
    assert np.abs(got[streak] - clean[streak]).max() < 3 * noise
    for y, x in ((5, 7), (30, 50)):
        np.testing.assert_allclose(got[y, x], light[0, y, x], rtol=1e-12)
    assert reducer.count == 50


@pytest.mark.parametrize("iterations", [1, 2, 3])
def test_a_pixel_that_loses_every_sample_keeps_its_last_mean(iterations: int) -> None:
    # 0, 0, 1, 1 at kappa 0.5: the first rejection pass keeps none of them, so the mean of
    # pass 0 (0.5) stands, however many passes follow (not the empty pass's 0 as a new centre).
    frames = np.array([0.0, 0.0, 1.0, 1.0]).reshape(4, 1, 1, 1)
    [sigma] = run_reducers(FakeSource(frames), ALL, "sigma",
                           params={"kappa": 0.5, "iterations": iterations})  # fmt: skip
    assert sigma.result().ravel().tolist() == [0.5]
    # Winsor then clamps to the last bounds that were computed from samples (0.25 and 0.75).
    [winsor] = run_reducers(FakeSource(frames), ALL, "winsor",
                            params={"kappa": 0.5, "iterations": iterations + 1})  # fmt: skip
    assert winsor.result().ravel().tolist() == [0.5]


def test_sigma_through_the_cli_decodes_twice(lossless_clip: Path, frames40: np.ndarray) -> None:
    result = invoke(lossless_clip, "-m", "sigma", "--kappa", "1.5", "--iterations", "2",
                    "-o", "s.npy", "--bit-depth", "32", "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    [want] = run_reducers(FakeSource(frames40), ALL, "sigma",
                          params={"kappa": 1.5, "iterations": 2})  # fmt: skip
    np.testing.assert_array_equal(np.load("s.npy"), want.result().astype(np.float32))
    assert want.rejected_fraction() > 0.01


@pytest.mark.parametrize("memory", [10**9, 10_000])
@pytest.mark.parametrize("count", [9, 10])
def test_median_equals_numpy_in_memory_and_banded(tmp_path: Path, memory: int, count: int) -> None:
    frames = make_frames(count, 40, 30, seed=count)
    params = {"memory_bytes": memory, "temp_dir": str(tmp_path)}
    [reducer] = run_reducers(FakeSource(frames), ALL, "median", params=params)
    want = np.median(frames, axis=0)
    assert np.array_equal(reducer.result(), srgb_to_linear(want / 255))
    if count % 2:  # an odd count's median is one of the samples: the 8-bit output is exact
        np.testing.assert_array_equal(render(reducer, out_dtype=np.uint8), want)
    assert reducer.spilled == (memory < frames.nbytes)
    assert (reducer.bands > 1) == (memory < frames.nbytes)
    assert os.listdir(tmp_path) == []  # the cache is gone


def test_median_of_float_frames_below_one_row(tmp_path: Path) -> None:
    frames = np.random.default_rng(4).random((12, 6, 50, 3)).astype(np.float32)
    # 5 kB: not even one row of all 12 frames fits (10.8 kB with the float64 median), so each band
    # is one row, never a part of one, and the expected frames get a warning up front.
    median = MedianReducer(memory_bytes=5000, temp_dir=str(tmp_path))
    message = (
        "memory 5.0 kB is less than one row of every frame needs (10.8 kB): the median uses "
        "that much"
    )
    with pytest.warns(Vid2TrailWarning) as caught:
        median.expect(12, frames.shape[1:], frames.dtype)
    assert [str(w.message) for w in caught] == [message]
    for frame in frames:
        median.update(frame)
    assert np.array_equal(median.result(), np.median(frames, axis=0))  # no second warning
    assert median.bands == 6 and os.listdir(tmp_path) == []


def test_median_cache_is_removed_on_interrupt(tmp_path: Path) -> None:
    class Broken(FakeSource):
        def frames(self, start=0, end=None, step=1):  # type: ignore[no-untyped-def]
            for k, frame in enumerate(super().frames(start, end, step)):
                if k == 6:
                    raise KeyboardInterrupt
                yield frame

    with pytest.raises(KeyboardInterrupt):
        run_reducers(Broken(make_frames(10)), ALL, "median",
                     params={"memory_bytes": 20_000, "temp_dir": str(tmp_path)})  # fmt: skip
    assert os.listdir(tmp_path) == []


def test_median_refuses_a_disk_too_small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(10, 9, 1000))
    message = (
        r"^a median of 10 frames needs 92.2 kB of temporary disk in .* but only 1.0 kB is free: "
        r"free some space, point TMPDIR at a bigger disk, raise memory, or stack fewer frames "
        r"\(step\)$"
    )
    params = {"memory_bytes": 20_000, "temp_dir": str(tmp_path)}
    with pytest.raises(DiskSpaceError, match=message):
        run_reducers(FakeSource(make_frames(10)), ALL, "median", params=params)


def test_median_peak_memory_stays_under_the_limit(tmp_path: Path) -> None:
    frames = make_frames(60, 320, 240)  # 13.8 MB of frames
    memory = 2_000_000
    source = FakeSource(frames)
    tracemalloc.start()
    try:
        params = {"memory_bytes": memory, "temp_dir": str(tmp_path)}
        [reducer] = run_reducers(source, ALL, "median", params=params)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    result_bytes = frames[0].size * 8
    # The stated overhead: the float64 result, plus one band's float64 median and conversion.
    assert peak < memory + 2 * result_bytes, (peak, memory, result_bytes)
    assert reducer.spilled and reducer.bands > 1
    assert np.array_equal(reducer.result(), srgb_to_linear(np.median(frames, axis=0) / 255))


def test_parse_size_errors() -> None:
    assert parse_size("1.5 GB") == 1_500_000_000
    with pytest.raises(ValueError, match="memory 'lots' is not a size"):
        parse_size("lots")


def stuck_frames() -> np.ndarray:
    frames = make_frames(30)
    frames[:, 10, 30] = (255, 250, 245)  # a stuck pixel in every frame
    frames[:, 40, 2] = (0, 240, 0)  # a hot green sample only
    return frames


def test_hot_pixels_are_found_and_repaired_in_a_max_stack() -> None:
    frames = stuck_frames()
    cal = Calibration(hot_pixels=True)
    [reducer] = run_reducers(FakeSource(frames), ALL, "max", calibration=cal)
    assert cal.hot_pixel_count == 2
    got = reducer.result()
    want = frames.max(axis=0)
    for y, x, channels in ((10, 30, [0, 1, 2]), (40, 2, [1])):
        around = np.delete(frames[:, y - 1 : y + 2, x - 1 : x + 2].reshape(30, 9, 3), 4, axis=1)
        repaired = np.rint(np.median(around, axis=1)).max(axis=0)
        np.testing.assert_array_equal(got[y, x, channels], repaired[channels])
        assert got[y, x].max() < 45
        want[y, x, channels] = repaired[channels]
    np.testing.assert_array_equal(got, want)  # nothing else changed, the moving dot included


def test_hot_pixel_test_spares_lines_and_corners() -> None:
    sky = np.full((20, 20, 1), 0.01, np.float32)
    sky[5, 2:18] = 0.9  # a one-pixel line (a lit cable): its ends have one bright neighbour
    sky[10:14, 10:14] = 0.9  # a bright block: its corners are above their 3x3 median
    sky[17, 3] = sky[17, 4] = 0.8  # a hot pair
    assert np.argwhere(find_hot_pixels(sky)[:, :, 0]).tolist() == [[17, 3], [17, 4]]


def test_dark_is_subtracted_in_linear_light_and_clears_a_stuck_pixel() -> None:
    lights = stuck_frames()
    darks = np.random.default_rng(9).integers(0, 6, (5, 48, 64, 3), dtype=np.uint8)
    darks[:, 10, 30] = (255, 250, 245)
    write_folder(Path("darks"), darks)
    write_folder(Path("lights"), lights)
    result = invoke("lights", "--dark", "darks", "-o", "max.npy", "--bit-depth", "32", "-q")
    assert result.exit_code == 0, result.output
    master = srgb_to_linear(np.median(darks, axis=0) / 255).astype(np.float32)
    calibrated = np.maximum(to_linear(lights, dtype=np.float32) - master, 0).max(axis=0)
    got = np.load("max.npy")
    np.testing.assert_array_equal(got, calibrated)
    assert got[10, 30].max() == 0.0


def test_cli_hot_pixels_report_and_provenance(lossless_clip: Path) -> None:
    frames = stuck_frames()
    write_folder(Path("lights"), frames)
    result = invoke("lights", "--hot-pixels", "auto", "-o", "max.png", "--sidecar", "-q")
    assert result.exit_code == 0, result.output
    assert result.stderr == "Repaired 2 hot pixels.\n"
    assert result.stdout.split() == ["max.png", "max.png.json"]
    import json

    from vid2trail.embed import read_png_text

    meta = json.loads(Path("max.png.json").read_text())
    assert meta["hot_pixels_fixed"] == 2 and meta["frames_used"] == 30 and meta["mode"] == "max"
    assert json.loads(read_png_text(Path("max.png").read_bytes())["vid2trail"]) == meta


def test_argmax_points_at_the_frame_of_a_planted_dot(tmp_path: Path) -> None:
    frames = make_frames(40)
    frames[23, 30, 40] = 255  # a satellite glint in frame 23 only
    write_folder(Path("f"), frames)
    result = invoke("f", "--start", "5", "--step", "2", "--argmax", "idx.png", "-q")
    # frame 23 is not stacked with --step 2 from 5 (5, 7, ..., 39): 23 is. Check both ways.
    assert result.exit_code == 0, result.output
    import cv2

    index = cv2.imread("idx.png", cv2.IMREAD_UNCHANGED)
    assert index.dtype == np.uint16 and index.shape == (48, 64)
    assert index[30, 40] == 23
    for k in range(9, 40, 2):  # the moving dot: frame k lights pixel (0, k)
        assert index[0, k] == k
    assert set(np.unique(index)) <= set(range(5, 40, 2))


def test_argmax_png_past_frame_65535_is_refused_before_stacking(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A night of 1 s exposures at 30 fps passes 65535 frames; the still used to be written first.
    import vid2trail.orchestrator

    frames = np.zeros((70_000, 1, 2, 3), np.uint8)
    frames[65_600, 0, 1] = 200
    monkeypatch.setattr(vid2trail.orchestrator, "open_source", lambda *a, **k: FakeSource(frames))
    Path("night.mp4").write_bytes(b"")
    result = invoke("night.mp4", "--argmax", "idx.png", "-q")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: --argmax idx.png: frame numbers run up to 69999, past the 65535 a 16-bit PNG "
        "holds: write them as .tif or .npy"
    )
    assert os.listdir(".") == ["night.mp4"]  # no still either
    result = invoke("night.mp4", "--start", "65500", "--argmax", "idx.npy", "-q")
    assert result.exit_code == 0, result.output
    index = np.load("idx.npy")
    assert index.dtype == np.uint32 and index[0, 1] == 65_600
    assert invoke("night.mp4", "--start", "65000", "--end", "65536", "--argmax", "i.png",
                  "-q", "-o", "s.png").exit_code == 0  # fmt: skip
    # The highest frame selected counts, not the end: 65500, 65510, ..., 65530.
    assert invoke("night.mp4", "--start", "65500", "--end", "65540", "--step", "10",
                  "--argmax", "j.png", "-q", "-o", "t.png").exit_code == 0  # fmt: skip


def test_argmax_png_is_not_refused_on_an_estimated_frame_count() -> None:
    # A container whose audio outlasts the video estimates too many frames: decide at the end.
    from dataclasses import replace

    from vid2trail.outputs import last_selected as _last_selected

    info = FakeSource(np.zeros((3, 1, 1, 3), np.uint8)).info
    estimated = replace(info, frame_count=70_000, frame_count_exact=False)
    assert _last_selected(FrameRange(0, None), estimated) is None
    assert _last_selected(FrameRange(0, None), replace(estimated, frame_count_exact=True)) == 69_999
    assert _last_selected(FrameRange(5, 65_541, 10), info) == 65_535


@pytest.mark.parametrize("drop", [["--exclude", "2-3,30"], ["--reject-above", "3"]])
def test_argmax_names_source_frames_when_frames_are_dropped(drop: list[str]) -> None:
    frames = make_frames(40)
    frames[[2, 3, 30]] = 255  # white frames: excluded by hand, or rejected as flashes
    write_folder(Path("f"), frames)
    result = invoke("f", *drop, "--argmax", "idx.npy", "-q")
    assert result.exit_code == 0, result.output
    kept = [k for k in range(40) if k not in (2, 3, 30)]
    luma = frames[kept].astype(np.float32) @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    np.testing.assert_array_equal(np.load("idx.npy"), np.array(kept)[luma.argmax(axis=0)])


def test_argmax_combine_equals_one_pass() -> None:
    frames = np.random.default_rng(5).integers(0, 256, (9, 4, 5, 3), dtype=np.uint8)
    whole, left, right = ArgmaxReducer(), ArgmaxReducer(), ArgmaxReducer()
    for frame in frames:
        whole.update(frame)
    for frame in frames[:4]:
        left.update(frame)
    for frame in frames[4:]:
        right.update(frame)
    merged = copy.deepcopy(left).combine(right)
    np.testing.assert_array_equal(merged.argmax(), whole.argmax())
    luma = frames.astype(np.float32) @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    np.testing.assert_array_equal(whole.argmax(), luma.argmax(axis=0))


def test_sixteen_bit_sources_keep_full_precision() -> None:
    frames = np.random.default_rng(6).integers(0, 65536, (5, 12, 16, 3)).astype(np.uint16)
    write_folder(Path("deep"), frames)
    assert invoke("deep", "-o", "max.tif", "--bit-depth", "16", "-q").exit_code == 0
    assert invoke("deep", "-o", "max32.tif", "--bit-depth", "32", "-q").exit_code == 0
    import tifffile

    np.testing.assert_array_equal(tifffile.imread("max.tif"), frames.max(axis=0))
    want = to_output(frames.max(axis=0), linear=False, out_dtype=np.float32, transfer="linear")
    np.testing.assert_array_equal(tifffile.imread("max32.tif"), want)
    np.testing.assert_array_equal(want, srgb_to_linear(frames.max(axis=0) / 65535.0)
                                  .astype(np.float32))  # fmt: skip


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--mode", "sigma", "--kappa", "0"], 2,
         "Error: --kappa 0.0: use a number of standard deviations above 0, at most 100"),
        (["--mode", "sigma", "--iterations", "0"], 2,
         "Error: --iterations 0: use a whole number, 1 or more"),
        (["--mode", "median", "--memory", "lots"], 2,
         "Error: --memory 'lots' is not a size: use a number with a unit, such as 2GB"),
        (["--mode", "mean", "--argmax", "i.png"], 2,
         "Error: --argmax needs --mode max, not --mode mean"),
        (["--argmax", "i.jpg"], 2,
         "Error: --argmax i.jpg: write the frame numbers as .png, .tif or .npy"),
        (["-o", "same.png", "--argmax", "same.png"], 2,
         "Error: --argmax same.png is also the still: give it another name"),
        (["--hot-pixels", "yes"], 2, "Error: --hot-pixels 'yes': use auto or off"),
        (["--mode", "maxmean", "--buffers", "0"], 2,
         "Error: --buffers 0: use a whole number from 1 to 256"),
        (["-o", "x.png", "--bit-depth", "32"], 2,
         "Error: --bit-depth 32 does not suit x.png (png takes 8 or 16)"),
        (["-o", "x.fits", "--bit-depth", "16"], 2,
         "Error: --bit-depth 16 does not suit x.fits (fits takes 32)"),
        (["--dark", "small"], 1,
         "Error: the dark small is 8x6 with 3 channel(s) but the frames are 64x48 with 3: use "
         "darks taken with the same camera, resolution and orientation"),
    ],
)  # fmt: skip
def test_astro_errors(lossless_clip: Path, args: list[str], code: int, message: str) -> None:
    write_folder(Path("small"), make_frames(2, 8, 6))
    result = invoke(lossless_clip, *args)
    assert result.exit_code == code, result.output
    assert [line for line in result.stderr.splitlines() if line.startswith("Error")] == [message]
    assert "Traceback" not in result.output


@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.uint32, np.int64])
def test_dark_master_of_other_integers_is_one_error_line(lossless_clip: Path, dtype: type) -> None:
    # 8/16-bit masters are code values; other integer types have no white level to decode
    # with (int32 would build a 16 GiB table; a negative int16 wrapped round to bright).
    np.save("dark.npy", np.full((48, 64, 3), 5, dtype))
    result = invoke(lossless_clip, "--dark", "dark.npy", "-o", "x.png", "-q")
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        f"Error: the dark dark.npy holds {np.dtype(dtype).name} samples: save the master as "
        "float linear light (--bit-depth 32) or as 8- or 16-bit code values\n"
    )
    assert not Path("x.png").exists()


def test_dark_master_tiff_with_lzw_and_unreadable_masters(lossless_clip: Path) -> None:
    import cv2

    # OpenCV (and many photo tools) write LZW TIFFs, which tifffile cannot decode alone.
    dark = np.zeros((48, 64, 3), np.uint16)
    dark[10, 30] = (65535, 0, 32768)
    cv2.imwrite("dark.tif", dark[:, :, ::-1])  # BGR on disk
    result = invoke(lossless_clip, "--dark", "dark.tif", "-o", "x.npy", "--bit-depth", "32", "-q")
    assert result.exit_code == 0, result.output
    frames = make_frames(40)
    light = to_linear(frames, dtype=np.float32) - to_linear(dark, dtype=np.float32)
    want = np.maximum(light, 0).max(axis=0)
    np.testing.assert_array_equal(np.load("x.npy"), want)
    for name in ("bad.tif", "bad.npy", "bad.fits"):
        Path(name).write_bytes(b"garbage, not a master dark")
        result = invoke(lossless_clip, "--dark", name, "-o", "y.png", "-q")
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith(f"Error: cannot read the dark {name}: "), result.stderr
        assert result.stderr.count("\n") == 1 and not Path("y.png").exists()


@pytest.mark.parametrize("dark, out", [("dark.npy", "dark.npy"), ("darks", "darks/f1.png")])
def test_the_still_never_overwrites_the_dark(lossless_clip: Path, dark: str, out: str) -> None:
    np.save("dark.npy", np.zeros((48, 64, 3), np.float32))
    write_folder(Path("darks"), make_frames(3))
    before = Path(out).read_bytes()
    result = invoke(lossless_clip, "--dark", dark, "-o", out, "--bit-depth", "32"
                    if out.endswith(".npy") else "8", "-y", "-q")  # fmt: skip
    assert result.exit_code == 2, result.output
    assert result.stderr == f"Error: output {out} is the input: choose another output name\n"
    assert Path(out).read_bytes() == before


def test_median_disk_error_through_the_cli(lossless_clip: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(10, 9, 1000))
    result = invoke(lossless_clip, "-m", "median", "--memory", "100kB")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: a median of 40 frames needs 368.6 kB of temporary disk")


def test_maxmean_quiets_the_sky_and_keeps_slow_stars() -> None:
    rng = np.random.default_rng(11)
    frames = np.clip(rng.normal(25, 8, (64, 24, 40, 1)), 0, 255).astype(np.uint8)
    for k in range(64):  # a star moving one pixel every 8 frames: it dwells 8 >= 4 frames
        frames[k, 12, k // 8] = 180
    [plain] = run_reducers(FakeSource(frames), ALL, "max")
    [quiet] = run_reducers(FakeSource(frames), ALL, "maxmean", params={"buffers": 4})
    light = srgb_to_linear(plain.result() / 255.0)
    sky = (slice(0, 10), slice(None))
    assert quiet.result()[sky].std() < light[sky].std() / 1.6
    np.testing.assert_allclose(quiet.result()[12, :8], light[12, :8], rtol=1e-12)


def test_library_stack_takes_the_astro_options(png_folder: Path, frames40: np.ndarray) -> None:
    import vid2trail

    median = vid2trail.stack(png_folder, mode="median", memory="50kB", dtype=np.float64)
    want = to_output(srgb_to_linear(np.median(frames40, axis=0) / 255), linear=True,
                     out_dtype=np.float64)  # fmt: skip
    np.testing.assert_array_equal(median, want)
    dark = np.full((48, 64, 3), 0.5, np.float32)  # brighter than the sky: only the dot survives
    image = vid2trail.stack(png_folder, dark=dark, end=10)
    dot = srgb_to_linear(np.array([250, 240, 230]) / 255) - 0.5
    assert image[0, 9].tolist() == np.rint(linear_to_srgb(dot) * 255).tolist()
    assert image[20:, 20:].max() == 0


NIGHT = SHARED_DATA / "night-sky-grayscale"


@pytest.mark.skipif(not NIGHT.is_dir(), reason="shared real-sky photos are not present")
def test_real_sky_hot_pixel_survey_and_banded_median(tmp_path: Path) -> None:
    from vid2trail.sources import open_source

    with open_source(NIGHT) as source:
        cal = Calibration(hot_pixels=True)
        params = {"memory_bytes": 30_000_000, "temp_dir": str(tmp_path)}
        [median] = run_reducers(source, ALL, "median", params=params, calibration=cal)
        frames = np.stack([frame.pixels.copy() for frame in source])
    # Real stars, meteors, a turbine and JPEG noise: nothing there is bright in every frame alone.
    assert cal.hot_pixel_count is not None and cal.hot_pixel_count <= 5
    assert median.spilled and median.bands > 1
    if cal.hot_pixel_count == 0:
        want = srgb_to_linear(np.median(frames, axis=0) / 255)
        assert np.array_equal(median.result(), want)


TEN_BIT = SHARED_DATA / "codec-samples" / "h265_10bits.mp4"


@pytest.mark.skipif(not TEN_BIT.is_file(), reason="shared 10-bit sample is not present")
def test_ten_bit_video_keeps_its_levels_in_sixteen_and_thirty_two_bits() -> None:
    import tifffile

    assert invoke(TEN_BIT, "-o", "max.tif", "--bit-depth", "16", "-q").exit_code == 0
    assert invoke(TEN_BIT, "-o", "max32.tif", "--bit-depth", "32", "-q").exit_code == 0
    deep = tifffile.imread("max.tif")
    assert deep.dtype == np.uint16 and (deep % 257 != 0).mean() > 0.3  # not 8-bit levels x 257
    np.testing.assert_array_equal(tifffile.imread("max32.tif"),
                                  srgb_to_linear(deep / 65535.0).astype(np.float32))  # fmt: skip


def test_static_stars_trigger_the_hot_pixel_warning() -> None:
    frames = np.full((6, 60, 80, 3), 12, np.uint8)
    ys, xs = np.meshgrid(np.arange(5, 60, 10), np.arange(4, 80, 8), indexing="ij")
    frames[:, ys.ravel(), xs.ravel()] = 200  # 60 stars that never move in these six frames
    cal = Calibration(hot_pixels=True)
    with pytest.warns(UserWarning, match="60 hot pixels is a lot: stars that did not move"):
        run_reducers(FakeSource(frames), ALL, "max", calibration=cal)


def test_frame_filter_is_asked_once_and_later_passes_drop_the_same_frames() -> None:
    frames = plane_stack()
    asked: list[int] = []

    def keep(frame) -> bool:  # type: ignore[no-untyped-def]
        asked.append(frame.index)
        return frame.index not in (10, 11)

    [reducer] = run_reducers(FakeSource(frames), ALL, "sigma", None, keep,
                             params={"iterations": 2})  # fmt: skip
    assert asked == list(range(50)) and reducer.count == 48
    [want] = run_reducers(FakeSource(np.delete(frames, [10, 11], axis=0)), ALL, "sigma",
                          params={"iterations": 2})  # fmt: skip
    np.testing.assert_allclose(reducer.result(), want.result(), rtol=1e-12)
