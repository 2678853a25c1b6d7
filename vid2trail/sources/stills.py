"""One still image decoded: JPEG, PNG and TIFF through OpenCV, RAW through LibRaw
(:mod:`~vid2trail.sources.raw`), at full size or reduced for a preview."""

from __future__ import annotations

import os

import cv2
import numpy as np

from ..errors import SourceError
from .base import RAW_EXTENSIONS
from .raw import read_raw

#: JPEG's DCT can decode at 1/2, 1/4 or 1/8 size for almost no work: OpenCV's reduced modes.
_REDUCED = {
    (2, False): cv2.IMREAD_REDUCED_COLOR_2,
    (4, False): cv2.IMREAD_REDUCED_COLOR_4,
    (8, False): cv2.IMREAD_REDUCED_COLOR_8,
    (2, True): cv2.IMREAD_REDUCED_GRAYSCALE_2,
    (4, True): cv2.IMREAD_REDUCED_GRAYSCALE_4,
    (8, True): cv2.IMREAD_REDUCED_GRAYSCALE_8,
}


def reduction_factor(width: int, height: int, max_side: int | None) -> int:
    """The smallest of 1, 2, 4, 8 that brings the longer side to at most ``max_side`` (else 8).

    Examples
    --------
    >>> reduction_factor(6000, 4000, 1000), reduction_factor(1280, 720, 640)
    (8, 2)
    >>> reduction_factor(640, 480, None)
    1
    """
    if not max_side:
        return 1
    for factor in (1, 2, 4, 8):
        if max(width, height) / factor <= max_side:
            return factor
    return 8


def is_raw(path: str) -> bool:
    """True for a camera RAW file (by its extension).

    Examples
    --------
    >>> is_raw("IMG_0001.CR2"), is_raw("IMG_0001.JPG")
    (True, False)
    """
    return os.path.splitext(path)[1].lower() in RAW_EXTENSIONS


def read_image(
    path: str, reduce: int = 1, gray: bool = False, *, raw_half: bool = False
) -> np.ndarray:
    """Decode one image as ``H x W x C`` RGB (C = 3) or grayscale (C = 1), uint8 or uint16.

    Reads the bytes with numpy first so that non-ASCII paths work on every platform. ``reduce``
    (2, 4 or 8) decodes a smaller 8-bit image: in the DCT domain for JPEG (fast), by area
    averaging for other formats; ``gray`` says whether the folder is grayscale. A RAW file is
    16-bit, demosaiced at half size for ``raw_half``, then area-averaged by ``reduce``.

    Examples
    --------
    >>> read_image("frames/f1.png").dtype  # doctest: +SKIP
    dtype('uint8')
    """
    if is_raw(path):
        return shrink(read_raw(path, half=raw_half), reduce)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror}") from exc
    flags = _REDUCED[(reduce, gray)] if reduce > 1 else cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR
    image = cv2.imdecode(data, flags) if data.size else None
    if image is None:
        raise SourceError(f"{path} is not an image OpenCV can decode; remove it or re-export it")
    if image.dtype not in (np.uint8, np.uint16):
        raise SourceError(
            f"{path} has {image.dtype} samples; only 8- and 16-bit images can be stacked"
        )
    if image.ndim == 2:
        return image[:, :, np.newaxis]
    if image.shape[2] == 4:
        image = image[:, :, :3]
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def shrink(image: np.ndarray, reduce: int) -> np.ndarray:
    """``image`` area-averaged to ``1 / reduce`` of its size (itself for 1).

    Examples
    --------
    >>> shrink(np.ones((8, 6, 3), np.uint16), 2).shape
    (4, 3, 3)
    """
    if reduce <= 1:
        return image
    size = (image.shape[1] // reduce, image.shape[0] // reduce)
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA).reshape(
        size[1], size[0], image.shape[2]
    )
