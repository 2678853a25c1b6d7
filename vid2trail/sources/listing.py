"""A video stream's frames as its demuxer lists them: one pass over the packets, no decoding.

The :class:`Listing` holds every frame's presentation timestamp in display order and which of them
are keyframes. From it come the frames' real times, the exact length (:func:`exact_info`), where
to seek for a frame (:meth:`Listing.seek_points`), a frame's number from its timestamp
(:meth:`Listing.rank`), and whether the file holds less than its header promises
(:meth:`Listing.truncation`).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from fractions import Fraction
from itertools import pairwise
from typing import Any

from ..frames import SourceInfo
from .avio import import_av
from .media import MediaInfo, is_variable_rate


def seconds_per_tick(time_base: Fraction | None) -> float:
    """Seconds per timestamp tick; MPEG's 1/90000 where the stream does not say.

    Examples
    --------
    >>> seconds_per_tick(Fraction(1, 1000)), seconds_per_tick(None) == 1 / 90000
    (0.001, True)
    """
    return float(time_base) if time_base else 1 / 90000


@dataclass(frozen=True)
class Listing:
    """The frames of one video stream, from :func:`read_listing`.

    Attributes
    ----------
    pts : list of int
        Presentation timestamps of the frames, sorted: frame ``n`` is the one shown at ``pts[n]``.
    keyframes : list of int
        The frame numbers of the keyframes.
    hidden : int
        Packets left out because an edit list hides them.

    Examples
    --------
    >>> clip = Listing([0, 512, 1024, 1536], [0, 2])
    >>> clip.times(Fraction(1, 12800))
    [0.0, 0.04, 0.08, 0.12]
    >>> clip.seek_points(3, seekable=True, retries=3)
    [1536, 0, None]
    """

    pts: list[int]
    keyframes: list[int]
    hidden: int = 0
    #: Whether the timestamps, in decode order, go back: B-frames with real timestamps.
    reordered: bool = False

    def times(self, time_base: Fraction | None) -> list[float]:
        """Every frame's time in seconds from the first frame."""
        tick = seconds_per_tick(time_base)
        origin = self.pts[0] if self.pts else 0
        return [(p - origin) * tick for p in self.pts]

    def keyframes_in(self, start: int, end: int | None, step: int = 1) -> list[int]:
        """The keyframes ``start <= k < end`` (``end`` None: to the last frame), of every
        ``step``-th keyframe of the whole stream (counted from its first).

        Examples
        --------
        >>> Listing(list(range(10)), [0, 2, 4, 6, 8]).keyframes_in(3, None, step=2)
        [4, 8]
        """
        keys = self.keyframes[:: max(1, step)]
        return [k for k in keys if k >= start and (end is None or k < end)]

    def keyframe_pts(self, step: int) -> frozenset[int]:
        """The timestamps of every ``step``-th keyframe of the stream (see :meth:`keyframes_in`)."""
        return frozenset(self.pts[k] for k in self.keyframes[:: max(1, step)])

    def unwanted(self, start: int, end: int | None, step: int) -> Callable[[int], bool]:
        """``unwanted(pts)``: whether the frame stamped ``pts`` is not one of ``start, start +
        step, ...`` below ``end`` (a stamp the list lacks is wanted: it decodes).

        Examples
        --------
        >>> listing = Listing(pts=[0, 512, 1024, 1536], keyframes=[0])
        >>> [listing.unwanted(1, None, 2)(t) for t in (0, 512, 1024, 1536, 99)]
        [True, False, True, False, False]
        """
        pts, stop = self.pts, len(self.pts) if end is None else min(end, len(self.pts))

        def unwanted(stamp: int) -> bool:
            k = bisect.bisect_left(pts, stamp)
            if k == len(pts) or pts[k] != stamp:
                return False
            return not (start <= k < stop and (k - start) % step == 0)

        return unwanted

    def seek_points(self, start: int, *, seekable: bool, retries: int) -> list[int | None]:
        """The timestamps to seek to for frame ``start``, in the order to try them.

        First the frame's own (the demuxer lands on the keyframe before it), then up to
        ``retries`` keyframes further back for a seek that lands past its target (open-GOP
        HEVC, an index that counts decode times), and None, decoding from the start, last. Just
        ``[None]`` for frame 0, for a start past the last frame, and where the container cannot
        seek.

        Examples
        --------
        >>> Listing([0, 10, 20, 30, 40, 50], [0, 2, 4]).seek_points(5, seekable=True, retries=1)
        [50, 20, None]
        """
        if start <= 0 or not seekable or start >= len(self.pts):
            return [None]
        target = self.pts[start]
        before = [self.pts[k] for k in self.keyframes if self.pts[k] < target][::-1]
        return [target, *before[1 : 1 + retries], None]

    def rank(self, pts: int | None, fallback: int) -> int:
        """The frame number of timestamp ``pts``, or ``fallback`` when no frame has it exactly.

        Examples
        --------
        >>> clip = Listing([0, 512, 1024], [0])
        >>> clip.rank(1024, 9), clip.rank(700, 9)
        (2, 9)
        """
        return rank(self.pts, pts, fallback)

    def truncation(
        self,
        header_frames: int | None,
        header_duration_s: float | None,
        fps: float | None,
        time_base: Fraction | None,
    ) -> list[str]:
        """A sentence when the file holds less than its header promises; nothing when it holds
        it all.

        The header's frame count (MP4) is compared with the packets the file holds plus those
        an edit list hides; else the header's length with the time the packets cover, which
        variable frame rates do not fool.

        Examples
        --------
        >>> Listing(list(range(0, 300, 10)), [0]).truncation(40, None, 25.0, None)
        ['truncated: the file holds 30 of the 40 frames its header lists']
        """
        if header_frames:
            held = len(self.pts) + self.hidden
            if held + 1 < header_frames:
                return [f"truncated: the file holds {held} of the {header_frames} frames its "
                        "header lists"]  # fmt: skip
            return []
        length = header_duration_s
        if not length or not fps or not self.pts:
            return []
        covered = (self.pts[-1] - self.pts[0]) * seconds_per_tick(time_base) + 1 / fps
        if covered + max(2 / fps, 0.02 * length) < length:
            return [f"truncated: the frames cover {covered:.2f} s of the {length:.2f} s its "
                    "header says"]  # fmt: skip
        return []


def read_listing(container: Any, index: int, first_pts: int | None) -> Listing:
    """The frames of stream ``index`` of an open container, from one demux pass.

    Packets the decoder drops are left out: those an edit list hides, those shown before
    ``first_pts`` (the first frame that decodes: open-GOP leading frames), and a packet cut off by
    the end of a truncated file.
    """
    av = import_av()
    stream = container.streams[index]
    for other in container.streams:
        if other.index != stream.index:
            other.discard = av.stream.Discard.all
    rows: list[tuple[int, bool]] = []
    hidden = 0
    try:
        for packet in container.demux(stream):
            if packet.is_discard:
                hidden += 1
                continue
            if packet.pts is None or packet.is_corrupt:
                continue  # no frame of the clip (a cut-off packet is no whole frame)
            if first_pts is not None and packet.pts < first_pts:
                continue
            rows.append((packet.pts, packet.is_keyframe))
    except av.error.FFmpegError:
        pass  # a truncated file: the packets read so far are the frames it has
    reordered = any(b[0] < a[0] for a, b in pairwise(rows))
    rows.sort()
    keys = [n for n, (_, key) in enumerate(rows) if key]
    return Listing([pts for pts, _ in rows], keys, hidden, reordered)


def exact_info(info: SourceInfo, times: list[float]) -> SourceInfo:
    """``info`` made exact by the frames' real ``times``: their count, whether the rate varies,
    and the length up to the end of the last frame; ``info`` itself when there are no times.

    Examples
    --------
    >>> import numpy as np
    >>> info = SourceInfo("a.mp4", 8, 8, 3, np.dtype(np.uint8), 25.0, 9.0, 225, False)
    >>> exact = exact_info(info, [0.0, 0.04, 0.08])
    >>> exact.frame_count, exact.frame_count_exact, round(exact.duration_s, 2), exact.variable_fps
    (3, True, 0.12, False)
    """
    if not times:
        return info
    count, fps, last = len(times), info.fps, times[-1]
    frame_s = 1 / fps if fps else (last / (count - 1) if count > 1 else 0.0)
    return replace(
        info,
        frame_count=count,
        frame_count_exact=True,
        variable_fps=is_variable_rate(times),
        duration_s=last + frame_s if last or frame_s else info.duration_s,
    )


def rank(listed: list[int], pts: int | None, fallback: int) -> int:
    """The frame number of timestamp ``pts`` in the sorted frame list, or ``fallback`` when the
    list does not hold it exactly.

    Examples
    --------
    >>> rank([0, 512, 1024], 1024, 9), rank([0, 512, 1024], 700, 9), rank([], 0, 4)
    (2, 9, 4)
    """
    if listed and pts is not None:
        found = bisect.bisect_left(listed, pts)
        if found < len(listed) and listed[found] == pts:
            return found
    return fallback


__all__ = ["Listing", "exact_info", "rank", "read_listing", "seconds_per_tick"]


class ListedFrames:
    """What a video source knows from its :class:`Listing`, read by one demux pass and kept: the
    frames' times and clock, the exact length and the keyframes. The source gives ``_listing()``,
    its ``info``, ``media``, ``time_base`` and keyframe settings, and ``_times`` (None until read).

    Examples
    --------
    >>> class Clip(ListedFrames):
    ...     keyframes_only, keyframe_step, _times, time_base = False, 1, None, Fraction(1, 25)
    ...     def _listing(self):
    ...         return Listing([0, 1, 2, 3], [0, 2])
    >>> Clip().frame_times(), Clip().keyframes_in(1, None)
    ([0.0, 0.04, 0.08, 0.12], [2])
    """

    info: SourceInfo
    media: MediaInfo
    time_base: Fraction | None
    keyframes_only: bool
    keyframe_step: int
    _times: list[float] | None

    def _listing(self) -> Listing:
        raise NotImplementedError

    def frame_times(self) -> list[float]:
        """Presentation time of every frame in seconds from the first frame, from one demux pass
        (read once and kept; from then on frames carry these times)."""
        if self._times is None:
            self._times = self._listing().times(self.time_base)
        return self._times

    def known_times(self) -> list[float] | None:
        """:meth:`frame_times` once read (here, by a copy made after, or by a worker it was sent
        to), else None."""
        return self._times

    def exact_info(self) -> SourceInfo:
        """``info`` with the exact frame count, ``variable_fps`` checked, and ``duration_s`` the
        video's own length, from :meth:`frame_times` (``info`` itself never changes)."""
        return exact_info(self.info, self.frame_times())

    def count_frames(self) -> tuple[int, float]:
        """Exact frame count and duration in seconds (reads the whole file, decodes nothing)."""
        return len(self.frame_times()), self.exact_info().duration_s or 0.0

    def keyframe_indices(self) -> list[int]:
        """Frame numbers of the keyframes, from the demux pass (no decoding); cached."""
        return list(self._listing().keyframes)

    def keyframes_in(self, start: int, end: int | None) -> list[int]:
        """The keyframes ``start <= k < end`` (with ``keyframes_only``: those it decodes)."""
        step = self.keyframe_step if self.keyframes_only else 1
        return self._listing().keyframes_in(start, end, step)

    def clock_times(self) -> list[datetime] | None:
        """The container's creation time plus each frame's time; None when it carries none."""
        created = self.media.created
        return None if created is None else [created + timedelta(seconds=t)
                                             for t in self.frame_times()]  # fmt: skip

    def clock_zone(self) -> tzinfo | None:
        return self.media.created_zone  # see capture.creation_clock
