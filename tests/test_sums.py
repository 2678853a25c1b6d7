"""Linear-light sums as runs of unchanged codes and as held frames, against plain numpy."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from vid2trail import stack, sums
from vid2trail.color import decode_lut, srgb_to_linear
from vid2trail.sums import MeanReducer, SumReducer

from conftest import encode


def still_sky(
    dtype: type, shape: tuple[int, ...], frames: int, noisy: range = range(0), seed: int = 0
) -> np.ndarray:
    """A still frame in which a few samples change a frame, and every sample in ``noisy``."""
    rng = np.random.default_rng(seed)
    top = np.iinfo(dtype).max
    sky = rng.integers(0, top // 8, shape).astype(dtype)
    out = np.empty((frames, *shape), dtype)
    for i in range(frames):
        frame = sky.copy()
        if i in noisy:
            frame = rng.integers(0, top, shape).astype(dtype)
        else:
            star = rng.integers(0, sky.size, 2)  # two moving stars
            frame.reshape(-1)[star] = top
        out[i] = frame
    return out


def linear_sum(frames: np.ndarray) -> np.ndarray:
    """The frames' linear light added one frame at a time, in float64."""
    lut = decode_lut(frames.dtype.name)
    total = np.zeros(frames.shape[1:])
    for frame in frames:
        total += lut[frame]
    return total


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Frame numbers that went in as runs (``_Runs.take`` spied on)."""
    taken: list[int] = []
    take = sums._Runs.take

    def spy(self: sums._Runs, pixels: np.ndarray, index: int, *rest: object) -> None:
        taken.append(index)
        take(self, pixels, index, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(sums._Runs, "take", spy)
    monkeypatch.setattr(SumReducer, "PROBE", 3)
    return taken


@pytest.mark.parametrize(
    ("dtype", "shape"),
    [
        (np.uint8, (40, 64, 3)),  # whole 8-byte words
        (np.uint8, (41, 63, 3)),  # 7749 bytes: words of one sample
        (np.uint16, (25, 30, 3)),  # 4500 bytes: 4-byte words of two samples
        (np.uint16, (32, 32, 1)),  # grey
    ],
)
def test_a_still_sky_adds_as_runs_and_a_changing_one_as_frames(
    dtype: type, shape: tuple[int, ...], counted: list[int]
) -> None:
    frames = still_sky(dtype, shape, 30, noisy=range(10, 14))
    reducer = SumReducer()
    for frame in frames:
        reducer.update(frame)
    np.testing.assert_allclose(reducer.result(), linear_sum(frames), rtol=1e-14, atol=0)
    # Runs until the noise, frames through it, and runs again once a probe finds the sky still.
    assert counted[:9] == list(range(1, 10))
    assert not set(counted) & set(range(10, 15))
    assert counted[-1] == 29 and len(counted) >= 20


def test_runs_match_numpy_on_views_and_past_their_length_counter(
    monkeypatch: pytest.MonkeyPatch, counted: list[int]
) -> None:
    monkeypatch.setattr(SumReducer, "_RUN_FRAMES", 4)  # the runs start again every 4 frames
    frames = still_sky(np.uint8, (48, 40, 3), 23, seed=1)
    reducer = MeanReducer()
    for frame in frames:
        reducer.update(frame[:, ::-1])  # not contiguous: compared through a copy
    want = linear_sum(frames[:, :, ::-1]) / len(frames)
    np.testing.assert_allclose(reducer.result(), want, rtol=1e-14, atol=0)
    assert len(counted) == 22


def test_open_runs_travel_combine_and_go_on_after_a_result(counted: list[int]) -> None:
    frames = still_sky(np.uint8, (32, 48, 3), 40, seed=2)
    first, second = SumReducer(), SumReducer()
    for frame in frames[:15]:
        first.update(frame)
    for frame in frames[15:30]:
        second.update(frame)
    travelled = pickle.loads(pickle.dumps(second))  # as partial sums cross processes
    assert travelled._runs is None and not travelled._held
    first.combine(travelled)
    np.testing.assert_allclose(first.result(), linear_sum(frames[:30]), rtol=1e-14, atol=0)
    for frame in frames[30:]:
        first.update(frame)
    first.update(np.full(frames.shape[1:], 0.25))  # a float frame ends open runs, then adds
    want = linear_sum(frames) + 0.25
    np.testing.assert_allclose(first.result(), want, rtol=1e-14, atol=0)
    assert first.count == 41 and len(counted) > 30


def test_held_frames_are_the_frame_by_frame_sum_bit_for_bit() -> None:
    frames = still_sky(np.uint8, (300, 16, 3), 9, noisy=range(9), seed=3)  # all noise
    reducer = SumReducer()
    for frame in frames:
        reducer.update(frame)
    np.testing.assert_array_equal(reducer.result(), linear_sum(frames))


def test_a_decoded_still_sky_means_as_runs_to_numpys_mean(
    tmp_path: Path, counted: list[int]
) -> None:
    frames = still_sky(np.uint8, (48, 64, 3), 60, noisy=range(30, 34), seed=4)
    clip = encode(frames, tmp_path / "still.mkv")  # FFV1: the decoder gives these codes back
    light = srgb_to_linear(frames / 255.0).mean(axis=0)
    for workers in (1, 2):
        mean = stack(clip, "mean", dtype=np.float64, workers=workers)
        np.testing.assert_allclose(srgb_to_linear(mean), light, rtol=0, atol=1e-12)
    assert len(counted) > 60  # most frames of both stacks went in as runs
