"""Stack one window of a video in several processes: split, reduce each part, combine.

Reducers are monoids (see :mod:`vid2trail.reducers`), so the selected frames can be cut into
contiguous segments, each decoded by its own process with an exact seek and reduced locally, and
the partial reducers merged in order. Max and min come out bit-identical to one process; mean and
sum differ only by the order of float64 additions (about 1e-15 relative).

Every segment starts on a selected frame (``start + i * step``), so ``--step`` keeps its phase.
The workers are a ``concurrent.futures`` process pool started with ``spawn`` (safe with threads,
the same on every platform); they send their frame counts back through a queue, so the caller
still sees one progress count.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
from typing import TYPE_CHECKING, Any

from .errors import DecodeError, option
from .frames import SourceInfo
from .keograms import WithKeogram
from .reducers import MaxReducer, MeanReducer, MinReducer, Reducer, SumReducer, make_reducer
from .segments import combine_in_order, reduce_segment
from .select import FrameRange

if TYPE_CHECKING:
    from .sources import SourceBase

_POLL_S = 0.2


def default_workers(cpu_count: int | None = None) -> int:
    """The default ``--workers``: half the cores (a decoder uses a second core), at most 8.

    A video decoder already uses several threads, so one process per core would oversubscribe
    the machine; on two cores this is 1, the single-process path.

    Examples
    --------
    >>> default_workers(2), default_workers(16), default_workers(64), default_workers(1)
    (1, 8, 8, 1)
    """
    cores = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    return max(1, min(8, cores // 2))


def default_threads(cpu_count: int | None = None) -> int:
    """The default number of images a folder decodes at once: one per core, at most 8.

    Examples
    --------
    >>> default_threads(2), default_threads(32)
    (2, 8)
    """
    return max(1, min(8, cpu_count if cpu_count is not None else (os.cpu_count() or 1)))


def parallel_safe(reducer: Reducer) -> bool:
    """True for the reducers whose split runs combine exactly: single-pass max, min, mean, sum.

    Examples
    --------
    >>> from vid2trail.reducers import make_reducer
    >>> parallel_safe(make_reducer("max")), parallel_safe(make_reducer("median"))
    (True, False)
    """
    main = reducer.main if isinstance(reducer, WithKeogram) else reducer
    return type(main) in (MaxReducer, MinReducer, MeanReducer, SumReducer)


#: The progress queue of this worker process (set when a pool starts it).
_INBOX: Any = None


def _start_worker(inbox: Any) -> None:
    """A pool process's start: keep the progress queue, and let SIGTERM from the parent end the
    task through the source's own clean-up (it stops the decoder)."""
    global _INBOX
    _INBOX = inbox

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle


def _report(frames: int) -> None:
    """In a pool process: frames done since the last report, to the parent."""
    _INBOX.put(frames)


def reduce_segments(
    source: Any,
    segments: list[FrameRange],
    mode: str,
    progress: Any = None,
    total: int | None = None,
    params: dict[str, Any] | None = None,
    calibration: Any = None,
    *,
    warp: Any = None,
) -> Reducer:
    """Reduce each segment in a process of a standard ``concurrent.futures`` pool and combine
    the results in order: the segment task and the combine of :mod:`vid2trail.segments`, which
    the cluster runs too; only the executor differs.

    Parameters
    ----------
    source : Source
        A picklable source that seeks exactly (``source.exact_seek``).
    segments : list of FrameRange
        From :func:`vid2trail.segments.split_range`.
    mode : str
        Reducer name.
    progress : callable, optional
        ``progress(done, total)`` as frame counts arrive from the workers.
    total : int, optional
        Expected frame count for ``progress``.
    params : dict, optional
        Reducer options for :func:`~vid2trail.reducers.make_reducer`.
    calibration : Calibration, optional
        Applied to every frame (prepared already).
    warp : FrameWarp, optional
        Applied to every frame after the calibration (one that needs no frame order).

    Returns
    -------
    Reducer
        The combination of every segment's reducer (count 0 if no segment had a frame).

    Examples
    --------
    >>> from vid2trail.segments import split_range
    >>> from vid2trail.sources import open_source
    >>> src = open_source("long.mp4")  # doctest: +SKIP
    >>> r = reduce_segments(src, split_range(FrameRange(0, 3000), 3000, 8), "max")  # doctest: +SKIP
    """
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    ctx = multiprocessing.get_context("spawn")
    others = set(multiprocessing.active_children())
    inbox = ctx.Queue()
    pool = ProcessPoolExecutor(len(segments), mp_context=ctx, initializer=_start_worker,
                               initargs=(inbox,))  # fmt: skip
    done = 0
    try:
        futures = [pool.submit(reduce_segment, source, seg, mode, params or {}, calibration,
                               None, 0, i, _report, warp)
                   for i, seg in enumerate(segments)]  # fmt: skip
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=_POLL_S, return_when=FIRST_COMPLETED)
            done = _drain(inbox, done, progress, total)
            for future in finished:
                future.result()  # a worker's error is raised here, as it was raised there
        partial = [future.result() for future in futures]
        # The counts travel apart from the results: wait for the last of them (they are sent
        # before each result, so they are on their way).
        expected = sum(part.count for part in partial)
        while done < expected:
            try:
                done += inbox.get(timeout=5)
            except queue.Empty:
                break
            if progress is not None:
                progress(done, max(total, done) if total is not None else None)
        return combine_in_order(partial)
    except BrokenProcessPool:
        raise DecodeError(
            f"a worker process stopped unexpectedly; try {option('workers')} 1"
        ) from None
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        _stop_children(others)
        inbox.close()


def _stop_children(others: set[Any]) -> None:
    """Stop this pool's processes (those not in ``others``: another pool's, such as the RAW
    decoders, are not ours). The pool's manager thread may start one more as the others stop, so
    look again until none is left; a process that ignores SIGTERM is killed."""
    for _ in range(5):
        mine = [child for child in multiprocessing.active_children() if child not in others]
        if not mine:
            return
        for child in mine:
            child.terminate()
        for child in mine:
            child.join(timeout=5)
            if child.is_alive():
                child.kill()
                child.join(timeout=5)


def _drain(inbox: Any, done: int, progress: Any, total: int | None) -> int:
    """Add the frame counts the workers sent, and report them."""
    while True:
        try:
            done += inbox.get_nowait()
        except queue.Empty:
            return done
        if progress is not None:
            progress(done, max(total, done) if total is not None else None)


def reduce_in_threads(
    source: Any,
    segments: list[FrameRange],
    mode: str,
    progress: Any = None,
    total: int | None = None,
    params: dict[str, Any] | None = None,
    warp: Any = None,
) -> Reducer:
    """Like :func:`reduce_segments`, with one thread per segment (for sources whose decoder
    releases the GIL, such as OpenCV's image codecs); the reducers' numpy and OpenCV calls
    release it too, so decoding and stacking both run on every core.

    Examples
    --------
    >>> from vid2trail.sources import open_source
    >>> src = open_source("night/")  # doctest: +SKIP
    >>> from vid2trail.segments import split_range
    >>> parts = split_range(FrameRange(0, 400), 400, 4, min_frames=8)
    >>> r = reduce_in_threads(src, parts, "mean")  # doctest: +SKIP
    """
    import threading
    from concurrent.futures import ThreadPoolExecutor

    lock = threading.Lock()
    done = 0
    stop = threading.Event()

    def work(segment: FrameRange) -> Reducer:
        nonlocal done
        reducer = make_reducer(mode, **(params or {}))
        for frame in source.frames(segment.start, segment.end, segment.step):
            if stop.is_set():
                break
            reducer.update(frame.pixels if warp is None else warp(frame.index, frame.pixels))
            with lock:
                done += 1
                if progress is not None:
                    progress(done, max(total, done) if total is not None else None)
        return reducer

    with ThreadPoolExecutor(len(segments), thread_name_prefix="vid2trail-stack") as pool:
        futures = [pool.submit(work, seg) for seg in segments]
        try:
            partial = [future.result() for future in futures]
        except BaseException:
            stop.set()
            raise
    return combine_in_order(partial)


def can_split(source: SourceBase, info: SourceInfo) -> bool:
    """True when a source can be cut into segments: it seeks exactly and can be pickled."""
    # A keyframes-only preview is already cheap, and its frames are not a regular range.
    return source.exact_seek and not source.keyframes_only and info.frame_count is not None
