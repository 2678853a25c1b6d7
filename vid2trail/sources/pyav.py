"""Video decoded in-process by FFmpeg's libraries through PyAV (the default video source).

FFmpeg decodes with its own frame threads, in a thread of its own beside the caller's reducers.
Each kept frame goes to ``rgb24`` (8-bit sources) or ``rgb48le`` (10/12/16-bit) through the
filter chain of :mod:`.convert` (the stream's own matrix and range, the display rotation), the
chain the ``ffmpeg`` command would build, so the pixels are bit-identical to it. Conversions run
in a small thread pool (the decoder and libavfilter release the GIL), and frames reach numpy as
zero-copy views of the filter graph's pooled frames. What the file holds comes from PyAV's
objects (:mod:`.media`), frame times and keyframes from one demux pass that decodes nothing.

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
import queue
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np

from ..errors import DecodeError, DecodeWarning, UsageError
from ..frames import Frame, SourceInfo
from .avio import check_regular_file, decode, import_av, local_url, peak_nits, tag_seconds
from .base import SourceBase
from .convert import plan_conversion, scaled_size
from .damage import lost_frames_warning
from .media import (
    MediaInfo,
    StreamInfo,
    bits_per_sample,
    display_transform,
    frame_colour,
    is_variable_rate,
    read_media,
)

#: ``--hdr`` choices: tone-map HDR to SDR BT.709, or keep its light as float linear light.
HDR_MODES = ("tonemap", "keep")
#: ``--hwaccel`` choices.
HWACCEL_MODES = ("none", "auto", "cuda")
#: libavformat's names of containers without an index, where a seek may land past its target.
UNINDEXED_CONTAINERS = frozenset({"mpegts", "mpeg", "h264", "hevc", "mpegvideo", "m4v", "vc1"})
#: Frames converted ahead of the consumer (bounded: memory stays flat) ...
_AHEAD = 4
#: ... and about how many bytes of them.
_AHEAD_BYTES = 48 << 20
#: How many keyframes earlier a seek that overshot its target retries, before decoding from 0.
_SEEK_RETRIES = 3


class PyAVSource(SourceBase):
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

    Examples
    --------
    >>> src = PyAVSource("sample_clips/startrails.mp4")  # doctest: +SKIP
    >>> next(src.frames(0, 1)).pixels.shape  # doctest: +SKIP
    (540, 960, 3)
    """

    #: Decoder threads; None lets FFmpeg choose (one per core).
    decoder_threads: int | None = None
    #: Preview: decode only keyframes, the cheapest frames to reach.
    keyframes_only = False
    #: Frames converted at once beside the decoder: one per two cores, at most four (FFmpeg's
    #: frame threads want the rest).
    convert_threads = max(1, min(4, (os.cpu_count() or 2) // 2))
    #: The frames the stream's own header lists (an MP4 sample table), and the stream's own
    #: length; None where the header does not say. A file that holds less is truncated.
    header_frames: int | None = None
    header_duration_s: float | None = None
    #: Packets the frame list left out because an edit list hides them.
    _hidden = 0

    def __init__(
        self, path: str, stream: int | None = None, hdr: str = "tonemap", *, hwaccel: str = "none"
    ) -> None:
        self.path = path
        if hdr not in HDR_MODES:
            raise UsageError(f"--hdr {hdr!r}: choose one of {', '.join(HDR_MODES)}")
        if hwaccel not in HWACCEL_MODES:
            raise UsageError(f"--hwaccel {hwaccel!r}: choose one of {', '.join(HWACCEL_MODES)}")
        check_regular_file(path)
        self.hwaccel = hwaccel
        self.scale: tuple[int, int] | None = None
        self.last_warnings: list[str] = []
        self._pts: list[int] | None = None
        self._keys: list[int] | None = None
        self._times: list[float] | None = None
        notes: list[str] = []
        with self._open(notes) as container:
            self.media = read_media(container)
            self.stream = self._choose_stream(stream)
            number = self.media.video_streams().index(self.stream)
            first = self._first_frame(container)
            duration = self._stream_duration(container)
        self.first_pts = first.pts
        self.stream = self._with_frame_facts(self.stream, first)
        self.time_base = first.time_base
        self.conversion, note = plan_conversion(self.stream, hdr)
        notes += [note] if note else []
        if self.conversion.hdr is not None:
            dtype = self.conversion.hdr.dtype
        else:
            dtype = np.dtype(np.uint16 if self.conversion.out_format == "rgb48le" else np.uint8)
        fps = self.stream.fps or self.stream.tbr
        count = int(round(duration * fps)) if fps and duration else None
        width, height = self.stream.display_size
        tbr = self.stream.tbr
        self.info = SourceInfo(
            path=path,
            width=width,
            height=height,
            channels=3,
            dtype=dtype,
            fps=fps,
            duration_s=duration,
            frame_count=count,
            frame_count_exact=False,
            codec=self.stream.codec,
            backend="pyav",
            rotation_deg=self.stream.rotation_deg,
            pix_fmt=self.stream.pix_fmt,
            bits_per_sample=bits_per_sample(self.stream.pix_fmt),
            variable_fps=True if fps and tbr and abs(fps - tbr) > 0.01 * tbr else None,
            stream=number,
            notes=tuple(notes),
        )

    # --- opening -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _open(self, notes: list[str] | None = None) -> Iterator[Any]:
        """An open PyAV container of the file, closed on exit; FFmpeg's errors become one line."""
        av = import_av()
        url = local_url(self.path)
        fd = None
        if not url:
            fd = os.open(self.path, os.O_RDONLY)
            url = f"file:/proc/self/fd/{fd}"
        kwargs: dict[str, Any] = {"metadata_errors": "replace"}
        try:
            try:
                container = self._open_accelerated(av, url, kwargs, notes)
            except av.error.FFmpegError as exc:
                raise DecodeError(
                    f"{self.path} is not a video FFmpeg can read ({exc.strerror or exc}); "
                    "check that the file is complete"
                ) from None
            try:
                yield container
            finally:
                container.close()
        finally:
            if fd is not None:
                os.close(fd)

    def _open_accelerated(
        self, av: Any, url: str, kwargs: dict[str, Any], notes: list[str] | None
    ) -> Any:
        """``av.open`` with NVDEC when ``hwaccel`` asks for it; ``auto`` falls back to software
        (noted once), ``cuda`` refuses with one line."""
        if self.hwaccel == "none":
            return av.open(url, **kwargs)
        from av.codec.hwaccel import HWAccel, hwdevices_available

        if "cuda" in hwdevices_available():
            try:
                accel = HWAccel("cuda", allow_software_fallback=self.hwaccel == "auto")
                return av.open(url, hwaccel=accel, **kwargs)
            except av.error.FFmpegError as exc:
                reason = f"no NVIDIA GPU or driver could be opened ({exc.strerror or exc})"
        else:
            reason = "this PyAV's FFmpeg has no CUDA support"
        if self.hwaccel == "cuda":
            raise UsageError(f"--hwaccel cuda: {reason}; use --hwaccel auto or none")
        self.hwaccel = "none"
        if notes is not None:
            notes.append(f"--hwaccel auto: {reason}; decoding in software")
        return av.open(url, **kwargs)

    def _choose_stream(self, number: int | None) -> StreamInfo:
        try:
            return self.media.video_stream(number)
        except DecodeError as exc:
            if not self.media.video_streams():
                raise DecodeError(
                    f"{self.path} has no video stream (it holds "
                    f"{self.media.describe_streams()}): give a video file"
                ) from None
            raise UsageError(f"--stream {number}: {self.path}: {exc}") from None

    def _configure(self, container: Any, *, first: bool = False) -> Any:
        stream = container.streams[self.stream.index]
        for other in container.streams:
            if other.index != stream.index:
                other.discard = import_av().stream.Discard.all
        ctx = stream.codec_context
        if first:
            ctx.thread_count = 1  # frame threads only delay the first frame
        else:
            ctx.thread_type = "AUTO"
            ctx.thread_count = self.decoder_threads or 0
        if self.keyframes_only and not first:
            ctx.skip_frame = "NONKEY"
        return stream

    def _first_frame(self, container: Any) -> Any:
        """The first frame that decodes: its size, rotation and colour tags complete the facts."""
        stream = self._configure(container, first=True)
        frame = None
        with contextlib.suppress(Exception):
            frame = next(decode(container, stream, []), None)
        if frame is None:
            raise DecodeError(
                f"{self.path} is not a video FFmpeg can read (no frame of video stream "
                f"{self.stream.index} decodes); check that the file is complete"
            )
        return frame

    def _with_frame_facts(self, stream: StreamInfo, frame: Any) -> StreamInfo:
        from av.sidedata.sidedata import Type

        side = frame.side_data
        matrix = side.get(Type.DISPLAYMATRIX)
        rotation, hflip, turn = display_transform(bytes(matrix) if matrix is not None else None)
        tags = {k: v for k, v in frame_colour(frame).items() if v and not getattr(stream, k)}
        dovi = side.get(Type.DOVI_METADATA) if hasattr(Type, "DOVI_METADATA") else None
        hdr_meta = tuple(
            name for name, key in (("Mastering Display Metadata", "MASTERING_DISPLAY_METADATA"),
                                   ("Content Light Level Metadata", "CONTENT_LIGHT_LEVEL"))
            if hasattr(Type, key) and side.get(getattr(Type, key)) is not None
        )  # fmt: skip
        sw_format = frame.format.name
        return replace(
            stream,
            peak_nits=peak_nits(side, Type),
            rotation_deg=rotation,
            hflip=hflip,
            display_filters=turn,
            width=frame.width,
            height=frame.height,
            pix_fmt=stream.pix_fmt or sw_format,
            dolby_vision=dovi is not None,
            hdr_metadata=hdr_meta,
            **tags,
        )

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

    # --- the demux listing ---------------------------------------------------------------

    def _listing(self) -> tuple[list[int], list[int]]:
        """Sorted presentation timestamps of the frames, and the keyframes' ranks among them.

        One demux pass over the file, no decoding. Packets the decoder drops are left out: those
        an edit list hides, those shown before the first frame that decodes (open-GOP leading
        frames), and a packet cut off by the end of a truncated file.
        """
        if self._pts is None:
            rows: list[tuple[int, bool]] = []
            first = self.first_pts
            with self._open() as container:
                stream = container.streams[self.stream.index]
                for other in container.streams:
                    if other.index != stream.index:
                        other.discard = import_av().stream.Discard.all
                av = import_av()
                hidden = 0
                try:
                    for packet in container.demux(stream):
                        if packet.is_discard:
                            hidden += 1
                            continue
                        if packet.pts is None or packet.is_corrupt:
                            continue  # no frame of the clip (a cut-off packet is no whole frame)
                        if first is not None and packet.pts < first:
                            continue
                        rows.append((packet.pts, packet.is_keyframe))
                except av.error.FFmpegError:
                    pass  # a truncated file: the packets read so far are the frames it has
            rows.sort()
            self._hidden = hidden
            self._pts = [pts for pts, _ in rows]
            self._keys = [rank for rank, (_, key) in enumerate(rows) if key]
        return self._pts, self._keys  # type: ignore[return-value]

    def frame_times(self) -> list[float]:
        """Presentation time of every frame in seconds from the first frame, from one demux pass.

        The first call also makes ``info.frame_count`` exact, sets ``info.variable_fps``, and sets
        ``info.duration_s`` to the video's own length.
        """
        if self._times is None:
            pts, _ = self._listing()
            tb = float(self.time_base) if self.time_base else 1 / 90000
            origin = pts[0] if pts else 0
            self._times = [(p - origin) * tb for p in pts]
            if self._times:
                count, fps = len(self._times), self.info.fps
                last = self._times[-1]
                frame_s = 1 / fps if fps else (last / (count - 1) if count > 1 else 0.0)
                self.info = replace(
                    self.info,
                    frame_count=count,
                    frame_count_exact=True,
                    variable_fps=is_variable_rate(self._times),
                    duration_s=last + frame_s if last or frame_s else self.info.duration_s,
                )
        return self._times

    def count_frames(self) -> tuple[int, float]:
        """Exact frame count and duration in seconds (reads the whole file, decodes nothing)."""
        times = self.frame_times()
        return len(times), self.info.duration_s or 0.0

    def keyframe_indices(self) -> list[int]:
        """Frame numbers of the keyframes, from the demux pass (no decoding); cached."""
        return list(self._listing()[1])

    def keyframes_in(self, start: int, end: int | None) -> list[int]:
        """The keyframes ``start <= k < end``."""
        return [k for k in self._listing()[1] if k >= start and (end is None or k < end)]

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
        if size is None:
            return self
        small = self.downscaled(size[0])
        small.info = replace(self.info, width=size[0], height=size[1])
        small.conversion = self.conversion.with_size(size)
        return small

    def downscaled(self, width: int) -> PyAVSource:
        """This video decoded at most ``width`` pixels wide: swscale shrinks (area average) as it
        converts, so a quick look costs the decode and little else. Never scales up."""
        small = copy.copy(self)
        w = min(int(width), self.info.width)
        h = max(1, round(self.info.height * w / self.info.width))
        small.scale = (w, h)
        small.info = replace(self.info, width=w, height=h)
        small.conversion = self.conversion.with_size((w, h))
        return small

    # --- decoding ------------------------------------------------------------------------

    def _seek_plan(self, start: int) -> tuple[list[int], int | None]:
        """The frame timestamps and the timestamp to seek to for ``start`` (None: from 0)."""
        pts, _ = self._listing()
        if start <= 0 or not self.seekable or start >= len(pts):
            return pts, None
        return pts, pts[start]

    def frames(self, start: int = 0, end: int | None = None, step: int = 1) -> Iterator[Frame]:
        """Yield frames ``start, start + step, ...`` below ``end``.

        A truncated or partly corrupt file yields every frame that decodes, then issues a
        :class:`~vid2trail.errors.DecodeWarning` saying how many frames were lost and where.
        """
        if end is not None and end <= start:
            return
        if start > 0 and self.seekable and start >= len(self._listing()[0]):
            return  # past the end: the caller says so, in its words
        errors: list[str] = []
        delivered = 0
        reached = [-1]  # the last frame number decoded; -2 when the window's end stopped it
        ready: queue.Queue[object] = queue.Queue(maxsize=self._ahead())
        stop = threading.Event()

        def produce() -> None:
            # Decoding runs here, beside the caller: while it reduces one frame, FFmpeg decodes
            # the next ones and the pool converts them.
            try:
                with ThreadPoolExecutor(self.convert_threads, "vid2trail-rgb") as pool:
                    for index, decoded in self._numbered(start, errors):
                        if stop.is_set():
                            return
                        if end is not None and index >= end:
                            reached[0] = -2
                            break
                        reached[0] = index
                        if index < start or (index - start) % step:
                            continue
                        _offer(ready, (index, pool.submit(self.conversion, decoded)), stop)
                _offer(ready, _DONE, stop)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                _offer(ready, exc, stop)

        producer = threading.Thread(target=produce, name="vid2trail-decode", daemon=True)
        producer.start()
        try:
            while (item := ready.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                yield self._frame(*item)  # type: ignore[misc]
                delivered += 1
        finally:
            stop.set()
            while producer.is_alive():
                with contextlib.suppress(queue.Empty):
                    ready.get(timeout=0.05)
            producer.join()
        last = reached[0]
        if last != -2 and not self.keyframes_only:
            errors += self._truncation(last)
        self.last_warnings = errors
        if delivered == 0 and errors and not self.keyframes_only:
            raise DecodeError(f"FFmpeg could not decode {self.path} ({errors[-1]})")
        if not self.keyframes_only:
            lost = lost_frames_warning(self, start, end, step, delivered, errors)
            if lost:
                warnings.warn(lost, DecodeWarning, stacklevel=2)

    def _truncation(self, last: int) -> list[str]:
        """A sentence when the file holds less than its header promises (decoding ended at
        frame ``last`` on its own); nothing when it holds it all.

        The header's frame count (MP4) is compared with the packets the file holds plus those an
        edit list hides; else the header's length with the time the packets cover, which
        variable frame rates do not fool. The frame list is read only when decoding ended
        short of the estimate.
        """
        estimate = self.info.frame_count
        if estimate is None or last + 2 >= estimate:
            return []
        pts, _ = self._listing()
        if self.header_frames:
            held = len(pts) + self._hidden
            if held + 1 < self.header_frames:
                return [f"truncated: the file holds {held} of the {self.header_frames} frames "
                        "its header lists"]  # fmt: skip
            return []
        length, fps = self.header_duration_s, self.info.fps
        if not length or not fps or not pts:
            return []
        tb = float(self.time_base) if self.time_base else 1 / 90000
        covered = (pts[-1] - pts[0]) * tb + 1 / fps
        if covered + max(2 / fps, 0.02 * length) < length:
            return [f"truncated: the frames cover {covered:.2f} s of the {length:.2f} s its "
                    "header says"]  # fmt: skip
        return []

    def _ahead(self) -> int:
        """Frames converted ahead of the caller: up to :data:`_AHEAD`, fewer for big frames, so
        that what waits in memory stays near :data:`_AHEAD_BYTES` (a 4K frame is 25 MB)."""
        info = self.info
        frame_bytes = info.width * info.height * info.channels * info.dtype.itemsize
        return max(1, min(_AHEAD, _AHEAD_BYTES // max(1, frame_bytes)))

    def _frame(self, index: int, future: Future[tuple[Any, np.ndarray]]) -> Frame:
        _, pixels = future.result()
        times = self._times
        if times is not None and index < len(times):
            time_s: float | None = times[index]
        else:
            fps = self.info.fps
            time_s = index / fps if fps else None
        return Frame(index, time_s, pixels)

    def _numbered(self, start: int, errors: list[str]) -> Iterator[tuple[int, Any]]:
        """Decoded frames with their frame numbers, from the keyframe before ``start`` on."""
        keyframes = self.keyframes_only
        pts, target = self._seek_plan(start) if start > 0 or keyframes else ([], None)
        # Once the frame list is known, every frame is numbered by its own timestamp, so a
        # frame a damaged file loses (or a packet the list left out) cannot shift the numbers
        # after it; a decode from 0 without the list counts frames as they come.
        listed = pts or self._pts or []
        seeks = [target] if target is not None else []
        if target is not None:
            # Fallbacks when a seek lands past its target: keyframes further back, then 0.
            _, key_ranks = self._listing()
            before = [pts[k] for k in key_ranks if pts[k] < target][::-1]
            seeks += before[1 : 1 + _SEEK_RETRIES]
        seeks.append(None)
        for seek_pts in seeks:
            with self._open() as container:
                stream = self._configure(container)
                if seek_pts is not None:
                    container.seek(seek_pts, stream=stream, backward=True, any_frame=False)
                index: int | None = None if seek_pts is not None else -1
                for decoded in decode(container, stream, errors, keyframes_only=keyframes):
                    if keyframes:  # keyframes only: number them by their times
                        index = bisect.bisect_left(pts, decoded.pts or 0)
                    elif index is None:
                        index = bisect.bisect_left(pts, decoded.pts or 0)
                        if index > start:
                            break  # landed past the target: try a keyframe further back
                    else:
                        index = _rank(listed, decoded.pts, index + 1)
                    yield index, decoded
                else:
                    return
            errors.clear()

    def __copy__(self) -> PyAVSource:
        twin = object.__new__(type(self))
        twin.__dict__.update(self.__dict__)
        return twin


_DONE = object()


def _rank(listed: list[int], pts: int | None, fallback: int) -> int:
    """The frame number of timestamp ``pts`` in the sorted frame list, or ``fallback`` when the
    list does not hold it exactly.

    Examples
    --------
    >>> _rank([0, 512, 1024], 1024, 9), _rank([0, 512, 1024], 700, 9)
    (2, 9)
    """
    if listed and pts is not None:
        found = bisect.bisect_left(listed, pts)
        if found < len(listed) and listed[found] == pts:
            return found
    return fallback


def _offer(ready: queue.Queue[object], item: object, stop: threading.Event) -> None:
    """Put ``item`` on the bounded queue, giving up once the consumer has stopped."""
    while not stop.is_set():
        try:
            ready.put(item, timeout=0.05)
            return
        except queue.Full:
            continue


__all__ = ["HDR_MODES", "HWACCEL_MODES", "MediaInfo", "PyAVSource", "plan_conversion"]
