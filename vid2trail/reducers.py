"""Streaming reducers: ``update`` one frame at a time, ``combine`` partial results, ``result``.

Each reducer is a monoid: ``a.combine(b)`` after feeding frames 0..k to ``a`` and k..n to ``b``
equals one reducer fed 0..n. That property is what lets a range be split across processes (or
machines) and merged; the tests check it for every entry of :data:`REDUCERS`.

Memory is one accumulator (plus one scratch frame for the linear-light modes), whatever the number
of frames. ``sum`` and ``mean`` (:mod:`vid2trail.sums`) and the robust modes (``sigma``,
``winsor``: :mod:`vid2trail.robust`; ``median``: :mod:`vid2trail.median`) are registered here too.

Frames are integer sRGB code values (uint8/uint16) straight from a source, or float linear light
(1.0 = white) once calibration (:mod:`vid2trail.calibrate`) has subtracted a dark. Every reducer
takes both; max and min then return float linear light and say so through ``linear``.

What every reducer offers the pipeline (passes, ``expect``, ``finish``, ``close``, ``parameters``)
is the :class:`~vid2trail.reducer.Reducer` protocol; each one derives from
:class:`~vid2trail.reducer.ReducerBase`.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from .color import luma, to_linear
from .errors import UsageError, option
from .frames import Planes
from .keograms import KeogramReducer, WithKeogram
from .median import MedianReducer
from .reducer import Reducer, ReducerBase
from .robust import SigmaClipReducer, WinsorReducer
from .sums import MeanReducer, SumReducer


class _Extremum(ReducerBase):
    """Shared body of max and min: an exact running extremum in the source's own dtype.

    It works channel by channel, so it also takes :class:`~vid2trail.frames.Planes` (a video
    converts to them faster) and keeps its accumulator as planes then, packed once by
    :meth:`result`.
    """

    name = ""
    linear = False
    takes_planes = True
    _ufunc: np.ufunc = np.maximum

    def __init__(self) -> None:
        self._acc: np.ndarray | Planes | None = None
        self.count = 0

    def update(self, pixels: np.ndarray | Planes) -> None:
        self._fold(pixels)
        self.count += 1

    def _fold(self, pixels: np.ndarray | Planes) -> None:
        acc = self._acc
        if acc is None:
            if isinstance(pixels, Planes):
                self._acc = Planes(*(np.array(p, copy=True) for p in pixels))
            else:
                self._acc = np.array(pixels, copy=True)
            # Calibrated frames arrive as float linear light; integer frames are sRGB codes.
            self.linear = pixels.dtype.kind == "f"
        elif isinstance(acc, Planes):
            if not isinstance(pixels, Planes):
                self._acc = acc.packed()
                self._fold(pixels)
                return
            for into, plane in zip(acc, pixels, strict=True):
                self._ufunc(into, plane, out=into)
        elif isinstance(pixels, Planes):
            for c, plane in enumerate(pixels):
                self._ufunc(acc[..., c], plane, out=acc[..., c])
        else:
            # One pass in one thread: an extremum is bound by memory, and splitting it measured
            # no faster (a mean's table lookup is bound by arithmetic, and splits well).
            self._ufunc(acc, pixels, out=acc)

    def combine(self, other: Reducer) -> Reducer:
        self._check_same(other)
        if isinstance(other, _Extremum) and other._acc is not None:
            self._fold(other._acc)
            self.count += other.count
        return self

    def result(self) -> np.ndarray:
        if self._acc is None:
            raise UsageError("no frames were stacked: the selection is empty")
        if isinstance(self._acc, Planes):
            self._acc = self._acc.packed()
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

    takes_planes = False  # the luma of each frame wants it whole

    def __init__(self) -> None:
        super().__init__()
        self._best: np.ndarray | None = None
        self._arg: np.ndarray | None = None

    def update(self, pixels: np.ndarray) -> None:
        self._merge(luma(pixels, scaled=False), np.uint32(self.count), offset=0)
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
        self._check_same(other)
        if isinstance(other, ArgmaxReducer) and other._best is not None:
            self._merge(other._best, other._arg, offset=self.count)  # type: ignore[arg-type]
        return super().combine(other)

    def argmax(self) -> np.ndarray:
        """``H x W`` uint32 positions (0 = first frame stacked) of the brightest frame per pixel."""
        if self._arg is None:
            raise UsageError("no frames were stacked: the selection is empty")
        return self._arg


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


class MaxMeanReducer(ReducerBase):
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
            raise UsageError(f"{option('buffers')} {buffers!r}: use a whole number from 1 to 256")
        self.buffers = buffers
        self._maxima = [MaxReducer() for _ in range(buffers)]
        self.count = 0

    def parameters(self) -> dict[str, object]:
        return {"buffers": self.buffers}

    def update(self, pixels: np.ndarray) -> None:
        self._maxima[self.count % self.buffers].update(pixels)
        self.count += 1

    def combine(self, other: Reducer) -> Reducer:
        self._check_same(other)
        if not isinstance(other, MaxMeanReducer) or other.buffers != self.buffers:
            raise TypeError("cannot combine maxmean reducers with different buffers")
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
            total += to_linear(partial.result(), scratch)
        return total / len(filled)


#: Every stacking mode, by the name the CLI and :func:`vid2trail.stack` accept.
REDUCERS: dict[str, type[ReducerBase]] = {
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
    None stands for the mode's own default. ``keogram_angle`` (degrees) adds a keogram fed the
    same frames (:class:`~vid2trail.keograms.WithKeogram`), wherever the reducer runs.

    Examples
    --------
    >>> make_reducer("max").name
    'max'
    >>> make_reducer("sigma", kappa=2.5, memory_bytes=10**9).kappa
    2.5
    >>> make_reducer("mean", keogram_angle=0.0).keogram.name
    'keogram'
    """
    try:
        cls = REDUCERS[mode]
    except KeyError:
        choices = ", ".join(REDUCERS)
        raise UsageError(f"unknown {option('mode')} {mode!r}: choose one of {choices}") from None
    if mode == "max" and params.get("argmax"):
        cls = ArgmaxReducer
    accepted = inspect.signature(cls).parameters
    reducer = cls(**{k: v for k, v in params.items() if k in accepted and v is not None})
    angle = params.get("keogram_angle")
    if angle is None:
        return reducer
    return WithKeogram(reducer, KeogramReducer(angle))
