"""Reducers against plain numpy, and the monoid property: combine of halves == one pass."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vid2trail.color import decode_lut, linear_to_srgb, srgb_to_linear, to_linear, to_output
from vid2trail.errors import UsageError
from vid2trail.frames import Planes
from vid2trail.outputs import render
from vid2trail.reducer import Reducer, ReducerBase
from vid2trail.reducers import REDUCERS, make_reducer


def clipped_reference(light: np.ndarray, kappa: float, iterations: int, clamp: bool) -> np.ndarray:
    """Kappa-sigma (or winsorized) mean over a whole in-memory stack, two-pass textbook maths."""
    mu, sd = light.mean(axis=0), light.std(axis=0)
    for k in range(iterations):
        lo, hi = mu - kappa * sd, mu + kappa * sd
        if clamp and k == iterations - 1:
            return np.clip(light, lo, hi).mean(axis=0)
        keep = (light >= lo) & (light <= hi)
        n = keep.sum(axis=0)
        new = np.where(keep, light, 0).sum(axis=0) / np.maximum(n, 1)
        sd = np.sqrt(np.where(keep, (light - new) ** 2, 0).sum(axis=0) / np.maximum(n, 1))
        mu = np.where(n > 0, new, mu)
    return mu


def reference(mode: str, frames: np.ndarray, kappa: float = 3.0, iterations: int = 0) -> np.ndarray:
    """Plain numpy over the whole stack, in float64 where light is added."""
    if mode == "max":
        return frames.max(axis=0)
    if mode == "min":
        return frames.min(axis=0)
    top = np.iinfo(frames.dtype).max
    if mode == "median":
        return srgb_to_linear(np.median(frames, axis=0) / top)
    light = srgb_to_linear(frames.astype(np.float64) / top)
    if mode == "maxmean":
        return np.mean([light[i::4].max(axis=0) for i in range(min(4, len(light)))], axis=0)
    if mode in ("sigma", "winsor"):
        iterations = iterations or (2 if mode == "winsor" else 1)
        return clipped_reference(light, kappa, iterations, clamp=mode == "winsor")
    return light.mean(axis=0) if mode == "mean" else light.sum(axis=0)


def run_passes(reducer, frames: np.ndarray):
    """Feed every pass of a reducer the way the pipeline does, then finish it."""
    reducer.expect(len(frames), frames.shape[1:], frames.dtype)
    for k in range(reducer.passes):
        reducer.begin_pass(k)
        for frame in frames:
            reducer.update(frame)
    reducer.finish()
    return reducer


@pytest.mark.parametrize("mode", sorted(REDUCERS))
def test_every_reducer_declares_the_protocol(mode: str) -> None:
    options = {"kappa": 2.0, "iterations": 2, "memory_bytes": 10**6, "buffers": 4}
    reducer = make_reducer(mode, **options)
    assert isinstance(reducer, ReducerBase) and isinstance(reducer, Reducer)
    assert reducer.passes == (3 if mode in ("sigma", "winsor") else 1)
    wanted = {"sigma": ("kappa", "iterations"), "winsor": ("kappa", "iterations"),
              "median": ("memory_bytes",), "maxmean": ("buffers",)}.get(mode, ())  # fmt: skip
    assert reducer.parameters() == {name: options[name] for name in wanted}
    if mode != "max":
        with pytest.raises(UsageError, match=f"^argmax needs mode max, not mode {mode}$"):
            reducer.argmax()
    frames = np.arange(24, dtype=np.uint8).reshape(4, 2, 3, 1)
    run_passes(reducer, frames).close()
    reducer.close()  # twice is safe
    np.testing.assert_allclose(reducer.result(), reference(mode, frames, 2.0, 2), atol=1e-12)


def feed(mode: str, frames: np.ndarray, **params):
    return run_passes(make_reducer(mode, **params), frames)


def feed_split(mode: str, frames: np.ndarray, split: int, **params):
    """Every pass fed as two halves and combined; a later pass starts from copies of the merge."""
    merged = make_reducer(mode, **params)
    for k in range(getattr(merged, "passes", 1)):
        if k:
            merged.begin_pass(k)
        left, right = copy.deepcopy(merged), copy.deepcopy(merged)
        for frame in frames[:split]:
            left.update(frame)
        for frame in frames[split:]:
            right.update(frame)
        merged = left.combine(right)
    if hasattr(merged, "finish"):
        merged.finish()
    return merged


@pytest.mark.parametrize("mode", sorted(REDUCERS))
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_reducer_matches_numpy(mode: str, dtype: type) -> None:
    rng = np.random.default_rng(1)
    frames = rng.integers(0, np.iinfo(dtype).max, size=(17, 6, 5, 3), endpoint=True).astype(dtype)
    got = feed(mode, frames).result()
    want = reference(mode, frames)
    if mode in ("max", "min"):
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("mode", sorted(REDUCERS))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_combine_equals_one_pass(mode: str, data: st.DataObject) -> None:
    n = data.draw(st.integers(2, 12))
    split = data.draw(st.integers(1, n - 1))
    seed = data.draw(st.integers(0, 2**16))
    frames = np.random.default_rng(seed).integers(0, 256, (n, 3, 4, 3), dtype=np.uint8)
    whole = feed(mode, frames, kappa=1.5)
    merged = feed_split(mode, frames, split, kappa=1.5)
    assert merged.count == whole.count == n
    if mode in ("max", "min"):
        np.testing.assert_array_equal(merged.result(), whole.result())
    else:
        np.testing.assert_allclose(merged.result(), whole.result(), rtol=1e-12)


@pytest.mark.parametrize("mode", ["sigma", "winsor"])
@pytest.mark.parametrize(("kappa", "iterations"), [(1.0, 1), (1.5, 2), (2.0, 3)])
def test_clipping_matches_numpy(mode: str, kappa: float, iterations: int) -> None:
    frames = np.random.default_rng(7).integers(0, 256, (30, 5, 6, 3), dtype=np.uint8)
    frames[3, 1, 1] = 255  # an outlier to reject
    got = feed(mode, frames, kappa=kappa, iterations=iterations).result()
    want = reference(mode, frames, kappa, iterations)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-15)


def as_planes(frame: np.ndarray) -> Planes:
    return Planes(*(np.ascontiguousarray(frame[..., c]) for c in range(3)))


@pytest.mark.parametrize("mode", ["max", "min"])
def test_an_extremum_of_planes_is_the_extremum_of_the_frames(mode: str) -> None:
    frames = np.random.default_rng(4).integers(0, 256, (9, 5, 7, 3), dtype=np.uint8)
    want = reference(mode, frames)
    assert make_reducer(mode).takes_planes and not make_reducer("max", argmax=True).takes_planes
    planar = make_reducer(mode)
    for frame in frames:
        planar.update(as_planes(frame))
    got = planar.result()
    assert got.shape == (5, 7, 3) and got.dtype == np.uint8 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, want)
    # Planes and packed frames mix, in either order, in one reducer and across partials.
    mixed, other = make_reducer(mode), make_reducer(mode)
    for k, frame in enumerate(frames[:5]):
        mixed.update(as_planes(frame) if k % 2 else frame)
    for frame in frames[5:]:
        other.update(as_planes(frame))
    np.testing.assert_array_equal(mixed.combine(copy.deepcopy(other)).result(), want)
    packed_first = make_reducer(mode)
    packed_first.update(frames[0])
    packed_first.combine(other)
    np.testing.assert_array_equal(packed_first.result(), reference(mode, frames[[0, 5, 6, 7, 8]]))


def test_combine_into_empty_and_type_mismatch() -> None:
    frames = np.random.default_rng(2).integers(0, 256, (4, 2, 2, 3), dtype=np.uint8)
    for mode in [m for m in REDUCERS if getattr(make_reducer(m), "passes", 1) == 1]:
        empty, full = make_reducer(mode), make_reducer(mode)
        for frame in frames:
            full.update(frame)  # not finished: a median can still hand its frames on
        np.testing.assert_array_equal(empty.combine(full).result(), feed(mode, frames).result())
    with pytest.raises(TypeError, match="cannot combine a 'max' reducer with a 'min'"):
        make_reducer("max").combine(make_reducer("min"))


def test_unknown_mode_and_empty_result() -> None:
    with pytest.raises(UsageError, match="unknown mode 'brightest': choose one of max, min"):
        make_reducer("brightest")
    with pytest.raises(UsageError, match="no frames were stacked"):
        make_reducer("max").result()


def test_mean_is_in_linear_light() -> None:
    # Black and white average to half the light, which sRGB encodes as 188, not 128.
    frames = np.array([[[[0, 0, 0]]], [[[255, 255, 255]]]], np.uint8)
    assert render(feed("mean", frames), out_dtype=np.uint8).ravel().tolist() == [188] * 3


def test_mean_of_identical_frames_is_exact() -> None:
    frames = np.repeat(np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1), 5, axis=0)
    out = render(feed("mean", frames), out_dtype=np.uint8)
    np.testing.assert_array_equal(out, frames[0])
    out16 = render(feed("mean", frames), out_dtype=np.uint16)
    np.testing.assert_array_equal(out16, frames[0].astype(np.uint16) * 257)


def test_srgb_curve_round_trip_and_constants() -> None:
    v = np.linspace(0, 1, 100001)
    # The IEC constants leave a 5e-8 step at the knee; far below a 16-bit level (1.5e-5).
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(v)), v, atol=1e-7)
    assert srgb_to_linear(np.array(0.04045)) == pytest.approx(0.04045 / 12.92)
    assert srgb_to_linear(np.array(0.5)) == pytest.approx(0.21404114, rel=1e-7)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_to_linear_is_one_table_whatever_the_path(dtype: type) -> None:
    codes = np.random.default_rng(0).integers(0, np.iinfo(dtype).max + 1, (6, 8, 3), dtype=dtype)
    want = decode_lut(np.dtype(dtype).name)[codes]
    np.testing.assert_array_equal(to_linear(codes), want)
    np.testing.assert_array_equal(to_linear(codes[:, ::2]), want[:, ::2])  # not contiguous
    out = np.empty(codes.shape, np.float32)
    assert to_linear(codes, out) is out
    np.testing.assert_array_equal(out, want.astype(np.float32))
    assert to_linear(out, dtype=np.float32) is out  # linear light already: no copy
    assert to_linear(out).dtype == np.float64


def test_to_output_normalization_and_gain() -> None:
    light = np.array([0.0, 0.1, 0.2, 0.25])
    out = to_output(light, linear=True, out_dtype=np.float64, normalize="max")
    assert out[-1] == pytest.approx(1.0)
    out = to_output(light, linear=True, out_dtype=np.float64, normalize="p50")
    assert out[2] == pytest.approx(1.0, abs=0.2) and out[-1] == pytest.approx(1.0)
    doubled = to_output(light, linear=True, out_dtype=np.float64, gain=2.0)
    np.testing.assert_allclose(doubled, linear_to_srgb(light * 2))
    codes = np.array([0, 128, 255], np.uint8)
    np.testing.assert_array_equal(to_output(codes, linear=False, out_dtype=np.uint16),
                                  [0, 128 * 257, 65535])  # fmt: skip
    with pytest.raises(UsageError, match="normalize 'p200'"):
        to_output(light, linear=True, out_dtype=np.uint8, normalize="p200")
