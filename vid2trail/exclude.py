"""Frames excluded by hand (``--exclude 300-320,1200,1:05-1:10``): frame numbers or times, ranges
inclusive at both ends, read into :class:`Exclusions`.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .errors import UsageError, option
from .frames import SourceInfo
from .select import is_time, parse_position

_RANGE_RE = re.compile(r"^(.+?)-(.+)$")


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
    texts: Iterable[str], info: SourceInfo, times: Sequence[float] | None = None
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
            match = _RANGE_RE.match(item)
            if match:
                first = _frame_at(match.group(1), info, times, item, last=False)
                last = _frame_at(match.group(2), info, times, item, last=True)
            else:
                first = last = _frame_at(item, info, times, item, last=True)
            if last < first and match and _in_order(match.group(1), match.group(2)):
                continue  # a stretch of time between two frames: it holds no frame to drop
            if last < first:
                raise UsageError(
                    f"{option('exclude')} {item!r}: the range ends (frame {last}) before it "
                    f"starts (frame {first}); write FIRST-LAST, e.g. 300-320"
                )
            ranges.append((first, last))
    return Exclusions(tuple(sorted(ranges)))


def _in_order(first: str, last: str) -> bool:
    """True when both ends are times and the first is not after the last."""
    a, b = (parse_position(text.strip(), option("exclude")) for text in (first, last))
    return a.time_s is not None and b.time_s is not None and a.time_s <= b.time_s


def _frame_at(
    text: str, info: SourceInfo, times: Sequence[float] | None, item: str, *, last: bool
) -> int:
    try:
        position = parse_position(text.strip(), option("exclude"))
    except UsageError:
        raise UsageError(
            f"cannot read {option('exclude')} {item!r}: give frame numbers or times separated by "
            "commas, ranges inclusive as FIRST-LAST, e.g. 300-320,1200 or 1:05-1:10"
        ) from None
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
