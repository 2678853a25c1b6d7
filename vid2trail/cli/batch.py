"""The ``vid2trail batch`` command: an archive of nights into one folder, over
:func:`vid2trail.batch.run_batch`.

Stdout lists the paths written as they land (each input's outputs, then the manifest); stderr
carries the notes (``<name>: ...``), one progress bar over all inputs, and at the end the summary
and one ``Failed:`` line per input that failed (exit code 1 then).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ..batch import BatchJob, run_batch
from ..cluster import scheduler_address
from ..encoding import VIDEO_FORMATS
from ..errors import UsageError, option
from ..job import StackJob
from ..parallel import default_workers
from ..writers import STILL_FORMATS
from . import _Panels, app
from . import camera_options as c
from . import options as o
from . import sky_options as k
from . import video_options as v
from .flags import job_from_flags
from .terminal import Terminal, echo, flags, reports_errors

#: The trail-video flags that need ``--video``.
_VIDEO_SETTINGS = ("trail", "trail_frames", "trail_length", "decay", "video_step", "video_fps",
                   "video_width", "codec", "crf", "preset")  # fmt: skip
#: Still formats by their usual names (the other spellings, jpeg, tiff, fit, fts, work too).
_STILLS = ("png", "jpg", "tif", "fits", "npy")
_VIDEOS = [ext.lstrip(".") for ext in VIDEO_FORMATS]

InputsArg = Annotated[
    list[str],
    typer.Argument(
        metavar="INPUT...",
        help="Videos, folders of images (one night each), quoted globs, or folders of them: one "
        "input per clip and per night folder found below.",
        show_default=False,
    ),
]
OutDirOpt = Annotated[
    str,
    typer.Option(
        "--out-dir",
        "-d",
        metavar="DIR",
        help="Folder for every input's outputs and manifest.json/.csv (created if missing).",
        show_default=False,
        rich_help_panel=o.OUTPUTS,
    ),
]
FormatOpt = Annotated[
    str,
    typer.Option(
        "--format",
        metavar="EXT",
        help=f"Still format: {', '.join(_STILLS)}.",
        rich_help_panel=o.OUTPUTS,
    ),
]
BatchVideoOpt = Annotated[
    str | None,
    typer.Option(
        "--video",
        metavar="FORMAT",
        help=f"Also write each input's trail video, DIR/<name>-<mode>.FORMAT ({', '.join(_VIDEOS)}"
        "), in the same decoding pass.",
        show_default=False,
        rich_help_panel=o.VIDEO,
    ),
]
ScanPictureOpt = Annotated[
    bool,
    typer.Option(
        "--scan",
        help="Also draw each input's brightness scan, DIR/<name>-scan.png (a second, quick pass).",
        rich_help_panel=o.OUTPUTS,
    ),
]
BatchKeogramOpt = Annotated[
    bool,
    typer.Option(
        "--keogram",
        help="Also write each input's keogram, DIR/<name>-keogram.png, in the same decoding pass.",
        rich_help_panel=o.KEOGRAM,
    ),
]
ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Stack every input again, even those whose outputs are up to date.",
        rich_help_panel=o.OUTPUTS,
    ),
]
BatchWorkersOpt = Annotated[
    int | None,
    typer.Option(
        parser=o.whole,
        metavar="N",
        help="Inputs stacked at once, each in a process of its own; 1: one after another.",
        show_default=f"half the cores, at most 8 (here {default_workers()})",
        rich_help_panel=o.PERFORMANCE,
    ),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        metavar="ADDRESS",
        help="Run on a Dask cluster (pip install 'vid2trail[dask]'): the scheduler's address, "
        "e.g. tcp://10.0.0.5:8786. Inputs and DIR must be at the same paths on every worker.",
        show_default="DASK_SCHEDULER_ADDRESS, else this machine",
        rich_help_panel=o.PERFORMANCE,
    ),
]

_EPILOG = """Each input's outputs go into DIR: <name>-<mode>.png and its provenance
<name>-<mode>.png.json, with --video mp4 <name>-<mode>.mp4, with --keogram <name>-keogram.png,
with --scan <name>-scan.png; and
DIR/manifest.json and manifest.csv list every input. <name> is the input's own (clip.mp4: clip,
night/: night); what a folder or glob holds is named after its path below it
(nights/2024-05-01/clip.mp4: 2024-05-01-clip); a name two inputs share gets their folder's name in
front. An input whose outputs record the same input (path, bytes, modification time) and options is
skipped as up to date; --force stacks it again. Exit codes: 0 done, 1 an input failed (the summary
names it) or an input or output problem, 2 bad option value, 130 interrupted.

\b
Examples:
  vid2trail batch nights/ -d stacks/
  vid2trail batch 'clips/*.mp4' -d stacks --start auto --reject auto --video mp4
  vid2trail batch nights/ -d stacks --scheduler tcp://10.0.0.5:8786"""


class _BatchHelp(_Panels):
    """The stack command's help panels, under the usage line ``vid2trail batch ...``."""

    context_class = typer.Context


class _BatchTerminal(Terminal):
    """The batch's listener: a path for a pipe or a file goes to it even while the progress bar
    holds the terminal (rich would print it on the bar's stderr)."""

    def wrote(self, path: Path) -> None:
        # rich's FileProxy (its stdout while a bar shows) names the file it stands for; rich is
        # not imported to ask, as a --quiet run never loads it.
        proxied = getattr(sys.stdout, "rich_proxied_file", None)
        if proxied is not None and not proxied.isatty():
            typer.echo(str(path).encode("utf-8", "surrogateescape"), file=proxied)
        else:
            echo(str(path))


_JOB = StackJob("")


@app.command("batch", cls=_BatchHelp, epilog=_EPILOG)
@reports_errors
def batch_command(
    inputs: InputsArg,
    out_dir: OutDirOpt,
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
    reject: o.RejectOpt = "none",
    reject_above: o.RejectAboveOpt = None,
    normalize: o.NormalizeOpt = None,
    gain: o.GainOpt = _JOB.gain,
    bit_depth: o.BitDepthOpt = None,
    quality: o.QualityOpt = _JOB.quality,
    still_format: FormatOpt = "png",
    scan_picture: ScanPictureOpt = False,
    hdr: o.HdrOpt = _JOB.hdr,
    hwaccel: o.HwaccelOpt = _JOB.hwaccel,
    video: BatchVideoOpt = None,
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
    keogram: BatchKeogramOpt = False,
    keogram_angle: c.KeogramAngleOpt = None,
    keogram_width: c.KeogramWidthOpt = None,
    sort: c.SortOpt = _JOB.sort,
    raw_half: c.RawHalfOpt = False,
    fill_gaps: k.FillGapsOpt = False,
    align: k.AlignOpt = False,
    sky_mask: k.SkyMaskOpt = None,
    workers: BatchWorkersOpt = None,
    scheduler: SchedulerOpt = None,
    force: ForceOpt = False,
    quiet: o.QuietOpt = False,
) -> None:
    """Stack every video and night folder of INPUT... into DIR, skipping what is up to date."""
    given = dict(locals())
    batch = BatchJob(tuple(inputs), out_dir, _stack_job(given), scan=scan_picture, force=force,
                     workers=workers, scheduler=scheduler_address(scheduler))  # fmt: skip
    result = run_batch(batch, _BatchTerminal(progress=not quiet), render=flags)
    for line in result.summary():
        echo(flags(line), err=True)
    if result.failed:
        raise typer.Exit(1)


def _stack_job(given: dict[str, Any]) -> StackJob:
    """The job every input gets, from the stack flags the batch shares (the formats as
    placeholder names: the batch names each input's files)."""
    still = given["still_format"].lower().lstrip(".")
    if f".{still}" not in STILL_FORMATS:
        raise UsageError(f"{option('format')} {given['still_format']}: use {', '.join(_STILLS)}")
    video = given["video"]
    if video is None:
        settings = [name for name in _VIDEO_SETTINGS if given.get(name) is not None]
        if settings:
            raise UsageError(f"{option(settings[0])} sets up the trail video: add "
                             f"{option('video')} FORMAT (e.g. mp4)")  # fmt: skip
    elif video.lower().lstrip(".") not in _VIDEOS:
        raise UsageError(f"{option('video')} {video}: give a format, {', '.join(_VIDEOS)} (each "
                         "input's video is named after it in the output folder)")  # fmt: skip
    keogram = [name for name in ("keogram_angle", "keogram_width") if given.get(name) is not None]
    if keogram and not given["keogram"]:
        raise UsageError(f"{option(keogram[0])} sets up the keogram: add {option('keogram')}")
    return job_from_flags({
        **given, "input_path": "", "output": f"stack.{still}", "workers": 1, "scheduler": None,
        "video": f"trails.{video.lower().lstrip('.')}" if video is not None else None,
        "keogram": "keogram.png" if given["keogram"] else None,
    })  # fmt: skip
