"""Decoding beside the caller: a producer thread, a small conversion pool, a bounded queue.

While the caller reduces one frame, FFmpeg decodes the next ones in a thread of its own and a
pool converts them to RGB (the decoder and libavfilter release the GIL). At most a few converted
frames wait (:func:`queue_size`), so memory stays flat however long the video; a ``break`` in the
caller's loop stops the producer before the generator returns. Frames of :data:`BIG_FRAME` or
more (4K) are decoded in the caller's turn instead, with a frame thread a core: at that size
each frame held in flight costs more memory than the thread gains.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

#: Frames converted ahead of the consumer (bounded: memory stays flat) ...
AHEAD = 4
#: ... and about how many bytes of them.
AHEAD_BYTES = 48 << 20
#: Frames of at least this many pixels (4K is 8.3 million) are decoded in the caller's turn and
#: converted when it takes them (:func:`pool_threads` gives 0), so no decoded or converted frame
#: waits in a queue: a 4K max peaked at 386 MB with the producer thread and the pool, 284 MB
#: without, no slower. At 1080p (and for HDR's float frames there) the thread and the pool are
#: faster.
BIG_FRAME = 8_000_000
#: FFmpeg's own cap on automatic frame threads.
MAX_DECODER_THREADS = 16
#: What :func:`read_ahead` returns as the last frame reached when the window's end stopped it.
STOPPED_AT_END = -2

_DONE = object()


def queue_size(frame_bytes: int) -> int:
    """Frames converted ahead of the caller: up to :data:`AHEAD`, fewer for big frames, so that
    what waits in memory stays near :data:`AHEAD_BYTES` (a 4K frame is 25 MB).

    Examples
    --------
    >>> queue_size(960 * 540 * 3), queue_size(3840 * 2160 * 3 * 2)
    (4, 1)
    """
    return max(1, min(AHEAD, AHEAD_BYTES // max(1, frame_bytes)))


def pool_threads(pixels: int, threads: int) -> int:
    """Conversion threads for frames of ``pixels``: ``threads``, or 0 (decode and convert in
    the caller's turn) for frames of :data:`BIG_FRAME` pixels or more.

    Examples
    --------
    >>> pool_threads(1920 * 1080, 2), pool_threads(3840 * 2160, 2)
    (2, 0)
    """
    return 0 if pixels >= BIG_FRAME else threads


def decoder_threads(pixels: int, chosen: int | None) -> int:
    """FFmpeg's thread count for frames of ``pixels``: ``chosen`` when set (0: FFmpeg picks a
    frame thread a core and one more); unset, FFmpeg's choice too, but one a usable core (at
    most :data:`MAX_DECODER_THREADS`) for frames of :data:`BIG_FRAME` pixels or more, where
    every frame in flight is large (a 4K max: 304 rather than 325 MB, no slower on two cores).

    Examples
    --------
    >>> decoder_threads(1920 * 1080, None), decoder_threads(3840 * 2160, 3)
    (0, 3)
    """
    if chosen is not None or pixels < BIG_FRAME:
        return chosen or 0
    return min(_usable_cores(), MAX_DECODER_THREADS)


def frame_threads(pixels: int, chosen: int | None) -> int:
    """How many frame threads FFmpeg runs for :func:`decoder_threads`' count (0: a usable core
    and one more, at most :data:`MAX_DECODER_THREADS`).

    Examples
    --------
    >>> frame_threads(1920 * 1080, 3)
    3
    """
    count = decoder_threads(pixels, chosen)
    return count if count > 0 else min(max(1, _usable_cores()) + 1, MAX_DECODER_THREADS)


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 0


def read_ahead(
    numbered: Generator[tuple[int, Any], None, None],
    convert: Callable[[Any], Any],
    deliver: Callable[[int, Future[Any]], T],
    window: tuple[int, int | None, int],
    *,
    ahead: int,
    threads: int,
) -> Iterator[T]:
    """Yield ``deliver(index, future)`` for every decoded frame of ``numbered`` that the
    ``(start, end, step)`` window keeps, converted by ``convert`` in a pool of ``threads``.

    ``numbered`` runs in a thread of its own, and is closed there once the window is done (its
    decoder released at once); an exception there is raised here. With ``threads=0`` (big
    frames, :func:`pool_threads`) it runs in the caller's thread instead, each frame converted
    as it is delivered: FFmpeg's frame threads still decode the next frames meanwhile,
    and no decoded frame waits in a queue (a 4K max: 284 rather than 316 MB, no slower). The
    generator returns ``(reached, delivered)``: the last frame number decoded
    (:data:`STOPPED_AT_END` when the window's end stopped the decoding, -1 when nothing decoded)
    and how many frames were yielded.
    """
    reached = [-1]
    delivered = 0
    if not threads:
        try:
            for index, decoded in _kept(numbered, window, reached):
                converted: Future[Any] = Future()
                converted.set_result(convert(decoded))
                del decoded  # the decoder may reuse its buffer
                yield deliver(index, converted)
                delivered += 1
        finally:
            numbered.close()
        return reached[0], delivered
    ready: queue.Queue[object] = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def produce() -> None:
        try:
            with ThreadPoolExecutor(threads, "vid2trail-rgb") as pool:
                try:
                    for index, decoded in _kept(numbered, window, reached):
                        if stop.is_set():
                            return
                        _offer(ready, (index, pool.submit(convert, decoded)), stop)
                finally:
                    numbered.close()  # the decoder goes before the last conversions finish
            _offer(ready, _DONE, stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            _offer(ready, exc, stop)

    with contextlib.closing(_drained(ready, stop, produce, "vid2trail-decode")) as items:
        for item in items:
            yield deliver(*item)  # type: ignore[misc]
            delivered += 1
    return reached[0], delivered


def _kept(
    numbered: Iterator[tuple[int, Any]], window: tuple[int, int | None, int], reached: list[int]
) -> Iterator[tuple[int, Any]]:
    """The numbered frames that ``window`` keeps; ``reached[0]`` follows the last frame number
    decoded, :data:`STOPPED_AT_END` once the window's end stops the decoding."""
    start, end, step = window
    for index, decoded in numbered:
        if end is not None and index >= end:
            reached[0] = STOPPED_AT_END
            return
        reached[0] = index
        if index < start or (index - start) % step:
            continue
        yield index, decoded
        if end is not None and index + step >= end:
            reached[0] = STOPPED_AT_END  # the window's last frame: no more
            return


def beside(items: Iterator[T], ahead: int = 2) -> Iterator[T]:
    """Yield what ``items`` yields, run in a thread of its own at most ``ahead`` items ahead,
    so that it works (decodes) while the caller works on the last item; an exception there is
    raised here, and a ``break`` here stops it.

    Examples
    --------
    >>> list(beside(iter(range(5))))
    [0, 1, 2, 3, 4]
    """
    ready: queue.Queue[object] = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                _offer(ready, (item,), stop)
            _offer(ready, _DONE, stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            _offer(ready, exc, stop)

    with contextlib.closing(_drained(ready, stop, produce, "vid2trail-beside")) as got:
        for item in got:
            yield item[0]  # type: ignore[index]


def _drained(
    ready: queue.Queue[object], stop: threading.Event, produce: Callable[[], None], name: str
) -> Iterator[Any]:
    """Run ``produce`` in a thread and yield what it puts on ``ready`` until it is done; its
    exception is raised here, and closing this stops it and waits for it."""
    producer = threading.Thread(target=produce, name=name, daemon=True)
    producer.start()
    try:
        while (item := ready.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while producer.is_alive():
            with contextlib.suppress(queue.Empty):
                ready.get(timeout=0.05)
        producer.join()


def _offer(ready: queue.Queue[object], item: object, stop: threading.Event) -> None:
    """Put ``item`` on the bounded queue, giving up once the consumer has stopped."""
    while not stop.is_set():
        try:
            ready.put(item, timeout=0.05)
            return
        except queue.Full:
            continue


__all__ = [
    "AHEAD",
    "AHEAD_BYTES",
    "BIG_FRAME",
    "MAX_DECODER_THREADS",
    "STOPPED_AT_END",
    "beside",
    "decoder_threads",
    "frame_threads",
    "pool_threads",
    "queue_size",
    "read_ahead",
]
