"""Opening a local file with FFmpeg (through PyAV) and reading its packets and frames.

Only local, regular files are opened, under a URL that FFmpeg cannot mistake for a protocol.
:func:`decode` is the one packet loop: it keeps going past a bad packet and notes what FFmpeg
said, so a damaged file yields every frame that decodes.
"""

from __future__ import annotations

import contextlib
import os
import stat
import struct
from collections.abc import Callable, Container, Iterator
from typing import Any

from ..errors import DecodeError, MissingDependencyError, UsageError, option


def import_av() -> Any:
    """The ``av`` module (PyAV), or a one-line error naming the package to install."""
    try:
        import av
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise MissingDependencyError("decoding video needs PyAV: pip install av") from exc
    return av


def local_url(path: str) -> str:
    """The URL that makes FFmpeg open ``path`` as a local file, whatever its name holds; "" for
    a name that is not valid UTF-8 (the caller then opens a descriptor and names that).

    A name with a colon (``2024-01-01T22:00:00.mp4``) would otherwise be read as a protocol;
    the ``file:`` protocol takes the rest as a path.

    Examples
    --------
    >>> local_url("/videos/a:b.mp4")
    'file:/videos/a:b.mp4'
    """
    absolute = os.path.abspath(path)
    try:
        absolute.encode("utf-8")
    except UnicodeEncodeError:
        return ""
    return "file:" + absolute


def check_regular_file(path: str) -> None:
    """Refuse a folder, an empty file, and anything that is not a regular file (a FIFO, a socket,
    a device): FFmpeg would block on a FIFO whose writer never comes."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise DecodeError(f"{path} cannot be read ({exc.strerror})") from None
    if stat.S_ISDIR(mode):
        raise DecodeError(f"{path} is a folder, not a video: give the video file inside it")
    if not stat.S_ISREG(mode):
        kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(mode) else
                "a socket" if stat.S_ISSOCK(mode) else "a device")  # fmt: skip
        raise DecodeError(f"{path} is {kind}, not a file: save the video to a file first")
    if os.path.getsize(path) == 0:
        raise DecodeError(f"{path} is empty (0 bytes): the copy may have failed; copy it again")


def url_name(url: str) -> str:
    """The file an ``av.open`` URL names, for messages (``file:a.mp4`` -> ``a.mp4``)."""
    return url[5:] if url.startswith("file:") else url


def open_accelerated(
    av: Any, url: str, hwaccel: str, notes: list[str] | None = None
) -> tuple[Any, str]:
    """``av.open(url)``, with NVDEC when ``hwaccel`` asks for it, and the ``hwaccel`` that holds
    from now on: ``auto`` falls back to software (said in ``notes``, then ``"none"``), ``cuda``
    refuses with one line."""
    kwargs: dict[str, Any] = {"metadata_errors": "replace"}
    if hwaccel == "none":
        return av.open(url, **kwargs), hwaccel
    from av.codec.hwaccel import HWAccel, hwdevices_available

    if "cuda" in hwdevices_available():
        try:
            accel = HWAccel("cuda", allow_software_fallback=hwaccel == "auto")
            return av.open(url, hwaccel=accel, **kwargs), hwaccel
        except av.error.FFmpegError as exc:
            reason = f"no NVIDIA GPU or driver could be opened ({exc.strerror or exc})"
        except RuntimeError:  # PyAV's words when no stream has an NVDEC decoder
            reason = f"{url_name(url)}: NVDEC cannot decode this video's codec"
    else:
        reason = "this PyAV's FFmpeg has no CUDA support"
    if hwaccel == "cuda":
        raise UsageError(
            f"{option('hwaccel')} cuda: {reason}; use {option('hwaccel')} auto or none"
        )
    if notes is not None:
        notes.append(f"{option('hwaccel')} auto: {reason}; decoding in software")
    return av.open(url, **kwargs), "none"


def open_file(path: str, hwaccel: str, notes: list[str] | None = None) -> tuple[Opened, str]:
    """The local file ``path`` opened by FFmpeg (:func:`open_accelerated`), held by a
    :class:`Opened` that closes it and the descriptor its URL names where one was needed, and the
    ``hwaccel`` that holds; FFmpeg's errors become one line."""
    av = import_av()
    url = local_url(path)
    fd = None
    if not url:
        fd = os.open(path, os.O_RDONLY)
        url = f"file:/proc/self/fd/{fd}"
    try:
        container, hwaccel = open_accelerated(av, url, hwaccel, notes)
    except BaseException as exc:
        if fd is not None:
            os.close(fd)
        if isinstance(exc, av.error.FFmpegError):
            raise DecodeError(
                f"{path} is not a video FFmpeg can read ({exc.strerror or exc}); "
                "check that the file is complete"
            ) from None
        raise
    return Opened(container, fd), hwaccel


def decode(
    container: Any,
    stream: Any,
    errors: list[str],
    *,
    keyframes_only: bool = False,
    only: Container[int] | None = None,
    unwanted: Callable[[int], bool] | None = None,
) -> Iterator[Any]:
    """Every frame of ``stream`` that decodes; a bad packet is noted in ``errors`` and skipped,
    a demuxer error (a truncated file) ends the stream after the frames already read.

    ``keyframes_only`` sends the decoder only the packets flagged as keyframes (a preview): they
    decode on their own, and the others are never even handed to it; with ``only``, just the
    keyframes whose timestamps it holds. ``unwanted(pts)`` True for a packet whose frame will be
    dropped (a ``step``) lets the decoder skip it where no other frame refers to it (FFmpeg's
    ``skip_frame=nonref``, set packet by packet): such frames then never come out.

    FFmpeg's log stays off (PyAV's default): its callback takes the GIL from FFmpeg's own
    threads, which can deadlock against a decode in progress. Damage shows through the flags
    FFmpeg sets on packets and frames, and through errors.
    """
    av = import_av()
    demux = container.demux(stream)
    skipping = False
    while True:
        try:
            packet = next(demux)
        except StopIteration:
            return
        except av.error.FFmpegError as exc:
            errors.append(f"demuxing stopped: {exc.strerror or exc}")
            packet = None
        if packet is not None and packet.is_corrupt:
            errors.append("a corrupt packet")
        if keyframes_only and packet is not None and packet.size:
            if not packet.is_keyframe or (only is not None and packet.pts not in only):
                continue
        if unwanted is not None and packet is not None and packet.size:
            skip = packet.pts is not None and unwanted(packet.pts)  # no stamp: it decodes
            if skip != skipping:  # FFmpeg copies it to the frame thread the packet goes to
                stream.codec_context.skip_frame = "NONREF" if skip else "DEFAULT"
                skipping = skip
        try:
            for frame in stream.decode(packet):
                if frame.is_corrupt:
                    errors.append("a corrupt frame was concealed")
                yield frame
        except av.error.FFmpegError as exc:
            errors.append(f"error while decoding: {exc.strerror or exc}")
        if packet is None:
            return


def first_frame(frames: Iterator[Any], path: str, index: int) -> Any:
    """The first frame of ``frames`` (of stream ``index`` of ``path``) that decodes; its size,
    rotation and colour tags complete what the header says of the stream."""
    frame = None
    with contextlib.suppress(Exception):
        frame = next(frames, None)
    if frame is None:
        raise DecodeError(
            f"{path} is not a video FFmpeg can read (no frame of video stream {index} decodes); "
            "check that the file is complete"
        )
    return frame


def tag_seconds(text: str | None) -> float | None:
    """Seconds of a duration tag such as Matroska's ``00:01:02.500000000``; None if none.

    Examples
    --------
    >>> tag_seconds("00:01:02.500000000"), tag_seconds(None)
    (62.5, None)
    """
    if not text:
        return None
    try:
        hours, minutes, seconds = str(text).split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except ValueError:
        return None


def peak_nits(side: Any, kinds: Any) -> float | None:
    """The stream's brightest light from a frame's HDR side data: MaxCLL, else the mastering
    display's peak (FFmpeg's own order), in cd/m2."""
    light = side.get(kinds.CONTENT_LIGHT_LEVEL) if hasattr(kinds, "CONTENT_LIGHT_LEVEL") else None
    if light is not None and len(bytes(light)) >= 8:
        max_cll = struct.unpack("<I", bytes(light)[:4])[0]
        if max_cll:
            return float(max_cll)
    mastering = side.get(kinds.MASTERING_DISPLAY_METADATA) if hasattr(
        kinds, "MASTERING_DISPLAY_METADATA") else None  # fmt: skip
    if mastering is not None and len(bytes(mastering)) >= 88:
        num, den, _, has_luminance = struct.unpack("<iiii", bytes(mastering)[72:88])
        if has_luminance and den:
            return num / den
    return None


__all__ = [
    "check_regular_file",
    "decode",
    "import_av",
    "local_url",
    "open_accelerated",
    "peak_nits",
    "tag_seconds",
]


class Opened:
    """A file opened by FFmpeg: its container, and the descriptor behind its URL if one was opened,
    both closed by :meth:`close`.

    It can also be a decoder left open on the first frame. The video source decodes its first
    frame as it opens, and the first decode from frame 0 may go on from there instead of opening
    the file again: that saves FFmpeg's stream probe (for H.264 it decodes a few frames on one
    thread) and decoding the first frames twice, 30-130 ms a 1080p run here. ``frames`` is then the
    :func:`decode` generator that delivered ``first``, noting damage in ``errors``, and ``threads``
    the number of frame threads it runs. It belongs to the process that opened it (a forked child
    must not close it).
    """

    def __init__(self, container: Any, fd: int | None = None, threads: int | None = None) -> None:
        self.container, self.fd, self.threads = container, fd, threads
        self.frames: Iterator[Any] = iter(())
        self.first: Any = None
        self.errors: list[str] = []

    def __iter__(self) -> Iterator[Any]:
        """The first frame, then the rest of the stream."""
        yield self.first
        yield from self.frames

    def close(self) -> None:
        """Close the container and the descriptor; safe to call twice."""
        self.first, self.frames = None, iter(())
        if self.container is not None:
            self.container.close()
            self.container = None
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __del__(self) -> None:
        # Unclosed (a source dropped without close()): release the file; at interpreter exit
        # PyAV may be half torn down, and nothing here may print.
        with contextlib.suppress(Exception):
            self.close()
