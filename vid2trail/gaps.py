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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

import cv2
import numpy as np

from .homography import Powers, apply
from .luma import background, native_luma
from .skymask import SkyMask

#: The filled positions of a star pixel are at most this far apart (pixels): a continuous trail.
SPACING_PX = 0.7
#: Star pixels are this many times the noise above their local background (sensor noise
#: crosses 3 times in a thousand pixels, 5 times in three million) ...
STAR_K = 5.0
#: ... with the pixels around them that are this many times above it.
EDGE_K = 2.0
#: The sky's background is measured again after this many frames (it changes slowly).
BACKGROUND_EVERY = 8
#: The positions of this many star pixels are moved at once.
BATCH = 1 << 19
#: The brightest peaks of the last frame checked against this one.
CHECKED_PEAKS = 48
#: ... among this many peaks of this frame, ...
MOST_PEAKS = 600
#: ... and at least this share of them within this many pixels of where the motion puts them.
FOUND_SHARE = 0.5
FOUND_PX = 1.5
#: A capture interval longer than this many times the usual one is a pause: no fill across it.
PAUSE_RATIO = 1.5
#: A part this many times the noise above the background, longer than this share of the
#: frame's diagonal (and than STREAK_MIN_PX pixels), is no star but a streak that does not
#: turn with the sky (a plane, a satellite, a meteor): neither it nor the pixels around it are
#: moved. (The Moon and the planets, shorter, go with the sky, as they do.)
STREAK_K = 20.0
STREAK_SHARE = 0.02
STREAK_MIN_PX = 24
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
    _background: np.ndarray | None = None
    _since_background: int = 0
    _pool: ThreadPoolExecutor | None = None

    def __post_init__(self) -> None:
        self._movable = self.mask.sky & ~self.mask.static
        self._movable_u8 = self._movable.astype(np.uint8) * 255
        height, width = self._movable.shape
        self._longest = max(STREAK_MIN_PX, STREAK_SHARE * math.hypot(width, height))
        self._powers = _Cached(Powers(self.unit))
        self._break_set = frozenset(self.breaks)
        if self.clock is not None and len(self.clock) > 2:
            steps = np.diff([t.timestamp() for t in self.clock])
            positive = steps[steps > 0]
            self._interval = float(np.median(positive)) if len(positive) else None

    def __call__(self, index: int, pixels: np.ndarray) -> np.ndarray:
        """This frame, with the gap since the last one filled; the last one's stars kept.

        This frame's stars are found in a helper thread (OpenCV, which lets go of the GIL)
        while the gap is filled here; the check that the gap may be filled waits for them."""
        finding = self._helper().submit(self._find, index, pixels)
        last = self._last
        out = None
        if last is not None and not self._broken(last[0], index):
            out = self._filled(last, index, pixels)
        stars = finding.result()
        self._last = stars
        if last is None:
            return pixels
        if out is not None and self._fillable(last, stars):
            self.filled += 1
            return out
        self.skipped.append(last[0])
        return pixels

    def close(self) -> None:
        """Stop the helper thread."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _helper(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="vid2trail-gaps")
        return self._pool

    def _find(self, index: int, pixels: np.ndarray) -> tuple[int, np.ndarray, np.ndarray,
                                                               np.ndarray]:  # fmt: skip
        luma = native_luma(pixels)
        if self._background is None or self._since_background >= BACKGROUND_EVERY:
            self._background = background(luma).astype(luma.dtype)
            self._since_background = 0
        self._since_background += 1
        above = cv2.subtract(luma, self._background)  # saturates at 0 for integers
        return self._stars(index, pixels, luma, above)

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["_pool"] = None
        return state

    def _stars(
        self, index: int, pixels: np.ndarray, luma: np.ndarray, above: np.ndarray
    ) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """The frame's movable star pixels (with the pixel around them that is above the noise):
        where they are, their values, and the local peaks among them, brightest first."""
        noise = self.mask.noise
        core = cv2.bitwise_and(cv2.compare(above, STAR_K * noise, cv2.CMP_GT), self._movable_u8)
        self._drop_streaks(core, above)
        edge = cv2.bitwise_and(cv2.compare(above, EDGE_K * noise, cv2.CMP_GT), self._movable_u8)
        xy = nonzero_xy(cv2.bitwise_and(cv2.dilate(core, _SQUARE), edge))
        values = pixels.reshape(-1, pixels.shape[2])[xy[:, 1] * pixels.shape[1] + xy[:, 0]]
        return index, xy.astype(np.float64), values, _peaks(luma, core, xy)

    def _drop_streaks(self, core: np.ndarray, above: np.ndarray) -> None:
        """Clear (in place) the bright parts of ``core`` far longer than a star, and the fainter
        pixels around them: a plane's or a satellite's streak, a meteor. Moved along the sky,
        they would smear into bands; as the last frame's brightest peaks, they would be missed
        in the next frame and leave the gap open."""
        bright = cv2.bitwise_and(cv2.compare(above, STREAK_K * self.mask.noise, cv2.CMP_GT),
                                 self._movable_u8)  # fmt: skip
        # A part that long is as long in an eighth of the size, where the parts are found
        # quickly; in most frames nothing is, and the full-size search is spared.
        height, width = core.shape
        small = cv2.resize(bright, (-(-width // 8), -(-height // 8)), interpolation=cv2.INTER_AREA)
        count, _, stats, _ = cv2.connectedComponentsWithStats(small, connectivity=8)
        if count <= 1 or np.maximum(stats[1:, 2], stats[1:, 3]).max() * 8 <= self._longest:
            return
        count, labels, stats, _ = cv2.connectedComponentsWithStats(bright, connectivity=8)
        extent = np.maximum(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT])
        for label in np.flatnonzero(extent > self._longest) + 1:
            x, y, w, h = stats[label, :4]
            x0, y0 = max(0, x - _FRINGE), max(0, y - _FRINGE)
            x1, y1 = min(width, x + w + _FRINGE), min(height, y + h + _FRINGE)
            streak = (labels[y0:y1, x0:x1] == label).astype(np.uint8)
            near = cv2.dilate(streak, np.ones((2 * _FRINGE + 1,) * 2, np.uint8)).astype(bool)
            core[y0:y1, x0:x1][near] = 0

    def _fillable(
        self,
        last: tuple[int, np.ndarray, np.ndarray, np.ndarray],
        now: tuple[int, np.ndarray, np.ndarray, np.ndarray],
    ) -> bool:
        """No stars lost between the last frame and this one: the last one's brightest peaks are
        found within a pixel and a half of where the motion puts them."""
        before, index = last[0], now[0]
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
        # Found: a peak of this frame within the 3 x 3 pixels around where the motion puts it.
        codes = np.sort((peaks[:, 1] * width + peaks[:, 0]).astype(np.int64))
        x, y = np.rint(moved[:, 0]).astype(np.int64), np.rint(moved[:, 1]).astype(np.int64)
        near = ((y[:, None] + _DY) * width + x[:, None] + _DX).ravel()
        hit = np.isin(near, codes).reshape(len(moved), -1).any(axis=1)
        return float(np.mean(hit)) >= FOUND_SHARE

    def _broken(self, before: int, index: int) -> bool:
        """A break in the motion, or a pause in the capture, between the two frames."""
        return any(before <= b < index for b in self._break_set) or self._paused(before, index)

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
        # The farthest any point moves, at most: the sky's motion is nearly a turn about the pole,
        # which moves the corners of the points' box farthest (their pixels, and one beyond).
        low, high = points.min(axis=0) - 1, points.max(axis=0) + 1
        corners = np.array([low, high, [low[0], high[1]], [high[0], low[1]]])
        reach = float(np.max(np.hypot(*(apply(whole, corners) - corners).T)))
        steps = min(MOST_STEPS, max(1, math.ceil(reach / SPACING_PX)))
        if steps < 2:
            return out
        # H^(k/steps) for k = 1 .. steps-1, as powers of one small step.
        small = self._powers(frames / steps)
        mats = [small]
        for _ in range(steps - 2):
            mats.append(small @ mats[-1])
        height, width = self._movable.shape
        flat = out.reshape(-1, out.shape[2])
        movable = self._movable.ravel()
        rows = np.column_stack([points, np.ones(len(points))]).T  # 3 x N
        channels = [np.ascontiguousarray(values[:, c]) for c in range(flat.shape[1])]
        per = max(1, BATCH // len(points))
        for first in range(0, len(mats), per):
            moved = np.matmul(np.array(mats[first : first + per]), rows)
            x = np.rint(moved[:, 0] / moved[:, 2]).astype(np.intp).ravel()
            y = np.rint(moved[:, 1] / moved[:, 2]).astype(np.intp).ravel()
            inside = np.flatnonzero((x >= 0) & (x < width) & (y >= 0) & (y < height))
            where = y[inside] * width + x[inside]
            sky = movable[where]
            where, which = where[sky], inside[sky] % len(points)  # the point each position is of
            for c, value in enumerate(channels):  # one channel at a time: ufunc.at's fast path
                np.maximum.at(flat[:, c], where, value[which])
        return out


def _peaks(luma: np.ndarray, core: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """The local maxima among the star pixels ``xy`` (at most :data:`MOST_PEAKS`), brightest
    first, as ``x, y`` rows."""
    top = cv2.dilate(luma, _SQUARE)
    x, y = xy[:, 0], xy[:, 1]
    level = luma[y, x]
    peak = (core[y, x] > 0) & (level >= top[y, x])
    order = np.argsort(level[peak])[::-1][:MOST_PEAKS]
    return xy[peak][order].astype(np.float64)


def nonzero_xy(image: np.ndarray) -> np.ndarray:
    """The ``x, y`` of the nonzero pixels of a contiguous uint8 image, row by row: eight pixels
    are read as one 64-bit word, so a sparse image is scanned several times faster than by
    pixel.

    Examples
    --------
    >>> spots = np.zeros((3, 5), np.uint8); spots[1, 3] = spots[2, 0] = 1
    >>> nonzero_xy(spots).tolist()
    [[3, 1], [0, 2]]
    """
    flat = image.reshape(-1)
    whole = flat.size // 8 * 8
    words = np.flatnonzero(flat[:whole].view(np.uint64))
    spots = (words[:, None] * 8 + np.arange(8)).ravel()
    tail = np.arange(whole, flat.size)
    spots = np.concatenate([spots, tail])
    spots = spots[flat[spots] != 0]
    width = image.shape[1]
    return np.column_stack([spots % width, spots // width]).astype(np.intp)


class _Cached:
    """A homography's powers, remembered by exponent (the same gap comes again and again)."""

    def __init__(self, powers: Powers) -> None:
        self._powers = powers
        self._known: dict[float, np.ndarray] = {}

    def __call__(self, s: float) -> np.ndarray:
        known = self._known.get(s)
        if known is None:
            if len(self._known) > 256:
                self._known.clear()
            known = self._known[s] = self._powers(s)
        return known


#: The pixels this close to a streak go with it.
_FRINGE = 3
_SQUARE = np.ones((3, 3), np.uint8)
_DY, _DX = (a.ravel()[None, :] for a in np.mgrid[-1:2, -1:2])


__all__ = ["FillGaps", "nonzero_xy"]
