"""Trails against plain numpy: window and grow exactly, comet in float32 or within a level."""

from __future__ import annotations

import numpy as np
import pytest

from vid2trail import powercode
from vid2trail.color import decode_lut, linear_to_srgb, to_output
from vid2trail.errors import UsageError
from vid2trail.reducers import make_reducer
from vid2trail.rendering import FrameRenderer
from vid2trail.trails import (
    CometTrail,
    GrowTrail,
    WindowTrail,
    comet_decay,
    make_trail,
)
from vid2trail.video import progressive_frames

from conftest import SHARED_DATA, make_frames


def dot_frames(count: int, on: range, value: int = 255) -> np.ndarray:
    """Black 6x8 frames with one lit pixel at (2, 3) in the frames of ``on``."""
    frames = np.zeros((count, 6, 8, 3), np.uint8)
    for k in on:
        frames[k, 2, 3] = value
    return frames


@pytest.mark.parametrize("length", [1, 2, 3, 7, 40, 41, 100])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_window_is_the_max_of_the_last_l_frames(length: int, dtype: type) -> None:
    frames = make_frames(60, 9, 7, seed=length).astype(dtype) * (257 if dtype == np.uint16 else 1)
    trail = WindowTrail(length)
    for t, frame in enumerate(frames):
        trail.update(frame)
        want = frames[max(0, t - length + 1) : t + 1].max(axis=0)
        np.testing.assert_array_equal(trail.picture(), want, err_msg=f"frame {t}")


def test_window_keeps_about_l_frames_of_memory() -> None:
    trail = WindowTrail(10)
    for frame in make_frames(25, 16, 12):
        trail.update(frame)
    assert trail._ring is not None and trail._ring.shape == (10, 12, 16, 3)


@pytest.mark.parametrize("length", [1, 5])
def test_window_drops_the_dot_exactly_l_frames_after_it_was_last_seen(length: int) -> None:
    frames = dot_frames(20, range(3, 6))
    video = list(progressive_frames(frames, make_trail("window", trail_frames=length)))
    lit = [int(f[2, 3, 0]) for f in video]
    assert lit == [255 if 3 <= k < 5 + length else 0 for k in range(20)]


def test_comet_of_float_frames_decays_by_d_per_frame_in_linear_light_exactly() -> None:
    decay = comet_decay(40)
    trail = CometTrail(decay)
    frames = dot_frames(50, range(0, 1)).astype(np.float32) / 255
    expected = np.float32(1.0)
    for k, frame in enumerate(frames):
        trail.update(frame)
        if k:
            expected = expected * np.float32(decay)
        assert trail.coding == "linear"
        assert trail.picture()[2, 3, 0] == expected
        assert trail.picture()[0, 0, 0] == 0.0
    assert trail.picture()[2, 3, 0] == pytest.approx(decay**49, rel=1e-5)
    assert comet_decay(40) ** 40 == pytest.approx(0.01)


@pytest.mark.parametrize(("decay", "dtype"), [(0.9, np.uint16), (0.995, np.uint8)])
def test_comet_matches_the_numpy_recurrence_in_float32(decay: float, dtype: type) -> None:
    frames = make_frames(30, 11, 9).astype(dtype) * (257 if dtype == np.uint16 else 1)
    light = decode_lut(np.dtype(dtype).name).astype(np.float32)[frames]
    want = light[0].copy()
    trail = CometTrail(decay)
    trail.update(frames[0])
    assert trail.coding == "linear"  # 16-bit frames, and a fade 16 bits cannot follow
    for k in range(1, 30):
        want = np.maximum(light[k], want * np.float32(decay))
        trail.update(frames[k])
        np.testing.assert_array_equal(trail.picture(), want)


def exact_comet(frames: np.ndarray, decay: float, gain: float = 1.0) -> list[np.ndarray]:
    """The comet's 8-bit sRGB frames, computed in float64 from the frames' 8-bit codes."""
    light = decode_lut("uint8")[frames]
    tail = light[0]
    out = []
    for k in range(len(frames)):
        tail = np.maximum(light[k], tail * decay) if k else tail
        out.append(np.rint(linear_to_srgb(np.minimum(tail * gain, 1.0)) * 255).astype(int))
    return out


@pytest.mark.parametrize("decay", [0.5, 0.858, 0.97, 0.98])
def test_comet_of_8bit_frames_is_the_exact_recurrence_within_one_level(decay: float) -> None:
    frames = make_frames(120, 40, 30, seed=7)
    frames[::17] = 255  # a full-white flash now and then: long tails over the whole frame
    video = list(progressive_frames(frames, trail := CometTrail(decay)))
    assert trail.coding == "power"
    want = exact_comet(frames, decay)
    diffs = np.stack([got.astype(int) - w for got, w in zip(video, want, strict=True)])
    assert np.abs(diffs).max() <= 1
    assert np.mean(diffs != 0) < 0.005  # rounding ties only


def test_comet_of_8bit_frames_fades_to_black() -> None:
    """Rounding the power codes never leaves a lit pixel stuck after its tail is gone."""
    video = list(progressive_frames(dot_frames(600, range(0, 1)), make_trail("comet", decay=0.98)))
    lit = [int(f[2, 3, 0]) for f in video]
    assert lit[0] == 255 and all(a >= b for a, b in zip(lit, lit[1:], strict=False))
    want = exact_comet(dot_frames(600, range(0, 1)), 0.98)
    assert [int(w[2, 3, 0]) for w in want].index(0) - lit.index(0) in (-1, 0, 1)


def test_comet_frames_are_srgb_encoded() -> None:
    video = list(progressive_frames(dot_frames(4, range(0, 1)), make_trail("comet", decay=0.5)))
    want = [round(float(linear_to_srgb(np.array(0.5**k))) * 255) for k in range(4)]
    assert [int(f[2, 3, 1]) for f in video] == want


@pytest.mark.parametrize("mode", ["max", "min", "mean", "sum"])
def test_grow_is_the_running_stack(mode: str) -> None:
    frames = make_frames(12, 10, 8)
    trail = make_trail("grow", mode)
    for k, frame in enumerate(frames):
        trail.update(frame)
        reducer = make_reducer(mode)
        for f in frames[: k + 1]:
            reducer.update(f)
        np.testing.assert_array_equal(trail.picture(), reducer.result())


def test_grow_can_share_the_pipelines_reducer() -> None:
    reducer = make_reducer("max")
    trail = make_trail("grow", reducer=reducer)
    frame = np.full((2, 2, 3), 7, np.uint8)
    reducer.update(frame)
    trail.update(frame)
    assert isinstance(trail, GrowTrail) and reducer.count == 1 and trail.count == 1


@pytest.mark.parametrize(
    ("normalize", "gain"), [("none", 1.0), ("none", 2.0), ("max", 1.0), ("p99", 0.5)]
)
@pytest.mark.parametrize("coding", ["codes", "linear", "power"])
def test_renderer_agrees_with_the_still_within_one_level(
    normalize: str, gain: float, coding: str
) -> None:
    codes = make_frames(1, 40, 30)[0]
    light = decode_lut("uint8")[codes] * (1 if coding == "power" else 3)
    picture = {"codes": codes, "linear": light, "power": powercode.encode(codes)}[coding]
    got = FrameRenderer(normalize, gain)(picture, coding=coding)
    still = codes if coding == "codes" else light
    want = to_output(still, linear=coding != "codes", out_dtype=np.uint8, normalize=normalize,
                     gain=gain)  # fmt: skip
    assert got.dtype == np.uint8
    assert np.abs(got.astype(int) - want).max() <= 1


def test_power_render_is_the_srgb_curve_within_one_level() -> None:
    codes = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    for factor in (1.0, 0.5, 2.0, 37.0):
        light = np.minimum(np.arange(65536) / 65535, 1.0) ** powercode.POWER * factor
        want = np.rint(linear_to_srgb(np.minimum(light, 1.0)) * 255).reshape(256, 256)
        diff = powercode.render(codes, factor).astype(int) - want
        assert np.abs(diff).max() <= 1 and np.mean(diff != 0) < 0.004


def test_video_step_keeps_every_kth_picture_and_the_last() -> None:
    frames = make_frames(10, 8, 6)
    video = list(progressive_frames(frames, make_trail("grow"), video_step=4))
    assert len(video) == 3
    for got, upto in zip(video, (4, 8, 10), strict=True):
        np.testing.assert_array_equal(got, frames[:upto].max(axis=0))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "streak"}, "unknown trail 'streak': choose one of grow, comet, window"),
        ({"kind": "grow", "trail_frames": 5}, "trail_frames and decay apply to trail comet"),
        ({"kind": "window", "decay": 0.9}, "decay applies to trail comet"),
        ({"kind": "comet", "decay": 0.9, "trail_frames": 5}, "give trail_frames or decay"),
        ({"kind": "comet", "decay": 1.0}, "decay 1.0: use a factor between 0 and 1"),
        ({"kind": "comet", "trail_frames": 0}, "trail_frames 0: use a whole number"),
        ({"kind": "window", "trail_frames": 0}, "trail_frames 0: use a whole number"),
    ],
)
def test_bad_trail_settings(kwargs: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(".", r"\.")):
        make_trail(**kwargs)


def test_progressive_frames_from_a_source_are_exact(lossless_clip, frames40: np.ndarray) -> None:
    import vid2trail

    with vid2trail.open_source(lossless_clip) as source:
        trail = vid2trail.make_trail("window", trail_frames=4)
        video = list(vid2trail.progressive_frames(source.frames(5, 25), trail))
    assert len(video) == 20
    for k, got in enumerate(video):
        np.testing.assert_array_equal(got, frames40[max(5, 5 + k - 3) : 5 + k + 1].max(axis=0))


def test_window_refuses_more_frames_than_memory_holds() -> None:
    trail = WindowTrail(10**7)
    with pytest.raises(UsageError, match=r"trail window trail_frames 10000000 needs .* GiB"):
        trail.update(np.zeros((1080, 1920, 3), np.uint8))


@pytest.mark.parametrize("shape", [(7, 300), (2, 40000)])
def test_sixteen_bit_lookup_equals_take(shape: tuple[int, int]) -> None:
    from vid2trail.rendering import _encode_lut, _lookup16

    index = np.random.default_rng(3).integers(0, 65536, shape).astype(np.uint16)
    index[0, :2] = (0, 65535)
    np.testing.assert_array_equal(_lookup16(index), np.take(_encode_lut(), index))


@pytest.mark.parametrize(
    ("decay", "gain", "coding"),
    [(0.98, 1.0, "power"), (0.9, 16.0, "power"), (0.98, 16.0, "linear"), (0.98, 1e4, "linear")],
)
def test_a_bright_gain_keeps_the_comet_in_float_and_its_tail_fades_out(
    decay: float, gain: float, coding: str
) -> None:
    """Rounding stops a power-coded fade at a floor of codes that a big gain would light."""
    frames = dot_frames(3000, range(0, 1))
    trail = make_trail("comet", decay=decay, render_factor=gain)
    video = list(progressive_frames(frames, trail, renderer=FrameRenderer(gain=gain)))
    assert trail.coding == coding
    lit = [int(f[2, 3, 0]) for f in video]
    want = [int(w[2, 3, 0]) for w in exact_comet(frames, decay, gain)]
    assert lit[-1] == want[-1] == 0
    assert max(abs(a - b) for a, b in zip(lit, want, strict=True)) <= 1


def test_a_comet_rendered_with_a_measured_normalization_stays_in_float() -> None:
    trail = make_trail("comet", decay=0.9, render_factor=None)  # --normalize: measured per frame
    trail.update(np.zeros((2, 2, 3), np.uint8))
    assert trail.coding == "linear"


@pytest.mark.skipif(not (SHARED_DATA / "rotation-hevc").is_dir(), reason="../shared/data absent")
def test_comet_of_a_real_phone_clip_is_the_exact_recurrence_within_one_level() -> None:
    import vid2trail

    with vid2trail.open_source(SHARED_DATA / "rotation-hevc" / "with_sound_90.mp4") as source:
        frames = np.stack([f.pixels.copy() for f in source.frames(0, 40)])
    trail = make_trail("comet", decay=0.9)
    video = list(progressive_frames(frames, trail))
    assert trail.coding == "power"
    want = exact_comet(frames, 0.9)
    diffs = np.stack([got.astype(int) - w for got, w in zip(video, want, strict=True)])
    assert np.abs(diffs).max() <= 1 and np.mean(diffs != 0) < 0.002
