"""Video decoded in-process by FFmpeg's libraries through PyAV (the default video source).

FFmpeg decodes with its own frame threads, in a thread of its own beside the caller's reducers
(:mod:`.readahead`). Each kept frame goes to ``rgb24`` (8-bit sources) or ``rgb48le`` (10/12/16-bit)
through the filter chain of :mod:`.convert` (the stream's own matrix and range, the display
rotation), the chain the ``ffmpeg`` command would build, so the pixels are bit-identical to it.
Frames reach numpy as zero-copy views of the filter graph's pooled frames. What the file holds
comes from PyAV's objects (:mod:`.media`), frame times and keyframes from one demux pass that
decodes nothing (:mod:`.listing`).

Selection: a frame number is a frame's rank in presentation order. A seek lands on the keyframe
before the first wanted frame and decodes forward; frames before it are dropped unconverted, and a
seek that lands past its target (open-GOP HEVC, an index that counts decode times) is retried one
keyframe earlier. Containers without an index (MPEG-TS, raw streams) are decoded from the start.
"""

from __future__ import annotations

import bisect
import contextlib
import copy
import os
import warnings
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from ..errors import DecodeError, DecodeWarning, UsageError, option
from ..frames import Frame, Planes, SourceInfo
from .avio import Opened, check_regular_file, decode, first_frame, import_av, open_file, tag_seconds
from .base import HDR_MODES, HWACCEL_MODES, SourceBase
from .convert import plan_conversion, scaled_size
from .damage import lost_frames_warning
from .listing import ListedFrames, Listing, read_listing
from .media import MediaInfo, StreamInfo, bits_per_sample, read_media, with_frame_facts
from .readahead import (
    BIG_FRAME,
    STOPPED_AT_END,
    decoder_threads,
    frame_threads,
    pool_threads,
    queue_size,
    read_ahead,
)

#: libavformat's names of containers without an index, where a seek may land past its target.
UNINDEXED_CONTAINERS = frozenset({"mpegts", "mpeg", "h264", "hevc", "mpegvideo", "m4v", "vc1"})
#: How many keyframes earlier a seek that overshot its target retries, before decoding from 0.
_SEEK_RETRIES = 3
#: The decoder that opens a file is left open for the first decode (:class:`Opened`) below 4K with
#: at most this many frame threads: idle, it holds a frame a thread (4K, 16 threads: 336 MB), and
#: on more cores the stack is split between processes, which would not take it.
PARK_THREADS = 4


class PyAVSource(ListedFrames, SourceBase):
    """A video decoded in-process by PyAV (FFmpeg's libraries).

    Parameters
    ----------
    path : str
        A local video file.
    stream : int, optional
        Which video stream, counting video streams from 0; default: the file's default one.
    hdr : {"tonemap", "keep"}
        HDR video: tone-map to SDR, or keep float linear light.
    hwaccel : {"none", "auto", "cuda"}
        Decode on an NVIDIA GPU (NVDEC). ``cuda`` fails when there is none; ``auto`` falls back
        to software decoding with a note.
    notes : tuple of str
        Sentences to add to ``info.notes`` (what :func:`~vid2trail.sources.open_source` did).

    Examples
    --------
    >>> src = PyAVSource("sample_clips/startrails.mp4")  # doctest: +SKIP
    >>> next(src.frames(0, 1)).pixels.shape  # doctest: +SKIP
    (540, 960, 3)
    """

    settings: ClassVar[frozenset[str]] = frozenset(
        {"keyframes_only", "keyframe_step", "decoder_threads", "planes"}
    )
    #: Frames converted at once beside the decoder: one per two cores, at most four (FFmpeg's
    #: frame threads want the rest).
    convert_threads = max(1, min(4, (os.cpu_count() or 2) // 2))
    #: The frames the stream's own header lists (an MP4 sample table), and the stream's own
    #: length; None where the header does not say. A file that holds less is truncated.
    header_frames: int | None = None
    #: Whether the decoder knew the stream's reordering (its B-frames) from the first frame.
    _b_frames = False
    header_duration_s: float | None = None

    def __init__(
        self,
        path: str,
        stream: int | None = None,
        hdr: str = "tonemap",
        *,
        hwaccel: str = "none",
        notes: tuple[str, ...] = (),
    ) -> None:
        self.path = path
        if hdr not in HDR_MODES:
            raise UsageError(f"{option('hdr')} {hdr!r}: choose one of {', '.join(HDR_MODES)}")
        if hwaccel not in HWACCEL_MODES:
            raise UsageError(
                f"{option('hwaccel')} {hwaccel!r}: choose one of {', '.join(HWACCEL_MODES)}"
            )
        check_regular_file(path)
        self._listed: Listing | None = None
        self._times: list[float] | None = None
        said: list[str] = []
        parked, self.hwaccel = open_file(path, hwaccel, said)
        try:
            container = parked.container
            self.media = read_media(container)
            self.stream = self._choose_stream(stream)
            number = self.media.video_streams().index(self.stream)
            parked.threads = self._threads()
            parks = parked.threads <= PARK_THREADS and self._pixels() < BIG_FRAME
            parked.frames = decode(container, self._configure(container, not parks), parked.errors)
            parked.first = first = first_frame(parked.frames, path, self.stream.index)
            self._b_frames = container.streams[self.stream.index].codec_context.has_b_frames
            duration = self._stream_duration(container)
        except BaseException:
            parked.close()
            raise
        #: Shared by copies: the first decode from frame 0 takes it (see :meth:`_claim`).
        self._park = [parked] if parks else []
        if not parks:
            parked.close()
        self.first_pts = first.pts
        self.stream = with_frame_facts(self.stream, first)
        self.time_base = first.time_base
        self.conversion, note = plan_conversion(self.stream, hdr)
        said += [note] if note else []
        self.info = self._describe(number, duration, (*said, *notes))

    def _describe(self, number: int, duration: float | None, notes: tuple[str, ...]) -> SourceInfo:
        """``info`` as the header and the first frame tell it (the count is an estimate)."""
        dtype = np.dtype(np.uint16 if self.conversion.out_format == "rgb48le" else np.uint8)
        dtype = self.conversion.hdr.dtype if self.conversion.hdr is not None else dtype
        fps = self.stream.fps or self.stream.tbr
        count = int(round(duration * fps)) if fps and duration else None
        tbr = self.stream.tbr
        width, height = self.stream.display_size
        return SourceInfo(
            path=self.path, width=width, height=height, channels=3, dtype=dtype, fps=fps,
            duration_s=duration, frame_count=count, frame_count_exact=False,
            codec=self.stream.codec, backend="pyav", rotation_deg=self.stream.rotation_deg,
            pix_fmt=self.stream.pix_fmt, bits_per_sample=bits_per_sample(self.stream.pix_fmt),
            variable_fps=True if fps and tbr and abs(fps - tbr) > 0.01 * tbr else None,
            stream=number, notes=notes,
        )  # fmt: skip

    # --- opening -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _open(self) -> Iterator[Any]:
        """The file opened by FFmpeg, closed on exit."""
        parked, self.hwaccel = open_file(self.path, self.hwaccel)
        try:
            yield parked.container
        finally:
            parked.close()

    def _choose_stream(self, number: int | None) -> StreamInfo:
        try:
            return self.media.video_stream(number)
        except DecodeError as exc:
            if not self.media.video_streams():
                raise DecodeError(
                    f"{self.path} has no video stream (it holds "
                    f"{self.media.describe_streams()}): give a video file"
                ) from None
            raise UsageError(f"{option('stream')} {number}: {self.path}: {exc.message()}") from None

    def _configure(self, container: Any, single: bool = False) -> Any:
        stream = container.streams[self.stream.index]
        for other in container.streams:
            if other.index != stream.index:
                other.discard = import_av().stream.Discard.all
        ctx = stream.codec_context
        ctx.thread_type = "AUTO"
        ctx.thread_count = 1 if single else decoder_threads(self._pixels(), self.decoder_threads)
        if self.keyframes_only:
            ctx.skip_frame = "NONKEY"
        return stream

    def _stream_duration(self, container: Any) -> float | None:
        """The video stream's own length, else the container's (which may include a longer
        audio track); also notes what the header promises (:attr:`header_frames`,
        :attr:`header_duration_s`), against which a truncated file shows."""
        s = container.streams[self.stream.index]
        own = None
        if s.duration and s.time_base:
            own = float(s.duration * s.time_base)
        else:
            own = tag_seconds(s.metadata.get("DURATION") or s.metadata.get("duration"))
        self.header_frames = s.frames or None
        self.header_duration_s = own
        return own if own else self.media.duration_s

    # --- what the demux listing knows --------------------------------------------------

    def _listing(self) -> Listing:
        """The frame list (:mod:`.listing`): one demux pass, no decoding; read once and kept."""
        if self._listed is None:
            with self._open() as container:
                self._listed = read_listing(container, self.stream.index, self.first_pts)
        return self._listed

    @property
    def seekable(self) -> bool:
        """False for containers without an index (MPEG-TS, MPEG-PS, raw H.264/HEVC streams),
        where a seek can land past its target: those decode from the start."""
        return not set(self.media.container.split(",")) & UNINDEXED_CONTAINERS

    @property
    def exact_seek(self) -> bool:
        """True when ``frames(start, ...)`` seeks, so a range can be split across processes."""
        return self.seekable

    @property
    def filter_chain(self) -> str:
        """What the conversion does, in words (``vid2trail info``)."""
        return self.conversion.describe()

    # --- previews ------------------------------------------------------------------------

    def downscaled_to_fit(self, side: int) -> PyAVSource:
        """:meth:`downscaled` so that the longer side is at most ``side`` pixels (even sizes)."""
        size = scaled_size(self.info.width, self.info.height, side)
        return self if size is None else self._resized(size)

    def downscaled(self, width: int) -> PyAVSource:
        """This video decoded at most ``width`` pixels wide: swscale shrinks (area average) as it
        converts, so a quick look costs the decode and little else. Never scales up."""
        w = min(int(width), self.info.width)
        return self._resized((w, max(1, round(self.info.height * w / self.info.width))))

    def _resized(self, size: tuple[int, int]) -> PyAVSource:
        """A new source delivering ``size`` frames (its ``info`` is set before anyone holds it);
        it shares what this one has read of the file so far."""
        small = copy.copy(self)
        small.info = replace(self.info, width=size[0], height=size[1])
        small.conversion = self.conversion.with_size(size)
        return small

    # --- decoding ------------------------------------------------------------------------

    def frames(self, start: int = 0, end: int | None = None, step: int = 1) -> Iterator[Frame]:
        """Yield frames ``start, start + step, ...`` below ``end``.

        A truncated or partly corrupt file yields every frame that decodes, then issues a
        :class:`~vid2trail.errors.DecodeWarning` saying how many frames were lost and where.
        """
        if end is not None and end <= start:
            return
        if start > 0 and self.seekable and start >= len(self._listing().pts):
            return  # past the end: the caller says so, in its words
        parked = self._claim(start, step)
        errors = parked.errors if parked is not None else []
        last, delivered = yield from read_ahead(
            self._numbered(start, errors, parked, (end, step)),
            self.conversion.planar() if self.planes else self.conversion,
            self._frame,
            (start, end, step),
            ahead=queue_size(self.info.frame_bytes),
            threads=pool_threads(self._pixels(), self.convert_threads),
        )
        if self.keyframes_only:
            return  # a preview skips frames by design: nothing to account for
        estimate = self.known_info().frame_count
        if last != STOPPED_AT_END and estimate is not None and last + 2 < estimate:
            # Decoding ended on its own short of the count known so far: the frame list says
            # whether the file holds less than its header promises.
            errors += self._listing().truncation(
                self.header_frames, self.header_duration_s, self.info.fps, self.time_base
            )
        if delivered == 0 and errors:
            raise DecodeError(f"FFmpeg could not decode {self.path} ({errors[-1]})")
        lost = lost_frames_warning(self, start, end, step, delivered, errors)
        if lost:
            warnings.warn(lost, DecodeWarning, stacklevel=2)

    def _frame(self, index: int, future: Future[tuple[Any, np.ndarray | Planes]]) -> Frame:
        _, pixels = future.result()
        times = self._times
        if times is not None and index < len(times):
            time_s: float | None = times[index]
        else:
            fps = self.info.fps
            time_s = index / fps if fps else None
        return Frame(index, time_s, pixels)

    def _claim(self, start: int, step: int) -> Opened | None:
        """The decoder left open at the first frame, for a decode from frame 0 with the settings
        it has (and no frames to skip); any other decode closes it, as it will be of no use."""
        try:
            parked = self._park.pop()  # one pop: copies in other threads may claim at once
        except IndexError:
            return None
        plain = not self.keyframes_only and not self._skips(step)
        if start == 0 and plain and self._threads() == parked.threads:
            return parked
        parked.close()
        return None

    def _pixels(self) -> int:
        return self.stream.width * self.stream.height

    def _threads(self) -> int:
        return frame_threads(self._pixels(), self.decoder_threads)

    def release(self) -> None:
        """Close the decoder left open at the first frame, if no decode took it."""
        with contextlib.suppress(IndexError):
            while True:
                self._park.pop().close()

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_park": []}  # an open decoder stays in its process

    def _skips(self, step: int) -> bool:
        """Whether a ``step`` lets the decoder skip the frames it drops that nothing refers to:
        FFmpeg's H.264 decoder, in software, where it knows the reordering from the first frame
        on and the timestamps show it. (An HEVC "non-reference" frame may be one for higher
        temporal layers.)"""
        known = step > 1 and self.stream.codec == "h264" and self.hwaccel == "none"
        return known and self._b_frames and self._listing().reordered

    def _numbered(
        self, start: int, errors: list[str], parked: Opened | None = None,
        window: tuple[int | None, int] = (None, 1),
    ) -> Iterator[tuple[int, Any]]:  # fmt: skip
        """Decoded frames with their frame numbers, from the keyframe before ``start`` on (or
        from ``parked``, the decoder left open at frame 0), but for frames the ``(end, step)``
        window drops and the decoder may skip."""
        if parked is not None:
            index, listed = -1, self._listed
            try:
                for decoded in parked:
                    index = listed.rank(decoded.pts, index + 1) if listed else index + 1
                    yield index, decoded
            finally:
                parked.close()
            return
        keyframes = self.keyframes_only
        skips = not keyframes and self._skips(window[1])
        listing = self._listing() if start > 0 or keyframes or skips else None
        pts = listing.pts if listing is not None else []
        seeks = [None]
        if listing is not None:
            seeks = listing.seek_points(start, seekable=self.seekable, retries=_SEEK_RETRIES)
        # Once the frame list is known, every frame is numbered by its own timestamp, so a
        # frame a damaged file loses (or a packet the list left out) cannot shift the numbers
        # after it; a decode from 0 without the list counts frames as they come.
        listed = listing or self._listed
        step = self.keyframe_step if keyframes else 1
        only = listing.keyframe_pts(step) if listing and step > 1 else None
        unwanted = listing.unwanted(start, *window) if listing and skips else None
        for seek_pts in seeks:
            with self._open() as container:
                stream = self._configure(container)
                if seek_pts is not None:
                    container.seek(seek_pts, stream=stream, backward=True, any_frame=False)
                index: int | None = None if seek_pts is not None else -1
                for decoded in decode(container, stream, errors, keyframes_only=keyframes,
                                      only=only, unwanted=unwanted):  # fmt: skip
                    if keyframes:  # keyframes only: number them by their times
                        index = bisect.bisect_left(pts, decoded.pts or 0)
                    elif index is None:
                        index = bisect.bisect_left(pts, decoded.pts or 0)
                        if index > start:
                            break  # landed past the target: try a keyframe further back
                    else:
                        index = listed.rank(decoded.pts, index + 1) if listed else index + 1
                    yield index, decoded
                else:
                    return
            errors.clear()

    def __copy__(self) -> PyAVSource:
        twin = object.__new__(type(self))
        twin.__dict__.update(self.__dict__)
        return twin


__all__ = ["HDR_MODES", "HWACCEL_MODES", "MediaInfo", "PyAVSource", "plan_conversion"]
