"""Linear-light sums: ``sum`` and ``mean``, added a cache-sized band of rows at a time.

Light adds in linear light, through the lookup table of :func:`vid2trail.color.decode_lut`, into a
float64 accumulator. What this module adds is speed without a change of one bit: integer frames are
held a few at a time and added band by band, the two halves of each frame on two cores.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from .color import decode_lut
from .errors import UsageError
from .reducer import Reducer, ReducerBase


class SumReducer(ReducerBase):
    """Additive: ``out = sum over frames of linear(frame)`` in float64; order does not matter.

    The result is linear light that exceeds 1.0 wherever the frames add up past white; the output
    step normalizes it (default ``--normalize p99.5``).

    A float64 update of a whole frame is bound by memory, not arithmetic: the accumulator (eight
    bytes a sample) is read and written once per frame. Integer frames are therefore held,
    :attr:`BATCH` at a time (copies of their codes, one or two bytes a sample), and added band
    by band: a few rows of each held frame go through the lookup table into a scratch band, and
    are added in turn to the same rows of the accumulator, which stay in the CPU cache for the
    whole batch. The additions are the same, in the same order, as one frame at a time: the
    result is bit-identical, at a fraction of the memory traffic.

    Examples
    --------
    >>> r = SumReducer()
    >>> for v in (255, 255):
    ...     r.update(np.full((1, 1, 1), v, np.uint8))
    >>> float(r.result()[0, 0, 0])
    2.0
    """

    name = "sum"
    linear = True
    #: Integer frames held before one pass over the accumulator ...
    BATCH = 4
    #: ... and at most this many bytes of them (two 4K frames).
    _HELD_BYTES = 64 << 20
    #: Rows of a band: the scratch (rows x width x channels float64) fits in a core's cache.
    _BAND_BYTES = 1 << 19

    def __init__(self) -> None:
        self._acc: np.ndarray | None = None
        self._held: list[np.ndarray] = []
        self._spare: list[np.ndarray] = []
        self.count = 0

    def update(self, pixels: np.ndarray) -> None:
        if self._acc is None:
            self._acc = np.zeros(pixels.shape, np.float64)
        if pixels.dtype.kind == "f":
            np.add(self._acc, pixels, out=self._acc)
        else:
            copy = self._spare.pop() if self._spare else np.empty_like(pixels)
            np.copyto(copy, pixels)
            self._held.append(copy)
            if len(self._held) >= max(1, min(self.BATCH, self._HELD_BYTES // pixels.nbytes)):
                self._flush()
        self.count += 1

    def _flush(self) -> None:
        """Add the held integer frames to the accumulator, one cache-sized band at a time."""
        if not self._held or self._acc is None:
            return
        acc, held = self._acc, self._held
        # The lookup is inlined rather than color.to_linear per band: a band is a few rows, and
        # that call's checks (holding the GIL the two halves share) measured 40% slower on 4K
        # frames; the table and the values are the same.
        lut = decode_lut(held[0].dtype.name)
        eight_bit = held[0].dtype == np.uint8
        rows = max(1, self._BAND_BYTES // max(1, acc[0].nbytes))

        def add_rows(top: int, bottom: int) -> None:
            term = np.empty((rows, *acc.shape[1:]), np.float64)
            for y in range(top, bottom, rows):
                n = min(rows, bottom - y)
                extra, into = term[:n], acc[y : y + n]
                for frame in held:  # in order: the same sums as one frame at a time, bit for bit
                    if eight_bit:  # OpenCV's lookup: the same values as take(), much faster
                        cv2.LUT(frame[y : y + n], lut, dst=extra)
                    else:
                        np.take(lut, frame[y : y + n], out=extra)
                    cv2.add(into, extra, dst=into)

        in_row_halves(add_rows, acc.shape[0])
        self._spare.extend(held)
        self._held = []

    def combine(self, other: Reducer) -> Reducer:
        self._check_same(other)
        if isinstance(other, SumReducer):
            other._flush()
            if other._acc is not None:
                self._flush()
                if self._acc is None:
                    self._acc = other._acc.copy()
                else:
                    self._acc += other._acc
                self.count += other.count
        return self

    def __getstate__(self) -> dict[str, object]:
        # A partial reducer travels between processes (--workers): held frames are added first,
        # and the buffers need not travel.
        self._flush()
        return {**self.__dict__, "_held": [], "_spare": []}

    def result(self) -> np.ndarray:
        self._flush()
        self._spare = []
        if self._acc is None:
            raise UsageError("no frames were stacked: the selection is empty")
        return self._acc


class MeanReducer(SumReducer):
    """Average in linear light: ``out = sum(linear(frame)) / n`` in float64; order does not matter.

    Examples
    --------
    >>> r = MeanReducer()
    >>> for v in (0, 255):
    ...     r.update(np.full((1, 1, 1), v, np.uint8))
    >>> float(r.result()[0, 0, 0])
    0.5
    """

    name = "mean"

    def result(self) -> np.ndarray:
        return super().result() / self.count

    def scaled_result(self) -> tuple[np.ndarray, float]:
        """The running sum and the count: the still divides them band by band."""
        if not self.count:
            return self.result(), 1.0  # the empty selection's error
        return super().result(), float(self.count)


_halves_pool: Any = None
#: Below this many rows a frame is folded in one piece (threads cost more than they save).
_MIN_SPLIT_ROWS = 256


def in_row_halves(work: Callable[[int, int], None], rows: int) -> None:
    """Run ``work(top, bottom)`` over the rows of a frame, the two halves at once on two cores.

    The decoder's own threads leave the CPU partly idle between frames; numpy's and OpenCV's
    kernels release the GIL, so a second thread folds the lower half meanwhile. Each row is
    still updated in the same order, so results are bit-identical to one thread.
    """
    global _halves_pool
    if rows < _MIN_SPLIT_ROWS or (os.cpu_count() or 1) < 2:
        work(0, rows)
        return
    if _halves_pool is None:
        from concurrent.futures import ThreadPoolExecutor

        _halves_pool = ThreadPoolExecutor(1, thread_name_prefix="vid2trail-fold")
    middle = rows // 2
    lower = _halves_pool.submit(work, middle, rows)
    work(0, middle)
    lower.result()
