"""The ``vid2trail`` command: a thin typer skin over :func:`vid2trail.orchestrator.run`.

Each command maps its flags onto the library (:mod:`vid2trail.cli.flags`), runs it, and prints
what it made: output paths on stdout, progress, notes and one ``Error:`` line on stderr, with exit
code 2 for a bad value and 1 for a problem with the input or an output
(:mod:`vid2trail.cli.terminal`). The options are declared once in :mod:`vid2trail.cli.options`.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from typing import Annotated, Any

# Before numpy loads (the imports below): the command's linear algebra is 3x3 matrices, and
# OpenBLAS would start a thread a core that spins for its first moments: 0.15 CPU s a process
# on two cores, a fifth of a short stack's.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import typer
from typer.core import TyperCommand, TyperGroup

from ..choose import DEFAULT_REJECT_K
from ..info import describe, format_report
from ..job import StackJob, parse_reject
from ..orchestrator import run as run_job
from ..outputs import default_stem
from ..scan import THUMBNAILS, scan
from ..scanplot import check_picture_path, draw_scan, parse_size, require_matplotlib
from ..sources import expand_glob
from ..sources.images import list_images
from ..version import __version__
from . import camera_options as c
from . import options as o
from . import scan_options as so
from . import sky_options as k
from . import video_options as v
from .flags import job_from_flags
from .terminal import Terminal, echo, progress_bar, reports_errors, sigterm_cleans_up

__all__ = ["app", "run", "sigterm_cleans_up"]


class _DefaultToStack(TyperGroup):
    """``vid2trail INPUT ...`` means ``vid2trail stack INPUT ...``; ``--help`` shows its help.

    A first word that names a command is that command, unless it is also a path (a folder called
    ``scan``) and no other word of the line names an input the command could read, nor asks for
    its help: ``vid2trail scan -m mean`` stacks the folder ``scan``, ``vid2trail scan clip.mp4``
    scans the clip. ``./scan`` is always the folder.
    """

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        """Run, with the command line's own parse errors (an unknown flag, a word for a number)
        as one ``Error:`` line too, not typer's four lines of usage."""
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except _CLICK_ERROR as exc:
            echo(f"Error: {_one_line(exc)}", err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            echo("Aborted.", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        first = args[0] if args else None
        if first is None or first == "--version":
            args = args if first else ["stack"]
        elif first not in self.commands or (os.path.exists(first) and _input_only(args[1:])):
            args = ["stack", *args]
        return super().parse_args(ctx, args)


#: What the command line's parser raises (typer vendors click; its exceptions derive from this).
_CLICK_ERROR: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


def _input_only(rest: list[str]) -> bool:
    """True when nothing after a first word could be a command's input or its help."""
    if "--help" in rest:
        return False
    return not any(not word.startswith("-") and (os.path.exists(word) or expand_glob(word))
                   for word in rest)  # fmt: skip


def _one_line(exc: Any) -> str:
    """A parse error as one line: the flag and the value for a bad value, else the parser's words
    and where to look."""
    param = getattr(exc, "param", None)
    message = getattr(exc, "message", "")
    if param is not None and param.param_type_name == "option" and message:
        flag = max(param.opts, key=len)
        return f"{flag} {message}" if message.startswith("'") else f"{flag}: {message}"
    text = " ".join(exc.format_message().split()).rstrip(".")
    if param is not None and param.param_type_name == "argument":
        text += ": give a video file, a folder of images or a quoted glob"
    return f"{text} (see vid2trail --help)"


class _ShortPath(typer.Context):
    """The hidden ``stack`` command answers to ``vid2trail`` alone, in usage lines and hints."""

    @property
    def command_path(self) -> str:
        parent = self.parent
        return parent.command_path if parent is not None else super().command_path


class _Usage(TyperCommand):
    """A usage line that reads as typed: ``[OPTIONS] INPUT``."""

    def collect_usage_pieces(self, ctx: typer.Context) -> list[str]:
        arguments = [p for p in self.get_params(ctx) if p.param_type_name == "argument"]
        return ["[OPTIONS]", *(str(p.metavar or p.name).upper() for p in arguments)]


class _Panels(_Usage):
    """Help with the options in panels (input and selection, stacking, ...), and a usage line
    without the hidden subcommand's name."""

    context_class = _ShortPath

    def format_options(self, ctx: typer.Context, formatter: Any) -> None:
        panels: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                panel = "Arguments"
            else:
                panel = getattr(param, "rich_help_panel", None) or "Other options"
            panels.setdefault(panel, []).append(record)
        for panel in ("Arguments", *o.PANELS, "Other options"):
            if panel in panels:
                with formatter.section(panel):
                    formatter.write_dl(panels[panel])


app = typer.Typer(
    cls=_DefaultToStack,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="Turn a timelapse video or a folder of photos into a long-exposure still.",
)

_EXITS = "Exit codes: 0 done, 1 input or output problem, 2 bad option value, 130 interrupted."
_STACK_EPILOG = f"""Positions: a frame number (120) or a time (90s, 4.5s, 2:00, 1:02:03.5). The
window is half-open: start <= frame < end, like Python slicing and ffmpeg's -to. {_EXITS}

\b
Examples:
  vid2trail iss.mp4 --start 120 --end 900        trails of frames 120-899
  vid2trail night/ -m mean --dark darks/         a quiet sky from photos
  vid2trail clip.mp4 --start auto --reject auto  the night, flashes dropped
  vid2trail clip.mp4 --video trails.mp4 --trail comet
  vid2trail clip.mp4 --preview                   a quick small look

See also: vid2trail info INPUT (streams, rotation, frame rate, frame count, bit depth, colour,
HDR); vid2trail scan INPUT (plot the brightness of every frame, choose the night, find the
flashes); vid2trail batch INPUT... --out-dir DIR (a whole archive, resumable, here or on a Dask
cluster)."""


def _version(value: bool) -> None:
    if value:
        echo(f"vid2trail {__version__}")
        raise typer.Exit()


VersionOpt = Annotated[
    bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
]


#: The library's defaults, which the command's are: one source for both.
_JOB = StackJob("")


@app.command("stack", cls=_Panels, epilog=_STACK_EPILOG)
@reports_errors
def stack_command(
    input_path: o.InputArg,
    output: o.OutputOpt = None,
    mode: o.ModeOpt = _JOB.mode,
    kappa: o.KappaOpt = _JOB.kappa,
    iterations: o.IterationsOpt = None,
    buffers: o.BuffersOpt = _JOB.buffers,
    memory: o.MemoryOpt = o.DEFAULT_MEMORY,
    dark: o.DarkOpt = None,
    hot_pixels: o.HotPixelsOpt = "off",
    start: o.StartOpt = None,
    end: o.EndOpt = None,
    step: o.StepOpt = None,
    window: o.WindowOpt = None,
    reject: o.RejectOpt = "none",
    reject_above: o.RejectAboveOpt = None,
    exclude: o.ExcludeOpt = None,
    normalize: o.NormalizeOpt = None,
    gain: o.GainOpt = _JOB.gain,
    bit_depth: o.BitDepthOpt = None,
    quality: o.QualityOpt = _JOB.quality,
    backend: o.BackendOpt = _JOB.backend,
    stream: o.StreamOpt = None,
    hdr: o.HdrOpt = _JOB.hdr,
    hwaccel: o.HwaccelOpt = _JOB.hwaccel,
    sidecar: o.SidecarOpt = False,
    argmax: o.ArgmaxOpt = None,
    workers: o.WorkersOpt = None,
    scheduler: o.SchedulerOpt = None,
    preview: o.PreviewOpt = False,
    overwrite: o.OverwriteOpt = False,
    quiet: o.QuietOpt = False,
    video: v.VideoOpt = None,
    trail: v.TrailOpt = None,
    trail_frames: v.TrailFramesOpt = None,
    trail_length: v.TrailLengthOpt = None,
    decay: v.DecayOpt = None,
    video_fps: v.VideoFpsOpt = None,
    video_step: v.VideoStepOpt = None,
    video_width: v.VideoWidthOpt = None,
    codec: v.CodecOpt = None,
    crf: v.CrfOpt = None,
    preset: v.PresetOpt = None,
    keogram: c.KeogramOpt = None,
    keogram_angle: c.KeogramAngleOpt = None,
    keogram_width: c.KeogramWidthOpt = None,
    sort: c.SortOpt = _JOB.sort,
    raw_half: c.RawHalfOpt = False,
    fill_gaps: k.FillGapsOpt = False,
    align: k.AlignOpt = False,
    align_to: k.AlignToOpt = None,
    sky_mask: k.SkyMaskOpt = None,
    sky_mask_out: k.SkyMaskOutOpt = None,
    version: VersionOpt = False,
) -> None:
    """Stack frames of INPUT into a long-exposure still and print the path written."""
    job = job_from_flags(locals())
    run_job(job, Terminal(progress=not quiet))


@app.command(
    "info",
    cls=_Usage,
    epilog=f"""{_EXITS}

\b
Examples:
  vid2trail info iss.mp4
  vid2trail info phone.mov --json --stream 1""",
)
@reports_errors
def info_command(
    input_path: o.InputArg,
    as_json: so.JsonOpt = False,
    stream: o.StreamOpt = None,
) -> None:
    """Show what INPUT holds: container, streams, size and rotation, frame rate, exact frame
    count, pixel format and bit depth, colour tags, HDR, and how vid2trail will decode it."""
    facts = describe(input_path, stream=stream)
    echo(json.dumps(facts, indent=2) if as_json else format_report(facts))


@app.command(
    "scan",
    cls=_Usage,
    epilog=f"""Brightness is the mean luma Y' of each frame (BT.709 weights on
the gamma-encoded values, 0 black, 1 white). The summary and the suggested command go to stderr,
the picture's path to stdout; with --json, stdout is the JSON alone. {_EXITS}

\b
Examples:
  vid2trail scan dusk-to-dawn.mp4
  vid2trail scan night/ --json > night.json""",
)
@reports_errors
def scan_command(
    input_path: o.InputArg,
    output: so.ScanOutputOpt = None,
    json_out: so.ScanJsonOpt = False,
    reject_above: so.ScanRejectOpt = DEFAULT_REJECT_K,
    scan_width: so.ScanWidthOpt = so.DEFAULT_SCAN_WIDTH,
    stream: o.StreamOpt = None,
    size: so.SizeOpt = so.DEFAULT_PICTURE,
    backend: o.BackendOpt = "auto",
    motion: so.MotionOpt = False,
    overwrite: o.OverwriteOpt = False,
    quiet: o.QuietOpt = False,
) -> None:
    """Scan INPUT in one quick pass: plot its brightness, choose the night, find the flashes."""
    reject_k = parse_reject(reject_above)
    pixels = parse_size(size)
    picture = None
    if output is not None or not json_out:
        picture = check_picture_path(output or f"{default_stem(input_path)}-scan.png",
                                     overwrite=overwrite,
                                     inputs=tuple(list_images(input_path)))  # fmt: skip
        require_matplotlib()
    with progress_bar(not quiet, "Scanning") as progress:
        result = scan(input_path, reject_k=reject_k, width=scan_width, backend=backend,
                      stream=stream, thumbnails=THUMBNAILS if picture else 0,
                      progress=progress)  # fmt: skip
    sky = None
    if motion:
        from ..select import FrameRange
        from ..sky import sky_motion

        sky = sky_motion(input_path, FrameRange(result.start, result.end))
    if picture is not None:
        draw_scan(result, picture, size=pixels, title=default_stem(input_path), motion=sky)
    for line in [*result.summary(input_path), *(sky.describe() if sky else [])]:
        echo(line, err=True)
    if json_out:
        if picture is not None:
            echo(f"Wrote {picture}", err=True)
        facts = result.to_dict(input_path)
        if sky is not None:
            facts["sky_motion"] = sky.as_dict()
        echo(json.dumps(facts, indent=1))
    elif picture is not None:
        echo(str(picture))


@app.callback()
def main(version: VersionOpt = False) -> None:
    """Turn a timelapse video or a folder of photos into a long-exposure still."""


def run() -> None:
    """Console-script entry point."""
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    try:
        app(prog_name="vid2trail")
    finally:
        # The exit's last garbage collection need not walk all that numpy, OpenCV, PyAV and the
        # run built: frozen, a process ends sooner (a 30-frame stack: 0.89x the time, 16 runs).
        # Exit handlers and the modules' own teardown still run; every output is closed by now.
        gc.freeze()
    sys.exit(0)


from . import batch as _batch  # noqa: E402, F401  (registers ``vid2trail batch`` on the app)
