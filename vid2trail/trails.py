"""Progressive trails: the picture after every frame, for the trail-growth video.

A trail is fed frames one at a time, like a reducer, and can show its current picture after any
frame. Three kinds:

- ``grow``: the running reduction of a stacking mode (running max for star trails, running mean).
- ``comet``: ``A_t = max(F_t, d * A_{t-1})`` in linear light, a tail that fades by ``d`` per frame.
- ``window``: the max of the last ``L`` frames, so a trail ends exactly ``L`` frames after its
  light was last seen.

Unlike reducers these are not monoids: ``comet`` and ``window`` depend on frame order.
:class:`vid2trail.rendering.FrameRenderer` turns a trail's picture into 8-bit sRGB video frames,
cheaply enough to run on every frame of a 1080p clip.
"""

from __future__ import annotations

import os
from typing import Literal, Protocol, runtime_checkable

import cv2
import numpy as np

from . import powercode
from .color import to_linear
from .errors import UsageError, option
from .reducers import Reducer, make_reducer

#: What a trail's picture holds: sRGB code values, float linear light, or power codes
#: (:mod:`vid2trail.powercode`).
Coding = Literal["codes", "linear", "power"]
#: The ``--trail`` kinds.
TRAIL_KINDS = ("grow", "comet", "window")
#: Visible length in frames of ``comet`` and ``window`` trails when ``--trail-frames`` is not given.
DEFAULT_TRAIL_FRAMES = 30
#: ``--trail-frames L`` picks the comet decay at which a tail's linear light falls to this fraction
#: after ``L`` frames: 1% is about the sky level of a dark-sky timelapse (sRGB code 25 of 255 for a
#: white star), so the tail visibly ends after about ``L`` frames.
COMET_FLOOR = 0.01
#: The longest trail: beyond it a comet's decay rounds to 1 (no fading at all).
MAX_TRAIL_FRAMES = 1_000_000


def comet_decay(trail_frames: int) -> float:
    """The per-frame decay ``d`` for which a comet tail falls to 1% of its light after ``L`` frames.

    ``d = 0.01 ** (1 / L)``; after ``k`` frames a tail holds ``d ** k`` of its linear light.

    Examples
    --------
    >>> round(comet_decay(40), 4)
    0.8913
    >>> round(comet_decay(40) ** 40, 6)
    0.01
    """
    if (isinstance(trail_frames, bool) or not isinstance(trail_frames, int)
            or not 1 <= trail_frames <= MAX_TRAIL_FRAMES):  # fmt: skip
        raise UsageError(
            f"{option('trail_frames')} {trail_frames!r}: use a whole number of frames, 1 to "
            f"{MAX_TRAIL_FRAMES}"
        )
    return COMET_FLOOR ** (1.0 / trail_frames)


@runtime_checkable
class Trail(Protocol):
    """What the trail video needs: feed a frame, look at the picture so far."""

    name: str
    #: What :meth:`picture` holds (:data:`Coding`).
    coding: Coding
    count: int

    def update(self, pixels: np.ndarray) -> None:
        """Fold one ``H x W x C`` integer frame in."""

    def picture(self) -> np.ndarray:
        """The trail after the frames seen so far (a view: copy it to keep it)."""


class GrowTrail:
    """The running reduction of a mode: frame ``k`` shows the stack of frames ``0..k``.

    Order does not matter. Pass ``fed_elsewhere=True`` with the reducer the pipeline already feeds
    (the still's), so the work is done once and :meth:`update` only counts.

    Examples
    --------
    >>> t = GrowTrail(make_reducer("max"))
    >>> for v in (3, 9, 5):
    ...     t.update(np.full((1, 1, 1), v, np.uint8))
    >>> int(t.picture()[0, 0, 0])
    9
    """

    name = "grow"

    def __init__(self, reducer: Reducer, *, fed_elsewhere: bool = False) -> None:
        self.reducer = reducer
        self.fed_elsewhere = fed_elsewhere
        self.count = 0

    @property
    def coding(self) -> Coding:
        """The reducer's: max and min of calibrated (float) frames are linear light."""
        return "linear" if self.reducer.linear else "codes"

    def update(self, pixels: np.ndarray) -> None:
        if not self.fed_elsewhere:
            self.reducer.update(pixels)
        self.count += 1

    def picture(self) -> np.ndarray:
        return self.reducer.result()


class CometTrail:
    """Fading tails: ``A_t = max(linear(F_t), d * A_{t-1})`` per sample, in linear light.

    Order matters. Decaying linear light (not sRGB code values) keeps the fade's shape the same
    for bright and faint stars: every tail loses the same fraction of its light per frame.

    8-bit frames are kept as power codes (:mod:`vid2trail.powercode`: ``L ** (1 / 2.4)`` in
    uint16, where the fade is a multiplication), about 2.4 times faster than float; other frames,
    and fades too slow for 16 bits to follow (:func:`vid2trail.powercode.fits`), as float32
    linear light. :attr:`coding` says which :meth:`picture` is.

    Examples
    --------
    >>> t = CometTrail(0.5)
    >>> t.update(np.full((1, 1, 1), 255, np.uint8))
    >>> t.update(np.zeros((1, 1, 1), np.uint8))
    >>> t.coding, round(float(powercode.to_linear(t.picture())[0, 0, 0]), 4)
    ('power', 0.5)
    """

    name = "comet"

    def __init__(self, decay_per_frame: float, *, render_factor: float | None = 1.0) -> None:
        if not 0.0 < decay_per_frame < 1.0:
            raise UsageError(
                f"{option('decay')} {decay_per_frame}: use a factor between 0 and 1, e.g. 0.95"
            )
        self.decay_per_frame = float(decay_per_frame)
        #: The most the pictures' light will be scaled by when rendered (``--gain``; None when
        #: ``--normalize`` measures it on every frame): power codes only where it fits.
        self.render_factor = render_factor
        #: ``linear`` (float32 linear light) or ``power`` (uint16 power codes), from frame one.
        self.coding: Coding = "linear"
        self._acc: np.ndarray | None = None
        self._scratch: np.ndarray | None = None
        self._fade = powercode.fade_factor(self.decay_per_frame)  # the fade on power codes
        self.count = 0

    def update(self, pixels: np.ndarray) -> None:
        if self._acc is None:
            power = pixels.dtype == np.uint8 and powercode.fits(
                self.decay_per_frame, self.render_factor
            )
            self.coding = "power" if power else "linear"
        if self.coding == "power":
            self._update_power(np.ascontiguousarray(pixels))
            return
        light = to_linear(pixels, self._scratch, dtype=np.float32)
        if self._acc is None:
            self._acc = light.copy()
            self._scratch = None if light is pixels else light  # never write into a source's frame
        else:
            # One rounding per step: d * A in float32, then the exact max.
            np.multiply(self._acc, np.float32(self.decay_per_frame), out=self._acc)
            np.maximum(self._acc, light, out=self._acc)
        self.count += 1

    def _update_power(self, pixels: np.ndarray) -> None:
        if self._acc is None:
            self._acc = powercode.encode(pixels)
            self._scratch = np.empty_like(self._acc)
        else:
            assert self._scratch is not None
            light = powercode.encode(pixels, self._scratch)
            powercode.fade(self._acc, self._fade)
            cv2.max(self._acc, light, dst=self._acc)
        self.count += 1

    def picture(self) -> np.ndarray:
        if self._acc is None:
            raise UsageError("no frames were stacked: the selection is empty")
        return self._acc


class WindowTrail:
    """Sliding window: frame ``t`` shows ``max(F_{t-L+1} .. F_t)``; order matters.

    A two-stack queue over a ring of ``L`` frames: new frames are stored raw while a running max
    covers them; when the older half runs out, the raw frames are turned in place (newest to
    oldest) into suffix maxima. Each frame is touched a fixed number of times, so the work is
    O(1) per frame whatever ``L``, and memory is ``L + 2`` frames in the source's own dtype.

    Examples
    --------
    >>> t = WindowTrail(2)
    >>> for v in (9, 3, 5):
    ...     t.update(np.full((1, 1, 1), v, np.uint8))
    >>> int(t.picture()[0, 0, 0])
    5
    """

    name = "window"
    #: ``codes`` for integer frames; ``linear`` once float (calibrated, linear) frames arrive.
    coding: Coding = "codes"

    def __init__(self, length: int) -> None:
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise UsageError(
                f"{option('trail_frames')} {length!r}: use a whole number of frames, 1 or more"
            )
        self.length = length
        self._ring: np.ndarray | None = None
        self._back: np.ndarray | None = None  # max of the raw frames split..t
        self._out: np.ndarray | None = None
        self._oldest = 0  # first frame in the window
        self._split = 0  # frames oldest..split-1 hold suffix maxima, split..t raw frames
        self.count = 0

    def update(self, pixels: np.ndarray) -> None:
        t, size = self.count, self.length
        if self._ring is None or self._back is None:
            self.coding = "linear" if pixels.dtype.kind == "f" else "codes"
            what = f"{option('trail')} window {option('trail_frames')} {size}"
            _check_memory(size * pixels.nbytes, what)
            self._ring = np.empty((size, *pixels.shape), pixels.dtype)
            self._back = np.empty_like(pixels)
            self._out = np.empty_like(pixels)
        ring, back = self._ring, self._back
        self._oldest = max(0, t - size + 1)
        if self._oldest >= self._split and t > self._split:
            # The suffix-max half is used up: turn the raw frames split..t-1 into suffix maxima.
            for s in range(t - 2, self._split - 1, -1):
                np.maximum(ring[s % size], ring[(s + 1) % size], out=ring[s % size])
            self._split = t
        ring[t % size] = pixels
        if t == self._split:
            back[...] = pixels
        else:
            np.maximum(back, pixels, out=back)
        self.count += 1

    def picture(self) -> np.ndarray:
        if self._ring is None or self._out is None or self._back is None:
            raise UsageError("no frames were stacked: the selection is empty")
        if self._oldest >= self._split:
            return self._back
        return np.maximum(self._ring[self._oldest % self.length], self._back, out=self._out)


def _check_memory(needed: int, what: str) -> None:
    """Refuse up front what would not fit in RAM: the OS would kill the run midway instead."""
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return
    if needed > 0.75 * physical:
        raise UsageError(
            f"{what} needs {needed / 2**30:.1f} GiB for its frames, more than the machine's "
            f"{physical / 2**30:.1f} GiB of memory allow: use fewer {option('trail_frames')} or "
            f"{option('trail')} comet"
        )


def make_trail(
    kind: str = "grow",
    mode: str = "max",
    *,
    trail_frames: int | None = None,
    decay: float | None = None,
    reducer: Reducer | None = None,
    render_factor: float | None = 1.0,
) -> Trail:
    """Build a trail from the ``--trail``, ``--mode``, ``--trail-frames`` and ``--decay`` values.

    ``comet`` and ``window`` are lighten (max) trails whatever the still's mode; ``grow`` follows
    ``mode`` (or shares ``reducer``, which the caller keeps feeding). ``render_factor`` is the
    comet's :class:`CometTrail` ``render_factor``.

    Examples
    --------
    >>> make_trail("comet", trail_frames=40).decay_per_frame == comet_decay(40)
    True
    >>> make_trail("window", trail_frames=60).length
    60
    """
    if kind not in TRAIL_KINDS:
        choices = ", ".join(TRAIL_KINDS)
        raise UsageError(f"unknown {option('trail')} {kind!r}: choose one of {choices}")
    if kind == "grow":
        if trail_frames is not None or decay is not None:
            raise UsageError(
                f"{option('trail_frames')} and {option('decay')} apply to {option('trail')} comet "
                "or window"
            )
        if reducer is not None:
            return GrowTrail(reducer, fed_elsewhere=True)
        return GrowTrail(make_reducer(mode))
    if kind == "window":
        if decay is not None:
            raise UsageError(
                f"{option('decay')} applies to {option('trail')} comet; give "
                f"{option('trail_frames')} for a window"
            )
        return WindowTrail(DEFAULT_TRAIL_FRAMES if trail_frames is None else trail_frames)
    if decay is not None and trail_frames is not None:
        raise UsageError(
            f"give {option('trail_frames')} or {option('decay')}, not both: one sets the other"
        )
    if decay is None:
        decay = comet_decay(DEFAULT_TRAIL_FRAMES if trail_frames is None else trail_frames)
    return CometTrail(decay, render_factor=render_factor)
