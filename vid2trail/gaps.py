"""Gap-free trails: the sky as it was between two kept frames, added to the later one.

A timelapse records the sky in steps, so a max stack of it has dotted trails. :class:`FillGaps`
knows the sky's motion (:mod:`vid2trail.sky`): between the last kept frame and this one, it moves
the last frame's star pixels along the fractional powers ``H^s`` of that motion, in steps of at
most :data:`SPACING_PX` pixels, and lays them into this frame with a max. Each star pixel keeps its
own value, so a filled trail has the brightness and colour of its star.

Only the sky moves (:class:`vid2trail.skymask.SkyMask`): the ground, static lights and hot pixels
are never moved, and nothing is laid outside the sky. A gap is not filled across a break in the
sky's motion (a bumped tripod, a cut), across a pause in the capture, or where the last frame's
brightest stars are not found where the motion puts them in this one (clouds, a bump the fit did
not see).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

import cv2
import numpy as np

from .homography import Powers, apply
from .skymask import SkyMask, background, gray

#: The filled positions of a star pixel are at most this far apart (pixels): a continuous trail.
SPACING_PX = 0.7
#: Star pixels are this many times the noise above their local background.
STAR_K = 3.0
#: The brightest peaks of the last frame checked against this one.
CHECKED_PEAKS = 48
#: ... among this many peaks of this frame, ...
MOST_PEAKS = 600
#: ... and at least this share of them within this many pixels of where the motion puts them.
FOUND_SHARE = 0.5
FOUND_PX = 1.5
#: A capture interval longer than this many times the usual one is a pause: no fill across it.
PAUSE_RATIO = 1.5
#: At most this many positions per star pixel and gap (a gap longer than that is a break).
MOST_STEPS = 4000


@dataclass
class FillGaps:
    """The frame transform behind ``--fill-gaps``: ``fill(index, pixels)`` returns the frame
    with the gap since the last frame it was given filled (in frame order, frames left out by
    the selection skipped; the sky kept turning meanwhile).

    Parameters
    ----------
    unit : numpy.ndarray
        The sky's homography from one source frame to the next.
    mask : SkyMask
        Where the sky is, and what in it stays put.
    breaks : sequence of int
        Frame numbers after which the motion is not ``unit``'s: no gap across them is filled.
    clock : sequence of datetime, optional
        Every source frame's capture time, to find pauses in the capture.

    Examples
    --------
    >>> from vid2trail.skymask import SkyMask
    >>> sky = np.ones((32, 32), bool)
    >>> fill = FillGaps(np.array([[1, 0, 2.0], [0, 1, 0], [0, 0, 1]]), SkyMask(sky, ~sky, 1.0))
    >>> a = np.zeros((32, 32, 1), np.uint8); a[10, 10] = 200
    >>> b = np.zeros((32, 32, 1), np.uint8); b[10, 14] = 200
    >>> _ = fill(0, a)
    >>> fill(2, b)[10, 9:16, 0].tolist()
    [0, 0, 200, 200, 200, 200, 0]
    """

    #: A frame's result depends on the frames before it.
    in_order: ClassVar[bool] = True
    unit: np.ndarray
    mask: SkyMask
    breaks: Sequence[int] = ()
    clock: Sequence[datetime] | None = None
    filled: int = 0
    skipped: list[int] = field(default_factory=list)
    _last: tuple[int, np.ndarray, np.ndarray, np.ndarray] | None = None
    _interval: float | None = None

    def __post_init__(self) -> None:
        self._movable = self.mask.sky & ~self.mask.static
        self._powers = Powers(self.unit)
        self._break_set = frozenset(self.breaks)
        if self.clock is not None and len(self.clock) > 2:
            steps = np.diff([t.timestamp() for t in self.clock])
            positive = steps[steps > 0]
            self._interval = float(np.median(positive)) if len(positive) else None

    def __call__(self, index: int, pixels: np.ndarray) -> np.ndarray:
        """This frame, with the gap since the last one filled; the last one's stars kept."""
        luma = gray(pixels)
        bright = (luma - background(luma)) > STAR_K * self.mask.noise
        stars = self._stars(index, pixels, luma, bright)
        out = pixels
        last = self._last
        if last is not None and self._fillable(last, stars):
            out = self._filled(last, index, pixels)
            self.filled += 1
        elif last is not None:
            self.skipped.append(last[0])
        self._last = stars
        return out

    def _stars(
        self, index: int, pixels: np.ndarray, luma: np.ndarray, bright: np.ndarray
    ) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """The frame's movable star pixels (with a pixel of their faint edges): where they are,
        their values, and the local peaks among them, brightest first."""
        core = bright & self._movable
        grown = cv2.dilate(core.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        ys, xs = np.nonzero(grown & self._movable)
        points = np.column_stack([xs, ys]).astype(np.float64)
        values = pixels.reshape(-1, pixels.shape[2])[ys * pixels.shape[1] + xs].copy()
        return index, points, values, _peaks(luma, core)

    def _fillable(
        self,
        last: tuple[int, np.ndarray, np.ndarray, np.ndarray],
        now: tuple[int, np.ndarray, np.ndarray, np.ndarray],
    ) -> bool:
        """No break, pause or lost stars between the last frame and this one: the last one's
        brightest peaks are found within a pixel and a half of where the motion puts them."""
        before, index = last[0], now[0]
        if any(before <= b < index for b in self._break_set):
            return False
        if self._paused(before, index):
            return False
        checked, peaks = last[3][:CHECKED_PEAKS], now[3]
        if len(checked) < 4 or len(peaks) < 4:
            return True  # too few stars to check, and as few to fill
        moved = apply(self._powers(index - before), checked)
        height, width = self._movable.shape
        inside = ((moved[:, 0] >= 2) & (moved[:, 0] < width - 2) & (moved[:, 1] >= 2)
                  & (moved[:, 1] < height - 2))  # fmt: skip
        moved = moved[inside]
        if len(moved) < 4:
            return True  # the stars left the frame: nothing to check them against
        distance = np.hypot(moved[:, None, 0] - peaks[None, :, 0],
                            moved[:, None, 1] - peaks[None, :, 1]).min(axis=1)  # fmt: skip
        return float(np.mean(distance <= FOUND_PX)) >= FOUND_SHARE

    def _paused(self, before: int, index: int) -> bool:
        clock, interval = self.clock, self._interval
        if clock is None or interval is None or index >= len(clock):
            return False
        seconds = (clock[index] - clock[before]).total_seconds()
        return seconds > PAUSE_RATIO * interval * (index - before)

    def _filled(
        self,
        last: tuple[int, np.ndarray, np.ndarray, np.ndarray],
        index: int,
        pixels: np.ndarray,
    ) -> np.ndarray:
        before, points, values, _ = last
        out = pixels.copy()
        if not len(points):
            return out
        frames = index - before
        whole = self._powers(frames)
        reach = float(np.max(np.hypot(*(apply(whole, points) - points).T)))
        steps = min(MOST_STEPS, max(1, math.ceil(reach / SPACING_PX)))
        height, width = self._movable.shape
        flat = out.reshape(-1, out.shape[2])
        for s in range(1, steps):
            moved = apply(self._powers(frames * s / steps), points)
            x = np.rint(moved[:, 0]).astype(np.intp)
            y = np.rint(moved[:, 1]).astype(np.intp)
            inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
            x, y = x[inside], y[inside]
            sky = self._movable[y, x]
            where = y[sky] * width + x[sky]
            flat[where] = np.maximum(flat[where], values[inside][sky])
        return out


def _peaks(luma: np.ndarray, core: np.ndarray) -> np.ndarray:
    """The local maxima among the star pixels (at most :data:`MOST_PEAKS`), brightest first, as
    ``x, y`` rows."""
    top = cv2.dilate(luma, np.ones((3, 3), np.uint8))
    ys, xs = np.nonzero(core & (luma >= top))
    order = np.argsort(luma[ys, xs])[::-1][:MOST_PEAKS]
    return np.column_stack([xs[order], ys[order]]).astype(np.float64)


__all__ = ["FillGaps"]
