"""What every frame source is: the :class:`Source` protocol and the plumbing the concrete sources
share, kept apart from :func:`~vid2trail.sources.open_source` so that the sources can import it."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from types import TracebackType
from typing import Protocol, runtime_checkable

from ..frames import Frame, SourceInfo

#: File extensions read as still images rather than video.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff"})


@runtime_checkable
class Source(Protocol):
    """The small protocol every source implements."""

    info: SourceInfo

    def frames(self, start: int = 0, end: int | None = None, step: int = 1) -> Iterator[Frame]:
        """Yield frames ``start, start + step, ...`` below ``end`` (None: to the last frame)."""

    def close(self) -> None:
        """Release the decoder; safe to call twice."""

    def __iter__(self) -> Iterator[Frame]:
        """All frames."""

    def __enter__(self) -> Source:
        """Context-manager entry; returns the source."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the source."""


class SourceBase:
    """Context-manager and iteration plumbing shared by the concrete sources."""

    info: SourceInfo

    def frames(self, start: int = 0, end: int | None = None, step: int = 1) -> Iterator[Frame]:
        raise NotImplementedError

    #: True when ``frames(start, ...)`` lands exactly on frame ``start`` (parallel segments).
    exact_seek = False

    def close(self) -> None:
        """Nothing to release by default: each :meth:`frames` call cleans up after itself."""

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    def __enter__(self) -> SourceBase:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def expand_glob(pattern: str) -> list[str]:
    """The paths a glob matches; a folder part that exists as typed is taken literally.

    So ``'night [1]/*.jpg'`` lists the JPEGs of the folder ``night [1]``, whose brackets a
    plain glob would read as a character class.

    Examples
    --------
    >>> expand_glob("no/such/*.jpg")
    []
    """
    found = glob.glob(pattern)
    head, tail = os.path.split(pattern)
    if not found and head and os.path.isdir(head):
        found = glob.glob(os.path.join(glob.escape(head), tail))
    return found


__all__ = ["IMAGE_EXTENSIONS", "Source", "SourceBase", "expand_glob"]
