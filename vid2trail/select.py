"""Frame windows: parse ``120``, ``90s``, ``2:00``, ``1:02:03.5`` and resolve them to frame ranges.

A window is half-open, ``start <= frame < end``, like Python slicing and ffmpeg's ``-to``. A bare
integer is a frame number; anything with a unit ``s`` or a colon is a time in seconds from the start
of the video, and selects the frames whose presentation time lies in ``[start_s, end_s)``.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .clock import parse_clock
from .errors import EmptySelectionError, SelectionPastEndError, TimeParseError, option
from .frames import SourceInfo

_FRAME_RE = re.compile(r"^\d+$")
_SECONDS_RE = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)s$")
_CLOCK_RE = re.compile(r"^(?:(\d+):)?(\d+):(\d+(?:\.\d*)?)$")


@dataclass(frozen=True)
class Position:
    """A frame number or a time, as the user wrote it.

    Exactly one of ``frame`` and ``time_s`` is set, or neither for a clock time
    (``clock``: ``2026-08-12T22:30``, ``T22:30``), which only the source's capture times resolve
    (:func:`vid2trail.plan.on_clock`).

    Examples
    --------
    >>> parse_position("2:00").time_s
    120.0
    """

    frame: int | None = None
    time_s: float | None = None
    text: str = ""
    clock: bool = False

    def to_frame(
        self, fps: float | None, what: str = "position", times: Sequence[float] | None = None
    ) -> int:
        """Return the first frame at or after this position.

        ``times`` are the frames' real presentation times in seconds from the first frame
        (sorted); with them a time finds its frame even when the frame rate varies. Without
        them, times need ``fps`` and assume a constant rate.
        """
        if self.frame is not None:
            return self.frame
        if self.clock:
            raise TimeParseError(
                f"{what} {self.text!r} is a clock time: it needs the input's capture times"
            )
        if times and self.time_s is not None:
            if self.time_s > times[-1] and fps:
                # Past the last frame: extrapolate, so messages name the frame the time means.
                return max(len(times), math.ceil(self.time_s * fps - 1e-6))
            # The same small tolerance as below: a frame stamped 3.9999999 s is "at" 4 s.
            return bisect.bisect_left(times, self.time_s - 1e-6)
        if not fps or self.time_s is None:
            raise TimeParseError(
                f"{what} {self.text!r} is a time, but this input has no frame rate; "
                "give a frame number, or for photos a clock time such as 22:30"
            )
        # Frame k is shown at k / fps; the first frame at or after t is ceil(t * fps). The small
        # tolerance keeps 4.0 s at 25 fps on frame 100 despite binary rounding of 4.0 * 25.
        return max(0, math.ceil(self.time_s * fps - 1e-6))


def parse_position(text: str, what: str = "position") -> Position:
    """Parse a frame number (``120``), a time (``90s``, ``4.5s``, ``2:00``, ``1:02:03.5``) or a
    clock time (``2026-08-12T22:30:00``, ``T22:30``; :mod:`vid2trail.clock`).

    Parameters
    ----------
    text : str
        The value as typed.
    what : str
        The option's name, used in error messages.

    Returns
    -------
    Position

    Examples
    --------
    >>> parse_position("120").frame
    120
    >>> parse_position("1:02:03.5").time_s
    3723.5
    >>> parse_position("4.5s").time_s
    4.5
    >>> parse_position("T22:30").clock
    True
    """
    value = str(text).strip()
    if _FRAME_RE.match(value):
        return Position(frame=int(value), text=value)
    if parse_clock(value) is not None:
        return Position(text=value, clock=True)
    match = _SECONDS_RE.match(value)
    if match:
        return Position(time_s=float(match.group(1)), text=value)
    match = _CLOCK_RE.match(value)
    if match:
        hours, minutes, seconds = match.groups()
        if int(minutes) >= 60 and hours is not None or float(seconds) >= 60:
            raise TimeParseError(
                f"{what} {value!r}: minutes and seconds must be below 60 in H:MM:SS"
            )
        total = int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
        return Position(time_s=total, text=value)
    raise TimeParseError(
        f"cannot read {what} {value!r}: give a frame number (120), a time "
        "(90s, 4.5s, 2:00, 1:02:03.5) or a clock time (T22:30, 2026-08-12T22:30)"
    )


def is_time(text: str) -> bool:
    """True when ``text`` names a time (it has a unit ``s`` or a colon) rather than frame numbers.

    The rule :func:`parse_position` reads by; it holds for a range or list such as ``1:05-1:10``
    too, so a caller can tell before parsing whether frame times must be read.

    Examples
    --------
    >>> is_time("120"), is_time("4.5s"), is_time("2:00"), is_time("300-320,1:05")
    (False, True, True, True)
    >>> is_time("90s") == (parse_position("90s").time_s is not None)
    True
    """
    return any(ch in str(text) for ch in "s:")


@dataclass(frozen=True)
class Window:
    """A requested window: positions not yet resolved against a source.

    Examples
    --------
    >>> w = Window.parse("120:900")
    >>> (w.start.frame, w.end.frame)
    (120, 900)
    """

    start: Position | None = None
    end: Position | None = None
    #: The ends left unset are the night's: a quick scan finds them (``--start auto``).
    auto: bool = False

    @classmethod
    def parse(cls, text: str) -> Window:
        """Parse ``A:B`` where A and B use :func:`parse_position`'s syntax (either may be empty),
        or ``auto``: the night a quick scan finds.

        Because times may contain colons themselves (``1:00:2:00``), the split is tried at every
        colon, the most balanced first, and the first where both halves parse wins; write
        ``60s:120s`` to be unambiguous.
        """
        value = str(text).strip()
        if value == "auto":
            return cls(auto=True)
        candidates = sorted(
            (i for i, ch in enumerate(value) if ch == ":"),
            key=lambda i: abs(value[:i].count(":") - value[i + 1 :].count(":")),
        )
        for index in candidates:
            left, right = value[:index], value[index + 1 :]
            try:
                start = parse_position(left, "window start") if left else None
                end = parse_position(right, "window end") if right else None
            except TimeParseError:
                continue
            return cls(start, end)
        raise TimeParseError(
            f"cannot read {option('window')} {value!r}: write START:END, e.g. 120:900 or 60s:2:30"
        )

    def uses_time(self) -> bool:
        """True when the start or the end is a time rather than a frame number."""
        return any(p is not None and p.time_s is not None for p in (self.start, self.end))

    def uses_clock(self, bare: bool = False) -> bool:
        """True when the start or the end is a clock time (``bare``: a plain ``22:30`` is one,
        as for a folder of photos)."""
        return any(p is not None and parse_clock(p.text, bare=bare) is not None
                   for p in (self.start, self.end))  # fmt: skip


def window_of(start: int | str | None, end: int | str | None) -> Window:
    """The window ``start`` to ``end`` (frame numbers, times, or ``"auto"``: the night's).

    Examples
    --------
    >>> w = window_of(120, "auto")
    >>> w.start.frame, w.end, w.auto
    (120, None, True)
    """
    return Window(
        parse_position(str(start), option("start")) if start not in (None, "auto") else None,
        parse_position(str(end), option("end")) if end not in (None, "auto") else None,
        auto="auto" in (start, end),
    )


@dataclass(frozen=True)
class FrameRange:
    """A resolved window: frames ``start, start + step, ...`` below ``end`` (None: to the end).

    Examples
    --------
    >>> r = FrameRange(10, 20, 3)
    >>> list(r.indices())
    [10, 13, 16, 19]
    >>> r.contains(16), r.contains(17)
    (True, False)
    """

    start: int
    end: int | None
    step: int = 1

    def contains(self, index: int) -> bool:
        """True when frame ``index`` belongs to this window."""
        if index < self.start or (self.end is not None and index >= self.end):
            return False
        return (index - self.start) % self.step == 0

    def count(self) -> int | None:
        """Number of selected frames, or None when the window runs to an unknown end."""
        if self.end is None:
            return None
        return max(0, -(-(self.end - self.start) // self.step))

    def indices(self) -> range:
        """The selected frame numbers (needs a known end)."""
        if self.end is None:
            raise ValueError("open-ended window has no finite index list")
        return range(self.start, self.end, self.step)

    def stacked(self, count: int, dropped: Iterable[int] = ()) -> list[int]:
        """The frame numbers of the ``count`` frames a reducer took from this window, in order,
        leaving out ``dropped`` (``--exclude``, ``--reject``).

        Examples
        --------
        >>> FrameRange(100, None, 2).stacked(3, dropped=[102])
        [100, 104, 106]
        """
        gone = {i for i in dropped if self.contains(i)}
        frames: list[int] = []
        index = self.start
        while len(frames) < count:
            if index not in gone:
                frames.append(index)
            index += self.step
        return frames

    def label(self) -> str:
        """``"120-900"``, used in output names for ``--window``."""
        return f"{self.start}-{'end' if self.end is None else self.end}"


def resolve_window(
    window: Window, info: SourceInfo, step: int = 1, times: Sequence[float] | None = None
) -> FrameRange:
    """Turn a requested window into frame numbers for one source.

    Parameters
    ----------
    window : Window
        Start and end as frame numbers or times; a missing start is frame 0, a missing end is the
        end of the input.
    info : SourceInfo
        Gives the frame rate that converts times, and the length that bounds the window.
    step : int
        Keep every ``step``-th frame, counting from the start.
    times : sequence of float, optional
        The frames' real presentation times (seconds from the first frame, sorted), e.g. from
        ``source.frame_times()``; times then select the frames shown at those times
        even in a variable-frame-rate clip.

    Returns
    -------
    FrameRange

    Raises
    ------
    EmptySelectionError
        When ``start >= end`` or ``step < 1``.
    SelectionPastEndError
        When the start lies past the last frame of a source whose length is known exactly.

    Examples
    --------
    >>> import numpy as np
    >>> info = SourceInfo("a.mp4", 8, 8, 3, np.dtype(np.uint8), 25.0, 40.0, 1000, True)
    >>> resolve_window(Window.parse("2s:4s"), info)
    FrameRange(start=50, end=100, step=1)
    """
    if step < 1:
        raise EmptySelectionError(f"{option('step')} {step}: the step must be 1 or more")
    start = window.start.to_frame(info.fps, option("start"), times) if window.start else 0
    end = window.end.to_frame(info.fps, option("end"), times) if window.end else None
    if end is not None and start >= end:
        start_text = window.start.text if window.start else "0"
        end_text = window.end.text if window.end else ""
        raise EmptySelectionError(
            f"{option('start')} {start_text} (frame {start}) is not before {option('end')} "
            f"{end_text} (frame {end}): "
            "the window is half-open, start <= frame < end; give an end after the start"
        )
    if info.frame_count is not None and info.frame_count_exact:
        if start >= info.frame_count:
            raise past_end_error(start, info)
        if end is not None and end > info.frame_count:
            end = info.frame_count
    return FrameRange(start, end, step)


def past_end_error(start: int, info: SourceInfo) -> SelectionPastEndError:
    """The error for a start beyond the last frame, saying how long the input is."""
    return SelectionPastEndError(
        f"{option('start')} frame {start} is past the last frame of {info.path}: it has "
        f"{info.describe_length()}; give a smaller {option('start')}"
    )
