"""Streaming reducers: ``update`` one frame at a time, ``combine`` partial results, ``result``.

Each reducer is a monoid: ``a.combine(b)`` after feeding frames 0..k to ``a`` and k..n to ``b``
equals one reducer fed 0..n. That property is what lets a range be split across processes (or
machines) and merged; the tests check it for every entry of :data:`REDUCERS`.

Memory is one accumulator (plus one scratch frame for the linear-light modes), whatever the number
of frames. The robust modes (``sigma``, ``winsor``: :mod:`vid2trail.robust`; ``median``:
:mod:`vid2trail.median`) are registered here too.

Frames are integer sRGB code values (uint8/uint16) straight from a source, or float linear light
(1.0 = white) once calibration (:mod:`vid2trail.calibrate`) has subtracted a dark. Every reducer
takes both; max and min then return float linear light and say so through ``linear``.

Optional hooks a reducer may have, which :func:`vid2trail.pipeline.run_reducers` calls when present:
``passes`` (how many times the frames must be fed, default 1) with ``begin_pass(k)`` before pass
``k``; ``expect(frames, shape, dtype)`` before the first frame; ``finish()`` after the last pass;
``close()`` on error, to release temporary files.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

from .color import decode_lut, linear_into
from .errors import UsageError
from .median import MedianReducer
from .robust import SigmaClipReducer, WinsorReducer


@runtime_checkable
class Reducer(Protocol):
    """What the pipeline needs from a reducer."""

    name: str
    #: True when :meth:`result` is float linear light; False for integer sRGB code values.
    linear: bool
    count: int

    def update(self, pixels: np.ndarray) -> None:
        """Fold one ``H x W x C`` integer frame into the accumulator."""

    def combine(self, other: Reducer) -> Reducer:
        """Merge another partial reducer of the same kind into this one; returns ``self``."""

    def result(self) -> np.ndarray:
        """The reduction of every frame seen so far."""


class _Extremum:
    """Shared body of max and min: an exact running extremum in the source's own dtype."""

    name = ""
    linear = False
    _ufunc: np.ufunc = np.maximum

    def __init__(self) -> None:
        self._acc: np.ndarray | None = None
        self.count = 0

    def update(self, pixels: np.ndarray) -> None:
        self._fold(pixels)
        self.count += 1

    def _fold(self, pixels: np.ndarray) -> None:
        if self._acc is None:
            self._acc = np.array(pixels, copy=True)
            # Calibrated frames arrive as float linear light; integer frames are sRGB codes.
            self.linear = pixels.dtype.kind == "f"
        else:
            # One pass in one thread: an extremum is bound by memory, and splitting it measured
            # no faster (a mean's table lookup is bound by arithmetic, and splits well).
            self._ufunc(self._acc, pixels, out=self._acc)

    def combine(self, other: Reducer) -> Reducer:
        _check_same(self, other)
        if isinstance(other, _Extremum) and other._acc is not None:
            self._fold(other._acc)
            self.count += other.count
        return self

    def result(self) -> np.ndarray:
        if self._acc is None:
            raise UsageError("no frames were stacked: the selection is empty")
        return self._acc


class MaxReducer(_Extremum):
    """Lighten: ``out = max over frames`` per pixel and channel; order does not matter. Star trails.

    Examples
    --------
    >>> r = MaxReducer()
    >>> for v in (3, 9, 5):
    ...     r.update(np.full((1, 1, 1), v, np.uint8))
    >>> int(r.result()[0, 0, 0])
    9
    """

    name = "max"
    _ufunc = np.maximum


#: Rec. 709 luma weights, used to pick the frame that supplied a pixel of a max stack.
LUMA_WEIGHTS = np.array([0.2126, 0.7152, 0.0722], np.float32)


class ArgmaxReducer(MaxReducer):
    """A max stack that also records which frame supplied each pixel (``argmax``).

    ``argmax()[y, x]`` is the position, counting stacked frames from 0, of the frame with the
    brightest luma (Rec. 709 weights on the frame's own values, all channels pooled) at that pixel;
    ties go to the earliest frame. Pooling by luma gives one frame per pixel, the one a user looks
    for when a satellite or a plane left a streak, even where the channels of the max stack come
    from different frames. Order matters only through the positions; ``combine`` shifts the second
    reducer's positions by the first one's count.

    Examples
    --------
    >>> r = ArgmaxReducer()
    >>> for v in (3, 9, 5):
    ...     r.update(np.full((1, 1, 3), v, np.uint8))
    >>> int(r.result()[0, 0, 0]), int(r.argmax()[0, 0])
    (9, 1)
    """

    def __init__(self) -> None:
        super().__init__()
        self._best: np.ndarray | None = None
        self._arg: np.ndarray | None = None

    def update(self, pixels: np.ndarray) -> None:
        self._merge(luma(pixels), np.uint32(self.count), offset=0)
        super().update(pixels)

    def _merge(self, brightness: np.ndarray, arg: np.ndarray | np.uint32, offset: int) -> None:
        if self._best is None:
            self._best = np.array(brightness, np.float32, copy=True)
            self._arg = np.zeros(brightness.shape, np.uint32) + arg + np.uint32(offset)
            return
        better = brightness > self._best
        source = arg if np.ndim(arg) == 0 else arg[better]  # type: ignore[index]
        self._arg[better] = source + np.uint32(offset)  # type: ignore[index]
        np.maximum(self._best, brightness, out=self._best)

    def combine(self, other: Reducer) -> Reducer:
        _check_same(self, other)
        if isinstance(other, ArgmaxReducer) and other._best is not None:
            self._merge(other._best, other._arg, offset=self.count)  # type: ignore[arg-type]
        return super().combine(other)

    def argmax(self) -> np.ndarray:
        """``H x W`` uint32 positions (0 = first frame stacked) of the brightest frame per pixel."""
        if self._arg is None:
            raise UsageError("no frames were stacked: the selection is empty")
        return self._arg


def luma(pixels: np.ndarray) -> np.ndarray:
    """Per-pixel Rec. 709 luma of an ``H x W x C`` frame as float32 (C = 1: the channel itself).

    Examples
    --------
    >>> luma(np.full((1, 1, 3), 10, np.uint8)).tolist()
    [[10.0]]
    """
    if pixels.shape[2] == 1:
        return pixels[:, :, 0].astype(np.float32)
    return pixels.astype(np.float32) @ LUMA_WEIGHTS


class MinReducer(_Extremum):
    """Darken: ``out = min over frames`` per pixel and channel; order does not matter.

    Examples
    --------
    >>> r = MinReducer()
    >>> for v in (3, 9, 5):
    ...     r.update(np.full((1, 1, 1), v, np.uint8))
    >>> int(r.result()[0, 0, 0])
    3
    """

    name = "min"
    _ufunc = np.minimum


class SumReducer:
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
        _check_same(self, other)
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


class MaxMeanReducer:
    """Robust near-max: ``K`` max stacks fed round-robin (frame ``i`` to buffer ``i mod K``),
    averaged in linear light. Order matters only through which buffer a frame lands in.

    Sensor noise in the sky is independent between the buffers, so averaging them cuts the noise
    of a max stack by about ``sqrt(K)`` and lowers its bright bias, while a star that stays on a
    pixel for at least ``K`` consecutive frames is in every buffer and keeps its full brightness.
    A star that crosses a pixel in fewer frames (a sparse timelapse) dims by up to ``K``: use it
    for real-time video of the sky, plain ``max`` otherwise (``benchmarks/astro.py`` measures
    both). ``combine`` is exact: the second reducer's buffer ``r`` joins buffer
    ``(count + r) mod K`` of the first.

    Parameters
    ----------
    buffers : int
        ``K``, the number of max buffers (default 4).

    Examples
    --------
    >>> r = MaxMeanReducer(buffers=2)
    >>> for v in (255, 0, 255, 255):
    ...     r.update(np.full((1, 1, 1), v, np.uint8))
    >>> float(r.result()[0, 0, 0])
    1.0
    """

    name = "maxmean"
    linear = True

    def __init__(self, buffers: int = 4) -> None:
        if isinstance(buffers, bool) or not isinstance(buffers, int) or not 1 <= buffers <= 256:
            raise UsageError(f"--buffers {buffers!r}: use a whole number from 1 to 256")
        self.buffers = buffers
        self._maxima = [MaxReducer() for _ in range(buffers)]
        self.count = 0

    def update(self, pixels: np.ndarray) -> None:
        self._maxima[self.count % self.buffers].update(pixels)
        self.count += 1

    def combine(self, other: Reducer) -> Reducer:
        _check_same(self, other)
        if not isinstance(other, MaxMeanReducer) or other.buffers != self.buffers:
            raise TypeError("cannot combine maxmean reducers with different --buffers")
        for r, partial in enumerate(other._maxima):
            self._maxima[(self.count + r) % self.buffers].combine(partial)
        self.count += other.count
        return self

    def result(self) -> np.ndarray:
        filled = [m for m in self._maxima if m.count]
        if not filled:
            raise UsageError("no frames were stacked: the selection is empty")
        total = np.zeros(filled[0].result().shape, np.float64)
        scratch = np.empty_like(total)
        for partial in filled:
            total += linear_into(partial.result(), scratch)
        return total / len(filled)


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


def _check_same(a: Reducer, b: Reducer) -> None:
    if type(a) is not type(b):
        raise TypeError(f"cannot combine a {a.name!r} reducer with a {b.name!r} reducer")


#: Every stacking mode, by the name the CLI and :func:`vid2trail.stack` accept.
REDUCERS: dict[str, type] = {
    "max": MaxReducer,
    "min": MinReducer,
    "mean": MeanReducer,
    "sum": SumReducer,
    "sigma": SigmaClipReducer,
    "winsor": WinsorReducer,
    "median": MedianReducer,
    "maxmean": MaxMeanReducer,
}


def make_reducer(mode: str, **params: Any) -> Reducer:
    """Build an empty reducer for ``mode`` (one of :data:`REDUCERS`).

    ``params`` are options such as ``kappa``, ``iterations`` or ``memory_bytes``; each reducer takes
    the ones its constructor names and ignores the rest, so one set of options fits every mode;
    None stands for the mode's own default.

    Examples
    --------
    >>> make_reducer("max").name
    'max'
    >>> make_reducer("sigma", kappa=2.5, memory_bytes=10**9).kappa
    2.5
    """
    try:
        cls = REDUCERS[mode]
    except KeyError:
        choices = ", ".join(REDUCERS)
        raise UsageError(f"unknown --mode {mode!r}: choose one of {choices}") from None
    if mode == "max" and params.get("argmax"):
        cls = ArgmaxReducer
    accepted = inspect.signature(cls).parameters
    return cls(**{k: v for k, v in params.items() if k in accepted and v is not None})
