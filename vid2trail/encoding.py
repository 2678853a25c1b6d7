"""What a trail video is encoded as: formats, codecs and presets, the frame size, and the bundled
ffmpeg command that encodes raw RGB frames.

Colour: the frames are sRGB; ffmpeg converts them to Y'CbCr with the BT.709 matrix at TV range and
the stream is tagged BT.709 (primaries, transfer, matrix), which is what players assume for HD.
Without the explicit matrix swscale would use BT.601 coefficients, and colours would shift in
every player that trusts the BT.709 tags.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import MissingDependencyError, OutputError, UsageError, check_number, option
from .writers import check_destination

#: Video extension -> container. GIF and WebP are palette / still-image formats for short loops.
VIDEO_FORMATS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".gif": "gif", ".webp": "webp"}
#: ``--codec`` -> ffmpeg encoder, for .mp4, .mov and .mkv.
CODECS = {"h264": "libx264", "hevc": "libx265", "av1": "libsvtav1"}
#: x264/x265 preset names; AV1 (SVT-AV1) maps them onto its numeric presets.
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
           "veryslow")  # fmt: skip
_SVT_PRESETS = dict(zip(PRESETS, (12, 11, 10, 9, 8, 6, 5, 4, 3), strict=True))
#: Default x264 preset. On 1080p star trails at CRF 18, ``veryfast`` gave the smallest files of
#: superfast..medium (superfast's were 2.5-4x larger) at a PSNR within 1 dB of medium's (53.5 dB
#: against 54.5 dB: far past visible), and it is the fastest of the presets that compress well.
#: benchmarks/README.md has the measurements.
DEFAULT_PRESET = "veryfast"
DEFAULT_CRF = 18
#: Frame rate for sources that have none (folders of photos).
DEFAULT_FOLDER_FPS = 24.0
#: The widest trail video (twice 8K): the encoders' own limits lie about there.
MAX_VIDEO_WIDTH = 16384
#: Quality of lossy WebP output (libwebp's 0..100 scale).
WEBP_QUALITY = 85


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary that imageio-ffmpeg bundles (or of ``IMAGEIO_FFMPEG_EXE``): the
    trail video's encoder runs in its own process, beside the decoding and stacking.

    Examples
    --------
    >>> "ffmpeg" in ffmpeg_exe()
    True
    """
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise MissingDependencyError(
            "the trail video needs imageio-ffmpeg: pip install imageio-ffmpeg"
        ) from exc
    return imageio_ffmpeg.get_ffmpeg_exe()


def stderr_tail(text: str, lines: int = 3) -> str:
    """The last few meaningful lines of ffmpeg's stderr, joined for a one-line message.

    Examples
    --------
    >>> stderr_tail("a\\nframe=1\\nb")
    'a | b'
    """
    kept = [
        ln.strip()
        for ln in text.splitlines()
        if ln.strip() and not ln.lstrip().startswith(("frame=", "Press [q]", "[out#"))
    ]
    return " | ".join(kept[-lines:])


@dataclass(frozen=True)
class VideoOptions:
    """How to encode: everything ``--video-*``, ``--codec``, ``--crf`` and ``--preset`` set.

    ``fps`` None means the source's frame rate (24 for folders); ``width`` None keeps the size.

    Examples
    --------
    >>> VideoOptions(crf=20).codec
    'h264'
    """

    fps: float | None = None
    width: int | None = None
    codec: str = "h264"
    crf: int = DEFAULT_CRF
    preset: str = DEFAULT_PRESET

    def __post_init__(self) -> None:
        if self.fps is not None:
            check_number("video_fps", self.fps, 0, 1000,
                         "a frame rate above 0, at most 1000, e.g. 24 or 30")  # fmt: skip
        if self.width is not None and not 2 <= self.width <= MAX_VIDEO_WIDTH:
            raise UsageError(
                f"{option('video_width')} {self.width}: use a width of 2 to {MAX_VIDEO_WIDTH} "
                "pixels (8K is 7680)"
            )
        if self.codec not in CODECS:
            raise UsageError(
                f"unknown {option('codec')} {self.codec!r}: choose one of {', '.join(CODECS)}"
            )
        if not 0 <= self.crf <= 51:
            raise UsageError(
                f"{option('crf')} {self.crf}: use 0 (lossless) to 51; 18 looks lossless"
            )
        if self.preset not in PRESETS:
            raise UsageError(
                f"unknown {option('preset')} {self.preset!r}: choose one of {', '.join(PRESETS)}"
            )


def check_video_output(
    path: str | os.PathLike[str], *, overwrite: bool = False, inputs: Sequence[str] = ()
) -> Path:
    """Validate a video output path before decoding: extension, folder, existing file, not an input.

    Examples
    --------
    >>> check_video_output("trails.avi")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vid2trail.errors.OutputError: cannot write trails.avi: unsupported video extension '.avi'; ...
    """
    out = Path(path)
    ext = out.suffix.lower()
    if ext not in VIDEO_FORMATS:
        raise OutputError(
            f"cannot write {out}: unsupported video extension {ext or '(none)'!r}; use "
            f"{', '.join(VIDEO_FORMATS)}"
        )
    return check_destination(out, overwrite=overwrite, inputs=inputs)


def output_size(width: int, height: int, options: VideoOptions, fmt: str) -> tuple[int, int]:
    """The encoded frame size: scaled to ``options.width`` keeping the aspect, even for 4:2:0.

    4:2:0 video needs even sizes: an odd width or height loses its last column or row (cropped,
    not padded, so no black line appears); a scaled size is rounded to even. GIF keeps any size.

    Examples
    --------
    >>> output_size(1921, 1081, VideoOptions(), "mp4")
    (1920, 1080)
    >>> output_size(1920, 1080, VideoOptions(width=1280), "mp4")
    (1280, 720)
    >>> output_size(65, 49, VideoOptions(), "gif")
    (65, 49)
    """
    even = fmt != "gif"
    if even and options.width is None and min(width, height) < 2:
        # Cropping to even would leave nothing; ffmpeg would fail only once frames arrive.
        raise UsageError(
            f"{width}x{height} frames are too small for 4:2:0 video (at least 2x2 pixels): "
            f"scale them with {option('video_width')}, or write a .gif"
        )
    if options.width is None:
        w, h = width, height
    else:
        w, h = options.width, max(1, round(height * options.width / width))
    if even:
        w, h = max(2, w - w % 2), max(2, h - h % 2)
        if options.width is not None:
            h = max(2, 2 * round(height * w / width / 2))
    return w, h


def encoder_command(
    path: str | os.PathLike[str],
    size: tuple[int, int],
    fps: float,
    options: VideoOptions,
) -> list[str]:
    """The ffmpeg command that reads raw ``rgb24`` frames of ``size`` on stdin and writes ``path``.

    Examples
    --------
    >>> cmd = encoder_command("t.mp4", (64, 48), 25.0, VideoOptions())
    >>> cmd[cmd.index("-c:v") + 1], cmd[cmd.index("-crf") + 1], "+faststart" in cmd
    ('libx264', '18', True)
    """
    out = Path(path)
    fmt = VIDEO_FORMATS[out.suffix.lower()]
    in_w, in_h = size
    w, h = output_size(in_w, in_h, options, fmt)
    if (w, h) == (in_w, in_h):
        geometry = ""
    elif options.width is None:
        geometry = f"crop={w}:{h}:0:0,"
    else:
        # Area averaging keeps faint stars when shrinking; bicubic would alias them into flicker.
        geometry = f"scale={w}:{h}:flags=area,"
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-nostats",
           "-progress", "pipe:1", "-stats_period", "0.25", "-y",
           "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{in_w}x{in_h}", "-framerate", f"{fps:.6g}", "-i", "-", "-an"]  # fmt: skip
    if fmt == "gif":
        # One palette for the whole clip (ffmpeg buffers it): far better than the fixed 256-colour
        # default, which bands dark skies into grey blotches.
        graph = (f"[0:v]{geometry}split[a][b];[a]palettegen=stats_mode=full[p];"
                 "[b][p]paletteuse=dither=sierra2_4a")  # fmt: skip
        return [*cmd, "-filter_complex", graph, "-loop", "0", "-f", "gif", str(out)]
    if fmt == "webp":
        # Lossy WebP is 4:2:0 with the BT.601 matrix by definition, ffmpeg's default.
        return [*cmd, "-vf", f"{geometry}format=yuv420p", "-c:v", "libwebp_anim",
                "-quality", str(WEBP_QUALITY), "-loop", "0", "-f", "webp", str(out)]  # fmt: skip
    encoder = CODECS[options.codec]
    # setparams stamps the frames themselves: ffmpeg takes the stream's primaries and transfer
    # tags from the frames, and the -color_* options alone would leave them "unknown".
    tags = "color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv"
    cmd += ["-vf", f"{geometry}scale=out_color_matrix=bt709:out_range=tv,format=yuv420p,"
            f"setparams={tags}", "-c:v", encoder, "-crf", str(options.crf)]  # fmt: skip
    if encoder == "libsvtav1":
        cmd += ["-preset", str(_SVT_PRESETS[options.preset])]
    else:
        cmd += ["-preset", options.preset]
    if encoder == "libx265":
        cmd += ["-tag:v", "hvc1", "-x265-params", "log-level=error"]  # hvc1: QuickTime plays it
    cmd += ["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
            "-color_range", "tv"]  # fmt: skip
    if fmt in ("mp4", "mov"):
        cmd += ["-movflags", "+faststart"]
    return [*cmd, "-f", fmt, str(out)]
