"""What a video file holds, read from the bundled ffmpeg's own words (no ffprobe is bundled).

:func:`parse_media` reads the ``Input #0`` report that ``ffmpeg -i`` prints on stderr: container,
duration, and every stream with its codec, size, frame rate, pixel format, colour tags and display
rotation. :func:`packet_times` demuxes the video stream without decoding it (``-c copy -f
framecrc``) and returns every frame's presentation time, which gives an exact frame count, tells
constant from variable frame rate, and turns times into frame numbers for variable-rate clips.
:func:`color_filter` builds the ``-vf`` chain that converts YUV to RGB with the stream's own matrix
and range, tone-mapping HDR to SDR where asked.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import asdict, dataclass, field

from .._early import listing_command
from ..errors import DecodeError

_TIMEOUT_S = 600

_INPUT_RE = re.compile(r"^Input #0, (.+?), from '")
_DURATION_RE = re.compile(r"Duration: (?:(\d+):(\d+):(\d+(?:\.\d+)?)|N/A)")
_START_RE = re.compile(r"start: (-?\d+(?:\.\d+)?)")
_BITRATE_RE = re.compile(r"bitrate: (\d+) kb/s")
_STREAM_RE = re.compile(r"^\s*Stream #0:(\d+)(?:\[[^\]]*\])?(?:\((\w+)\))?: (\w+): (.*)$")
_SIZE_RE = re.compile(r"^(\d{1,5})x(\d{1,5})")
_RATE_RE = re.compile(r"(\d+(?:\.\d+)?)(k?) (fps|tbr)\b")
_ROTATION_RE = re.compile(r"rotation of (-?\d+(?:\.\d+)?) degrees", re.IGNORECASE)
_PIXFMT_RE = re.compile(r"^([a-z][a-z0-9_]*)(?:\((.*)\))?$")
_RANGES = {"tv": "tv", "pc": "pc", "mpeg": "tv", "jpeg": "pc"}
_FIELD_ORDERS = ("progressive", "top first", "bottom first", "top coded first", "bottom coded")

#: Transfer characteristics that mark a stream as HDR, and what to call them.
HDR_TRANSFERS = {"smpte2084": "PQ (HDR10)", "arib-std-b67": "HLG"}

#: ffmpeg colorspace tag -> the scale filter's ``in_color_matrix`` name.
_SCALE_MATRICES = {
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
    """One stream of a media file as ffmpeg reports it.

    Colour fields hold ffmpeg's tag names (``"bt709"``, ``"smpte2084"``), or ``""`` when the file
    does not say. ``fps`` is the average rate ffmpeg reports, ``tbr`` its guess of the base rate;
    either may be None. ``rotation_deg`` is the display-matrix rotation (0, 90, 180, 270).
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
    color_range: str = ""
    color_matrix: str = ""
    color_primaries: str = ""
    color_transfer: str = ""
    dolby_vision: bool = False
    dolby_vision_profile: int | None = None
    hdr_metadata: tuple[str, ...] = ()

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
    """The container and its streams, from :func:`parse_media`."""

    container: str
    duration_s: float | None
    start_s: float
    bitrate_kbps: int | None
    streams: tuple[StreamInfo, ...] = field(default_factory=tuple)

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
                f"(--stream 0 to {len(videos) - 1})"
            )
        return videos[number]

    def as_dict(self) -> dict[str, object]:
        """Plain data for ``--json``."""
        return asdict(self)


def _parse_colour(inside: str) -> dict[str, str]:
    """Range, matrix/primaries/transfer from the parenthesis after the pixel format."""
    out: dict[str, str] = {}
    for part in (p.strip() for p in inside.split(",")):
        if part in _RANGES:
            out["color_range"] = _RANGES[part]
        elif part.startswith(_FIELD_ORDERS) or not part:
            continue
        elif re.match(r"^[a-z0-9\-]+(/[a-z0-9\-]+/[a-z0-9\-]+)?$", part):
            names = part.split("/") if "/" in part else [part] * 3
            keys = ("color_matrix", "color_primaries", "color_transfer")
            for key, name in zip(keys, names, strict=True):
                if name not in ("unknown", "reserved", "unspecified"):
                    out[key] = name
    return out


def split_top_level(text: str) -> list[str]:
    """Split an ffmpeg stream description at commas that are not inside parentheses.

    Examples
    --------
    >>> split_top_level("h264 (High), yuv420p(tv, bt709), 64x48")
    ['h264 (High)', 'yuv420p(tv, bt709)', '64x48']
    """
    parts, depth, current = [], 0, []
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        if ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    if current:
        parts.append("".join(current).strip())
    return parts


def _parse_stream_line(index: int, language: str, kind: str, text: str) -> dict[str, object]:
    fields = split_top_level(text)
    head = fields[0] if fields else ""
    codec = head.split(" ")[0]
    parens = re.findall(r"\(([^)]*)\)", head)
    profile = next((p for p in parens if "/" not in p and not p.startswith("lib")), "")
    disposition = re.findall(r"\((default|attached pic|forced|dub|original|comment)\)", text)
    info: dict[str, object] = {
        "index": index,
        "kind": kind.lower(),
        "codec": codec,
        "profile": profile,
        "language": "" if language in ("und", "") else language,
        "default": "default" in disposition,
        "attached_pic": "attached pic" in disposition,
    }
    if kind != "Video":
        return info
    for part in fields[1:]:
        size = _SIZE_RE.match(part)
        if size and "width" not in info:
            info["width"], info["height"] = int(size.group(1)), int(size.group(2))
            continue
        pix = _PIXFMT_RE.match(part)
        if pix and "pix_fmt" not in info and "width" not in info:
            info["pix_fmt"] = pix.group(1)
            info.update(_parse_colour(pix.group(2) or ""))
    rates = {unit: float(v) * (1000 if k else 1) for v, k, unit in _RATE_RE.findall(text)}
    info["fps"] = rates.get("fps")
    info["tbr"] = rates.get("tbr")
    return info


def parse_media(stderr: str) -> MediaInfo:
    """Read container and streams from the ``Input #0`` report of ``ffmpeg -i``.

    Parameters
    ----------
    stderr : str
        ffmpeg's stderr; only the part before ``Output #0`` is read.

    Returns
    -------
    MediaInfo

    Examples
    --------
    >>> text = '''Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'a.mp4':
    ...   Duration: 00:00:02.02, start: 0.000000, bitrate: 979 kb/s
    ...   Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(tv, bt709, \
progressive), 640x360 [SAR 1:1 DAR 16:9], 631 kb/s, 25 fps, 25 tbr, 12800 tbn (default)
    ...     Side data:
    ...       Display Matrix: rotation of -90.00 degrees
    ...   Stream #0:1[0x2](eng): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, 5.1 (default)
    ... '''
    >>> m = parse_media(text)
    >>> v = m.video_stream()
    >>> (m.container, m.duration_s, v.codec, v.profile, v.width, v.height, v.fps)
    ('mov,mp4,m4a,3gp,3g2,mj2', 2.02, 'h264', 'High', 640, 360, 25.0)
    >>> (v.color_matrix, v.color_range, v.rotation_deg, v.display_size, m.streams[1].language)
    ('bt709', 'tv', 270, (360, 640), 'eng')
    """
    text = stderr.partition("\nOutput #0")[0]
    container, duration_s, start_s, bitrate = "", None, 0.0, None
    streams: list[dict[str, object]] = []
    for line in text.splitlines():
        if match := _INPUT_RE.match(line):
            container = match.group(1)
        elif line.lstrip().startswith("Duration:"):
            if (d := _DURATION_RE.search(line)) and d.group(1) is not None:
                duration_s = int(d.group(1)) * 3600 + int(d.group(2)) * 60 + float(d.group(3))
            if s := _START_RE.search(line):
                start_s = float(s.group(1))
            if b := _BITRATE_RE.search(line):
                bitrate = int(b.group(1))
        elif match := _STREAM_RE.match(line):
            index, language, kind, rest = match.groups()
            streams.append(_parse_stream_line(int(index), language or "", kind, rest))
        elif streams:
            current = streams[-1]
            if rot := _ROTATION_RE.search(line):
                current["rotation_deg"] = int(round(float(rot.group(1)))) % 360
                current["hflip"] = "flip" in line.lower()
            elif "DOVI configuration record" in line or "Dolby Vision" in line:
                current["dolby_vision"] = True
                if profile := re.search(r"profile: (\d+)", line):
                    current["dolby_vision_profile"] = int(profile.group(1))
            elif re.search(r"Mastering Display Metadata|Content Light Level", line):
                current["hdr_metadata"] = (
                    *current.get("hdr_metadata", ()),  # type: ignore[misc]
                    line.strip().split(",")[0],
                )
    return MediaInfo(
        container=container,
        duration_s=duration_s,
        start_s=start_s,
        bitrate_kbps=bitrate,
        streams=tuple(StreamInfo(**s) for s in streams),  # type: ignore[arg-type]
    )


def probe_media(path: str, exe: str) -> tuple[MediaInfo, str]:
    """Run ``ffmpeg -i path`` and parse what it says; returns the info and the raw stderr."""
    try:
        done = subprocess.run(
            [exe, "-hide_banner", "-nostdin", "-i", path],
            capture_output=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise DecodeError(f"ffmpeg took over 60 s to open {path}") from exc
    text = done.stderr.decode("utf-8", "replace")
    return parse_media(text), text


def parse_framecrc(text: str) -> list[float]:
    """Presentation times in seconds of the packets in ``-f framecrc`` output, in file order.

    Packets without a time (``NOPTS``) are left out.

    Examples
    --------
    >>> parse_framecrc('''#tb 0: 1/1000
    ... #media_type 0: video
    ... 0,          0,          0,       40,     1234, 0x0
    ... 0,         40,        120,       40,      222, 0x1
    ... 0,         80,         40,       40,      321, 0x2
    ... ''')
    [0.0, 0.12, 0.04]
    """
    num, den = 1, 1
    times: list[float] = []
    for line in text.splitlines():
        if line.startswith("#tb"):
            num, den = (int(x) for x in line.split(":")[1].strip().split("/"))
        elif line and not line.startswith("#"):
            parts = line.split(",")
            if len(parts) >= 3:
                pts = parts[2].strip()
                if pts.lstrip("-").isdigit():
                    times.append(int(pts) * num / den)
    return times


def packet_times(path: str, exe: str, stream_index: int) -> list[float]:
    """Sorted presentation times (seconds) of every packet of one stream; demuxes, never decodes.

    Reading a file this way runs at disk speed, so an exact frame count and the real frame times
    of a variable-rate clip cost one read of the file, not a decode.

    Examples
    --------
    >>> from vid2trail.sources.ffmpeg import ffmpeg_exe
    >>> len(packet_times("sample_clips/startrails.mp4", ffmpeg_exe(), 0))  # doctest: +SKIP
    240
    """
    return sorted(parse_framecrc(demux_listing(path, exe, stream_index)[0]))


def demux_listing(
    path: str, exe: str, stream_index: int | str, started: subprocess.Popen[bytes] | None = None
) -> tuple[str, int]:
    """ffmpeg's ``framecrc`` listing of one stream's packets (demuxed, not decoded) and its
    exit code: the one read of the file that frame times and keyframes both come from.
    ``stream_index`` is the stream's index in the file, or a specifier such as ``V:0``;
    ``started`` is the same ffmpeg run already under way (see :mod:`vid2trail._early`).

    Examples
    --------
    >>> from vid2trail.sources.ffmpeg import ffmpeg_exe
    >>> text, code = demux_listing("sample_clips/startrails.mp4", ffmpeg_exe(), 0)  # doctest: +SKIP
    """
    proc = started or subprocess.Popen(
        listing_command(exe, path, stream_index),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, _ = finish(proc, _TIMEOUT_S, f"read {path}")
    return out.decode("ascii", "replace"), proc.returncode


def finish(proc: subprocess.Popen[bytes], timeout_s: float, doing: str) -> tuple[bytes, bytes]:
    """Wait for a short ffmpeg run and return its stdout and stderr; on a timeout it is killed
    and a :class:`DecodeError` says it took over ``timeout_s`` to ``doing``, on Ctrl-C it is
    killed too, so no ffmpeg is left behind.

    Examples
    --------
    >>> import sys
    >>> run = subprocess.Popen([sys.executable, "-c", "print(1)"], stdout=subprocess.PIPE)
    >>> finish(run, 10, "print")[0].strip()
    b'1'
    """
    try:
        return proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        proc.communicate()
        raise DecodeError(f"ffmpeg took over {timeout_s} s to {doing}") from exc
    except BaseException:
        proc.kill()
        proc.communicate()
        raise


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
    tagged = _SCALE_MATRICES.get(stream.color_matrix)
    if tagged:
        return tagged
    if stream.hdr or stream.color_primaries == "bt2020":
        return "bt2020"
    return "bt709" if stream.width >= 1280 or stream.height >= 720 else "bt601"


def is_yuv(pix_fmt: str) -> bool:
    """True for YUV pixel formats (``yuv420p``, ``yuvj422p``, ``nv12``, ``p010le``, ...).

    Examples
    --------
    >>> is_yuv("yuv420p10le"), is_yuv("nv12"), is_yuv("gbrp"), is_yuv("gray")
    (True, True, False, False)
    """
    return pix_fmt.startswith(("yuv", "yuva", "nv", "p0", "p2", "p4", "y2", "uyv", "yv", "ayuv"))


#: ``--hdr keep``: linear light where 1.0 is this many cd/m2 (ITU-R BT.2408 HDR reference white).
HDR_REFERENCE_WHITE_NITS = 203
#: ``--hdr keep`` pipes planar float32 G, B, R (ffmpeg has no packed float RGB output format).
HDR_LINEAR_PIX_FMT = "gbrpf32le"


def color_filter(stream: StreamInfo, out_pix_fmt: str, hdr: str = "tonemap") -> tuple[str, str]:
    """The filter chain to RGB for one stream, and a sentence saying what it does.

    YUV is converted with the stream's matrix and range (``default_matrix``; untagged range is
    limited "tv" range, ``yuvj`` formats are full range). HDR (PQ or HLG) with ``hdr="tonemap"``
    is linearized, mapped to BT.709 primaries and tone-mapped (Hable) to SDR BT.709 by zscale and
    tonemap; with ``hdr="keep"`` it is linearized and mapped to BT.709 primaries but not
    tone-mapped: planar float32 linear light (``HDR_LINEAR_PIX_FMT``) where 1.0 is the HDR
    reference white, so highlights keep their values above 1.0.

    Parameters
    ----------
    stream : StreamInfo
        The video stream being decoded.
    out_pix_fmt : str
        ``rgb24`` or ``rgb48le``.
    hdr : {"tonemap", "keep"}
        What to do with HDR.

    Returns
    -------
    (str, str)
        The ``-vf`` chain (no leading comma) and a note ("" when nothing worth saying was done).

    Examples
    --------
    >>> s = StreamInfo(0, "video", "h264", pix_fmt="yuv420p", width=1920, height=1080)
    >>> color_filter(s, "rgb24")[0]
    'scale=in_color_matrix=bt709:in_range=tv:out_range=pc,format=rgb24'
    """
    if not is_yuv(stream.pix_fmt):
        return f"format={out_pix_fmt}", ""
    if stream.dolby_vision_profile == 5:
        # Profile 5 codes IPTPQc2, not YUV: without the Dolby reshaping the picture is green and
        # purple, and no filter in the bundled ffmpeg undoes it.
        chain = f"scale=in_range=tv:out_range=pc,format={out_pix_fmt}"
        return chain, (
            "Dolby Vision profile 5 has no standard base layer: colours will be wrong; "
            "export the clip from the phone as HDR10 or SDR first"
        )
    matrix = default_matrix(stream)
    full = stream.color_range == "pc" or stream.pix_fmt.startswith("yuvj")
    in_range = "pc" if full else "tv"
    if stream.hdr and hdr == "tonemap":
        zmatrix = {"bt601": "170m", "bt2020": "2020_ncl"}.get(matrix, matrix)
        tin = "smpte2084" if stream.color_transfer == "smpte2084" else "arib-std-b67"
        pin = stream.color_primaries or "bt2020"
        chain = (
            f"zscale=min={zmatrix}:tin={tin}:pin={pin}:rin={'full' if full else 'limited'}"
            ":t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,"
            "tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=full,"
            f"format={out_pix_fmt}"
        )
        return chain, f"tone-mapped {stream.hdr} BT.2020 to SDR BT.709 (zscale + tonemap hable)"
    if stream.hdr:
        # zscale's linear output is display light / npl for PQ and for HLG (whose OOTF it
        # applies for a 1000 cd/m2 display), so npl=203 makes 1.0 the BT.2408 reference white.
        # Float planes: the only float RGB format the rawvideo pipe carries.
        zmatrix = {"bt601": "170m", "bt2020": "2020_ncl"}.get(matrix, matrix)
        tin = "smpte2084" if stream.color_transfer == "smpte2084" else "arib-std-b67"
        pin = stream.color_primaries or "bt2020"
        chain = (
            f"zscale=min={zmatrix}:tin={tin}:pin={pin}:rin={'full' if full else 'limited'}"
            f":t=linear:npl={HDR_REFERENCE_WHITE_NITS}:p=bt709,format={HDR_LINEAR_PIX_FMT}"
        )
        return chain, (
            f"kept the {stream.hdr} light: linear float, BT.709 primaries, 1.0 = "
            f"{HDR_REFERENCE_WHITE_NITS} cd/m2 reference white; highlights above 1.0 survive "
            "only in --bit-depth 32 outputs (.tif, .fits, .npy)"
        )
    note = ""
    chain = f"scale=in_color_matrix={matrix}:in_range={in_range}:out_range=pc,format={out_pix_fmt}"
    return chain, note


__all__ = [
    "HDR_TRANSFERS",
    "MediaInfo",
    "StreamInfo",
    "color_filter",
    "default_matrix",
    "is_variable_rate",
    "is_yuv",
    "demux_listing",
    "packet_times",
    "parse_framecrc",
    "parse_media",
    "finish",
    "probe_media",
]
