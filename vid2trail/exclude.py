"""Frames excluded by hand (``--exclude 300-320,1200,1:05-1:10``): frame numbers or times, ranges
inclusive at both ends, read into :class:`Exclusions`.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from .clock import first_at_or_after, in_capture, last_at_or_before, parse_clock
from .errors import TimeParseError, UsageError, option
from .frames import SourceInfo
from .select import is_time, parse_position


@dataclass(frozen=True)
class Exclusions:
    """Frames dropped by hand: inclusive ``(first, last)`` frame-number pairs.

    Examples
    --------
    >>> ex = Exclusions(((3, 5), (9, 9)))
    >>> [i for i in range(12) if i in ex]
    [3, 4, 5, 9]
    >>> ex.describe()
    '3-5, 9'
    """

    ranges: tuple[tuple[int, int], ...] = ()

    @classmethod
    def of_frames(cls, indices: Iterable[int]) -> Exclusions:
        """The runs of consecutive frame numbers among ``indices``.

        Examples
        --------
        >>> Exclusions.of_frames([9, 3, 4, 5]).ranges
        ((3, 5), (9, 9))
        """
        runs: list[tuple[int, int]] = []
        for i in sorted(indices):
            if runs and i == runs[-1][1] + 1:
                runs[-1] = (runs[-1][0], i)
            else:
                runs.append((i, i))
        return cls(tuple(runs))

    def __contains__(self, index: object) -> bool:
        return any(lo <= index <= hi for lo, hi in self.ranges)  # type: ignore[operator]

    def __bool__(self) -> bool:
        return bool(self.ranges)

    def describe(self) -> str:
        """The ranges as ``3-5, 9``."""
        return ", ".join(f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in self.ranges)


def parse_exclude(
    texts: Iterable[str],
    info: SourceInfo,
    times: Sequence[float] | None = None,
    clocks: Sequence[datetime] | None = None,
    no_clock: str = "",
    zone: tzinfo | None = None,
) -> Exclusions:
    """Read ``--exclude`` values: ``300-320,1200,1:05-1:10`` (inclusive at both ends).

    A frame number names that frame. A range of times ``A-B`` names every frame whose time ``t``
    (frame ``k`` at ``k / fps``) has ``A <= t <= B``, so ``1:05-1:10`` drops the frames from the
    first at or after 65 s to the last at or before 70 s; a lone time names the frame on screen
    at that moment (the last one at or before it). A range of times that falls between two
    frames names no frame.

    Parameters
    ----------
    texts : iterable of str
        One or more values, each a comma-separated list.
    info : SourceInfo
        Its frame rate turns times into frames.
    times : sequence of float, optional
        The frames' real presentation times (``source.frame_times()``); with them
        times find their frames even when the frame rate varies.
    clocks : sequence of datetime, optional
        The frames' capture times (``source.clock_times()``), for clock times
        (``T22:30-T22:35``, and ``22:30-22:35`` for a folder: :mod:`vid2trail.clock`); a range
        of clock times names the frames captured within it. ``no_clock`` says why a source has
        none; ``zone`` is the camera's, for a clock time given with a zone.

    Examples
    --------
    >>> import numpy as np
    >>> info = SourceInfo("a.mp4", 8, 8, 3, np.dtype(np.uint8), 10.0, 100.0, 1000, True)
    >>> parse_exclude(["300-320,1200", "2s-2.3s"], info).ranges
    ((20, 23), (300, 320), (1200, 1200))
    """
    ranges: list[tuple[int, int]] = []
    for text in texts:
        for item in str(text).split(","):
            item = item.strip()
            if not item:
                continue
            where = _Where(info, times, clocks, no_clock, item, zone)
            match = _split_range(item)
            captured = where.captured(*(match or (item, item)))
            if captured is not None:
                ranges += Exclusions.of_frames(captured).ranges
                continue
            if match:
                first = where.frame(match[0], last=False)
                last = where.frame(match[1], last=True)
            else:
                first = last = where.frame(item, last=True)
            if last < first and match and where.in_order(*match):
                continue  # a stretch of time between two frames: it holds no frame to drop
            if last < first:
                raise UsageError(
                    f"{option('exclude')} {item!r}: the range ends (frame {last}) before it "
                    f"starts (frame {first}); write FIRST-LAST, e.g. 300-320"
                )
            ranges.append((first, last))
    return Exclusions(tuple(sorted(ranges)))


def _split_range(item: str) -> tuple[str, str] | None:
    """``FIRST-LAST`` split at the dash where both ends read (a date has dashes of its own);
    None for one position, a clock time with a zone (``2026-08-12T23:52-02:00``) included."""
    try:
        parse_position(item.strip(), option("exclude"))
        return None
    except UsageError:
        pass
    for index in (i for i, ch in enumerate(item) if ch == "-" and 0 < i < len(item) - 1):
        first, last = item[:index], item[index + 1 :]
        try:
            parse_position(first.strip(), option("exclude"))
            parse_position(last.strip(), option("exclude"))
        except UsageError:
            continue
        return first, last
    return None


class _Where:
    """Finds the frame one end of an ``--exclude`` item names."""

    def __init__(
        self,
        info: SourceInfo,
        times: Sequence[float] | None,
        clocks: Sequence[datetime] | None,
        no_clock: str,
        item: str,
        zone: tzinfo | None = None,
    ) -> None:
        self.info, self.times, self.clocks, self.no_clock = info, times, clocks, no_clock
        self.item, self.zone = item, zone
        self.bare = info.fps is None  # a folder: a colon time is a clock time

    def _moment(self, text: str) -> datetime | None:
        moment = parse_clock(text.strip(), bare=self.bare)
        if moment is None:
            return None
        if not self.clocks:
            raise TimeParseError(
                f"{option('exclude')} {self.item!r} is a clock time, but {self.no_clock}: give "
                "frame numbers instead"
            )
        return in_capture(moment, self.clocks, self.zone, text.strip())

    def captured(self, first: str, last: str) -> list[int] | None:
        """For clock times: the frames captured from ``first`` to ``last`` (a lone time: the
        frame on show then, the last one taken at or before it), in any order of the files;
        None for frame numbers and times into a video."""
        a, b = self._moment(first), self._moment(last)
        if a is None or b is None:
            return None
        clocks = self.clocks or ()
        if first == last:
            before = [(t, i) for i, t in enumerate(clocks) if t <= a]
            return [max(before)[1]] if before else []
        return [i for i, t in enumerate(clocks) if a <= t <= b]

    def in_order(self, first: str, last: str) -> bool:
        """True when both ends are times and the first is not after the last."""
        a, b = self._moment(first), self._moment(last)
        if a is not None and b is not None:
            return a <= b
        p, q = (parse_position(text.strip(), option("exclude")) for text in (first, last))
        return p.time_s is not None and q.time_s is not None and p.time_s <= q.time_s

    def frame(self, text: str, *, last: bool) -> int:
        moment = self._moment(text)
        if moment is not None:
            clocks = self.clocks or ()
            return last_at_or_before(moment, clocks) if last else first_at_or_after(moment, clocks)
        try:
            position = parse_position(text.strip(), option("exclude"))
        except UsageError:
            raise UsageError(
                f"cannot read {option('exclude')} {self.item!r}: give frame numbers or times "
                "separated by commas, ranges inclusive as FIRST-LAST, e.g. 300-320,1200 or "
                "1:05-1:10"
            ) from None
        info, times = self.info, self.times
        first = position.to_frame(info.fps, option("exclude"), times)
        if position.frame is not None or not last:
            return first
        # The last frame shown at or before the time.
        if times:
            return bisect.bisect_right(times, position.time_s + 1e-6) - 1  # type: ignore[operator]
        return math.floor(position.time_s * info.fps + 1e-6)  # type: ignore[operator]


def uses_time(texts: Iterable[str]) -> bool:
    """True when an ``--exclude`` value names a time (:func:`vid2trail.select.is_time`).

    Examples
    --------
    >>> uses_time(["300-320"]), uses_time(["1:05-1:10"]), uses_time(["4s"])
    (False, True, True)
    """
    return any(is_time(text) for text in texts)


def uses_clock(texts: Iterable[str], bare: bool = False) -> bool:
    """True when an ``--exclude`` value names a clock time (``bare``: a plain ``22:30`` is one,
    as for a folder).

    Examples
    --------
    >>> uses_clock(["1:05-1:10"]), uses_clock(["1:05-1:10"], bare=True), uses_clock(["T22:30"])
    (False, True, True)
    """
    for text in texts:
        for item in str(text).split(","):
            ends = _split_range(item.strip()) or (item,)
            if any(parse_clock(end.strip(), bare=bare) is not None for end in ends):
                return True
    return False
