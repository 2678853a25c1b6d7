"""Clock times: windows and exclusions by the time of night, and what the capture times show.

A position can be a clock time: ``2026-08-12T22:30:00`` (any input with a clock), ``T22:30`` (a
time of day), or, for a folder of photos, a plain ``22:30`` or ``22:30:15`` (a folder has no
other use for a colon time: its frames have no presentation times). The clock is the camera's:
EXIF times for photos, the creation time plus each frame's time for a video
(:mod:`vid2trail.sources.capture`).

A time of day names the moment within the capture: ``--start 22:30 --end 04:00`` on a night
from 21:00 to 05:30 runs past midnight, as a photographer means it.

From the capture times come two warnings for a folder: an order of names that is not the order of
the clock, and a jump in the capture interval (a card swap, a battery change), which is a gap in
the trails.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, timezone, tzinfo

from .errors import SelectionPastEndError, TimeParseError, option

_ISO_RE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?$"
)
_DAY_RE = re.compile(r"^T?(\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?$")
#: A capture interval this many times the usual one is a jump (a card swap, a battery change).
JUMP_FACTOR = 3.0
#: ... and at least this many seconds longer than the usual interval.
JUMP_MIN_S = 5.0


def parse_clock(text: str, *, bare: bool = False) -> datetime | time | None:
    """A clock time: a ``datetime`` for ``2026-08-12T22:30[:00]``, a ``time`` of day for
    ``T22:30`` (or a bare ``22:30`` when ``bare``, as a folder reads it); None for anything else.

    A zone (``Z``, ``+02:00``) makes the ``datetime`` aware: :func:`in_capture` moves it onto the
    camera's clock.

    Examples
    --------
    >>> parse_clock("2026-08-12T22:30")
    datetime.datetime(2026, 8, 12, 22, 30)
    >>> parse_clock("T04:15:30"), parse_clock("22:30"), parse_clock("22:30", bare=True)
    (datetime.time(4, 15, 30), None, datetime.time(22, 30))
    """
    value = str(text).strip()
    match = _ISO_RE.match(value)
    if match:
        day, clock, zone = match.groups()
        moment = _time_of_day(clock, value)
        if moment is None:
            return None
        joined = datetime.combine(date.fromisoformat(day), moment)
        return joined.replace(tzinfo=_zone(zone)) if zone else joined
    if value.startswith("T") or bare:
        return _time_of_day(value, value) if _DAY_RE.match(value) else None
    return None


def _zone(text: str) -> timezone:
    if text == "Z":
        return timezone.utc
    sign, digits = text[0], text[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return timezone(-delta if sign == "-" else delta)


def _time_of_day(text: str, value: str) -> time | None:
    match = _DAY_RE.match(text)
    if not match:
        return None
    hours, minutes, seconds = int(match.group(1)), int(match.group(2)), float(match.group(3) or 0)
    if hours > 23 or minutes > 59 or seconds >= 60:
        raise TimeParseError(f"clock time {value!r}: use hours 0-23 and minutes 0-59 (22:30)")
    whole = int(seconds)
    return time(hours, minutes, whole, int(round((seconds - whole) * 1e6)))


def in_capture(
    moment: datetime | time, clocks: Sequence[datetime], zone: tzinfo | None = None, text: str = ""
) -> datetime:
    """The moment a clock time names within a capture: a ``datetime`` as it is (one with a zone
    moved into the camera's ``zone``); a time of day on the date that puts it nearest the middle
    capture time (the median: one frame with a wrong date does not move it), so that a night's
    ``22:30`` is the evening and its ``04:00`` the next morning.

    Raises
    ------
    TimeParseError
        For a time with a zone where the capture times have none (``text`` names it).

    Examples
    --------
    >>> night = [datetime(2026, 8, 12, 21), datetime(2026, 8, 13, 5)]
    >>> in_capture(time(4, 0), night), in_capture(time(20, 0), night)
    (datetime.datetime(2026, 8, 13, 4, 0), datetime.datetime(2026, 8, 12, 20, 0))
    """
    if isinstance(moment, datetime) and moment.tzinfo is not None:
        if zone is None:
            raise TimeParseError(
                f"clock time {text!r} has a time zone, but the capture times carry none: give "
                "the camera's own clock time, without the zone"
            )
        return moment.astimezone(zone).replace(tzinfo=None)
    if isinstance(moment, datetime):
        return moment
    middle = sorted(clocks)[len(clocks) // 2]
    candidates = []
    for days in (-1, 0, 1):
        try:
            candidates.append(datetime.combine(middle.date() + timedelta(days=days), moment))
        except OverflowError:  # a camera's clock at year 1 or 9999
            continue
    return min(candidates, key=lambda c: abs(c - middle))


def first_at_or_after(moment: datetime, clocks: Sequence[datetime]) -> int:
    """The first frame captured at or after ``moment``; ``len(clocks)`` when none is.

    Examples
    --------
    >>> clocks = [datetime(2026, 1, 1, 22, m) for m in (0, 10, 20)]
    >>> first_at_or_after(datetime(2026, 1, 1, 22, 5), clocks)
    1
    """
    return next((i for i, t in enumerate(clocks) if t >= moment), len(clocks))


def last_at_or_before(moment: datetime, clocks: Sequence[datetime]) -> int:
    """The last frame captured at or before ``moment``; -1 when none is.

    Examples
    --------
    >>> clocks = [datetime(2026, 1, 1, 22, m) for m in (0, 10, 20)]
    >>> last_at_or_before(datetime(2026, 1, 1, 22, 15), clocks)
    1
    """
    return max((i for i, t in enumerate(clocks) if t <= moment), default=-1)


def clock_frame(
    text: str,
    clocks: Sequence[datetime] | None,
    what: str,
    no_clock: str,
    *,
    bare: bool,
    zone: tzinfo | None = None,
    start: bool = False,
) -> int | None:
    """The frame a clock-time position names (the first at or after it), or None when ``text``
    is not a clock time.

    Raises
    ------
    TimeParseError
        For a clock time where the input has no clock (``no_clock`` says why), or frames that
        are not in capture order (a window of the clock is no stretch of them).
    SelectionPastEndError
        For a ``start`` after the last capture.

    Examples
    --------
    >>> clocks = [datetime(2026, 1, 1, 22, m) for m in (0, 10, 20)]
    >>> clock_frame("22:10", clocks, "start", "", bare=True)
    1
    >>> clock_frame("120", clocks, "start", "", bare=True) is None
    True
    """
    moment = parse_clock(text, bare=bare)
    if moment is None:
        return None
    if not clocks:
        raise TimeParseError(
            f"{what} {text!r} is a clock time, but {no_clock}: give a frame number instead"
        )
    if any(b < a for a, b in zip(clocks, clocks[1:], strict=False)):
        raise TimeParseError(
            f"{what} {text!r} is a clock time, but the frames are not in the order they were "
            f"taken: add {option('sort')} time"
        )
    when = in_capture(moment, clocks, zone, text)
    if start and when > clocks[-1]:
        raise SelectionPastEndError(
            f"{what} {text!r} ({say(when)}) is after the last capture ({say(clocks[-1])}): give "
            "an earlier time"
        )
    return first_at_or_after(when, clocks)


def say(moment: datetime) -> str:
    """A capture time as a user reads it: ``22:41:07``, with the date when it is not today's
    night (always, here: the date too, ``2026-08-12 22:41:07``).

    Examples
    --------
    >>> say(datetime(2026, 8, 12, 22, 41, 7, 500000))
    '2026-08-12 22:41:07'
    """
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def span(seconds: float) -> str:
    """A length of time in words: ``30 s``, ``4 min 10 s``, ``2 h 5 min``.

    Examples
    --------
    >>> span(30), span(250), span(7500), span(0.5)
    ('30 s', '4 min 10 s', '2 h 5 min', '0.5 s')
    """
    if seconds < 10:
        return f"{seconds:.3g} s"
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    hours, rest = divmod(whole, 3600)
    return f"{hours} h" + (f" {rest // 60} min" if rest // 60 else "")


def interval_jumps(clocks: Sequence[datetime], names: Sequence[str]) -> list[str]:
    """Warnings for the places where the capture interval jumps: more than
    :data:`JUMP_FACTOR` times the usual (median) interval, and :data:`JUMP_MIN_S` longer. The
    first jump is named with its files and times; the others are counted.

    Examples
    --------
    >>> t0 = datetime(2026, 8, 12, 22, 0)
    >>> clocks = [t0 + timedelta(seconds=30 * i + (250 if i > 3 else 0)) for i in range(8)]
    >>> interval_jumps(clocks, [f"IMG_{i}.jpg" for i in range(8)])  # doctest: +NORMALIZE_WHITESPACE
    ['the capture interval jumps from 30 s to 4 min 40 s between IMG_3.jpg (2026-08-12 22:01:30)
    and IMG_4.jpg (2026-08-12 22:06:10): the trails have a gap there']
    """
    gaps = [(b - a).total_seconds() for a, b in zip(clocks, clocks[1:], strict=False)]
    if len(gaps) < 3:
        return []
    usual = statistics.median(gaps)
    jumps = [i for i, gap in enumerate(gaps)
             if gap > JUMP_FACTOR * usual and gap > usual + JUMP_MIN_S]  # fmt: skip
    if not jumps:
        return []
    i = jumps[0]
    more = (
        f" (and {len(jumps) - 1} more jump{'s' if len(jumps) > 2 else ''})"
        if len(jumps) > 1
        else ""
    )
    return [
        f"the capture interval jumps from {span(usual)} to {span(gaps[i])} between {names[i]} "
        f"({say(clocks[i])}) and {names[i + 1]} ({say(clocks[i + 1])}): the trails have a gap "
        f"there{more}"
    ]


def order_note(clocks: Sequence[datetime], names: Sequence[str]) -> str:
    """A note when the files' order is not their capture order (names from two cameras, a
    counter that wrapped), or ''.

    Examples
    --------
    >>> t = [datetime(2026, 1, 1, 22, m) for m in (0, 20, 10)]
    >>> from vid2trail.errors import in_words
    >>> in_words(order_note(t, ["a.jpg", "b.jpg", "c.jpg"]))  # doctest: +NORMALIZE_WHITESPACE
    'the capture times order the files differently from their names (c.jpg was taken before
    b.jpg): sort time follows the clock'
    """
    for i, (a, b) in enumerate(zip(clocks, clocks[1:], strict=False)):
        if b < a:
            return (
                f"the capture times order the files differently from their names ({names[i + 1]} "
                f"was taken before {names[i]}): {option('sort')} time follows the clock"
            )
    return ""
