"""Stars in a frame, found and matched: what the sky's motion is measured on.

:func:`detect_stars` finds them on luma against the local background with ``sep`` (Source
Extractor as a library) and measures windowed centroids; :func:`match_stars` pairs two lists,
given where the first one's stars are expected in the second frame.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .luma import background, frame_noise, gray

#: Stars are found in a frame binned down to about this many pixels (and measured in the frame).
DETECT_PIXELS = 1_200_000


def detect_stars(image: np.ndarray, *, threshold: float = 5.0, most: int = 400) -> np.ndarray:
    """The stars of one frame: ``N x 3`` rows of ``x, y, flux``, brightest first.

    ``image`` is a frame (``H x W x C``, any dtype) or its luma (``H x W``). Sources more than
    ``threshold`` times the background's noise above the local background (64-pixel mesh) are
    kept when they are compact (at most 400 pixels, not elongated like a plane's streak).

    Examples
    --------
    >>> sky = np.random.default_rng(0).normal(10, 1, (64, 64)).astype(np.float32)
    >>> sky[20:23, 30:33] += 40
    >>> stars = detect_stars(sky)
    >>> stars.shape, [round(v) for v in stars[0, :2]]
    ((1, 3), [31, 21])
    """
    import sep

    data = np.ascontiguousarray(gray(image) if image.ndim == 3 else image, dtype=np.float32)
    # The local background and the noise, as sep's own mesh would give them, several times
    # faster (a 720p frame: 2 ms against 20).
    rest = np.ascontiguousarray(data - background(data))
    rms = frame_noise(data)
    # Sources are found in a binned copy of a large frame (at most about DETECT_PIXELS), and
    # their centroids measured in the frame itself: sep's scan costs 20 ns a pixel.
    factor = max(1, math.ceil(math.sqrt(data.size / DETECT_PIXELS)))
    binned = rest
    if factor > 1:
        height, width = rest.shape
        whole = rest[: height // factor * factor, : width // factor * factor]
        size = (width // factor, height // factor)
        binned = cv2.resize(whole, size, interpolation=cv2.INTER_AREA)
    sep.set_extract_pixstack(max(300_000, binned.size // 2))
    try:
        found = sep.extract(binned, threshold, err=rms / factor, minarea=max(1, 3 // factor))
    except Exception:  # sep's buffer errors on a frame that is all structure: no stars there
        return np.zeros((0, 3))
    compact = (found["npix"] <= 400 / factor**2) & (found["b"] > 0.4 * found["a"])
    found = found[compact]
    order = np.argsort(found["flux"])[::-1][:most]
    found = found[order]
    if not len(found):
        return np.zeros((0, 3))
    x0, y0 = (found["x"] + 0.5) * factor - 0.5, (found["y"] + 0.5) * factor - 0.5
    flux, a = found["flux"] * factor**2, found["a"] * factor
    # Windowed centroids (Source Extractor's XWIN): a fraction of the isophotal ones' error.
    radius, _ = sep.flux_radius(rest, x0, y0, 6.0 * a, 0.5, subpix=1)
    sig = np.clip(2.0 / 2.35 * np.nan_to_num(radius, nan=1.0), 0.5, 5.0)
    # One sample a pixel here and in the radius: within a hundredth of a pixel of sep's default
    # subsampling, at a fifth of the cost.
    x, y, flags = sep.winpos(rest, x0, y0, sig, subpix=1)
    bad = (flags != 0) | ~np.isfinite(x) | ~np.isfinite(y)
    x, y = np.where(bad, x0, x), np.where(bad, y0, y)
    return np.column_stack([x, y, flux])


def match_stars(
    a: np.ndarray, b: np.ndarray, predicted: np.ndarray, radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs of the stars ``a`` (at their ``predicted`` positions in ``b``'s frame) and
    ``b`` that are each other's nearest neighbours within ``radius`` pixels.

    Examples
    --------
    >>> a = np.array([[0.0, 0.0], [10.0, 0.0]]); b = np.array([[10.5, 0.0], [0.4, 0.2]])
    >>> match_stars(a, b, a, 2.0)
    (array([0, 1]), array([1, 0]))
    """
    if len(predicted) == 0 or len(b) == 0:
        return np.zeros(0, int), np.zeros(0, int)
    distance = np.hypot(
        predicted[:, None, 0] - b[None, :, 0], predicted[:, None, 1] - b[None, :, 1]
    )
    nearest_b = distance.argmin(axis=1)
    nearest_a = distance.argmin(axis=0)
    mine = np.arange(len(predicted))
    mutual = (nearest_a[nearest_b] == mine) & (distance[mine, nearest_b] <= radius)
    return mine[mutual], nearest_b[mutual]


__all__ = ["detect_stars", "match_stars"]
