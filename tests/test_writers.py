"""Still outputs: formats and bit depths, exact code values, atomic writes and permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from vid2trail.cli import app
from vid2trail.errors import OutputError
from vid2trail.writers import atomic_path, check_output, write_still

from conftest import read_rgb

runner = CliRunner()


@pytest.mark.parametrize(
    ("name", "bits", "dtype"),
    [("a.png", 8, np.uint8), ("a.png", 16, np.uint16), ("a.tif", 8, np.uint8),
     ("a.tiff", 16, np.uint16), ("a.jpg", 8, np.uint8)],
)  # fmt: skip
def test_max_stack_bit_depths_are_exact(lossless_clip: Path, frames40: np.ndarray,
                                        tmp_path: Path, name: str, bits: int,
                                        dtype: type) -> None:  # fmt: skip
    out = tmp_path / name
    result = runner.invoke(app, [str(lossless_clip), "-o", str(out), "--bit-depth", str(bits)])
    assert result.exit_code == 0, result.output
    got = read_rgb(out)
    want = frames40.max(axis=0).astype(dtype) * (257 if bits == 16 else 1)
    assert got.dtype == dtype
    if name.endswith(".jpg"):
        assert np.abs(got.astype(int) - want).mean() < 2.0
    else:
        np.testing.assert_array_equal(got, want)


def test_grayscale_written_as_grayscale(tmp_path: Path) -> None:
    write_still(tmp_path / "g.png", np.full((4, 5, 1), 77, np.uint8))
    image = cv2.imread(str(tmp_path / "g.png"), cv2.IMREAD_UNCHANGED)
    assert image.shape == (4, 5) and int(image[0, 0]) == 77


def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk on fire")
    assert os.listdir(tmp_path) == []


def test_written_file_has_normal_permissions(tmp_path: Path) -> None:
    out = write_still(tmp_path / "p.png", np.zeros((2, 2, 3), np.uint8))
    mode = stat.S_IMODE(out.stat().st_mode)
    assert mode == 0o666 & ~_umask()
    assert [p.name for p in tmp_path.iterdir()] == ["p.png"]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_check_output_rules(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="unsupported extension '.bmp'"):
        check_output(tmp_path / "x.bmp")
    with pytest.raises(OutputError, match=r"unsupported extension '\(none\)'"):
        check_output(tmp_path / "noext")
    with pytest.raises(
        OutputError, match=r"give a file name before the extension, e.g. .*result.png"
    ):
        check_output(tmp_path / ".png")
    assert check_output(tmp_path / "fine.tif", bit_depth=16) == tmp_path / "fine.tif"
    with pytest.raises(OutputError, match="quality 0: use 1 to 100"):
        write_still(tmp_path / "q.jpg", np.zeros((2, 2, 3), np.uint8), quality=0)


def test_glob_without_matches_through_cli(tmp_path: Path) -> None:
    pattern = str(tmp_path / "*.jpg")
    result = runner.invoke(app, [pattern])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: no files match {pattern!r}: check the pattern, and quote it so the shell "
        "does not expand it"
    )
