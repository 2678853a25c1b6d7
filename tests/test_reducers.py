"""Reducers against plain numpy, and the monoid property: combine of halves == one pass."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vid2trail.color import linear_to_srgb, srgb_to_linear, to_output
from vid2trail.errors import UsageError
from vid2trail.pipeline import render
from vid2trail.reducers import REDUCERS, make_reducer


def reference(mode: str, frames: np.ndarray) -> np.ndarray:
    """Plain numpy over the whole stack, in float64 where light is added."""
    if mode == "max":
        return frames.max(axis=0)
    if mode == "min":
        return frames.min(axis=0)
    top = np.iinfo(frames.dtype).max
    light = srgb_to_linear(frames.astype(np.float64) / top)
    return light.mean(axis=0) if mode == "mean" else light.sum(axis=0)


def feed(mode: str, frames: np.ndarray):
    reducer = make_reducer(mode)
    for frame in frames:
        reducer.update(frame)
    return reducer


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
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


@pytest.mark.parametrize("mode", sorted(REDUCERS))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_combine_equals_one_pass(mode: str, data: st.DataObject) -> None:
    n = data.draw(st.integers(2, 12))
    split = data.draw(st.integers(1, n - 1))
    seed = data.draw(st.integers(0, 2**16))
    frames = np.random.default_rng(seed).integers(0, 256, (n, 3, 4, 3), dtype=np.uint8)
    whole = feed(mode, frames)
    left, right = feed(mode, frames[:split]), feed(mode, frames[split:])
    merged = left.combine(right)
    assert merged.count == whole.count == n
    if mode in ("max", "min"):
        np.testing.assert_array_equal(merged.result(), whole.result())
    else:
        np.testing.assert_allclose(merged.result(), whole.result(), rtol=1e-12)


def test_combine_into_empty_and_type_mismatch() -> None:
    frames = np.random.default_rng(2).integers(0, 256, (4, 2, 2, 3), dtype=np.uint8)
    for mode in REDUCERS:
        empty = make_reducer(mode)
        np.testing.assert_array_equal(empty.combine(feed(mode, frames)).result(),
                                      feed(mode, frames).result())  # fmt: skip
    with pytest.raises(TypeError, match="cannot combine a 'max' reducer with a 'min'"):
        make_reducer("max").combine(make_reducer("min"))


def test_unknown_mode_and_empty_result() -> None:
    with pytest.raises(UsageError, match="unknown --mode 'brightest': choose one of max, min"):
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
    with pytest.raises(UsageError, match="--normalize 'p200'"):
        to_output(light, linear=True, out_dtype=np.uint8, normalize="p200")
