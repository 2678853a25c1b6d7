"""The frames a job stacks: its windows resolved against an open source.

:mod:`vid2trail.select` parses positions and windows without a source; here they meet one. A window
with ``auto`` set gets the night a quick scan finds (:func:`with_auto_window`); the windows become
frame ranges with the frames' real times where a window uses times (:func:`resolve_windows`); a
preview without a step keeps about :data:`PREVIEW_FRAMES` frames, or only the keyframes
(:func:`select_frames`); and one decoding plan covers every window (:func:`decode_plan`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from math import gcd
from typing import TYPE_CHECKING

from .clock import clock_frame
from .errors import option
from .frames import SourceInfo
from .select import FrameRange, Position, Window, resolve_window
from .sources import SourceBase

if TYPE_CHECKING:
    from .pipeline import ProgressCallback

#: ``--preview`` without ``--step`` keeps about this many frames of the window.
PREVIEW_FRAMES = 300
#: A keyframes-only preview needs at least this many keyframes in every window.
PREVIEW_MIN_KEYFRAMES = 24


@dataclass(frozen=True)
class Selection:
    """The frame ranges to stack, one per window, and how to decode them.

    ``keyframes_only``: decode only the keyframes (a preview of a long clip), every
    ``keyframe_step``-th of them; the ranges then keep every frame that the decoder delivers.

    Examples
    --------
    >>> Selection((FrameRange(0, 100),)).plan()
    FrameRange(start=0, end=100, step=1)
    """

    ranges: tuple[FrameRange, ...]
    keyframes_only: bool = False
    #: The windows the ranges come from (the night filled in for ``auto`` ones).
    windows: tuple[Window, ...] = ()
    keyframe_step: int = 1

    def plan(self) -> FrameRange:
        """The one range to decode: see :func:`decode_plan`."""
        return decode_plan(self.ranges)


def decode_plan(ranges: Sequence[FrameRange]) -> FrameRange:
    """The single range to decode so that every window sees its frames.

    The union runs from the earliest start to the latest end. The decoder may skip frames
    (``step``) only when every window keeps the same phase of that step.

    Examples
    --------
    >>> decode_plan([FrameRange(10, 20, 2), FrameRange(14, 30, 2)])
    FrameRange(start=10, end=30, step=2)
    >>> decode_plan([FrameRange(10, 20, 2), FrameRange(15, 30, 2)])
    FrameRange(start=10, end=30, step=1)
    """
    start = min(r.start for r in ranges)
    ends = [r.end for r in ranges]
    end = None if any(e is None for e in ends) else max(e for e in ends if e is not None)
    step = 0
    for r in ranges:
        step = gcd(step, r.step)
        step = gcd(step, r.start - start) if r.start != start else step
    return FrameRange(start, end, max(step, 1))


def expected_frames(
    plan: FrameRange, info: SourceInfo, source: SourceBase | None = None
) -> int | None:
    """How many frames the plan will decode, exactly or as estimated from the source's length.

    A ``source`` that decodes only keyframes (a preview) counts its keyframes in the plan.

    Examples
    --------
    >>> import numpy as np
    >>> info = SourceInfo("a.mp4", 8, 8, 3, np.dtype(np.uint8), 25.0, 4.0, 100, True)
    >>> expected_frames(FrameRange(10, None, 2), info)
    45
    """
    if source is not None and source.keyframes_only:
        keys = source.keyframes_in(plan.start, plan.end) or []
        return len([k for k in keys if plan.contains(k)])
    known = plan.count()
    total = info.frame_count
    if total is not None:
        available = max(0, -(-(total - plan.start) // plan.step))
        return available if known is None else min(known, available)
    return known


def with_auto_window(
    source: SourceBase, window: Window, progress: ProgressCallback | None = None
) -> tuple[Window, str]:
    """Fill the unset ends of ``window`` with the night a quick scan of ``source`` finds.

    Returns the window and a one-line description of the choice for the user.

    Examples
    --------
    >>> from vid2trail.sources import open_source
    >>> with open_source("dusk-to-dawn.mp4") as src:  # doctest: +SKIP
    ...     window, text = with_auto_window(src, Window(auto=True))
    >>> (window.start.frame, window.end.frame)  # doctest: +SKIP
    (104, 617)
    """
    from .scan import auto_window

    start, end, description = auto_window(source, progress)
    chosen = Window(
        window.start or Position(frame=start, text=str(start)),
        window.end or Position(frame=end, text=str(end)),
    )
    return chosen, description


def on_clock(windows: Sequence[Window], source: SourceBase) -> list[Window]:
    """The windows with their clock times (:mod:`vid2trail.clock`) turned into frame numbers by
    the source's capture times: a start names the first frame captured at or after it, an end
    the first frame not stacked. A folder reads a plain ``22:30`` as a clock time too.

    Examples
    --------
    >>> from vid2trail.sources import open_source
    >>> with open_source("night/") as src:  # doctest: +SKIP
    ...     [w] = on_clock([Window.parse("22:30:04:00")], src)
    >>> w.start.frame, w.end.frame  # doctest: +SKIP
    (61, 752)
    """
    bare = source.info.fps is None  # a folder: a colon time can only be a clock time
    if not any(w.uses_clock(bare) for w in windows):
        return list(windows)
    clocks = source.clock_times()
    reason = source.no_clock() if clocks is None else ""
    zone = source.clock_zone()

    def resolved(position: Position | None, what: str) -> Position | None:
        if position is None:
            return None
        frame = clock_frame(position.text, clocks, what, reason, bare=bare, zone=zone,
                            start=what == option("start"))  # fmt: skip
        return position if frame is None else Position(frame=frame, text=position.text)

    return [replace(w, start=resolved(w.start, option("start")), end=resolved(w.end, option("end")))
            for w in windows]  # fmt: skip


def resolve_windows(
    windows: Sequence[Window], source: SourceBase, step: int = 1
) -> list[FrameRange]:
    """Resolve windows against a source, with the frames' real times when a window uses times.

    Examples
    --------
    >>> from vid2trail.sources import open_source
    >>> with open_source("clip.mp4") as src:  # doctest: +SKIP
    ...     resolve_windows([Window.parse("2s:4s")], src)
    [FrameRange(start=50, end=100, step=1)]
    """
    windows = on_clock(windows, source)
    times = source.frame_times() if any(w.uses_time() for w in windows) else None
    info = source.known_info()  # exact once the times were read, here or before
    return [resolve_window(w, info, step, times) for w in windows]


def window_notes(
    windows: Sequence[Window], ranges: Sequence[FrameRange], source: SourceBase
) -> list[str]:
    """Notes on windows that ask for what the input cannot give: an end past the last frame
    (stacked to the end), a step longer than the window (one frame stacked).

    Examples
    --------
    >>> import numpy as np
    >>> from vid2trail.errors import in_words
    >>> class Clip(SourceBase):
    ...     info = SourceInfo("a.mp4", 8, 8, 3, np.dtype(np.uint8), 25.0, 4.0, 100, True)
    >>> notes = window_notes([Window.parse("0:500")], [FrameRange(0, 100, 200)], Clip())
    >>> [in_words(n) for n in notes]  # doctest: +NORMALIZE_WHITESPACE
    ['end 500 (frame 500) is past the last frame of a.mp4 (100 frames (4.00 s)): stacking to
    the end', 'step 200 is longer than the window (frames 0-100): it keeps only frame 0']
    """
    notes = []
    for window, frames in zip(windows, ranges, strict=True):
        info, end = source.known_info(), frames.end
        if window.end is not None and info.frame_count is not None:
            asked = window.end.to_frame(info.fps, option("end"), source.known_times())
            if asked > info.frame_count and not info.frame_count_exact:
                info = source.exact_info()  # an estimate says past the end: count to be sure
            if info.frame_count_exact and asked > info.frame_count:
                end = info.frame_count
                notes.append(
                    f"{option('end')} {window.end.text} (frame {asked}) is past the last frame "
                    f"of {info.path} ({info.describe_length()}): stacking to the end"
                )
        if end is None and frames.step > 1 and info.frame_count is not None:
            if not info.frame_count_exact and info.frame_count - frames.start <= frames.step:
                info = source.exact_info()  # an estimate says one frame: count to be sure
            end = info.frame_count if info.frame_count_exact else None
        whole = FrameRange(frames.start, end, 1).count()
        if frames.step > 1 and whole is not None and 0 < whole <= frames.step:
            notes.append(
                f"{option('step')} {frames.step} is longer than the window (frames "
                f"{frames.start}-{end}): it keeps only frame {frames.start}"
            )
    return notes


def preview_step(frame_count: int | None, max_frames: int | None = None) -> int:
    """The ``step`` that keeps at most ``max_frames`` of ``frame_count`` frames (1 if unknown).

    Examples
    --------
    >>> preview_step(7200), preview_step(250), preview_step(None)
    (24, 1, 1)
    """
    max_frames = max_frames or PREVIEW_FRAMES
    if not frame_count or frame_count <= max_frames:
        return 1
    return -(-frame_count // max_frames)


def select_frames(
    source: SourceBase, windows: Sequence[Window], step: int | None = None, preview: bool = False
) -> Selection:
    """The frames to stack for each window: ``step`` given, or what a preview keeps.

    A preview without a step stacks windows of at most :data:`PREVIEW_FRAMES` frames whole.
    Longer windows of a video whose keyframes are at least 2 frames apart, with at least
    :data:`PREVIEW_MIN_KEYFRAMES` of them in every window, stack only the keyframes: the decoder
    then skips every other frame without decoding it, which is what makes a preview of a long
    clip several times faster (a ``step`` still decodes every frame, as each depends on the ones
    before); where that is more than :data:`PREVIEW_FRAMES` keyframes, only every few of them, so
    that about as many are kept. Otherwise a step keeps about :data:`PREVIEW_FRAMES` frames.

    Examples
    --------
    >>> from vid2trail.sources import open_source
    >>> src = open_source("phone.mp4", preview=True)  # doctest: +SKIP
    >>> select_frames(src, [Window()], preview=True)  # doctest: +SKIP
    Selection(ranges=(FrameRange(start=0, end=None, step=1),), keyframes_only=True)
    """
    windows = on_clock(windows, source)
    if step is not None or not preview:
        return Selection(tuple(resolve_windows(windows, source, step or 1)), False, tuple(windows))
    ranges = resolve_windows(windows, source)
    info = source.known_info()
    counts = [expected_frames(r, info) or 0 for r in ranges]
    if max(counts) <= PREVIEW_FRAMES:
        return Selection(tuple(ranges), False, tuple(windows))
    # Without an index (MPEG-TS) a late start is reached by counting decoded frames, which a
    # keyframes-only decode cannot do. (Listing keyframes costs a demux pass: only when usable.)
    seekable = source.seekable or all(r.start == 0 for r in ranges)
    if info.frame_count and seekable:
        found = [source.keyframes_in(r.start, r.end) for r in ranges]
        numbers = [len(keys) for keys in found if keys is not None]
        if (len(numbers) == len(found) and min(numbers) >= PREVIEW_MIN_KEYFRAMES
                and 2 * max(numbers) <= max(counts)):  # fmt: skip
            return Selection(tuple(ranges), True, tuple(windows), preview_step(max(numbers)))
    step = preview_step(max(counts))
    return Selection(tuple(resolve_windows(windows, source, step)), False, tuple(windows))
