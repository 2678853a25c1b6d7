"""Outlier-rejecting means for planes, satellites and headlights: kappa-sigma and winsorized.

Both stream over the frames in a fixed number of passes and never hold more than a few frames:
pass 0 gathers the per-pixel mean and standard deviation of the linear light (Welford's update, so
a sample's deviation is never lost to the rounding of a huge sum of squares); each further pass,
one per ``iterations``, judges every sample against ``center +- kappa * sigma`` from the pass
before. ``sigma`` drops the samples outside (a plane's light in 2 of 50 frames stands out by about
five sigmas and is dropped; the stars, present in most frames or moving, are not outliers of their
own pixel's history unless they pass through it briefly, which is what a trail is not: use ``max``
for trails, ``sigma`` for a clean sky or foreground). ``winsor`` clamps them to the bounds instead,
which keeps every sample's weight and is gentler on short stacks.

Every pass keeps the monoid property: reducers fed disjoint halves of one pass and combined (Chan's
parallel update of mean and variance) equal one reducer fed the whole pass. For a parallel run,
combine pass ``k``'s partials, call ``begin_pass(k + 1)`` on the merged reducer, and give every
worker a copy of it (``copy.deepcopy``) for pass ``k + 1``.

Memory: about nine float64 frames (the mean, the sum of squared deviations, the per-pixel count,
the two bounds, the previous mean and three scratch frames), for a 4K RGB frame about 1.8 GB.
"""

from __future__ import annotations

import numpy as np

from .color import to_linear
from .errors import UsageError, check_number, option
from .reducer import ReducerBase

#: Rejection passes a sigma or winsor stack may ask for.
MAX_ITERATIONS = 20


def check_rejection(kappa: float, iterations: int | None) -> None:
    """Refuse a ``kappa`` that is not finite and in (0, 100], or ``iterations`` that is not a
    whole number from 1 to :data:`MAX_ITERATIONS` (None: the mode's default).

    Examples
    --------
    >>> check_rejection(3.0, None)
    >>> check_rejection(float("inf"), None)
    Traceback (most recent call last):
    ...
    vid2trail.errors.UsageError: kappa inf: use a number of standard deviations above 0, at most 100
    """
    check_number("kappa", kappa, 0, 100, "a number of standard deviations above 0, at most 100")
    if iterations is None:
        return
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise UsageError(f"{option('iterations')} {iterations!r}: use a whole number, 1 or more")
    if iterations > MAX_ITERATIONS:
        raise UsageError(
            f"{option('iterations')} {iterations}: use at most {MAX_ITERATIONS} (each one "
            "decodes the selection again; two already reject a plane's trail)"
        )


class SigmaClipReducer(ReducerBase):
    """Kappa-sigma clipped mean of linear light: ``mean of x where |x - mu| <= kappa * sigma``.

    ``mu`` and ``sigma`` (population standard deviation) come from the previous pass, per pixel
    and channel; pass 0 takes every sample. Order within a pass does not matter. Where a pass keeps
    no sample of a pixel (``kappa`` below 1, or at 1 with two frames and rounding) the previous
    pass's mean and bounds stand for every later pass.

    Parameters
    ----------
    kappa : float
        Rejection threshold in standard deviations (default 3).
    iterations : int
        Rejection passes after the first, statistics-only pass (default 1: two passes; each
        pass decodes the selection again). One pass removes an outlier present in fewer than
        about a tenth of the frames at ``kappa = 3``; more passes catch more frequent ones.

    Examples
    --------
    >>> r = SigmaClipReducer(kappa=2.0, iterations=1)
    >>> values = [0, 0, 0, 0, 0, 0, 0, 0, 0, 255]
    >>> for k in range(r.passes):
    ...     r.begin_pass(k)
    ...     for v in values:
    ...         r.update(np.full((1, 1, 1), v, np.uint8))
    >>> float(r.result()[0, 0, 0])
    0.0
    """

    name = "sigma"
    linear = True
    clamp = False

    def __init__(self, kappa: float = 3.0, iterations: int = 1) -> None:
        check_rejection(kappa, iterations)
        self.kappa = float(kappa)
        self.iterations = iterations
        self.passes = 1 + iterations
        self.count = 0
        self._pass = 0
        self._n: np.ndarray | None = None  # per-pixel kept count (float64), None in pass 0
        self._mean: np.ndarray | None = None
        self._m2: np.ndarray | None = None
        self._lo: np.ndarray | None = None
        self._hi: np.ndarray | None = None
        self._prev_mean: np.ndarray | None = None
        self._x: np.ndarray | None = None
        self._delta: np.ndarray | None = None
        self._tmp: np.ndarray | None = None
        self._keep: np.ndarray | None = None
        self._keep2: np.ndarray | None = None

    def begin_pass(self, k: int) -> None:
        """Start pass ``k``: from pass 1 on, freeze the bounds from the pass just finished."""
        if k == self._pass and self.count == 0:
            return
        if k != self._pass + 1:
            raise UsageError(f"pass {k} cannot follow pass {self._pass} of a {self.name} stack")
        if self._mean is None:
            raise UsageError("no frames were stacked: the selection is empty")
        # A pixel whose last pass kept no sample has no statistics of its own: it keeps the
        # mean and bounds it had (judging it against an empty mean of 0 would blacken it).
        empty = None if self._n is None or self._prev_mean is None else self._n == 0
        old = (self._prev_mean, self._lo, self._hi)
        sigma = np.sqrt(self._m2 / np.maximum(self._counts(), 1.0))
        sigma *= self.kappa
        self._lo = self._mean - sigma
        self._hi = np.add(self._mean, sigma, out=sigma)
        if empty is not None and empty.any():
            for new, previous in zip((self._mean, self._lo, self._hi), old, strict=True):
                np.copyto(new, previous, where=empty)  # type: ignore[arg-type]
        self._prev_mean = self._mean
        self._pass = k
        self.count = 0
        self._mean = np.zeros_like(self._prev_mean)
        self._m2 = np.zeros_like(self._prev_mean)
        self._n = None if self._clamping() else np.zeros_like(self._prev_mean)

    def update(self, pixels: np.ndarray) -> None:

        if self._mean is None:
            self._mean = np.zeros(pixels.shape, np.float64)
            self._m2 = np.zeros(pixels.shape, np.float64)
        if self._x is None or self._x.shape != pixels.shape:
            self._x = np.empty(pixels.shape, np.float64)
            self._delta = np.empty(pixels.shape, np.float64)
            self._tmp = np.empty(pixels.shape, np.float64)
            self._keep = np.empty(pixels.shape, bool)
            self._keep2 = np.empty(pixels.shape, bool)
        x = to_linear(pixels, self._x)
        self.count += 1
        # Every step writes into a reused buffer: no full-frame allocation per frame.
        delta, tmp, mean = self._delta, self._tmp, self._mean
        if self._pass == 0 or self._clamping():
            if self._pass > 0:
                x = np.clip(x, self._lo, self._hi, out=self._x)
            # Welford: mean += d / n; m2 += d * (x - new mean).
            np.subtract(x, mean, out=delta)
            np.divide(delta, self.count, out=tmp)
            mean += tmp
        else:
            keep = np.greater_equal(x, self._lo, out=self._keep)
            keep &= np.less_equal(x, self._hi, out=self._keep2)
            self._n += keep  # type: ignore[operator]
            np.subtract(x, mean, out=delta)
            delta *= keep
            np.maximum(self._n, 1.0, out=tmp)
            np.divide(delta, tmp, out=tmp)
            mean += tmp
        np.subtract(x, mean, out=tmp)
        tmp *= delta
        self._m2 += tmp  # type: ignore[operator]

    def parameters(self) -> dict[str, object]:
        return {"kappa": self.kappa, "iterations": self.iterations}

    def _clamping(self) -> bool:
        return self.clamp and self._pass == self.passes - 1

    def _counts(self) -> np.ndarray | float:
        return float(self.count) if self._n is None else self._n

    def combine(self, other: SigmaClipReducer) -> SigmaClipReducer:
        """Merge a partial reducer of the same pass (Chan et al.'s pairwise mean and variance)."""
        self._check_same(other)
        if other._pass != self._pass:
            raise UsageError(f"cannot combine pass {other._pass} into pass {self._pass}")
        if other._mean is None or other.count == 0:
            return self
        if self._mean is None or self.count == 0:
            for name in ("_mean", "_m2", "_n"):
                value = getattr(other, name)
                setattr(self, name, None if value is None else value.copy())
            self.count = other.count
            return self
        na, nb = self._counts(), other._counts()
        n = na + nb
        safe = np.maximum(n, 1.0)
        delta = other._mean - self._mean
        self._mean += delta * (nb / safe)
        self._m2 += other._m2 + delta * delta * (na * nb / safe)  # type: ignore[operator]
        if self._n is not None:
            self._n += other._n  # type: ignore[operator]
        self.count += other.count
        return self

    def result(self) -> np.ndarray:
        """The clipped mean in linear light (float64, 1.0 = white)."""
        if self._mean is None or self.count == 0:
            raise UsageError("no frames were stacked: the selection is empty")
        if self._n is None or self._prev_mean is None:
            return self._mean
        return np.where(self._n > 0, self._mean, self._prev_mean)

    def rejected_fraction(self) -> float:
        """Fraction of the last pass's samples that fell outside the bounds (0 for winsor)."""
        if self._n is None or self.count == 0:
            return 0.0
        return 1.0 - float(self._n.sum()) / (self.count * self._n.size)


class WinsorReducer(SigmaClipReducer):
    """Winsorized mean of linear light: ``mean of clip(x, mu - kappa*sigma, mu + kappa*sigma)``.

    Like :class:`SigmaClipReducer`, but in the last pass an outlier is pulled in to the bound
    instead of dropped, so every pixel keeps all its samples: gentler where few frames make sigma
    itself uncertain. The passes before the last reject as ``sigma`` does, so that a bright plane
    does not inflate the sigma that bounds it; hence the default of two iterations (three passes).
    Order within a pass does not matter.

    Examples
    --------
    >>> r = WinsorReducer(kappa=1.0, iterations=1)
    >>> for k in range(r.passes):
    ...     r.begin_pass(k)
    ...     for v in (0.0, 0.0, 0.0, 1.0):
    ...         r.update(np.full((1, 1, 1), v))
    >>> round(float(r.result()[0, 0, 0]), 4)  # 1.0 is pulled in to 0.25 + 0.433
    0.1708
    """

    name = "winsor"
    clamp = True

    def __init__(self, kappa: float = 3.0, iterations: int = 2) -> None:
        super().__init__(kappa, iterations)
