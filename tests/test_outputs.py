"""Float TIFF and FITS round-trip bit-exactly; provenance lands in the file and the sidecar."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from typer.testing import CliRunner

from vid2trail.cli import app
from vid2trail.color import srgb_to_linear
from vid2trail.embed import read_png_text
from vid2trail.errors import MissingDependencyError
from vid2trail.writers import sidecar_path, write_sidecar, write_still

runner = CliRunner()


def awkward_floats(shape: tuple[int, ...]) -> np.ndarray:
    """Random float32 with the values a lossy path would bend: negatives, > 1, tiny, inf, nan."""
    image = np.random.default_rng(8).normal(0.3, 0.5, shape).astype(np.float32)
    image.flat[:5] = [np.inf, -np.inf, np.nan, 1e-40, -0.0]
    return image


@pytest.mark.parametrize("shape", [(7, 9, 3), (7, 9, 1), (7, 9)])
def test_float_tiff_round_trips_bit_exactly(tmp_path: Path, shape: tuple[int, ...]) -> None:
    image = awkward_floats(shape)
    meta = {"software": "vid2trail test", "mode": "mean", "source": "ünïcode.mp4"}
    write_still(tmp_path / "f.tif", image, metadata=meta)
    with tifffile.TiffFile(tmp_path / "f.tif") as tif:
        back = tif.asarray()
        assert json.loads(tif.pages[0].description) == meta
        assert tif.pages[0].software == "vid2trail test"
    assert back.dtype == np.float32
    assert back.tobytes() == image.reshape(back.shape).tobytes()


@pytest.mark.parametrize("shape", [(7, 9, 3), (7, 9, 1)])
def test_fits_round_trips_bit_exactly(tmp_path: Path, shape: tuple[int, ...]) -> None:
    fits = pytest.importorskip("astropy.io.fits")
    from vid2trail.fits import read_fits

    image = awkward_floats(shape)
    image[0, 0, 0] = 7.0  # a marker in the top-left corner
    meta = {"software": "vid2trail 0.1.0", "mode": "sigma", "frames_used": 48, "kappa": 3.0,
            "start": 0, "end": None, "source": "é" + "a" * 120}  # fmt: skip
    write_still(tmp_path / "f.fits", image, metadata=meta)
    back = read_fits(tmp_path / "f.fits")
    assert back.tobytes() == image.tobytes()
    header = fits.getheader(tmp_path / "f.fits")
    assert header["BITPIX"] == -32 and header["ROWORDER"] == "BOTTOM-UP"
    assert (header["STACKMOD"], header["STACKCNT"], header["KAPPA"]) == ("sigma", 48, 3.0)
    assert header["SOURCE"] == "\\xe9" + "a" * 120 and "FREND" not in header
    raw = fits.getdata(tmp_path / "f.fits")
    assert raw[..., -1, 0].ravel()[0] == 7.0  # FITS counts rows from the bottom


def test_cli_fits_holds_linear_light(tmp_path: Path, png_folder: Path, frames40: np.ndarray,
                                     monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    pytest.importorskip("astropy")
    from vid2trail.fits import read_fits

    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, [str(png_folder), "-o", "max.fits", "--sidecar", "-q"])
    assert result.exit_code == 0, result.output
    want = srgb_to_linear(frames40.max(axis=0) / 255.0).astype(np.float32)
    np.testing.assert_array_equal(read_fits("max.fits"), want)
    meta = json.loads(Path("max.fits.json").read_text())
    assert (meta["mode"], meta["frames_used"], meta["bit_depth"]) == ("max", 40, 32)


def test_provenance_records_the_default_normalization(
    tmp_path: Path, png_folder: Path, frames40: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    fits = pytest.importorskip("astropy.io.fits")
    from vid2trail.fits import read_fits

    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, [str(png_folder), "-m", "sum", "-o", "sum.fits", "--sidecar", "-q"])
    assert result.exit_code == 0, result.output
    total = srgb_to_linear(frames40 / 255.0).sum(axis=0)
    # sum is scaled so that its 99.5th percentile is 1.0: the file must say so.
    want = (total / np.percentile(total, 99.5)).astype(np.float32)
    np.testing.assert_allclose(read_fits("sum.fits"), want, rtol=1e-6)
    assert json.loads(Path("sum.fits.json").read_text())["normalize"] == "p99.5"
    assert fits.getheader("sum.fits")["NORMALIZ"] == "p99.5"
    result = runner.invoke(app, [str(png_folder), "-o", "max.png", "--sidecar", "-q"])
    assert json.loads(Path("max.png.json").read_text())["normalize"] == "none"


def test_fits_without_astropy_is_one_error_line(
    png_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "astropy", None)  # makes "import astropy" fail
    monkeypatch.setitem(sys.modules, "astropy.io", None)
    result = runner.invoke(app, [str(png_folder), "-o", "max.fits"])
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: writing or reading .fits needs astropy: pip install 'vid2trail[fits]'\n"
    )
    with pytest.raises(MissingDependencyError):
        write_still(tmp_path / "x.fits", np.zeros((2, 2), np.float32))
    assert not (tmp_path / "x.fits").exists() and not (tmp_path / "max.fits").exists()


def test_png_text_and_sidecar(tmp_path: Path) -> None:
    meta = {"software": "vid2trail 0.1.0", "source": "nuit étoilée.mp4", "frames_used": 3}
    for depth in (np.uint8, np.uint16):
        path = write_still(tmp_path / f"a{np.dtype(depth).itemsize}.png",
                           np.zeros((3, 4, 3), depth), metadata=meta)  # fmt: skip
        texts = read_png_text(path.read_bytes())
        assert texts["Software"] == "vid2trail 0.1.0" and json.loads(texts["vid2trail"]) == meta
        import cv2

        assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).dtype == depth  # still a valid PNG
    side = write_sidecar(tmp_path / "a1.png", meta)
    assert side == sidecar_path(tmp_path / "a1.png") == tmp_path / "a1.png.json"
    assert json.loads(side.read_text(encoding="utf-8")) == meta


def test_existing_sidecar_needs_overwrite(tmp_path: Path, png_folder: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    Path("out.png.json").write_text("{}")
    result = runner.invoke(app, [str(png_folder), "-o", "out.png", "--sidecar"])
    assert result.exit_code == 2
    assert (
        result.stderr == "Error: out.png.json already exists: pass --overwrite (-y) to replace it\n"
    )
    assert not Path("out.png").exists()
