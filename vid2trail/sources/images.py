"""A folder or glob of still images: JPEG, PNG, 8/16-bit TIFF, grayscale or colour, and RAW.

Files are sorted naturally (``f2`` before ``f10``, as a person numbers frames), or by their
capture times (``sort="time"``; :mod:`~vid2trail.sources.capture`). JPEG, PNG and TIFF decode
with OpenCV, which applies a JPEG's EXIF orientation and keeps 16-bit depth; RAW files through
LibRaw (:mod:`~vid2trail.sources.raw`). Files that are not images, and hidden files, are ignored,
and so are the stills vid2trail wrote itself (an earlier result saved into the folder; see
:mod:`~vid2trail.sources.own`), unless one is named alone. A camera shooting RAW+JPEG writes two
files of one exposure: the JPEG twins are left out, with a note. Every image must share the first
one's size, channels and bit depth.
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Iterator
from datetime import datetime, timezone, tzinfo
from typing import Any, ClassVar

import numpy as np

from ..errors import SourceError, UsageError, option
from ..frames import Frame, SourceInfo
from .base import IMAGE_EXTENSIONS, RAW_EXTENSIONS, SourceBase, expand_glob
from .capture import capture_times
from .own import describe_own, leave_out_own
from .stills import is_raw, read_image, reduction_factor, shrink

#: Decoded images waiting in the read-ahead beyond one a thread stay under this many bytes.
_AHEAD_BYTES = 256 * 2**20
#: How a folder's images are ordered: by name (natural order), or by capture time.
SORT_ORDERS = ("name", "time")

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


class ImageFolderSource(SourceBase):
    """Frames from a folder, a glob, or one image.

    Parameters
    ----------
    path : str
        A folder (its image files), a glob such as ``"night/*.jpg"``, or one image file.
    max_side : int, optional
        Preview: decode at 1/2, 1/4 or 1/8 size (8-bit) so the longer side is at most this many
        pixels where possible; RAW files demosaic at half size, then shrink.
    threads : int
        Images decoded at once, in order, by a thread pool (OpenCV and LibRaw release the GIL).
    sort : {"name", "time"}
        Natural name order, or capture-time order (every image must carry its EXIF time).
    raw_half : bool
        Demosaic RAW files at half size: four times fewer pixels, several times faster.

    Examples
    --------
    >>> src = ImageFolderSource("night/")  # doctest: +SKIP
    >>> src.info.frame_count, src.info.frame_count_exact  # doctest: +SKIP
    (22, True)
    """

    settings: ClassVar[frozenset[str]] = frozenset({"threads"})

    def __init__(
        self,
        path: str,
        max_side: int | None = None,
        threads: int = 1,
        *,
        sort: str = "name",
        raw_half: bool = False,
    ) -> None:
        if sort not in SORT_ORDERS:
            raise UsageError(f"{option('sort')} {sort!r}: choose one of {', '.join(SORT_ORDERS)}")
        self.path = path
        self.threads = threads
        self.reduce = 1
        files = list_images(path)
        # An earlier result saved into the folder must not become a frame of the next run; an
        # image named alone is what the user asked for, whoever wrote it.
        files, own = (files, []) if os.path.isfile(path) else leave_out_own(files)
        files, twins = leave_out_twins(files)
        if not files:
            where = "folder" if os.path.isdir(path) else "pattern"
            if own:
                raise SourceError(f"no images in {where} {path} but {describe_own(own)}")
            raise SourceError(
                f"no images in {where} {path}: vid2trail reads "
                f"{', '.join(sorted(IMAGE_EXTENSIONS - RAW_EXTENSIONS))} and RAW "
                f"({', '.join(sorted(RAW_EXTENSIONS))}) files"
            )
        self._times: list[datetime | None] | None = None
        self._zone: tzinfo | None = None
        notes = [f"skipped {describe_own(own)}"] if own else []
        if twins:
            notes.append(
                f"left out {len(twins)} JPEG{'s' if len(twins) > 1 else ''} beside RAW files "
                f"of the same name ({twins[0]}{', ...' if len(twins) > 1 else ''}): stacking "
                "the RAW files; give a glob such as '*.JPG' for the JPEGs"
            )
        if sort == "time":
            files, note = self._by_time(files)
            notes += [note] if note else []
        self._files = tuple(files)
        self.raw_half = raw_half or (max_side is not None and any(map(is_raw, files)))
        head = self._files[0]
        first = read_image(head, raw_half=self.raw_half)
        self.reduce = reduction_factor(first.shape[1], first.shape[0], max_side)
        if self.reduce > 1:
            first = (shrink(first, self.reduce) if is_raw(head) else
                     read_image(head, self.reduce, gray=first.shape[2] == 1))  # fmt: skip
        # Decoded to learn the folder's size and depth: kept for the first frame (a 24 MP RAW
        # takes seconds to demosaic).
        self._first: tuple[str, np.ndarray] | None = (head, first)
        height, width, channels = first.shape
        raws = sum(map(is_raw, files))
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
            codec="raw" if raws else "images",
            backend="images",
            pix_fmt="gray" if channels == 1 else "rgb",
            bits_per_sample=8 * first.dtype.itemsize,
            notes=tuple(notes),
        )

    def _by_time(self, files: list[str]) -> tuple[list[str], str]:
        """The files in capture-time order (ties by name), and a note when that is not their
        name order."""
        times, self._zone = capture_times(files)
        for name, moment in zip(files, times, strict=True):
            if moment is None:
                raise SourceError(
                    f"{name} has no capture time (EXIF DateTimeOriginal, or a date and time in its "
                    f"name): {option('sort')} time "
                    f"needs one in every image; sort by name (the default), or move it out"
                )
        order = sorted(range(len(files)), key=lambda i: (times[i], i))
        self._times = [times[i] for i in order]
        moved = [i for rank, i in enumerate(order) if rank != i]
        if not moved:
            return files, ""
        first = next(rank for rank, i in enumerate(order) if rank != i)
        return [files[i] for i in order], (
            f"sorted by capture time, which orders {len(moved)} files differently from their "
            f"names (first: {files[order[first]]} before {files[first]})"
        )

    def clock_times(self) -> list[datetime] | None:
        """The images' EXIF capture times (read once), or None when any image has none."""
        if self._times is None:
            self._times, self._zone = capture_times(self._files)
        if any(t is None for t in self._times):
            return None
        return self._times  # type: ignore[return-value]

    def clock_zone(self) -> tzinfo | None:
        """The camera's zone, from the first EXIF ``OffsetTimeOriginal`` (None without one)."""
        self.clock_times()
        return self._zone

    def no_clock(self) -> str:
        self.clock_times()  # reads the times once
        times = self._times or []
        missing = [name for name, t in zip(self._files, times, strict=True) if t is None]
        if not missing:
            return ""
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        return (f"{missing[0]}{more} has no capture time (EXIF DateTimeOriginal, or a date and "
                "time in its name)")  # fmt: skip

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
        kept, self._first = self._first, None
        if kept is not None and kept[0] == name:
            return kept[1]
        gray = self.info.channels == 1
        return self.check(read_image(name, self.reduce, gray=gray, raw_half=self.raw_half), name)

    def __getstate__(self) -> dict[str, object]:
        # Sent to another process without the first image (it decodes again there).
        return {**self.__dict__, "_first": None}

    def frames(self, start: int = 0, end: int | None = None, step: int = 1) -> Iterator[Frame]:
        """Yield the images ``start:end:step`` in natural order.

        With ``threads`` above 1, the next few images decode in a thread pool while the caller
        stacks the current one; at most ``2 * threads`` decoded images wait (``threads`` where
        those would pass :data:`_AHEAD_BYTES`), so memory stays flat.
        """
        stop = len(self.files) if end is None else min(end, len(self.files))
        indices = range(start, stop, step)
        if self.threads <= 1 or len(indices) < 2:
            for index in indices:
                yield Frame(index, None, self.read(self.files[index]))
            return
        from concurrent.futures import Future, ThreadPoolExecutor

        # Two images a thread wait, or fewer where each is large (a 24 MP RAW is 144 MB).
        frame_bytes = (
            self.info.height * self.info.width * self.info.channels * self.info.dtype.itemsize
        )
        ahead = max(self.threads, min(2 * self.threads, _AHEAD_BYTES // max(1, frame_bytes)))
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


def leave_out_twins(files: list[str]) -> tuple[list[str], list[str]]:
    """The files without the JPEGs that have a RAW twin (``IMG_1.CR2`` beside ``IMG_1.JPG``, a
    camera's RAW+JPEG mode), and those JPEGs.

    Examples
    --------
    >>> leave_out_twins(["a/IMG_1.CR2", "a/IMG_1.JPG", "a/IMG_2.JPG"])
    (['a/IMG_1.CR2', 'a/IMG_2.JPG'], ['a/IMG_1.JPG'])
    """
    stems = {os.path.splitext(name)[0].casefold() for name in files if is_raw(name)}
    if not stems:
        return files, []
    twins = [name for name in files
             if not is_raw(name) and os.path.splitext(name)[0].casefold() in stems]  # fmt: skip
    left_out = set(twins)
    return [name for name in files if name not in left_out], twins


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
