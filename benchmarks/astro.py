"""Astro modes, measured: median memory and speed, sigma's cost, and whether a "maxmean" helps.

Run: ``.venv/bin/python benchmarks/astro.py``. Numbers are medians of a few runs on whatever
machine runs it (noisy on a shared 2-core box); the ratios measured side by side are what matter.

1. Median: tracemalloc peak and time, all frames in memory versus banded over the disk cache,
   against ``numpy.median`` over the same frames held in one array.
2. Sigma and winsor: time per frame relative to mean (they decode 2 or 3 times).
3. maxmean (the average, in linear light, of K max stacks fed round-robin): background noise and
   trail contrast on a noisy sky with moving stars, against plain max (K = 1), for stars that stay
   1, 4 or 16 frames on one pixel.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from vid2trail.color import decode_lut, srgb_to_linear  # noqa: E402
from vid2trail.pipeline import run_reducers  # noqa: E402
from vid2trail.select import FrameRange  # noqa: E402

from conftest import FakeSource, make_frames  # noqa: E402

ALL = [FrameRange(0, None)]


def timed(func, repeat: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def median_memory() -> None:
    frames = make_frames(40, 640, 360)
    frames = np.concatenate([frames] * 5)  # 200 frames of 640x360 RGB: 138 MB
    print(f"median of {len(frames)} frames, {frames.nbytes / 1e6:.0f} MB of frames")
    t_np, want = timed(lambda: np.median(frames, axis=0))
    print(f"  numpy.median on one array: {t_np:.2f} s")
    for memory in (10**9, 64 * 10**6, 16 * 10**6):
        with tempfile.TemporaryDirectory() as tmp:
            params = {"memory_bytes": memory, "temp_dir": tmp}

            def run(params=params):
                return run_reducers(FakeSource(frames), ALL, "median", params=params)[0]

            seconds, reducer = timed(run)
            tracemalloc.start()
            run()
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        exact = np.array_equal(reducer.result(), srgb_to_linear(want / 255))
        print(f"  --memory {memory / 1e6:5.0f} MB: {seconds:.2f} s ({seconds / t_np:.1f}x numpy), "
              f"peak {peak / 1e6:.1f} MB, bands {reducer.bands}, spilled {reducer.spilled}, "
              f"exact {exact}")  # fmt: skip


def clipping_cost() -> None:
    frames = make_frames(40, 640, 360)
    frames = np.concatenate([frames] * 3)
    base, _ = timed(lambda: run_reducers(FakeSource(frames), ALL, "mean"))
    print(f"mean of {len(frames)} 640x360 frames: {base:.2f} s")
    for mode in ("sigma", "winsor", "median"):
        seconds, _ = timed(lambda mode=mode: run_reducers(FakeSource(frames), ALL, mode))
        print(f"  {mode}: {seconds:.2f} s ({seconds / base:.1f}x mean)")


def noisy_sky(dwell: int, count: int = 240, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Gray noisy sky (code 25, sd 8: a phone at high ISO) with 40 stars moving 1/dwell px/frame."""
    rng = np.random.default_rng(seed)
    height, width = 120, 200
    frames = np.clip(rng.normal(25, 8, (count, height, width)), 0, 255)
    trail = np.zeros((height, width), bool)
    ys = rng.integers(5, height - 5, 40)
    x0 = rng.integers(0, width // 3, 40)
    for k in range(count):
        xs = x0 + k // dwell
        ok = xs < width
        frames[k, ys[ok], xs[ok]] = 180
        trail[ys[ok], xs[ok]] = True
    return frames.astype(np.uint8)[..., None], trail


def maxmean() -> None:
    lut = decode_lut("uint8")
    print("maxmean: K round-robin max buffers averaged in linear light; K = 1 is plain max")
    print("  dwell  K   sky mean   sky std   trail mean   contrast/noise")
    for dwell in (1, 4, 16):
        frames, trail = noisy_sky(dwell)
        sky = ~trail
        sky[:, : 200 // 3 + 240 // dwell + 2] &= False  # keep only columns no star crossed
        sky[:, :] = sky if sky.any() else ~trail
        for k in (1, 2, 4, 8):
            buffers = [frames[i::k].max(axis=0) for i in range(k)]
            light = np.mean([lut[b] for b in buffers], axis=0)[..., 0]
            bg, noise = light[sky].mean(), light[sky].std()
            star = light[trail].mean()
            print(f"  {dwell:5d} {k:2d}   {bg:.5f}   {noise:.5f}   {star:.5f}      "
                  f"{(star - bg) / noise:6.1f}")  # fmt: skip


if __name__ == "__main__":
    median_memory()
    clipping_cost()
    maxmean()
