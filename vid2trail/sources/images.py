"""A folder or glob of still images: JPEG, PNG, 8/16-bit TIFF, grayscale or colour.

Files are sorted naturally (``f2`` before ``f10``, as a person numbers frames) and decoded with
OpenCV, which applies a JPEG's EXIF orientation and keeps 16-bit depth. Files that are not images
are ignored. Every image must share the first one's size, channels and bit depth.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator

import cv2
import numpy as np

from ..errors import SourceError
from ..frames import Frame, SourceInfo
from . import IMAGE_EXTENSIONS, SourceBase

_DIGITS = re.compile(r"(\d+)")


def natural_key(path: str) -> tuple[object, ...]:
    """Sort key that orders embedded numbers by value: ``f2`` before ``f10``.

    Examples
    --------
    >>> sorted(["f10.jpg", "f2.jpg", "F1.jpg"], key=natural_key)
    ['F1.jpg', 'f2.jpg', 'f10.jpg']
    """
    parts = _DIGITS.split(path.casefold())
    return tuple((0, int(p), p) if p.isdigit() else (1, 0, p) for p in parts)


def list_images(path: str) -> list[str]:
    """The image files of a folder, a glob, or a single image, in natural order.

    Examples
    --------
    >>> list_images("no/such/*.jpg")
    []
    """
    if os.path.isdir(path):
        names = [os.path.join(path, name) for name in os.listdir(path)]
    elif os.path.isfile(path):
        names = [path]
    else:
        names = glob.glob(path)
    images = [
        name
        for name in names
        if os.path.isfile(name) and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS
    ]
    return sorted(images, key=natural_key)


def read_image(path: str) -> np.ndarray:
    """Decode one image as ``H x W x C`` RGB (C = 3) or grayscale (C = 1), uint8 or uint16.

    Reads the bytes with numpy first so that non-ASCII paths work on every platform.

    Examples
    --------
    >>> read_image("frames/f1.png").dtype  # doctest: +SKIP
    dtype('uint8')
    """
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror}") from exc
    image = cv2.imdecode(data, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR) if data.size else None
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


class ImageFolderSource(SourceBase):
    """Frames from a folder, a glob, or one image.

    Parameters
    ----------
    path : str
        A folder (its image files), a glob such as ``"night/*.jpg"``, or one image file.

    Examples
    --------
    >>> src = ImageFolderSource("night/")  # doctest: +SKIP
    >>> src.info.frame_count, src.info.frame_count_exact  # doctest: +SKIP
    (22, True)
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.files = list_images(path)
        if not self.files:
            where = "folder" if os.path.isdir(path) else "pattern"
            raise SourceError(
                f"no images in {where} {path}: vid2trail reads "
                f"{', '.join(sorted(IMAGE_EXTENSIONS))} files"
            )
        first = read_image(self.files[0])
        height, width, channels = first.shape
        self.info = SourceInfo(
            path=path,
            width=width,
            height=height,
            channels=channels,
            dtype=first.dtype,
            fps=None,
            duration_s=None,
            frame_count=len(self.files),
            frame_count_exact=True,
            codec="images",
            backend="images",
            pix_fmt="gray" if channels == 1 else "rgb",
            bits_per_sample=8 * first.dtype.itemsize,
        )

    def check(self, image: np.ndarray, name: str) -> np.ndarray:
        """Raise unless ``image`` matches the first image's size, channels and depth."""
        info = self.info
        if image.shape[:2] != (info.height, info.width):
            raise SourceError(
                f"{name} is {image.shape[1]}x{image.shape[0]} but {self.files[0]} is "
                f"{info.width}x{info.height}: every image must have the same size; "
                "move it out or select the others with a glob"
            )
        if image.shape[2] != info.channels or image.dtype != info.dtype:
            kind = lambda a: f"{'gray' if a.shape[2] == 1 else 'colour'} {8 * a.itemsize}-bit"  # noqa: E731
            raise SourceError(
                f"{name} is {kind(image)} but {self.files[0]} is "
                f"{'gray' if info.channels == 1 else 'colour'} {8 * info.dtype.itemsize}-bit: "
                "convert the images to one format first"
            )
        return image

    def frames(self, start: int = 0, end: int | None = None, step: int = 1) -> Iterator[Frame]:
        """Yield the images ``start:end:step`` in natural order."""
        for index in range(
            start, len(self.files) if end is None else min(end, len(self.files)), step
        ):
            name = self.files[index]
            yield Frame(index, None, self.check(read_image(name), name))
