"""A folder or glob of still images: JPEG, PNG, 8/16-bit TIFF, grayscale or colour.

Files are sorted naturally (``f2`` before ``f10``, as a person numbers frames) and decoded with
OpenCV, which applies a JPEG's EXIF orientation and keeps 16-bit depth. Files that are not images,
and hidden files, are ignored, and so are the stills vid2trail wrote itself (an earlier result
saved into the folder; see :mod:`~vid2trail.sources.own`), unless one is named alone. Every image
must share the first one's size, channels and bit depth.
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any, ClassVar

import cv2
import numpy as np

from ..errors import SourceError
from ..frames import Frame, SourceInfo
from .base import IMAGE_EXTENSIONS, SourceBase, expand_glob
from .own import describe_own, leave_out_own

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

    Hidden files (names starting with a dot) of a folder are skipped, as a glob skips them. The
    list reads no file: it keeps the stills vid2trail wrote itself, which
    :class:`ImageFolderSource` then leaves out.

    Examples
    --------
    >>> list_images("no/such/*.jpg")
    []
    """
    if os.path.isdir(path):
        # Hidden files are skipped, as a glob skips them: macOS's ``._IMG_0001.JPG`` forks
        # beside copied photos are not images.
        names = [os.path.join(path, name) for name in os.listdir(path) if not name.startswith(".")]
    elif os.path.isfile(path):
        names = [path]
    else:
        names = expand_glob(path)
    images = [
        name
        for name in names
        if os.path.isfile(name) and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS
    ]
    return sorted(images, key=natural_key)


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


def read_image(path: str, reduce: int = 1, gray: bool = False) -> np.ndarray:
    """Decode one image as ``H x W x C`` RGB (C = 3) or grayscale (C = 1), uint8 or uint16.

    Reads the bytes with numpy first so that non-ASCII paths work on every platform. ``reduce``
    (2, 4 or 8) decodes a smaller 8-bit image: in the DCT domain for JPEG (fast), by area
    averaging for other formats; ``gray`` says whether the folder is grayscale.

    Examples
    --------
    >>> read_image("frames/f1.png").dtype  # doctest: +SKIP
    dtype('uint8')
    """
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


class ImageFolderSource(SourceBase):
    """Frames from a folder, a glob, or one image.

    Parameters
    ----------
    path : str
        A folder (its image files), a glob such as ``"night/*.jpg"``, or one image file.
    max_side : int, optional
        Preview: decode at 1/2, 1/4 or 1/8 size (8-bit) so the longer side is at most this many
        pixels where possible.
    threads : int
        Images decoded at once, in order, by a thread pool (OpenCV releases the GIL).

    Examples
    --------
    >>> src = ImageFolderSource("night/")  # doctest: +SKIP
    >>> src.info.frame_count, src.info.frame_count_exact  # doctest: +SKIP
    (22, True)
    """

    settings: ClassVar[frozenset[str]] = frozenset({"threads"})

    def __init__(self, path: str, max_side: int | None = None, threads: int = 1) -> None:
        self.path = path
        self.threads = threads
        self.reduce = 1
        files = list_images(path)
        # An earlier result saved into the folder must not become a frame of the next run; an
        # image named alone is what the user asked for, whoever wrote it.
        files, own = (files, []) if os.path.isfile(path) else leave_out_own(files)
        self._files = tuple(files)
        if not self._files:
            where = "folder" if os.path.isdir(path) else "pattern"
            if own:
                raise SourceError(f"no images in {where} {path} but {describe_own(own)}")
            raise SourceError(
                f"no images in {where} {path}: vid2trail reads "
                f"{', '.join(sorted(IMAGE_EXTENSIONS))} files"
            )
        first = read_image(self._files[0])
        self.reduce = reduction_factor(first.shape[1], first.shape[0], max_side)
        if self.reduce > 1:
            first = read_image(self._files[0], self.reduce, gray=first.shape[2] == 1)
        height, width, channels = first.shape
        self.info = SourceInfo(
            path=path,
            width=width,
            height=height,
            channels=channels,
            dtype=first.dtype,
            fps=None,
            duration_s=None,
            frame_count=len(self._files),
            frame_count_exact=True,
            codec="images",
            backend="images",
            pix_fmt="gray" if channels == 1 else "rgb",
            bits_per_sample=8 * first.dtype.itemsize,
            notes=(f"skipped {describe_own(own)}",) if own else (),
        )

    @property
    def files(self) -> tuple[str, ...]:
        """The image files, in natural order: frame ``n`` is ``files[n]``."""
        return self._files

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

    def read(self, name: str) -> np.ndarray:
        """Decode one file of the folder (reduced for a preview) and check it matches."""
        image = read_image(name, self.reduce, gray=self.info.channels == 1)
        return self.check(image, name)

    def frames(self, start: int = 0, end: int | None = None, step: int = 1) -> Iterator[Frame]:
        """Yield the images ``start:end:step`` in natural order.

        With ``threads`` above 1, the next few images decode in a thread pool while the caller
        stacks the current one; at most ``2 * threads`` decoded images wait, so memory stays flat.
        """
        stop = len(self.files) if end is None else min(end, len(self.files))
        indices = range(start, stop, step)
        if self.threads <= 1 or len(indices) < 2:
            for index in indices:
                yield Frame(index, None, self.read(self.files[index]))
            return
        from concurrent.futures import Future, ThreadPoolExecutor

        ahead = 2 * self.threads
        pending: deque[tuple[int, Future[np.ndarray]]] = deque()
        with ThreadPoolExecutor(self.threads, thread_name_prefix="vid2trail-decode") as pool:
            try:
                queued = iter(indices)
                for index in queued:
                    pending.append((index, pool.submit(self.read, self.files[index])))
                    if len(pending) >= ahead:
                        break
                while pending:
                    index, future = pending.popleft()
                    image = future.result()
                    for more in queued:
                        pending.append((more, pool.submit(self.read, self.files[more])))
                        break
                    yield Frame(index, None, image)
            finally:
                for _, future in pending:
                    future.cancel()


def source_stamp(path: str) -> dict[str, Any]:
    """What tells an input's content has changed, cheaply: its bytes and modification time (UTC);
    for a folder or glob of images their total, the newest time and the count. Empty when the path
    cannot be read.

    Examples
    --------
    >>> sorted(source_stamp("nights/2024-05-01"))  # doctest: +SKIP
    ['source_bytes', 'source_files', 'source_mtime']
    """
    try:
        if os.path.isfile(path) and os.path.splitext(path)[1].lower() not in IMAGE_EXTENSIONS:
            stat = os.stat(path)
            return {"source_bytes": stat.st_size, "source_mtime": _utc(stat.st_mtime)}
        stats = [os.stat(name) for name in list_images(path)]
    except OSError:
        return {}
    if not stats:
        return {}
    newest = _utc(max(s.st_mtime for s in stats))
    return {"source_bytes": sum(s.st_size for s in stats), "source_mtime": newest,
            "source_files": len(stats)}  # fmt: skip


def _utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="microseconds")
