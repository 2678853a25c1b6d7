"""What a reducer is: the :class:`Reducer` protocol, and :class:`ReducerBase` with its defaults.

Every stacking mode (:mod:`vid2trail.reducers`, :mod:`vid2trail.robust`, :mod:`vid2trail.median`)
derives from :class:`ReducerBase`, so the pipeline calls each part of the protocol directly, never
probing for it. This module imports no reducer, so each reducer module can import it.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from .errors import UsageError, option


@runtime_checkable
class Reducer(Protocol):
    """What the pipeline needs from a reducer: a streaming monoid, fed in one or more passes.

    A run calls ``expect`` once, then for each pass ``k`` in ``range(passes)`` calls
    ``begin_pass(k)`` and ``update`` once per frame, then ``finish`` and ``result``; ``close``
    when anything fails or is interrupted.
    """

    #: The mode's name, as :data:`vid2trail.reducers.REDUCERS` lists it.
    name: str
    #: True when :meth:`result` is float linear light; False for integer sRGB code values.
    linear: bool
    #: Frames fed in the current pass.
    count: int
    #: How many times the frames must be fed, in the same order and selection (1 for every mode
    #: but ``sigma`` and ``winsor``: 1 + ``iterations``).
    passes: int
    #: True when :meth:`update` also takes :class:`~vid2trail.frames.Planes` (the pipeline then
    #: asks the source for them, where they are cheaper).
    takes_planes: bool

    def update(self, pixels: np.ndarray) -> None:
        """Fold one ``H x W x C`` frame into the accumulator: integer sRGB codes, or float
        linear light (calibrated frames)."""

    def combine(self, other: Reducer) -> Reducer:
        """Merge another partial reducer of the same kind (and pass) into this one; returns
        ``self``."""

    def result(self) -> np.ndarray:
        """The reduction of every frame seen so far (of the last pass, for a multi-pass mode)."""

    def begin_pass(self, k: int) -> None:
        """Get ready for pass ``k`` (0 first, before any frame; then 1 up to ``passes - 1``), after
        the frames of pass ``k - 1`` (all of them, partials combined) have been fed."""

    def expect(self, frames: int | None, shape: tuple[int, ...], dtype: np.dtype) -> None:
        """Before the first frame: how many frames will come (None: not known), their shape and
        dtype, so that what cannot fit is refused up front (the median checks its disk)."""

    def finish(self) -> None:
        """After the last pass: compute the result now and release what it needed (the median
        computes and deletes its disk cache)."""

    def close(self) -> None:
        """Release temporary files on failure or interruption; safe to call twice, or after
        :meth:`finish`."""

    def argmax(self) -> np.ndarray:
        """``H x W`` uint32 positions (0 = first frame stacked) of the frame that supplied each
        pixel; a :class:`~vid2trail.errors.UsageError` from modes that do not record them."""

    def parameters(self) -> dict[str, object]:
        """The options that shaped the result (``kappa``, ``iterations``, ``memory_bytes``,
        ``buffers``), by the names :func:`vid2trail.reducers.make_reducer` takes; for
        provenance."""

    def scaled_result(self) -> tuple[np.ndarray, float]:
        """The result as ``(array, divisor)``: ``array / divisor`` is :meth:`result`. A mean
        gives its running sum and count, so that the still is divided band by band as it is
        encoded, with no full-size quotient (200 MB for a 4K mean)."""


class ReducerBase:
    """The defaults of :class:`Reducer`: one pass, nothing to prepare, finish or release, no
    argmax, no parameters. A reducer subclasses it and overrides what it needs.

    Examples
    --------
    >>> class Count(ReducerBase):
    ...     name = "count"
    >>> r = Count()
    >>> r.passes, r.parameters()
    (1, {})
    """

    name: str = ""
    linear: bool = False
    passes: int = 1
    count: int = 0
    takes_planes: bool = False

    def begin_pass(self, k: int) -> None:
        """Nothing to do: a one-pass reducer is ready."""

    def expect(self, frames: int | None, shape: tuple[int, ...], dtype: np.dtype) -> None:
        """Nothing to check up front."""

    def finish(self) -> None:
        """Nothing to compute ahead of :meth:`result`."""

    def close(self) -> None:
        """Nothing to release."""

    def argmax(self) -> np.ndarray:
        """Refused: only ``max`` with ``argmax=True`` records the frame of each pixel."""
        raise UsageError(
            f"{option('argmax')} needs {option('mode')} max, not {option('mode')} {self.name}"
        )

    def parameters(self) -> dict[str, object]:
        """No options: the mode alone shapes the result."""
        return {}

    def scaled_result(self) -> tuple[np.ndarray, float]:
        """The result itself, divided by 1."""
        return self.result(), 1.0  # type: ignore[attr-defined]

    def _check_same(self, other: Reducer) -> None:
        """Refuse to combine with a reducer of another kind (a TypeError: a programming error)."""
        if type(other) is not type(self):
            raise TypeError(f"cannot combine a {self.name!r} reducer with a {other.name!r} reducer")
