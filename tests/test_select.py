"""Frame selection: parsing positions and windows, resolving them, half-open ranges and steps."""

from __future__ import annotations

import numpy as np
import pytest

from vid2trail.errors import EmptySelectionError, SelectionPastEndError, TimeParseError
from vid2trail.frames import SourceInfo
from vid2trail.plan import decode_plan
from vid2trail.select import FrameRange, Window, parse_position, resolve_window


def info(count: int = 1000, fps: float | None = 25.0, exact: bool = True) -> SourceInfo:
    return SourceInfo("clip.mp4", 8, 8, 3, np.dtype(np.uint8), fps,
                      count / fps if fps else None, count, exact)  # fmt: skip


@pytest.mark.parametrize(
    ("text", "frame", "seconds"),
    [
        ("120", 120, None),
        ("0", 0, None),
        ("90s", None, 90.0),
        ("4.5s", None, 4.5),
        (".5s", None, 0.5),
        ("2:00", None, 120.0),
        ("1:02:03.5", None, 3723.5),
        ("0:00:01", None, 1.0),
    ],
)
def test_parse_position(text: str, frame: int | None, seconds: float | None) -> None:
    pos = parse_position(text)
    assert (pos.frame, pos.time_s) == (frame, seconds)


@pytest.mark.parametrize("text", ["abc", "-5", "1.5", "2:75", "1::2", "s", "12x", ""])
def test_parse_position_rejects(text: str) -> None:
    with pytest.raises(TimeParseError, match="cannot read|below 60"):
        parse_position(text, "--start")


def test_time_resolves_to_first_frame_at_or_after() -> None:
    # 4.0 s at 25 fps is frame 100 exactly; 4.01 s is after frame 100, so 101.
    assert parse_position("4s").to_frame(25.0) == 100
    assert parse_position("4.01s").to_frame(25.0) == 101
    assert parse_position("1:00").to_frame(29.97) == 1799


def test_window_parse_with_clock_times() -> None:
    w = Window.parse("1:00:2:00")
    assert (w.start.time_s, w.end.time_s) == (60.0, 120.0)
    w = Window.parse("120:900")
    assert (w.start.frame, w.end.frame) == (120, 900)
    w = Window.parse(":50")
    assert w.start is None and w.end.frame == 50
    with pytest.raises(TimeParseError, match="cannot read windows 'x:y'"):
        Window.parse("x:y")


def test_resolve_is_half_open_and_clips_to_length() -> None:
    r = resolve_window(Window.parse("2s:4s"), info())
    assert (r.start, r.end) == (50, 100)
    assert resolve_window(Window.parse("990:5000"), info()).end == 1000
    assert resolve_window(Window(), info(), step=3) == FrameRange(0, None, 3)


def test_resolve_errors() -> None:
    with pytest.raises(EmptySelectionError, match=r"start 900 \(frame 900\) is not before"):
        resolve_window(Window.parse("900:900"), info())
    with pytest.raises(SelectionPastEndError, match="it has 1000 frames"):
        resolve_window(Window.parse("1000:"), info())
    with pytest.raises(EmptySelectionError, match="step 0"):
        resolve_window(Window(), info(), step=0)
    with pytest.raises(TimeParseError, match="no frame rate"):
        resolve_window(Window.parse("2s:"), info(fps=None))


def test_frame_range_contains_and_count() -> None:
    r = FrameRange(10, 20, 3)
    assert [i for i in range(30) if r.contains(i)] == [10, 13, 16, 19] == list(r.indices())
    assert r.count() == 4
    assert FrameRange(5, None).count() is None
    assert FrameRange(120, 900).label() == "120-900"


def test_decode_plan_keeps_step_only_when_phases_agree() -> None:
    assert decode_plan([FrameRange(0, 10)]) == FrameRange(0, 10, 1)
    assert decode_plan([FrameRange(4, 10, 2), FrameRange(0, 30, 2)]) == FrameRange(0, 30, 2)
    assert decode_plan([FrameRange(5, 10, 2), FrameRange(0, None, 2)]) == FrameRange(0, None, 1)
