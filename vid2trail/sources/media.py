"""What a video file holds, read from PyAV's structured objects (no report text is parsed).

:func:`read_media` turns an open ``av`` container into plain frozen records: the container and
every stream with its codec, size, frame rates, pixel format, colour tags, disposition and the
display rotation. Colour tags use FFmpeg's own names (``"bt709"``, ``"smpte2084"``), so they read
the same in ``vid2trail info`` as in any FFmpeg tool. :func:`default_matrix` decides which YUV
matrix an untagged stream gets.
"""

from __future__ import annotations

import math
import struct
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, tzinfo
from fractions import Fraction
from typing import Any

from ..errors import DecodeError, option
from .avio import peak_nits
from .capture import creation_clock

#: Transfer characteristics that mark a stream as HDR, and what to call them.
HDR_TRANSFERS = {"smpte2084": "PQ (HDR10)", "arib-std-b67": "HLG"}

# FFmpeg's AVColorSpace / AVColorPrimaries / AVColorTransferCharacteristic / AVColorRange values
# (libavutil/pixfmt.h) -> the names FFmpeg prints. 2 ("unspecified") maps to "".
_MATRICES = {0: "gbr", 1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m",
             8: "ycgco", 9: "bt2020nc", 10: "bt2020c", 11: "smpte2085", 14: "ictcp"}  # fmt: skip
_PRIMARIES = {1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m",
              8: "film", 9: "bt2020", 10: "smpte428", 11: "smpte431", 12: "smpte432",
              22: "ebu3213"}  # fmt: skip
_TRANSFERS = {1: "bt709", 4: "gamma22", 5: "gamma28", 6: "smpte170m", 7: "smpte240m", 8: "linear",
              11: "iec61966-2-4", 13: "iec61966-2-1", 14: "bt2020-10", 15: "bt2020-12",
              16: "smpte2084", 17: "smpte428", 18: "arib-std-b67"}  # fmt: skip
_RANGES = {1: "tv", 2: "pc"}

#: FFmpeg colour-matrix names -> the matrix family :func:`default_matrix` reports.
_MATRIX_FAMILIES = {
    "bt709": "bt709",
    "smpte170m": "bt601",
    "bt470bg": "bt601",
    "bt2020nc": "bt2020",
    "bt2020c": "bt2020",
    "fcc": "fcc",
    "smpte240m": "smpte240m",
}


@dataclass(frozen=True)
class StreamInfo:
    """One stream of a media file.

    Colour fields hold FFmpeg's tag names (``"bt709"``, ``"smpte2084"``), or ``""`` when the file
    does not say. ``fps`` is the stream's average rate, ``tbr`` its base rate; either may be
    None. ``rotation_deg`` is the counter-clockwise display rotation (0, 90, 180, 270), ``hflip`` a
    mirror in the display matrix.

    Examples
    --------
    >>> StreamInfo(0, "video", "h264", width=1920, height=1080, rotation_deg=90).display_size
    (1080, 1920)
    """

    index: int
    kind: str
    codec: str
    profile: str = ""
    language: str = ""
    default: bool = False
    attached_pic: bool = False
    pix_fmt: str = ""
    width: int = 0
    height: int = 0
    fps: float | None = None
    tbr: float | None = None
    rotation_deg: int = 0
    hflip: bool = False
    #: The filters that show decoded frames as the display matrix says (:func:`display_transform`).
    display_filters: tuple[tuple[str, str], ...] = ()
    color_range: str = ""
    color_matrix: str = ""
    color_primaries: str = ""
    color_transfer: str = ""
    dolby_vision: bool = False
    dolby_vision_profile: int | None = None
    hdr_metadata: tuple[str, ...] = ()
    #: The brightest light the stream claims (MaxCLL, else the mastering display's peak), cd/m2.
    peak_nits: float | None = None

    @property
    def is_video(self) -> bool:
        """A real video stream (cover art and thumbnails are ``attached_pic`` and do not count)."""
        return self.kind == "video" and not self.attached_pic

    @property
    def hdr(self) -> str:
        """``"PQ (HDR10)"``, ``"HLG"``, or ``""`` for SDR (Dolby Vision is noted separately)."""
        return HDR_TRANSFERS.get(self.color_transfer, "")

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as shown, after the display rotation."""
        if self.rotation_deg in (90, 270):
            return self.height, self.width
        return self.width, self.height


@dataclass(frozen=True)
class MediaInfo:
    """The container and its streams, from :func:`read_media`.

    Examples
    --------
    >>> m = MediaInfo("matroska,webm", 2.0, 0.0, 900, (StreamInfo(0, "video", "ffv1"),))
    >>> m.video_stream().codec
    'ffv1'
    """

    container: str
    duration_s: float | None
    start_s: float
    bitrate_kbps: int | None
    streams: tuple[StreamInfo, ...] = field(default_factory=tuple)
    #: When the recording started, on a naive clock (:func:`~vid2trail.sources.capture.
    #: creation_clock`); None when the container does not say.
    created: datetime | None = None
    #: The zone ``created`` is in (the tag's own, or this machine's for a UTC tag).
    created_zone: tzinfo | None = None

    def video_streams(self) -> list[StreamInfo]:
        """The real video streams in file order (attached pictures left out)."""
        return [s for s in self.streams if s.is_video]

    def video_stream(self, number: int | None = None) -> StreamInfo:
        """Video stream ``number`` (counting video streams from 0), or the default one.

        The default is the first video stream flagged ``default``, else the first video stream.

        Raises
        ------
        DecodeError
            When there is no video stream, or fewer than ``number + 1``.
        """
        videos = self.video_streams()
        if not videos:
            raise DecodeError("no video stream")
        if number is None:
            return next((s for s in videos if s.default), videos[0])
        if not 0 <= number < len(videos):
            raise DecodeError(
                f"there is no video stream {number}: the file has {len(videos)} "
                f"({option('stream')} 0 to {len(videos) - 1})"
            )
        return videos[number]

    def describe_streams(self) -> str:
        """What the file holds, for messages: ``"1 audio (aac), 1 subtitle (mov_text)"``."""
        kinds: dict[str, list[str]] = {}
        for s in self.streams:
            kinds.setdefault("attached picture" if s.attached_pic else s.kind, []).append(s.codec)
        if not kinds:
            return "no streams at all"
        return ", ".join(f"{len(c)} {k} ({', '.join(dict.fromkeys(c))})" for k, c in kinds.items())

    def as_dict(self) -> dict[str, object]:
        """Plain data for ``--json``."""
        return asdict(self)


def _rate(value: Fraction | None) -> float | None:
    return round(float(value), 6) if value else None


def display_transform(matrix: bytes | None) -> tuple[int, bool, tuple[tuple[str, str], ...]]:
    """How FFmpeg shows a frame with this display matrix: the counter-clockwise turn (0, 90, 180,
    270; what ``ffmpeg -display_rotation`` sets),
    whether it is mirrored, and the filters that do it, chosen exactly as the ``ffmpeg`` command's
    autorotation chooses them (so the pixels match it).

    The matrix is FFmpeg's nine 32-bit fixed-point numbers (``AV_FRAME_DATA_DISPLAYMATRIX``);
    angles that are not a quarter turn are rounded to the nearest one.

    Examples
    --------
    >>> import struct
    >>> display_transform(struct.pack("<9i", 0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30))
    (270, False, (('transpose', 'clock'),))
    >>> display_transform(None)
    (0, False, ())
    """
    if not matrix or len(matrix) < 36:
        return 0, False, ()
    m = struct.unpack("<9i", matrix[:36])
    scale_x, scale_y = math.hypot(m[0], m[3]), math.hypot(m[1], m[4])
    if not scale_x or not scale_y:
        return 0, False, ()
    theta = round(math.degrees(math.atan2(m[1] / scale_y, m[0] / scale_x)))
    theta = int(round(theta / 90)) * 90 % 360
    mirrored = (m[0] * m[4] - m[1] * m[3]) < 0
    if theta == 90:
        filters: tuple[tuple[str, str], ...] = (
            ("transpose", "cclock_flip" if m[3] > 0 else "clock"),
        )
    elif theta == 180:
        filters = (("hflip", ""),) * (m[0] < 0) + (("vflip", ""),) * (m[4] < 0)
    elif theta == 270:
        filters = (("transpose", "clock_flip" if m[3] < 0 else "cclock"),)
    else:
        filters = (("vflip", ""),) if m[4] < 0 else ()
    return (360 - theta) % 360, mirrored, filters


def read_media(container: Any) -> MediaInfo:
    """Container and streams of an open PyAV input container.

    Parameters
    ----------
    container : av.container.InputContainer
        From ``av.open(path)``.

    Returns
    -------
    MediaInfo

    Examples
    --------
    >>> import av
    >>> with av.open("sample_clips/startrails.mp4") as c:  # doctest: +SKIP
    ...     read_media(c).video_stream().codec
    'h264'
    """
    streams = []
    for s in container.streams:
        kind = s.type or "data"
        ctx = s.codec_context
        disposition = int(s.disposition)
        facts: dict[str, Any] = {
            "index": s.index,
            "kind": kind,
            "codec": (ctx.name if ctx is not None else "") or "unknown",
            "profile": (getattr(s, "profile", None) or "") if ctx is not None else "",
            "language": (s.language or "") if s.language not in ("und", None) else "",
            "default": bool(disposition & 0x1),
            "attached_pic": bool(disposition & 0x400),
        }
        if kind == "video" and ctx is not None:
            facts.update(
                pix_fmt=ctx.pix_fmt or "",
                width=ctx.width,
                height=ctx.height,
                fps=_rate(s.average_rate),
                tbr=_rate(s.base_rate or s.guessed_rate),
                color_range=_RANGES.get(ctx.color_range, ""),
                color_matrix=_MATRICES.get(ctx.colorspace, ""),
                color_primaries=_PRIMARIES.get(ctx.color_primaries, ""),
                color_transfer=_TRANSFERS.get(ctx.color_trc, ""),
            )
        streams.append(StreamInfo(**facts))
    duration = container.duration
    bitrate = container.bit_rate
    return MediaInfo(
        container=container.format.name,
        duration_s=duration / 1_000_000 if duration else None,
        start_s=(container.start_time or 0) / 1_000_000,
        bitrate_kbps=bitrate // 1000 if bitrate else None,
        streams=tuple(streams),
        **dict(
            zip(("created", "created_zone"), creation_clock(dict(container.metadata)), strict=True)
        ),
    )


def frame_colour(frame: Any) -> dict[str, str]:
    """The colour tags a decoded frame carries, by :class:`StreamInfo` field name ("" unknown)."""
    return {
        "color_range": _RANGES.get(int(frame.color_range), ""),
        "color_matrix": _MATRICES.get(int(frame.colorspace), ""),
        "color_primaries": _PRIMARIES.get(int(frame.color_primaries), ""),
        "color_transfer": _TRANSFERS.get(int(frame.color_trc), ""),
    }


def with_frame_facts(stream: StreamInfo, frame: Any) -> StreamInfo:
    """``stream`` completed by what its first decoded ``frame`` says: the size, the display
    rotation and mirror, colour tags the stream left out, Dolby Vision and HDR side data."""
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
    return replace(
        stream,
        peak_nits=peak_nits(side, Type),
        rotation_deg=rotation,
        hflip=hflip,
        display_filters=turn,
        width=frame.width,
        height=frame.height,
        pix_fmt=stream.pix_fmt or frame.format.name,
        dolby_vision=dovi is not None,
        hdr_metadata=hdr_meta,
        **tags,
    )


def default_matrix(stream: StreamInfo) -> str:
    """The YUV matrix to use: the stream's tag, else BT.709 for HD (720 lines up), else BT.601.

    Untagged HD is BT.709 in practice (ITU-R BT.709 is the HD standard, and players assume it);
    decoding it with BT.601 shifts greens and reds visibly.

    Examples
    --------
    >>> default_matrix(StreamInfo(0, "video", "h264", width=1920, height=1080))
    'bt709'
    >>> default_matrix(StreamInfo(0, "video", "h264", width=640, height=480))
    'bt601'
    >>> default_matrix(StreamInfo(0, "video", "hevc", color_matrix="bt2020nc"))
    'bt2020'
    """
    tagged = _MATRIX_FAMILIES.get(stream.color_matrix)
    if tagged:
        return tagged
    if stream.hdr or stream.color_primaries == "bt2020":
        return "bt2020"
    return "bt709" if stream.width >= 1280 or stream.height >= 720 else "bt601"


def is_yuv(pix_fmt: str) -> bool:
    """True for YUV pixel formats (``yuv420p``, ``yuvj422p``, ``nv12``, ``p010le``, ...).

    Examples
    --------
    >>> is_yuv("yuv420p10le"), is_yuv("nv12"), is_yuv("yuyv422"), is_yuv("gbrp"), is_yuv("gray")
    (True, True, True, False, False)
    """
    return pix_fmt.startswith(("yuv", "yuva", "yuyv", "yvyu", "nv", "p0", "p2", "p4", "y2", "y4",
                               "uyv", "yv", "ayuv", "vuy", "xv", "v30", "uyyvyy"))  # fmt: skip


def is_variable_rate(times: list[float], tolerance: float = 0.1) -> bool:
    """True when frame durations differ by more than ``tolerance`` (relative) of the median.

    Examples
    --------
    >>> is_variable_rate([0, 0.04, 0.08, 0.12]), is_variable_rate([0, 0.04, 0.08, 0.2])
    (False, True)
    """
    gaps = sorted(b - a for a, b in zip(times, times[1:], strict=False))
    if len(gaps) < 2:
        return False
    median = gaps[len(gaps) // 2]
    if median <= 0:
        return True
    return gaps[0] < median * (1 - tolerance) or gaps[-1] > median * (1 + tolerance)


def bits_per_sample(pix_fmt: str) -> int:
    """Significant bits per sample of an FFmpeg pixel format name.

    Examples
    --------
    >>> bits_per_sample("yuv420p"), bits_per_sample("yuv420p10le"), bits_per_sample("p010le")
    (8, 10, 10)
    """
    import re

    match = re.search(r"(\d{2})(?:le|be)$", pix_fmt) or re.match(r"^p(\d{2})", pix_fmt)
    if match and 9 <= int(match.group(1)) <= 16:
        return int(match.group(1))
    if pix_fmt.endswith(("48le", "48be", "64le", "64be")):
        return 16
    return 8


__all__ = [
    "HDR_TRANSFERS",
    "MediaInfo",
    "StreamInfo",
    "bits_per_sample",
    "default_matrix",
    "display_transform",
    "frame_colour",
    "is_variable_rate",
    "is_yuv",
    "read_media",
    "with_frame_facts",
]
