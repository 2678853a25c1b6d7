"""A frame's luma and its statistics: the brightness the sky's motion, mask and stars are found in.

:func:`native_luma` is a frame's luma in its own dtype (not linear light), :func:`background` its
local background (a median over a coarse mesh), :func:`frame_noise` its noise, read robustly from
the difference of the frame and a shift of itself, so stars and structure do not count.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def native_luma(pixels: np.ndarray) -> np.ndarray:
    """A frame's luma in its own dtype (the detection's brightness; not linear light): a new
    array for RGB, a view of a grayscale frame.

    Examples
    --------
    >>> native_luma(np.full((2, 2, 3), 10, np.uint8)).tolist()
    [[10, 10], [10, 10]]
    """
    if pixels.ndim == 3 and pixels.shape[2] == 3:
        return cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    return pixels.reshape(pixels.shape[0], pixels.shape[1])


def gray(pixels: np.ndarray) -> np.ndarray:
    """A frame's luma as float32 code values (:func:`native_luma`, as floats).

    Examples
    --------
    >>> gray(np.full((2, 2, 3), 10, np.uint8)).tolist()
    [[10.0, 10.0], [10.0, 10.0]]
    """
    return native_luma(pixels).astype(np.float32, copy=False)


def background(luma: np.ndarray) -> np.ndarray:
    """The local background of a luma image: a median of 16-pixel cells, smoothly enlarged, so
    that stars and small lights do not raise it.

    Examples
    --------
    >>> sky = np.full((128, 128), 10, np.float32); sky[60:62, 60:62] = 200
    >>> float(background(sky)[61, 61])
    10.0
    """
    height, width = luma.shape
    small = cv2.resize(luma, (max(1, width // 16), max(1, height // 16)),
                       interpolation=cv2.INTER_AREA)  # fmt: skip
    if min(small.shape) >= 5:
        small = cv2.medianBlur(small, 5)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def frame_noise(luma: np.ndarray) -> float:
    """One frame's noise: the robust spread of its difference from a 3-pixel shift of itself.

    Code values are whole numbers, so their differences are too, and the median of a dark sky's
    few-level deviations would jump from one whole number to the next: for whole numbers it is
    read between them, from the counts (the median of grouped data). It is at least one code
    value: below that, rounding and a codec's smoothing rule (a compressed video's neighbouring
    pixels differ less than its noise mottles the sky), and thresholds of a few times the noise
    would take the mottle for stars.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> round(frame_noise(np.rint(rng.normal(20, 1.6, (200, 300)))), 1)
    1.6
    """
    rows = luma[:: max(1, luma.shape[0] // 96)]  # a hundred rows tell it as well as all ...
    step = max(1, rows.shape[1] // 480)  # ... and about 480 columns of them
    diff = (rows[:, 3:] - rows[:, :-3])[:, ::step].astype(np.float64).ravel()
    whole = np.array_equal(diff, np.rint(diff))
    centre = np.median(diff)
    deviation = np.abs(diff - (np.rint(centre) if whole else centre))
    spread = 1.4826 * _median_of(deviation, whole) / math.sqrt(2)
    return max(spread, 1.0 if whole else 1e-6)


def _median_of(values: np.ndarray, whole: bool) -> float:
    """The median; for ``whole`` numbers read between them (grouped data: the median's unit
    bin entered in proportion to the count it holds)."""
    if not len(values):
        return 0.0
    if not whole:
        return float(np.median(values))
    counts = np.bincount(np.rint(values).astype(np.int64))
    below = np.cumsum(counts) - counts  # values under each whole number
    middle = len(values) / 2
    k = int(np.searchsorted(below + counts, middle))  # the bin the median falls in
    return float(k - 0.5 + (middle - below[k]) / max(1, counts[k]))


__all__ = ["background", "frame_noise", "gray", "native_luma"]
