"""Folders of photos: a night of real-like 720p JPEGs, and RAW at full and half size.

Usage::

    python benchmarks/folder.py [--jpegs 600] [--reps 5] [--raws 24]

The JPEGs are made to decode as real night frames do, unlike the noise-free synthetic folder of
``run.py``: a sky graded from black to a faint horizon glow, sensor noise in every frame
(luminance and colour, as a camera at high ISO gives it), 1500 stars turning about a pole above
the frame, a black foreground ridge with a few lit windows, quality 90 with 4:2:0 chroma, and EXIF
with the capture time, 30 s apart, as a camera writes it. Every task is a whole process
(start-up included), interleaved, ``--reps`` times: the bundled ffmpeg decoding the JPEGs to
``rgb24`` (the decode limit of one process), the seed's PIL ``ImageChops.lighter`` loop, vid2trail
max, and vid2trail max with a keogram. The RAW part writes ``--raws`` 24-megapixel DNGs (pidng)
and times vid2trail max at full size, with ``--raw-half`` and with ``--preview``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import CACHE, PIL_LIGHTER, PY, byte_compile, ffmpeg, measure, report  # noqa: E402


def night_frames(count: int, width: int = 1280, height: int = 720, psf: float = 0.0) -> object:
    """Yield ``count`` real-like night frames (RGB uint8) of a fixed camera.

    ``psf``: each star a Gaussian of this sigma (pixels) at its exact position, with the light of
    the default's one-pixel cross at the nearest whole pixel (0: the cross)."""
    rng = np.random.default_rng(7)
    rows = np.linspace(0.0, 1.0, height)[:, None]
    glow = (4 + 26 * rows**3)[:, :, None] * np.array([0.8, 0.9, 1.2])  # blue-ish horizon glow
    ridge = (height * (0.78 + 0.05 * np.sin(np.linspace(0, 7, width)))).astype(int)
    ground = np.arange(height)[:, None] >= ridge[None, :]
    windows = [(int(ridge[x]) + 30, x) for x in (200, 215, 640, 1010)]
    pole = np.array([width * 0.55, -height * 0.9])
    stars = rng.uniform([-width, -height], [2 * width, height], (1500, 2))
    bright = rng.gamma(1.2, 40, 1500).clip(20, 255)
    colour = rng.uniform(0.8, 1.0, (1500, 3))
    rate = np.radians(0.125)  # 30 s at 15 deg/h
    for k in range(count):
        noise = rng.normal(0, 2.2, (height, width, 1)) + rng.normal(0, 1.2, (height, width, 3))
        frame = glow + noise
        angle = rate * k
        c, s = np.cos(angle), np.sin(angle)
        rel = stars - pole
        pos = pole + rel @ np.array([[c, s], [-s, c]])
        x, y = pos[:, 0].astype(int), pos[:, 1].astype(int)
        inside = (x >= 1) & (x < width - 1) & (y >= 1) & (y < height - 1)
        light = bright[inside][:, None] * colour[inside]
        if psf > 0:
            _add_psf(frame, pos[inside], light * 2.4, psf)  # the cross's light, spread
        else:
            for dy, dx, share in (
                (0, 0, 1.0),
                (0, 1, 0.35),
                (1, 0, 0.35),
                (0, -1, 0.35),
                (-1, 0, 0.35),
            ):
                frame[y[inside] + dy, x[inside] + dx] += share * light
        frame[ground] = rng.normal(2, 1.5, (int(ground.sum()), 3))
        for wy, wx in windows:
            frame[wy : wy + 6, wx : wx + 4] = (250, 210, 140)
        yield np.clip(frame, 0, 255).astype(np.uint8)


def _add_psf(frame: np.ndarray, pos: np.ndarray, light: np.ndarray, sigma: float) -> None:
    """Add stars of total ``light`` (N x 3) at ``pos`` (N x 2, exact) as Gaussians of ``sigma``."""
    height, width = frame.shape[:2]
    reach = int(np.ceil(3 * sigma))
    offsets = np.arange(-reach, reach + 1)
    cx, cy = np.rint(pos[:, 0]).astype(int), np.rint(pos[:, 1]).astype(int)
    gx = cx[:, None] + offsets  # N x K
    gy = cy[:, None] + offsets
    wx = np.exp(-((gx - pos[:, :1]) ** 2) / (2 * sigma**2))
    wy = np.exp(-((gy - pos[:, 1:]) ** 2) / (2 * sigma**2))
    weight = wy[:, :, None] * wx[:, None, :]  # N x K x K
    weight /= weight.sum(axis=(1, 2), keepdims=True)
    ys = np.broadcast_to(gy[:, :, None], weight.shape)
    xs = np.broadcast_to(gx[:, None, :], weight.shape)
    keep = (ys >= 0) & (ys < height) & (xs >= 0) & (xs < width)
    for c in range(3):
        np.add.at(frame[:, :, c], (ys[keep], xs[keep]), (weight * light[:, c, None, None])[keep])


def make_night(folder: Path, count: int, psf: float = 0.0) -> Path:
    """``count`` real-like 720p JPEGs with EXIF capture times (cached; ``psf``: see
    :func:`night_frames`)."""
    from PIL import Image

    if folder.is_dir() and len(list(folder.glob("*.jpg"))) == count:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    start = datetime(2026, 8, 12, 22, 0)
    for k, frame in enumerate(night_frames(count, psf=psf)):
        exif = Image.Exif()
        exif[0x010F], exif[0x0110] = "vid2trail", "benchmark"  # Make, Model
        taken = start + timedelta(seconds=30 * k)
        exif.get_ifd(0x8769)[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")  # DateTimeOriginal
        Image.fromarray(frame).save(folder / f"IMG_{k:04d}.jpg", quality=90, subsampling=2,
                                    exif=exif)  # fmt: skip
    return folder


def make_raws(folder: Path, count: int, width: int = 6000, height: int = 4000) -> Path:
    """``count`` 12-bit RGGB DNGs of ``width x height`` (24 MP, uncompressed; cached)."""
    if folder.is_dir() and len(list(folder.glob("*.dng"))) == count:
        return folder
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_raw import write_dng

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    base = rng.integers(60, 300, (height, width)).astype(np.uint16)
    for k in range(count):
        bayer = base + rng.integers(0, 40, (height, width)).astype(np.uint16)
        bayer[1000:1004, 100 + 20 * k : 104 + 20 * k] = 4000
        write_dng(folder / f"DSC{k:04d}.dng", bayer)
    return folder


def jpeg_tasks(folder: Path, out: Path) -> list[tuple[str, list[str]]]:
    v2t = [PY, "-m", "vid2trail", str(folder), "-q", "-y"]
    return [
        ("ffmpeg decode -> rgb24 (limit)",
         [ffmpeg(), "-hide_banner", "-nostdin", "-pattern_type", "glob", "-i",
          str(folder / "*.jpg"), "-pix_fmt", "rgb24", "-f", "null", "-"]),
        ("PIL ImageChops.lighter loop", [PY, "-c", PIL_LIGHTER, str(folder), str(out / "pil.png")]),
        ("vid2trail max", [*v2t, "-o", str(out / "max.png")]),
        ("vid2trail max + keogram", [*v2t, "-o", str(out / "maxk.png"),
                                     "--keogram", str(out / "keogram.png")]),
    ]  # fmt: skip


def raw_tasks(folder: Path, out: Path) -> list[tuple[str, list[str]]]:
    v2t = [PY, "-m", "vid2trail", str(folder), "-q", "-y"]
    return [
        ("vid2trail max, full size", [*v2t, "-o", str(out / "full.png")]),
        ("vid2trail max --raw-half", [*v2t, "--raw-half", "-o", str(out / "half.png")]),
        ("vid2trail max --preview", [*v2t, "--preview", "-o", str(out / "preview.png")]),
    ]  # fmt: skip


def ratio(results: dict[str, list[tuple[float, int, float]]], slow: str, fast: str) -> float:
    return statistics.median(t for t, _, _ in results[slow]) / statistics.median(
        t for t, _, _ in results[fast]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jpegs", type=int, default=600)
    parser.add_argument("--raws", type=int, default=8)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--no-raw", action="store_true", help="skip the RAW part")
    args = parser.parse_args()
    byte_compile()
    night = make_night(CACHE / f"night720-{args.jpegs}", args.jpegs)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        results = measure(jpeg_tasks(night, out), args.reps)
        report(f"{args.jpegs} real-like 1280x720 JPEGs, {args.reps} reps", results)
        speedup = ratio(results, "PIL ImageChops.lighter loop", "vid2trail max")
        print(f"\nPIL loop / vid2trail max: {speedup:.2f}x")
        if not args.no_raw:
            raws = make_raws(CACHE / f"dng24mp-{args.raws}", args.raws)
            results = measure(raw_tasks(raws, out), args.reps)
            report(f"{args.raws} 24 MP DNGs, {args.reps} reps", results)
            full = "vid2trail max, full size"
            preview = ratio(results, full, "vid2trail max --preview")
            half = ratio(results, full, "vid2trail max --raw-half")
            print(f"\nfull / --preview: {preview:.2f}x; full / --raw-half: {half:.2f}x")


if __name__ == "__main__":
    main()
