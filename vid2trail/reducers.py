"""Streaming reducers: ``update`` one frame at a time, ``combine`` partial results, ``result``.

Each reducer is a monoid: ``a.combine(b)`` after feeding frames 0..k to ``a`` and k..n to ``b``
equals one reducer fed 0..n. That property is what lets a range be split across processes (or
machines) and merged; the tests check it for every entry of :data:`REDUCERS`.

Memory is one accumulator (plus one scratch frame for the linear-light modes), whatever the number
of frames.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from .color import decode_lut
from .errors import UsageError


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
        if self._acc is None:
            self._acc = np.array(pixels, copy=True)
        else:
            self._ufunc(self._acc, pixels, out=self._acc)
        self.count += 1

    def combine(self, other: Reducer) -> Reducer:
        _check_same(self, other)
        if isinstance(other, _Extremum) and other._acc is not None:
            self.update(other._acc)
            self.count += other.count - 1
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

    def __init__(self) -> None:
        self._acc: np.ndarray | None = None
        self._scratch: np.ndarray | None = None
        self.count = 0

    def update(self, pixels: np.ndarray) -> None:
        lut = decode_lut(pixels.dtype.name)
        if self._acc is None:
            self._acc = np.zeros(pixels.shape, np.float64)
            self._scratch = np.empty(pixels.shape, np.float64)
        # take() into a reused buffer avoids a fresh float64 frame per update.
        np.take(lut, pixels, out=self._scratch)
        np.add(self._acc, self._scratch, out=self._acc)
        self.count += 1

    def combine(self, other: Reducer) -> Reducer:
        _check_same(self, other)
        if isinstance(other, SumReducer) and other._acc is not None:
            if self._acc is None:
                self._acc = other._acc.copy()
                self._scratch = np.empty_like(self._acc)
            else:
                self._acc += other._acc
            self.count += other.count
        return self

    def result(self) -> np.ndarray:
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


def _check_same(a: Reducer, b: Reducer) -> None:
    if type(a) is not type(b):
        raise TypeError(f"cannot combine a {a.name!r} reducer with a {b.name!r} reducer")


#: Every stacking mode, by the name the CLI and :func:`vid2trail.stack` accept.
REDUCERS: dict[str, type] = {
    "max": MaxReducer,
    "min": MinReducer,
    "mean": MeanReducer,
    "sum": SumReducer,
}


def make_reducer(mode: str) -> Reducer:
    """Build an empty reducer for ``mode`` (one of :data:`REDUCERS`).

    Examples
    --------
    >>> make_reducer("max").name
    'max'
    """
    try:
        return REDUCERS[mode]()
    except KeyError:
        choices = ", ".join(REDUCERS)
        raise UsageError(f"unknown --mode {mode!r}: choose one of {choices}") from None
