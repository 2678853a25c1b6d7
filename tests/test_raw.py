"""RAW folders: DNGs written here from Bayer data, stacked to what rawpy + numpy make of them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import vid2trail

from conftest import invoke, read_rgb, write_folder

rawpy = pytest.importorskip("rawpy")
pidng = pytest.importorskip("pidng.core")
defs = pytest.importorskip("pidng.defs")


def write_dng(path: Path, bayer: np.ndarray, when: str | None = None) -> Path:
    """A 12-bit RGGB DNG of ``bayer`` (uncompressed), with ``when`` as its capture time."""
    height, width = bayer.shape
    tags = pidng.DNGTags()
    T = pidng.Tag
    for tag, value in [
        (T.ImageWidth, width), (T.ImageLength, height), (T.TileWidth, width),
        (T.TileLength, height), (T.Orientation, defs.Orientation.Horizontal),
        (T.PhotometricInterpretation, defs.PhotometricInterpretation.Color_Filter_Array),
        (T.SamplesPerPixel, 1), (T.BitsPerSample, 12), (T.CFARepeatPatternDim, [2, 2]),
        (T.CFAPattern, defs.CFAPattern.RGGB), (T.BlackLevel, 0), (T.WhiteLevel, 4095),
        (T.ColorMatrix1, [[1, 1], [0, 1], [0, 1], [0, 1], [1, 1], [0, 1], [0, 1], [0, 1], [1, 1]]),
        (T.CalibrationIlluminant1, defs.CalibrationIlluminant.D65),
        (T.AsShotNeutral, [[1, 2], [1, 1], [2, 3]]), (T.BaselineExposure, [[0, 1]]),
        (T.Make, "vid2trail"), (T.Model, "test"), (T.DNGVersion, defs.DNGVersion.V1_4),
        (T.DNGBackwardVersion, defs.DNGVersion.V1_2),
        (T.PreviewColorSpace, defs.PreviewColorSpace.sRGB),
    ]:  # fmt: skip
        tags.set(tag, value)
    if when:
        tags.set(T.DateTimeOriginal, when)
    writer = pidng.RAW2DNG()
    writer.options(tags, path="", compress=False)
    writer.convert(bayer, filename=str(path.with_suffix("")))
    return path


def night(count: int, width: int = 96, height: int = 64) -> np.ndarray:
    """Bayer frames: a dark noisy sky and a bright 4x4 star moving two pixels a frame."""
    rng = np.random.default_rng(5)
    frames = rng.integers(20, 400, (count, height, width)).astype(np.uint16)
    for k in range(count):
        frames[k, 20:24, 10 + 2 * k : 14 + 2 * k] = 3800
    return frames


@pytest.fixture()
def dng_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "raw"
    folder.mkdir()
    for k, bayer in enumerate(night(8)):
        write_dng(folder / f"IMG_{k:04d}.dng", bayer, f"2026:08:12 22:{30 + k:02d}:00")
    return folder


def srgb16(linear: np.ndarray) -> np.ndarray:
    """Linear light in [0, 1] to 16-bit sRGB code values (IEC 61966-2-1)."""
    code = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.round(np.clip(code, 0, 1) * 65535).astype(np.uint16)


def develop(path: Path, half: bool = False) -> np.ndarray:
    with rawpy.imread(str(path)) as raw:
        return raw.postprocess(use_camera_wb=True, no_auto_bright=True, gamma=(1, 1),
                               output_bps=16, half_size=half)  # fmt: skip


def test_max_and_mean_of_a_dng_folder(dng_folder: Path) -> None:
    linear = np.stack([develop(p) for p in sorted(dng_folder.glob("*.dng"))]).astype(np.float64)
    expected = {
        "max": srgb16(linear.max(axis=0) / 65535),
        "mean": srgb16(linear.mean(axis=0) / 65535),
    }
    for mode, want in expected.items():
        got = vid2trail.stack(dng_folder, mode, dtype=np.uint16)
        assert got.shape == want.shape == (64, 96, 3)
        assert np.abs(got.astype(np.int64) - want).max() <= 1, mode
    # A float still: sRGB-encoded values in [0, 1], unrounded.
    codes = vid2trail.stack(dng_folder, "mean", dtype=np.float32).astype(np.float64) * 65535
    assert np.abs(codes - expected["mean"]).max() <= 1


def test_the_command_writes_a_16_bit_still_of_a_raw_folder(dng_folder: Path, in_tmp: Path) -> None:
    result = invoke(dng_folder, "-q", "-o", "trails.png", "--bit-depth", "16")
    assert result.exit_code == 0, result.output
    still = read_rgb("trails.png")
    linear = np.stack([develop(p) for p in sorted(dng_folder.glob("*.dng"))])
    assert np.abs(still.astype(np.int64) - srgb16(linear.max(axis=0) / 65535)).max() <= 1


def test_half_size_and_preview(dng_folder: Path) -> None:
    half = vid2trail.stack(dng_folder, "max", raw_half=True, dtype=np.uint16)
    linear = np.stack([develop(p, half=True) for p in sorted(dng_folder.glob("*.dng"))])
    assert half.shape == (32, 48, 3)
    assert np.abs(half.astype(np.int64) - srgb16(linear.max(axis=0) / 65535)).max() <= 1
    assert vid2trail.stack(dng_folder, "max", preview=True).shape == (32, 48, 3)


def test_raw_capture_times_sort_and_window(dng_folder: Path) -> None:
    last = sorted(dng_folder.glob("*.dng"))[-1]
    last.rename(dng_folder / "AAA_late.dng")  # named first, captured last
    keogram = vid2trail.keogram(dng_folder, sort="time", start="22:31", end="22:36")
    assert keogram.shape[1] == 5  # 22:31 .. 22:35


def test_raw_and_jpeg_twins(dng_folder: Path, in_tmp: Path) -> None:
    for path in sorted(dng_folder.glob("*.dng"))[:3]:
        write_folder(dng_folder, np.zeros((1, 64, 96, 3), np.uint8), ".JPG", path.stem)
    result = invoke(dng_folder, "-q", "-o", "a.png")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        f"Note: {dng_folder}: left out 3 JPEGs beside RAW files of the same name "
        f"({dng_folder}/IMG_0000.JPG, ...): stacking the RAW files; give a glob such as "
        "'*.JPG' for the JPEGs"
    )


def test_without_the_raw_extra(
    dng_folder: Path, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "rawpy", None)  # import rawpy raises ImportError
    result = invoke(dng_folder, "-q")
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: {dng_folder}/IMG_0000.dng is a RAW file: install the RAW extra (pip install "
        "'vid2trail[raw]') to decode it, or give a glob of the JPEGs beside it"
    )


def test_a_corrupt_raw_file_is_named(dng_folder: Path, in_tmp: Path) -> None:
    bad = dng_folder / "IMG_0003.dng"
    bad.write_bytes(b"II*\x00" + bytes(200))
    result = invoke(dng_folder, "-q")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {bad} is not a RAW file LibRaw can decode (")
    assert "b'" not in result.output
    assert result.output.rstrip().endswith("); remove it or re-export it")
    assert len(result.output.strip().splitlines()) == 1


def test_a_truncated_raw_file_is_one_line(dng_folder: Path, in_tmp: Path) -> None:
    cut = dng_folder / "IMG_0004.dng"
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    # A whole process: LibRaw's own complaint goes to the C library's stderr, which the
    # CliRunner would not see.
    run = subprocess.run([sys.executable, "-m", "vid2trail", str(dng_folder), "-q"],
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert run.returncode == 1
    assert run.stderr == (
        f"Error: {cut} ends before its image data does (LibRaw: Input/output error): the file is "
        "truncated or damaged; copy it again from the card, or remove it\n"
    )
