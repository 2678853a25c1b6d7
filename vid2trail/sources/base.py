"""What every frame source is: the :class:`Source` protocol and the plumbing the concrete sources
share, kept apart from :func:`~vid2trail.sources.open_source` so that the sources can import it.

Beside ``info`` and ``frames()``, a source declares what it can do, each with a default that
fits a source which cannot: which files it reads, whether and how exactly it seeks, its keyframes,
its frames' real times and exact length, a smaller copy for a quick look. Settings (keyframes
only, threads) are never changed on a source in use: :meth:`SourceBase.configured` returns a
configured copy.
"""

from __future__ import annotations

import copy
import glob
import os
from collections.abc import Iterator
from datetime import datetime, tzinfo
from types import TracebackType
from typing import ClassVar, Protocol, runtime_checkable

from ..errors import UsageError
from ..frames import Frame, SourceInfo

#: ``hdr`` choices: tone-map HDR to SDR BT.709, or keep its light as float linear light.
HDR_MODES = ("tonemap", "keep")
#: ``hwaccel`` choices: software, the GPU where there is one, the GPU or an error.
HWACCEL_MODES = ("none", "auto", "cuda")
#: Camera RAW files, demosaiced by LibRaw (``pip install 'vid2trail[raw]'``).
RAW_EXTENSIONS = frozenset({".cr2", ".cr3", ".nef", ".arw", ".raf", ".orf", ".rw2", ".pef", ".dng"})
#: File extensions read as still images rather than video.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff"}) | RAW_EXTENSIONS


@runtime_checkable
class Source(Protocol):
    """The protocol every source implements; :class:`SourceBase` gives each member a default."""

    info: SourceInfo
    keyframes_only: bool
    keyframe_step: int
    threads: int
    decoder_threads: int | None
    planes: bool

    def frames(self, start: int = 0, end: int | None = None, step: int = 1) -> Iterator[Frame]:
        """Yield frames ``start, start + step, ...`` below ``end`` (None: to the last frame)."""

    @property
    def files(self) -> tuple[str, ...]:
        """The files the frames come from."""

    @property
    def seekable(self) -> bool:
        """Whether a late start is reached by seeking rather than by decoding from frame 0."""

    @property
    def exact_seek(self) -> bool:
        """Whether a range may be cut into segments decoded apart (by other processes)."""

    def keyframes_in(self, start: int, end: int | None) -> list[int] | None:
        """The keyframes ``start <= k < end`` (with ``keyframes_only``: every ``keyframe_step``-th,
        those it decodes); None without a keyframe index."""

    def frame_times(self) -> list[float] | None:
        """Every frame's presentation time in seconds from the first; None without a clock."""

    def known_times(self) -> list[float] | None:
        """:meth:`frame_times` if already read, else None; never reads the input."""

    def clock_times(self) -> list[datetime] | None:
        """Every frame's capture time on the camera's clock; None where the source has none."""

    def no_clock(self) -> str:
        """Why :meth:`clock_times` is None, as a clause that names the file."""

    def clock_zone(self) -> tzinfo | None:
        """The time zone of :meth:`clock_times`, where it is known."""

    def exact_info(self) -> SourceInfo:
        """``info`` with the exact frame count and length (may read the whole input once)."""

    def known_info(self) -> SourceInfo:
        """The most exact ``info`` known without reading more of the input."""

    def count_frames(self) -> tuple[int, float] | None:
        """The exact frame count and length in seconds; None where they cannot be counted."""

    def downscaled(self, width: int) -> Source | None:
        """A copy that delivers frames at most ``width`` pixels wide; None if it cannot."""

    def configured(
        self,
        *,
        keyframes_only: bool | None = None,
        decoder_threads: int | None = None,
        threads: int | None = None,
        keyframe_step: int | None = None,
        planes: bool | None = None,
    ) -> Source:
        """A copy with these settings (None: unchanged); the source itself is left as it is."""

    def release(self) -> None:
        """Let go of what is kept open between decodes; the source stays usable."""

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
    """The members of :class:`Source`, with the defaults of a source that cannot do more than
    deliver frames: it reads one file, has no keyframes and no clock, and ``info`` is already all
    it knows. A concrete source sets ``info`` once, when it opens, and overrides what it can do.

    Settings are read from the attributes and changed only through :meth:`configured`, which
    copies: a source others hold never changes under them.
    """

    info: SourceInfo

    #: Decode only keyframes (a quick preview); only sources with a keyframe index can.
    keyframes_only: bool = False
    #: With ``keyframes_only``: only every this-many-th keyframe of the video, counted from its
    #: first (a preview of a long video).
    keyframe_step: int = 1
    #: Images decoded at once by a thread pool (folders).
    threads: int = 1
    #: Threads of the decoder itself; None lets it choose (video).
    decoder_threads: int | None = None
    #: Deliver :class:`~vid2trail.frames.Planes` where converting to them is cheaper (video),
    #: for consumers that take them; other sources deliver ``H x W x C`` arrays regardless.
    planes: bool = False
    #: The settings :meth:`configured` applies to this kind of source.
    settings: ClassVar[frozenset[str]] = frozenset()

    def frames(self, start: int = 0, end: int | None = None, step: int = 1) -> Iterator[Frame]:
        raise NotImplementedError

    @property
    def files(self) -> tuple[str, ...]:
        """The files the frames come from (for a folder, each image): the outputs must not
        overwrite them. Default: ``info.path``."""
        return (self.info.path,)

    @property
    def seekable(self) -> bool:
        """True when ``frames(start, ...)`` reaches a late ``start`` without decoding the frames
        before it. Default True; a video without an index (MPEG-TS) is False."""
        return True

    @property
    def exact_seek(self) -> bool:
        """True when ``frames(start, ...)`` lands exactly on frame ``start``, so that a range can
        be cut into segments that other processes decode (video). Default False: a folder is
        split across threads instead."""
        return False

    def keyframes_in(self, start: int, end: int | None) -> list[int] | None:
        """The frame numbers of the keyframes ``start <= k < end`` (``end`` None: to the last
        frame; with ``keyframes_only``, the every ``keyframe_step``-th it decodes). Default None:
        the source has no keyframe index (every frame stands alone)."""
        return None

    def frame_times(self) -> list[float] | None:
        """The presentation time of every frame in seconds from the first frame, read once and
        kept. Default None: the source has no clock, and times assume ``info.fps``."""
        return None

    def known_times(self) -> list[float] | None:
        """:meth:`frame_times` when they have been read already, else None; never reads the
        input (for a message or a frame's time that must not cost a pass). Default None."""
        return None

    def clock_times(self) -> list[datetime] | None:
        """When every frame was captured, as naive ``datetime`` values on the camera's clock
        (:mod:`vid2trail.sources.capture`), read once and kept: for photos their EXIF times, for
        a video its creation time plus each frame's time. Default None: no clock is known."""
        return None

    def no_clock(self) -> str:
        """Why :meth:`clock_times` is None, as a clause naming the file: for a message that asks
        for a clock time."""
        return f"{self.info.path} carries no creation time"

    def clock_zone(self) -> tzinfo | None:
        """The zone :meth:`clock_times` are in, where it is known (a photo's
        ``OffsetTimeOriginal``); a clock time given with a zone is moved into it. Default None."""
        return None

    def exact_info(self) -> SourceInfo:
        """``info`` with the exact frame count, length and frame-rate variability, where reading
        the input can give them (a video: one pass over its packets, decoding nothing, done once).
        ``info`` itself never changes. Default: ``info``, already all the source knows."""
        return self.info

    def known_info(self) -> SourceInfo:
        """The most exact ``info`` known without reading more of the input: :meth:`exact_info`
        once the frame times have been read, else ``info``. For a decision that must not cost a
        pass over the input."""
        return self.exact_info() if self.known_times() is not None else self.info

    def count_frames(self) -> tuple[int, float] | None:
        """The exact frame count and the length in seconds (0.0 when unknown), reading the input
        if need be. Default: from :meth:`exact_info` when its count is exact, else None."""
        info = self.exact_info()
        if info.frame_count is None or not info.frame_count_exact:
            return None
        return info.frame_count, info.duration_s or 0.0

    def downscaled(self, width: int) -> SourceBase | None:
        """A copy whose frames are at most ``width`` pixels wide, shrunk as they decode (cheaper
        than shrinking them after). Default None: shrink the frames yourself."""
        return None

    def configured(
        self,
        *,
        keyframes_only: bool | None = None,
        decoder_threads: int | None = None,
        threads: int | None = None,
        keyframe_step: int | None = None,
        planes: bool | None = None,
    ) -> SourceBase:
        """A shallow copy with these settings (None leaves one as it is); ``self`` is untouched.

        Each kind of source applies the settings it has (:attr:`settings`). The others are
        performance hints and are ignored: ``threads`` for a video, ``decoder_threads`` and
        ``planes`` for a folder. ``keyframes_only=True`` changes which frames come out, so a
        source without a keyframe index refuses it; ``keyframe_step`` then thins the keyframes
        it delivers.

        Raises
        ------
        UsageError
            For ``keyframes_only=True`` where the source has no keyframes to decode alone, and
            for ``threads`` or ``keyframe_step`` below 1 or ``decoder_threads`` below 0 (0: the
            decoder chooses).

        Examples
        --------
        >>> class Clip(SourceBase):
        ...     settings = frozenset({"threads"})
        >>> clip = Clip()
        >>> clip.configured(threads=4, decoder_threads=2).threads, clip.threads
        (4, 1)
        >>> clip.configured(keyframes_only=True)
        Traceback (most recent call last):
        ...
        vid2trail.errors.UsageError: keyframes_only=True: Clip has no keyframes to decode alone
        """
        if keyframes_only and "keyframes_only" not in self.settings:
            raise UsageError(
                f"keyframes_only=True: {type(self).__name__} has no keyframes to decode alone"
            )
        for name, value in (("threads", threads), ("keyframe_step", keyframe_step)):
            if value is not None and not (isinstance(value, int) and value >= 1):
                raise UsageError(f"{name}={value!r}: give 1 or more")
        if decoder_threads is not None and not (
            isinstance(decoder_threads, int) and decoder_threads >= 0
        ):
            raise UsageError(f"decoder_threads={decoder_threads!r}: give 0 (automatic) or more")
        twin = copy.copy(self)
        asked = {"keyframes_only": keyframes_only, "decoder_threads": decoder_threads,
                 "threads": threads, "keyframe_step": keyframe_step, "planes": planes}  # fmt: skip
        for name, value in asked.items():
            if value is not None and name in self.settings:
                setattr(twin, name, value)
        return twin

    def release(self) -> None:
        """Let go of what the source keeps open between decodes (a video: the decoder left open
        at its first frame, for the first decode to go on with); it stays usable. Called before
        work that will not decode here: other processes, a cluster, another input. Nothing by
        default: each :meth:`frames` call cleans up after itself."""

    def close(self) -> None:
        """:meth:`release`; safe to call twice."""
        self.release()

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
    found = glob.glob(pattern, recursive=True)
    head, tail = os.path.split(pattern)
    if not found and head and os.path.isdir(head):
        found = glob.glob(os.path.join(glob.escape(head), tail), recursive=True)
    return found


__all__ = ["IMAGE_EXTENSIONS", "RAW_EXTENSIONS", "Source", "SourceBase", "expand_glob"]
