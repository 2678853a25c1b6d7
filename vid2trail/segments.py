"""One window across a Dask cluster: segment tasks on the workers, partial reducers combined in a
tree on the workers, multi-pass modes in rounds.

The plan is the one ``--workers`` uses (:func:`vid2trail.parallel.split_range`: every segment
starts on a selected frame, so the step keeps its phase), and the combine is the reducers' own
(:meth:`~vid2trail.reducer.Reducer.combine`, a monoid): max and min come out bit-identical to one
process, mean and sum within float64 rounding. A mode of several passes (sigma, winsor) runs one
round per pass: every segment starts from the combined state of the pass before, so each pass
judges every frame by the statistics of all of them, as in one process.

Dask retries the task of a worker that dies (its segment runs again elsewhere), and nothing a task
makes is a file: a lost worker loses no output and leaves none half-written.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .cluster import ClusterError, require_distributed
from .reducers import Reducer, make_reducer
from .select import FrameRange

if TYPE_CHECKING:
    from .calibrate import Calibration
    from .pipeline import ProgressCallback
    from .sources import SourceBase

#: Below this many frames per segment, starting processes costs more than it saves.
MIN_SEGMENT_FRAMES = 60
#: Frames a segment reduces between two progress reports.
_REPORT_EVERY = 8
#: Segments per worker thread: a few more than workers, so a slow worker delays less.
SEGMENTS_PER_THREAD = 2
#: Test-only fault hook: a path; the first attempt of segment 0 creates it and kills its worker.
FAULT_ENV = "VID2TRAIL_TEST_KILL_FIRST_SEGMENT"


def split_range(
    frame_range: FrameRange, total: int, parts: int, min_frames: int | None = None
) -> list[FrameRange]:
    """Cut a range of ``total`` selected frames into at most ``parts`` contiguous segments.

    Each segment starts on a selected frame, so the step keeps its phase; the last one keeps the
    range's own end (None: to the end of the video), so an estimated ``total`` that is short
    loses no frame. Segments are at least ``min_frames`` long (default
    :data:`MIN_SEGMENT_FRAMES`).

    Examples
    --------
    >>> split_range(FrameRange(10, 500, 2), 245, 2)
    [FrameRange(start=10, end=254, step=2), FrameRange(start=254, end=500, step=2)]
    >>> split_range(FrameRange(0, 50), 50, 4)
    [FrameRange(start=0, end=50, step=1)]
    """
    shortest = MIN_SEGMENT_FRAMES if min_frames is None else max(1, min_frames)
    parts = max(1, min(parts, total // shortest))
    if parts == 1:
        return [frame_range]
    bounds = [frame_range.start + (total * i // parts) * frame_range.step for i in range(parts)]
    ends: list[int | None] = [*bounds[1:], frame_range.end]
    return [FrameRange(a, b, frame_range.step) for a, b in zip(bounds, ends, strict=True)]


def reduce_segment(
    source: SourceBase,
    segment: FrameRange,
    mode: str,
    params: dict[str, Any],
    calibration: Calibration | None = None,
    base: Reducer | None = None,
    k: int = 0,
    index: int = 0,
    report: Callable[[int], None] | None = None,
    warp: Any = None,
) -> Reducer:
    """A task: reduce one segment's frames, in pass ``k`` from the combined ``base`` of the pass
    before (pass 0: a fresh reducer); ``report(n)`` every few frames with the frames since;
    ``warp(index, pixels)`` after the calibration (:class:`vid2trail.pipeline.FrameWarp`).
    The local ``--workers`` processes run the same task (:mod:`vid2trail.parallel`).

    Examples
    --------
    >>> from vid2trail.sources import open_source
    >>> with open_source("long.mp4") as src:  # doctest: +SKIP
    ...     part = reduce_segment(src, FrameRange(0, 300), "max", {})
    """
    marker = os.environ.get(FAULT_ENV)
    if marker and index == 0 and k == 0 and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)  # a worker lost mid-segment, for the tests
    if base is None:
        reducer = make_reducer(mode, **params)
    else:
        reducer = copy.deepcopy(base)
    reducer.begin_pass(k)
    pending = 0
    for frame in source.frames(segment.start, segment.end, segment.step):
        pixels = frame.pixels if calibration is None else calibration.apply(frame.pixels)
        if warp is not None:
            pixels = warp(frame.index, pixels)
        reducer.update(pixels)
        pending += 1
        if report is not None and pending == _REPORT_EVERY:
            report(pending)
            pending = 0
    if report is not None and pending:
        report(pending)
    return reducer


def combine_in_order(partials: Sequence[Reducer]) -> Reducer:
    """The partial reducers of consecutive segments as one (the first, extended in place).

    Examples
    --------
    >>> import numpy as np
    >>> parts = [make_reducer("max"), make_reducer("max")]
    >>> for part, v in zip(parts, (3, 9)):
    ...     part.update(np.full((1, 1, 1), v, np.uint8))
    >>> int(combine_in_order(parts).result()[0, 0, 0])
    9
    """
    combined = partials[0]
    for other in partials[1:]:
        combined = combine_two(combined, other)
    return combined


def combine_two(first: Reducer, second: Reducer) -> Reducer:
    """A task: ``first`` then ``second``, combined (in frame order)."""
    return first.combine(second)


def stack_on_cluster(
    client: Any,
    source: SourceBase,
    plan: FrameRange,
    total: int,
    mode: str,
    params: dict[str, Any],
    *,
    calibration: Calibration | None = None,
    progress: ProgressCallback | None = None,
    warp: Any = None,
) -> Reducer:
    """Reduce the plan's frames on the cluster's workers and return the combined reducer.

    Examples
    --------
    >>> from vid2trail.cluster import connect
    >>> with connect("tcp://127.0.0.1:8786") as client:  # doctest: +SKIP
    ...     r = stack_on_cluster(client, src, FrameRange(0, None), 3000, "mean", {})
    """
    threads = sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values())
    segments = split_range(plan, total, max(1, threads * SEGMENTS_PER_THREAD))
    passes = make_reducer(mode, **params).passes
    base: Any = None
    for k in range(passes):
        parts = [
            client.submit(
                reduce_segment,
                source,
                seg,
                mode,
                params,
                calibration,
                base,
                k,
                i,
                None,
                warp,
                pure=False,
                retries=2,
            )  # fmt: skip
            for i, seg in enumerate(segments)
        ]
        base = _tree(client, parts)  # combined on the workers as the segments finish
        _count(client, parts, segments, total, k * total, total * passes, progress)
    try:
        return base.result()
    except Exception as exc:  # a task's own error (a decode error) reaches the caller as it is
        if type(exc).__module__.startswith("distributed"):
            raise ClusterError(f"the cluster lost the stack ({exc})") from None
        raise


def _tree(client: Any, level: Sequence[Any]) -> Any:
    """Combine neighbouring partial reducers pairwise on the workers, down to one future."""
    while len(level) > 1:
        pairs = [level[i : i + 2] for i in range(0, len(level), 2)]
        level = [client.submit(combine_two, *pair, pure=False, retries=2) if len(pair) == 2
                 else pair[0] for pair in pairs]  # fmt: skip
    return level[0]


def _count(
    client: Any,
    parts: Sequence[Any],
    segments: Sequence[FrameRange],
    total: int,
    offset: int,
    grand_total: int,
    progress: ProgressCallback | None,
) -> None:
    """Wait for a round's segments, reporting progress as each finishes (its frames count when
    it is done)."""
    distributed = require_distributed()
    sizes = {part.key: _frames(seg, total, segments)
             for part, seg in zip(parts, segments, strict=True)}  # fmt: skip
    done = offset
    for finished in distributed.as_completed(parts, loop=client.loop):
        done += sizes[finished.key]
        if progress is not None:
            progress(min(done, grand_total), grand_total)


def _frames(segment: FrameRange, total: int, segments: Sequence[FrameRange]) -> int:
    counted = segment.count()
    if counted is not None:
        return counted
    others = sum(s.count() or 0 for s in segments if s is not segment)
    return max(0, total - others)
