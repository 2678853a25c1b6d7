"""Every option of the ``vid2trail`` commands, declared once as an ``Annotated`` type.

The commands' signatures name these types, so an option shared by ``stack``, ``info`` and ``scan``
(``INPUT``, ``--stream``, ``--backend``, ``-y``, ``-q``) reads the same everywhere. Each option says
its default one way, in typer's ``[default: ...]``, and sits in one help panel. The trail video's
options are in :mod:`vid2trail.cli.video_options`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ..choose import DEFAULT_REJECT_K, REJECT_HISTORY
from ..color import DEFAULT_NORMALIZE
from ..parallel import default_threads, default_workers
from ..plan import PREVIEW_FRAMES, PREVIEW_MIN_KEYFRAMES
from ..reducers import REDUCERS
from ..sources import PREVIEW_SIDE

#: The help panels, in the order ``--help`` shows them.
INPUT = "Input and selection"
STACKING = "Stacking"
CALIBRATION = "Calibration"
OUTPUTS = "Outputs"
VIDEO = "Trail video"
KEOGRAM = "Keogram"
SKY = "Sky motion"
PERFORMANCE = "Performance"
PANELS = (INPUT, STACKING, CALIBRATION, SKY, OUTPUTS, VIDEO, KEOGRAM, PERFORMANCE)

_NORMALIZE_DEFAULTS = (
    ", ".join(f"{m}: {n}" for m, n in DEFAULT_NORMALIZE.items() if n != "none") + ", others: none"
)


def whole(text: str) -> int:
    """Read a whole-number option; the library checks its range, in its own words.

    Examples
    --------
    >>> whole("12")
    12
    >>> whole("nan")
    Traceback (most recent call last):
    ...
    typer._click.exceptions.BadParameter: 'nan': use a whole number
    """
    try:
        return int(str(text).strip())
    except ValueError:
        raise typer.BadParameter(f"{text!r}: use a whole number") from None


def number(text: str) -> float:
    """Read a number option (``nan`` and ``inf`` too: the library says why they cannot apply).

    Examples
    --------
    >>> number("2.5"), number(" 1e3 ")
    (2.5, 1000.0)
    """
    try:
        return float(str(text).strip())
    except ValueError:
        raise typer.BadParameter(f"{text!r}: use a number") from None


# -- shared by the commands ---------------------------------------------------------------------

InputArg = Annotated[
    str,
    typer.Argument(
        metavar="INPUT", help="Video file, folder of images, or quoted glob.", show_default=False
    ),  # fmt: skip
]
StreamOpt = Annotated[
    int | None,
    typer.Option(
        parser=whole,
        metavar="N",
        help="Video stream, counting video streams from 0 (vid2trail info lists them).",
        show_default="the file's default video stream",
        rich_help_panel=INPUT,
    ),
]
BackendOpt = Annotated[
    str,
    typer.Option(
        metavar="NAME",
        help="Video decoder: auto (= pyav: FFmpeg's libraries, in-process; ffmpeg is another "
        "name for it).",
        rich_help_panel=PERFORMANCE,
    ),
]
OverwriteOpt = Annotated[
    bool,
    typer.Option(
        "--overwrite", "-y", help="Replace an existing output file.", rich_help_panel=OUTPUTS
    ),  # fmt: skip
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]

# -- input and selection --------------------------------------------------------------------------

StartOpt = Annotated[
    str | None,
    typer.Option(
        metavar="POS",
        help="First frame to stack: a frame number, a time (90s, 2:00), a clock time (photos: "
        "22:30; any input with a clock: T22:30 or 2026-08-12T22:30), or auto: the night a quick "
        "scan finds (its end too, unless --end is given).",
        show_default="the first frame",
        rich_help_panel=INPUT,
    ),
]
EndOpt = Annotated[
    str | None,
    typer.Option(
        metavar="POS",
        help="Stop before this frame (as --start: frame, time or clock time), or auto (the "
        "night's end).",
        show_default="the end",
        rich_help_panel=INPUT,
    ),
]
StepOpt = Annotated[
    int | None,
    typer.Option(
        parser=whole,
        metavar="K",
        help="Keep every K-th frame of the window.",
        show_default="1; with --preview see there",
        rich_help_panel=INPUT,
    ),  # fmt: skip
]
WindowOpt = Annotated[
    list[str] | None,
    typer.Option(
        metavar="A:B",
        help="START:END window, or auto (the night); repeat for several stills from one "
        "decoding pass, each named after its frames (iss-max-120-900.png).",
        show_default=False,
        rich_help_panel=INPUT,
    ),
]
RejectOpt = Annotated[
    str,
    typer.Option(
        metavar="auto|none",
        help=f"auto: drop flash frames (lightning, headlights) brighter than the running median "
        f"of the previous {REJECT_HISTORY} frames + {DEFAULT_REJECT_K:g} x MAD.",
        rich_help_panel=INPUT,
    ),
]
RejectAboveOpt = Annotated[
    float | None,
    typer.Option(
        parser=number,
        metavar="K",
        help=f"Like --reject auto with K instead of {DEFAULT_REJECT_K:g}: lower rejects more.",
        show_default=False,
        rich_help_panel=INPUT,
    ),
]
ExcludeOpt = Annotated[
    list[str] | None,
    typer.Option(
        metavar="LIST",
        help="Frames to drop: numbers, times or clock times, ranges inclusive, e.g. "
        "300-320,1200 or 1:05-1:10 (photos: 23:10-23:12 is clock time); repeatable.",
        show_default=False,
        rich_help_panel=INPUT,
    ),
]
HdrOpt = Annotated[
    str,
    typer.Option(
        metavar="HOW",
        help="HDR (HLG, PQ) video: tonemap (to SDR BT.709) or keep (float linear light, "
        "1.0 = 203 cd/m2; use --bit-depth 32 to keep highlights above 1.0).",
        rich_help_panel=INPUT,
    ),
]

# -- stacking -------------------------------------------------------------------------------------

ModeOpt = Annotated[
    str,
    typer.Option(
        "--mode",
        "-m",
        metavar="MODE",
        help=f"How frames combine: {', '.join(REDUCERS)}. sigma and winsor reject or clamp "
        "outliers (planes, satellites) in 1 + --iterations decoding passes; median is exact, "
        "holding frames in --memory and caching the rest on disk; maxmean averages --buffers "
        "max stacks to quiet a noisy sky (for stars that stay --buffers frames on a pixel).",
        rich_help_panel=STACKING,
    ),
]
KappaOpt = Annotated[
    float,
    typer.Option(
        parser=number,
        metavar="K",
        help="sigma/winsor: reject samples beyond K standard deviations (above 0, at most 100).",
        rich_help_panel=STACKING,
    ),  # fmt: skip
]
IterationsOpt = Annotated[
    int | None,
    typer.Option(
        parser=whole,
        metavar="N",
        help="sigma/winsor: rejection passes after the statistics pass (1 to 20).",
        show_default="1 for sigma, 2 for winsor",
        rich_help_panel=STACKING,
    ),
]
BuffersOpt = Annotated[
    int,
    typer.Option(
        parser=whole,
        metavar="K",
        help="maxmean: max stacks fed round-robin, then averaged (1 to 256).",
        rich_help_panel=STACKING,
    ),  # fmt: skip
]
#: ``--memory``'s default, as typed: the library's default size (``median.DEFAULT_MEMORY_BYTES``).
DEFAULT_MEMORY = "2GB"
MemoryOpt = Annotated[
    str,
    typer.Option(
        metavar="SIZE",
        help="median: memory for frames (2GB, 500MB, 1GiB). Beyond it frames are cached in the "
        "temporary folder (TMPDIR), which needs frames x width x height x channels x bytes per "
        "sample free (4K 8-bit RGB: 25 MB a frame); the cache is deleted after.",
        rich_help_panel=STACKING,
    ),
]
NormalizeOpt = Annotated[
    str | None,
    typer.Option(
        metavar="HOW",
        help="What maps to white, in linear light: none, max, or a percentile such as p99.5.",
        show_default=f"per mode: {_NORMALIZE_DEFAULTS}",
        rich_help_panel=STACKING,
    ),
]
GainOpt = Annotated[
    float,
    typer.Option(
        parser=number,
        metavar="X",
        help="Multiply the light before output (2 = one stop brighter; above 0, at most 1000000).",
        rich_help_panel=STACKING,
    ),  # fmt: skip
]

# -- calibration ----------------------------------------------------------------------------------

DarkOpt = Annotated[
    str | None,
    typer.Option(
        metavar="PATH",
        help="Master dark subtracted from every frame in linear light (clipped at 0): one "
        "image, .npy or .fits, or a folder, glob or video of darks (their median).",
        show_default=False,
        rich_help_panel=CALIBRATION,
    ),
]
HotPixelsOpt = Annotated[
    str,
    typer.Option(
        metavar="off|auto",
        help="auto: find pixels bright in every frame (temporal minimum vs 3x3 median) and "
        "replace them by their neighbours' median before stacking.",
        rich_help_panel=CALIBRATION,
    ),
]

# -- outputs --------------------------------------------------------------------------------------

OutputOpt = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        metavar="PATH",
        help="Still to write: .png, .jpg, .tif, .fits or .npy, in the current folder unless "
        "the path says otherwise.",
        show_default="<input-stem>-<mode>.png",
        rich_help_panel=OUTPUTS,
    ),
]
BitDepthOpt = Annotated[
    int | None,
    typer.Option(
        parser=whole,
        metavar="8|16|32",
        help="Bits per channel: 8; 16 for PNG and TIFF; 32 = float linear light (1.0 = white, "
        "unclipped) for TIFF, FITS and .npy.",
        show_default="32 for FITS, else 8",
        rich_help_panel=OUTPUTS,
    ),
]
QualityOpt = Annotated[
    int,
    typer.Option(
        parser=whole, metavar="Q", help="JPEG quality, 1 to 100.", rich_help_panel=OUTPUTS
    ),
]
SidecarOpt = Annotated[
    bool,
    typer.Option(
        "--sidecar",
        help="Also write <still>.json: source, frames, mode, options, vid2trail version.",
        rich_help_panel=OUTPUTS,
    ),
]
ArgmaxOpt = Annotated[
    str | None,
    typer.Option(
        metavar="PATH",
        help="max only: write a 16-bit image (.png, .tif, .npy) of the frame number that "
        "supplied each pixel (brightest luma), to find the frame of a satellite.",
        show_default=False,
        rich_help_panel=OUTPUTS,
    ),
]

# -- performance ----------------------------------------------------------------------------------

HwaccelOpt = Annotated[
    str,
    typer.Option(
        metavar="HOW",
        help="Decode video on an NVIDIA GPU (NVDEC): none, auto (the GPU when there is one, "
        "else software, with a note) or cuda (the GPU, or an error).",
        rich_help_panel=PERFORMANCE,
    ),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option(
        parser=whole,
        metavar="N",
        help="Processes that decode and stack parts of a video at once (max, min, mean, sum with "
        "one window and no --reject/--exclude/--dark/--hot-pixels; anything else runs in one "
        "process); for a folder, threads. 1: one process.",
        show_default=f"half the cores for a video, all for a folder, at most 8 (here "
        f"{default_workers()} and {default_threads()})",
        rich_help_panel=PERFORMANCE,
    ),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        metavar="ADDRESS",
        help="Run one window on a Dask cluster (pip install 'vid2trail[dask]'): the scheduler's "
        "address, e.g. tcp://10.0.0.5:8786; also read from DASK_SCHEDULER_ADDRESS. The workers "
        "read the input by its path: it must be on a filesystem they all mount.",
        show_default=False,
        rich_help_panel=PERFORMANCE,
    ),
]
PreviewOpt = Annotated[
    bool,
    typer.Option(
        "--preview",
        help=f"Quick small result: frames shrunk to at most {PREVIEW_SIDE} px on the longer side "
        "inside the decoder (JPEGs decode at 1/2, 1/4 or 1/8 size, 8-bit), and, without --step, "
        f"a long video stacks only its keyframes (if there are at least {PREVIEW_MIN_KEYFRAMES}; "
        f"the decoder skips the rest unseen) or else about {PREVIEW_FRAMES} frames of the "
        "window. Trails may look dotted. Default name: <stem>-<mode>-preview.png.",
        rich_help_panel=PERFORMANCE,
    ),
]
