"""Frame choice without a decoder: flash rejection, exclusions and the night window on arrays."""

from __future__ import annotations

import numpy as np
import pytest

from vid2trail.choose import (
    FlashRejector,
    FrameFilter,
    build_filter,
    flag_flashes,
    frame_brightness,
)
from vid2trail.errors import EmptySelectionError, UsageError
from vid2trail.exclude import Exclusions, parse_exclude
from vid2trail.frames import SourceInfo
from vid2trail.job import parse_reject
from vid2trail.night import choose_night
from vid2trail.pipeline import run_reducers
from vid2trail.plan import decode_plan
from vid2trail.select import FrameRange

from conftest import FakeSource

INFO = SourceInfo("a.mp4", 8, 8, 3, np.dtype(np.uint8), 25.0, 40.0, 1000, True)


def night_curve(seed: int = 0) -> np.ndarray:
    """Day -> night -> day brightness with noise, a cloud bump, two flashes; truth [65, 136)."""
    rng = np.random.default_rng(seed)
    t = np.arange(200)
    curve = np.interp(t, [0, 25, 65, 135, 175, 199], [0.78, 0.78, 0.08, 0.08, 0.78, 0.78])
    curve += 0.04 * np.exp(-((t - 100) ** 2) / (2 * 8.0**2))  # a cloud drifting over
    curve += rng.normal(0, 0.001, t.size)
    curve[[80, 121]] += 0.5
    return curve


def test_brightness_is_mean_luma_of_a_strided_sample() -> None:
    pixels = np.zeros((400, 600, 3), np.uint8)
    pixels[..., 1] = 255  # pure green: luma 0.7152
    assert frame_brightness(pixels) == pytest.approx(0.7152)
    gray = np.full((10, 10, 1), 1000, np.uint16)
    assert frame_brightness(gray) == pytest.approx(1000 / 65535)
    # A big frame is read in whole rows: the value is the mean of those rows exactly.
    rng = np.random.default_rng(1)
    big = rng.integers(0, 256, size=(1080, 1920, 3), dtype=np.uint8)
    stride = 11  # ceil(1080 * 1920 / 200000), at least 64 rows
    want = (big[::stride].reshape(-1, 3).mean(axis=0) @ [0.2126, 0.7152, 0.0722]) / 255
    assert frame_brightness(big) == pytest.approx(want)
    assert abs(frame_brightness(big) - frame_brightness(big, 10**9)) < 0.002
    floats = big[:64, :64].astype(np.float32) / 255
    assert frame_brightness(floats) == pytest.approx(frame_brightness(big[:64, :64]), rel=1e-5)


def test_flashes_flagged_and_steady_change_spared() -> None:
    curve = night_curve()
    flags = flag_flashes(curve)
    assert flags.nonzero()[0].tolist() == [80, 121]
    # Dawn and dusk ramps, a cloud: no false flash over the whole clip, whatever the noise seed.
    for seed in range(5):
        assert flag_flashes(night_curve(seed)).nonzero()[0].tolist() == [80, 121]


def test_two_frame_flash_and_flash_at_the_very_start() -> None:
    curve = np.full(60, 0.1)
    curve[[0, 30, 31]] = 0.6
    assert flag_flashes(curve).nonzero()[0].tolist() == [0, 30, 31]


def test_lower_k_rejects_more() -> None:
    curve = np.full(60, 0.1)
    curve[20] = 0.135  # 0.035 above: under 5 x the floor of 0.008, over 3 x
    assert not flag_flashes(curve, k=5).any()
    assert flag_flashes(curve, k=3).nonzero()[0].tolist() == [20]


def test_streaming_rejector_matches_the_array_version() -> None:
    curve = night_curve(3)
    rejector = FlashRejector()
    rejector.prime(curve[:15])
    assert [rejector.is_flash(v) for v in curve] == flag_flashes(curve).tolist()
    with pytest.raises(UsageError, match="K must be above 0"):
        FlashRejector(k=0)


def test_filter_in_the_pipeline_rejects_what_flag_flashes_says() -> None:
    levels = night_curve(4)[40:160]
    frames = np.empty((len(levels), 6, 8, 3), np.uint8)
    frames[:] = np.round(levels * 255).clip(0, 255).astype(np.uint8)[:, None, None, None]
    frames[:, 2, 3] = 250  # a star
    source = FakeSource(frames)
    plan = FrameRange(0, len(frames))
    keep = build_filter(source, plan, reject_k=5.0, exclude=["3-5", "100"])
    assert isinstance(keep, FrameFilter)
    [reducer] = run_reducers(source, [plan], "max", keep=keep)
    values = [frame_brightness(f) for i, f in enumerate(frames) if i not in (3, 4, 5, 100)]
    kept = [i for i in range(len(frames)) if i not in (3, 4, 5, 100)]
    want_rejected = [kept[j] for j in flag_flashes(values).nonzero()[0]]
    assert keep.rejected == want_rejected == [40, 81]
    assert keep.excluded == [3, 4, 5, 100]
    used = [i for i in kept if i not in want_rejected]
    np.testing.assert_array_equal(reducer.result(), frames[used].max(axis=0))
    assert keep.report() == [
        "Excluded 4 frames by hand: 3-5, 100",
        "Rejected 2 flash frames (brighter than the running median + 5 x MAD): 40, 81",
    ]


def test_every_frame_dropped_is_an_error() -> None:
    source = FakeSource(np.zeros((5, 2, 2, 3), np.uint8))
    keep = build_filter(source, FrameRange(0, 5), exclude=["0-4"])
    with pytest.raises(EmptySelectionError, match=r"every selected frame \(0-5\) was excluded"):
        run_reducers(source, [FrameRange(0, 5)], "max", keep=keep)


def test_no_filter_when_nothing_asked() -> None:
    assert build_filter(None, decode_plan([FrameRange(0, 3)])) is None


@pytest.mark.parametrize(
    ("texts", "ranges"),
    [
        (["300-320,1200"], ((300, 320), (1200, 1200))),
        (["7", "2-3"], ((2, 3), (7, 7))),
        # Times: a range covers the frames shown from its first time to its last, both included.
        (["1s-1.2s"], ((25, 30),)),
        (["0:01-0:01.2"], ((25, 30),)),
        (["1.01s"], ((25, 25),)),
        (["1.04s"], ((26, 26),)),
        ([" 4 , 9-9 ,"], ((4, 4), (9, 9))),
        # A stretch of time between two frames holds no frame: nothing to drop, not an error.
        (["1.01s-1.03s", "4"], ((4, 4),)),
    ],
)
def test_parse_exclude(texts: list[str], ranges: tuple[tuple[int, int], ...]) -> None:
    assert parse_exclude(texts, INFO).ranges == ranges


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("5-3", "exclude '5-3': the range ends (frame 3) before it starts (frame 5); write "
                "FIRST-LAST, e.g. 300-320"),
        ("2s-1s", "exclude '2s-1s': the range ends (frame 25) before it starts (frame 50); "
                  "write FIRST-LAST, e.g. 300-320"),
        ("x-3", "cannot read exclude 'x-3': give frame numbers or times separated by commas, "
                "ranges inclusive as FIRST-LAST, e.g. 300-320,1200 or 1:05-1:10"),
    ],
)  # fmt: skip
def test_parse_exclude_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_exclude([text], INFO)
    assert str(info.value) == message


def test_exclude_times_need_a_frame_rate() -> None:
    no_clock = SourceInfo("f/", 8, 8, 3, np.dtype(np.uint8), None, None, 10, True)
    with pytest.raises(UsageError, match="is a time, but this input has no frame rate"):
        parse_exclude(["2s"], no_clock)
    assert 3 in Exclusions(((1, 4),)) and 5 not in Exclusions(((1, 4),))


def test_parse_reject() -> None:
    assert parse_reject("auto") == 5.0 and parse_reject(2.5) == 2.5 and parse_reject(None) is None
    for bad in ("maybe", "-1", "nan", "inf"):
        with pytest.raises(UsageError):
            parse_reject(bad)


def test_night_window_within_two_frames_of_the_truth() -> None:
    choice = choose_night(night_curve())
    assert abs(choice.start - 65) <= 2 and abs(choice.end - 136) <= 2
    assert choice.smoothed[80] < 0.1  # the flash is smoothed away


def test_night_survives_a_thick_cloud_but_not_daylight() -> None:
    curve = night_curve()
    curve[95:110] = 0.35  # a lit cloud bank: brighter than twilight's tail, darker than day
    choice = choose_night(curve)
    assert abs(choice.start - 65) <= 2 and abs(choice.end - 136) <= 2
    curve[95:110] = 0.7  # a break in the night as bright as day: the longer half wins
    choice = choose_night(curve)
    assert abs(choice.start - 65) <= 2 and abs(choice.end - 95) <= 3


def test_night_only_and_day_only_clips_keep_every_frame() -> None:
    rng = np.random.default_rng(0)
    for level in (0.05, 0.6):
        curve = level + 0.02 * np.sin(np.arange(300) / 20) + rng.normal(0, 0.002, 300)
        choice = choose_night(curve)
        assert (choice.start, choice.end) == (0, 300)
        assert "no twilight" in choice.reason


def test_dusk_only_clip_runs_to_the_end() -> None:
    curve = np.r_[np.linspace(0.8, 0.05, 50), np.full(100, 0.05)]
    choice = choose_night(curve)
    assert choice.end == 150 and abs(choice.start - 50) <= 3
