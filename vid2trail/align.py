"""A sharp sky over a frozen foreground: every frame's sky moved onto a reference frame.

:class:`AlignSky` is the frame transform behind ``--align``. It warps each frame by the sky's
motion from that frame to the reference (``H^(reference - frame)`` of the steady model, see
:mod:`vid2trail.sky`), keeps the foreground as it was shot, and blends the two through the
feathered sky mask (:func:`vid2trail.skymask.feather`), so a mean, sigma or median stack has
pinpoint stars, a quiet sky and a sharp foreground. Sky the frame did not see (turned in from
beyond its edge, or from the frame's ground: a star not yet risen) keeps the frame's own pixels,
so the ground never moves into the sky.

Each frame's warp depends on its number only, so partial stacks of any split of the frames
combine exactly, in processes (``--workers``) or on a cluster. Where the motion is not steady (a
bumped tripod), each frame is registered on the reference frame's stars instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from .homography import Powers, apply, fit_homography


@dataclass
class AlignSky:
    """``align(index, pixels)``: the frame with its sky moved onto frame ``reference``'s.

    Parameters
    ----------
    unit : numpy.ndarray
        The sky's homography from one source frame to the next.
    weight : numpy.ndarray
        ``H x W`` float32, 1 in the sky, 0 on the ground, feathered between.
    reference : int
        The frame number whose sky the others are moved onto.
    stars : numpy.ndarray, optional
        The reference frame's stars (``N x 3``, :func:`vid2trail.stars.detect_stars`): register
        every frame on them instead of trusting the steady model.
    sharp : numpy.ndarray, optional
        ``H x W`` bool, the reference frame's star pixels (:func:`vid2trail.skyjob.star_pixels`):
        the sky is warped bilinearly and these pixels again bicubically (the stars' peaks kept),
        several times faster than bicubic throughout. Every frame's stars land on them, since
        the warp puts them where the reference frame has them. None: bicubic throughout.

    Examples
    --------
    >>> weight = np.ones((8, 8), np.float32)
    >>> align = AlignSky(np.array([[1, 0, 1.0], [0, 1, 0], [0, 0, 1]]), weight, reference=2)
    >>> frame = np.zeros((8, 8, 1), np.uint8); frame[4, 3] = 100
    >>> int(align(1, frame)[4, 4, 0])
    100
    """

    #: A frame's result depends on its number only: any split of the frames works.
    in_order: ClassVar[bool] = False
    unit: np.ndarray
    weight: np.ndarray
    reference: int
    stars: np.ndarray | None = None
    sharp: np.ndarray | None = None
    registered: int = 0

    def __post_init__(self) -> None:
        # The sky's rows, whole: a band of rows of a frame is one block of memory, so the warp
        # writes straight into the output.
        rows = np.flatnonzero(self.weight.max(axis=1) > 0)
        width = self.weight.shape[1]
        self._box = (0, 0, 0, 0) if len(rows) == 0 else (int(rows[0]), int(rows[-1]) + 1, 0, width)
        y0, y1, x0, x1 = self._box
        self._weight_box = np.ascontiguousarray(self.weight[y0:y1, x0:x1])
        # Where the sky is, at a quarter of the size: enough to follow the horizon through the
        # warp (the feather is wider than the four pixels it blurs).
        height, width = self.weight.shape
        small = (-(-width // _SHRINK), -(-height // _SHRINK))  # a quarter, rounded up
        self._sky_small = cv2.resize((self.weight > 0).astype(np.float32), small,
                                     interpolation=cv2.INTER_AREA)  # fmt: skip
        self._scale = np.diag([1 / _SHRINK, 1 / _SHRINK, 1.0])
        self._band = np.flatnonzero(self._weight_box.min(axis=1) < 1)
        self._sharp_at = self._sharp_points()
        self._powers = Powers(self.unit)

    def _sharp_points(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The star pixels in the sky's rows: their flat indices there, and their ``x, y``."""
        if self.sharp is None:
            return None
        y0, y1, x0, x1 = self._box
        where = self.sharp[y0:y1, x0:x1] & (self._weight_box > 0)
        flat = np.flatnonzero(where)
        width = x1 - x0
        xy = np.column_stack([flat % width, flat // width]).astype(np.float64)
        return flat, xy.reshape(-1, 1, 2)

    def __call__(self, index: int, pixels: np.ndarray) -> np.ndarray:
        """This frame with its sky on the reference frame's."""
        y0, y1, x0, x1 = self._box
        if index == self.reference or y1 == y0:
            return pixels
        moved = self.homography(index, pixels)
        box = np.array([[1.0, 0, 0], [0, 1, -y0], [0, 0, 1]]) @ moved
        out = pixels.copy()
        warped = out[y0:y1]  # the frame's own pixels wherever the warp has nothing to put
        quick = self._sharp_at is not None
        cv2.warpPerspective(pixels, box, (x1, y1 - y0), dst=warped,
                            flags=cv2.INTER_LINEAR if quick else cv2.INTER_CUBIC,
                            borderMode=cv2.BORDER_TRANSPARENT)  # fmt: skip
        if quick:
            self._sharpen(warped, pixels, box)
        # Where the sky came from the frame's ground (not yet risen, set behind the horizon),
        # the frame's own pixels stay: the ground is never moved into the sky.
        seen, short = self._seen(moved, y0, y1)
        partial = np.union1d(self._band, short)
        if partial.size:
            r0, r1 = int(partial[0]), int(partial[-1]) + 1
            w = self._weight_box[r0:r1].copy()
            if short.size:
                w[short[0] - r0 : short[-1] + 1 - r0] *= seen
            warped[r0:r1] = self._blend(warped[r0:r1], pixels[y0 + r0 : y0 + r1], w)
        return out

    def _sharpen(self, warped: np.ndarray, pixels: np.ndarray, box: np.ndarray) -> None:
        """The star pixels of ``warped``, interpolated again bicubically (in place)."""
        assert self._sharp_at is not None
        flat, xy = self._sharp_at
        count = len(flat)
        if not count:
            return
        source = cv2.perspectiveTransform(xy, np.linalg.inv(box)).reshape(-1, 2)
        # remap takes maps of at most 32767 rows: the points as rows of 1024.
        padded = np.zeros((-(-count // 1024) * 1024, 2), np.float32)
        padded[:count] = source
        maps = padded.reshape(-1, 1024, 2)
        values = cv2.remap(pixels, maps[:, :, 0], maps[:, :, 1], cv2.INTER_CUBIC,
                           borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
        values = values.reshape(-1, pixels.shape[2])[:count]
        height, width = pixels.shape[:2]
        inside = ((source[:, 0] >= 0) & (source[:, 0] <= width - 1) & (source[:, 1] >= 0)
                  & (source[:, 1] <= height - 1))  # fmt: skip
        warped.reshape(-1, pixels.shape[2])[flat[inside]] = values[inside]

    def _seen(self, moved: np.ndarray, y0: int, y1: int) -> tuple[np.ndarray, np.ndarray]:
        """How much of each pixel of the sky's rows came from the frame's own sky (1), not from
        its ground (0), for the rows where any did not (and those rows, from ``y0``): the sky
        mask moved by ``moved``, at a quarter size."""
        small_size = self._sky_small.shape[::-1]
        shrunk = self._scale @ moved @ np.linalg.inv(self._scale)
        # Beyond the edge the mask goes on as at the edge: what came from outside the frame is
        # the frame's own pixels already (the warp leaves them).
        small = cv2.warpPerspective(self._sky_small, shrunk, small_size, flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
        lacking = np.flatnonzero(small.min(axis=1) < 1)
        if not lacking.size:
            return np.ones((0, 1), np.float32), lacking
        height, width = self.weight.shape
        # A quarter-size row reaches the full-size rows around it (bilinear enlargement).
        first = max(y0, (int(lacking[0]) - 1) * _SHRINK)
        last = min(y1, (int(lacking[-1]) + 2) * _SHRINK)
        if last <= first:
            return np.ones((0, 1), np.float32), lacking[:0]
        # Those rows of the mask enlarged bilinearly, from the quarter-size rows around them
        # (a row beyond on either side, so the block's own edges do not show).
        a = max(0, first // _SHRINK - 1)
        b = min(small.shape[0], -(-last // _SHRINK) + 1)
        block = cv2.resize(small[a:b], (small.shape[1] * _SHRINK, (b - a) * _SHRINK),
                           interpolation=cv2.INTER_LINEAR)  # fmt: skip
        full = block[first - a * _SHRINK : last - a * _SHRINK, :width]
        return full, np.arange(first - y0, last - y0)

    def close(self) -> None:
        """Nothing to let go of."""

    def homography(self, index: int, pixels: np.ndarray) -> np.ndarray:
        """The sky's motion from frame ``index`` to the reference: the steady model's, or a fit
        on the reference frame's stars."""
        model = self._powers(self.reference - index)
        if self.stars is None:
            return model
        from .stars import detect_stars, match_stars

        found = detect_stars(pixels)
        for radius in (3.0, 8.0):
            i, j = match_stars(found, self.stars, apply(model, found[:, :2]), radius)
            fitted = fit_homography(found[i, :2], self.stars[j, :2])
            if fitted is not None:
                self.registered += 1
                return fitted[0]
        return model

    @staticmethod
    def _blend(warped: np.ndarray, region: np.ndarray, w: np.ndarray) -> np.ndarray:
        warped, region = np.ascontiguousarray(warped), np.ascontiguousarray(region)
        if warped.dtype in (np.uint8, np.float32):
            mixed = cv2.blendLinear(warped, region, w, 1.0 - w)
            return mixed.reshape(region.shape)
        mixed = region + w[:, :, None] * (warped.astype(np.float32) - region)
        top = np.iinfo(region.dtype).max if region.dtype.kind in "ui" else None
        if top is not None:
            mixed = np.clip(np.rint(mixed), 0, top)
        return mixed.astype(region.dtype)


#: The sky mask follows the warp at this fraction of the size.
_SHRINK = 4

__all__ = ["AlignSky"]
