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
        The reference frame's stars (``N x 3``, :func:`vid2trail.sky.detect_stars`): register
        every frame on them instead of trusting the steady model.

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
    registered: int = 0

    def __post_init__(self) -> None:
        rows = np.flatnonzero(self.weight.max(axis=1) > 0)
        cols = np.flatnonzero(self.weight.max(axis=0) > 0)
        if len(rows) == 0:
            self._box = (0, 0, 0, 0)
        else:
            self._box = (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)
        y0, y1, x0, x1 = self._box
        self._weight_box = np.ascontiguousarray(self.weight[y0:y1, x0:x1])
        # Where the sky is, at a quarter of the size: enough to follow the horizon through the
        # warp (the feather is wider than the four pixels it blurs).
        height, width = self.weight.shape
        small = (max(1, width // _SHRINK), max(1, height // _SHRINK))
        self._sky_small = cv2.resize((self.weight > 0).astype(np.float32), small,
                                     interpolation=cv2.INTER_AREA)  # fmt: skip
        self._scale = np.diag([small[0] / width, small[1] / height, 1.0])
        self._band = np.flatnonzero(self._weight_box.min(axis=1) < 1)
        self._powers = Powers(self.unit)

    def __call__(self, index: int, pixels: np.ndarray) -> np.ndarray:
        """This frame with its sky on the reference frame's."""
        y0, y1, x0, x1 = self._box
        if index == self.reference or y1 == y0:
            return pixels
        moved = self.homography(index, pixels)
        box = np.array([[1.0, 0, -x0], [0, 1, -y0], [0, 0, 1]]) @ moved
        size = (x1 - x0, y1 - y0)
        region = pixels[y0:y1, x0:x1]
        warped = cv2.warpPerspective(pixels, box, size, dst=region.copy(), flags=cv2.INTER_CUBIC,
                                     borderMode=cv2.BORDER_TRANSPARENT)  # fmt: skip
        warped = warped.reshape(region.shape)
        # Where the sky came from the frame's ground (not yet risen, set behind the horizon) or
        # from beyond its edge, the frame's own pixels stay: the ground is never moved into sky.
        seen = self._seen(moved, size, (x0, y0))
        short = seen.min(axis=1) < 1
        partial = np.union1d(self._band, np.flatnonzero(short))
        out = pixels.copy()
        inside = out[y0:y1, x0:x1]
        inside[...] = warped  # rows of sky alone take the warp as it is; the others are blended
        if partial.size:
            w = np.ascontiguousarray(self._weight_box[partial] * seen[partial])
            inside[partial] = self._blend(warped[partial], region[partial], w)
        return out

    def _seen(
        self, moved: np.ndarray, size: tuple[int, int], corner: tuple[int, int]
    ) -> np.ndarray:
        """How much of each pixel of the sky's box came from the frame's own sky (1), not from
        its ground (0): the sky mask moved by ``moved``, at a quarter size."""
        small_size = self._sky_small.shape[::-1]
        shrunk = self._scale @ moved @ np.linalg.inv(self._scale)
        # Beyond the edge the mask goes on as at the edge: what came from outside the frame is
        # the frame's own pixels already (the warp leaves them).
        small = cv2.warpPerspective(self._sky_small, shrunk, small_size, flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
        full = cv2.resize(small, self.weight.shape[::-1], interpolation=cv2.INTER_LINEAR)
        x0, y0 = corner
        return full[y0 : y0 + size[1], x0 : x0 + size[0]]

    def close(self) -> None:
        """Nothing to let go of."""

    def homography(self, index: int, pixels: np.ndarray) -> np.ndarray:
        """The sky's motion from frame ``index`` to the reference: the steady model's, or a fit
        on the reference frame's stars."""
        model = self._powers(self.reference - index)
        if self.stars is None:
            return model
        from .sky import detect_stars, match_stars

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
