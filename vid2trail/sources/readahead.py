"""Decoding beside the caller: a producer thread, a small conversion pool, a bounded queue.

While the caller reduces one frame, FFmpeg decodes the next ones in a thread of its own and a
pool converts them to RGB (the decoder and libavfilter release the GIL). At most a few converted
frames wait (:func:`queue_size`), so memory stays flat however long the video; a ``break`` in the
caller's loop stops the producer before the generator returns.
"""

from __future__ import annotations

import contextlib
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
    decoder released at once); an exception there is raised here. The generator
    returns ``(reached, delivered)``: the last frame number decoded (:data:`STOPPED_AT_END`
    when the window's end stopped the decoding, -1 when nothing decoded) and how many frames
    were yielded.
    """
    start, end, step = window
    reached = [-1]
    ready: queue.Queue[object] = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def produce() -> None:
        try:
            with ThreadPoolExecutor(threads, "vid2trail-rgb") as pool:
                try:
                    for index, decoded in numbered:
                        if stop.is_set():
                            return
                        if end is not None and index >= end:
                            reached[0] = STOPPED_AT_END
                            break
                        reached[0] = index
                        if index < start or (index - start) % step:
                            continue
                        _offer(ready, (index, pool.submit(convert, decoded)), stop)
                        if end is not None and index + step >= end:
                            reached[0] = STOPPED_AT_END  # the window's last frame: no more
                            break
                finally:
                    numbered.close()  # the decoder goes before the last conversions finish
            _offer(ready, _DONE, stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            _offer(ready, exc, stop)

    delivered = 0
    with contextlib.closing(_drained(ready, stop, produce, "vid2trail-decode")) as items:
        for item in items:
            yield deliver(*item)  # type: ignore[misc]
            delivered += 1
    return reached[0], delivered


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


__all__ = ["AHEAD", "AHEAD_BYTES", "STOPPED_AT_END", "beside", "queue_size", "read_ahead"]
