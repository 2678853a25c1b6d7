"""The ``vid2trail`` command: a thin typer skin over :mod:`vid2trail.pipeline`.

It parses options, builds the library objects, runs them, and turns the library's errors into one
``Error:`` line on stderr with exit code 2 (a bad value on the command line) or 1 (a problem with
the input or the output). Only output paths go to stdout; progress goes to stderr.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text
from typer.core import TyperGroup

from . import __version__
from .choose import DEFAULT_REJECT_K, REJECT_HISTORY, build_filter
from .color import DEFAULT_NORMALIZE, check_gain, parse_normalize
from .errors import UsageError, Vid2TrailError
from .frames import SourceInfo
from .info import describe, format_report
from .median import parse_size as parse_memory
from .parallel import default_threads, default_workers
from .pipeline import (
    PREVIEW_FRAMES,
    PREVIEW_MIN_KEYFRAMES,
    ProgressCallback,
    argmax_image,
    check_workers,
    decode_plan,
    make_calibration,
    parse_reject,
    preview_ranges,
    provenance,
    render,
    resolve_windows,
    run_reducers,
    with_auto_window,
)
from .reducers import REDUCERS, make_reducer
from .scan import SCAN_WIDTH, THUMBNAILS, scan
from .scanplot import DEFAULT_SIZE, check_picture_path, draw_scan, parse_size, require_matplotlib
from .select import FrameRange, Window, parse_position
from .sources import PREVIEW_SIDE, open_source
from .sources.images import list_images
from .trails import COMET_FLOOR, DEFAULT_TRAIL_FRAMES, TRAIL_KINDS
from .video import (
    CODECS,
    DEFAULT_CRF,
    DEFAULT_FOLDER_FPS,
    DEFAULT_PRESET,
    VIDEO_FORMATS,
    VideoOptions,
    stack_with_video,
)
from .writers import (
    check_output,
    check_sidecar,
    default_bit_depth,
    output_dtype,
    write_sidecar,
    write_still,
)

F = TypeVar("F", bound=Callable[..., Any])


class _DefaultToStack(TyperGroup):
    """``vid2trail INPUT ...`` means ``vid2trail stack INPUT ...``; ``--help`` shows its help."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] != "--version"):
            args = ["stack", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_DefaultToStack,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="Turn a timelapse video or a folder of photos into a long-exposure still.",
)

_stderr = Console(stderr=True)


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code)


class Terminated(KeyboardInterrupt):
    """A stopping signal, raised wherever the program is, so that it cleans up exactly like
    Ctrl-C; ``signum`` says which."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(signum)
        self.signum = signum


#: Signals that stop a run the way Ctrl-C does, and the word the message starts with: ``kill``,
#: ``timeout`` or a scheduler (SIGTERM), a closed terminal or a dropped ssh session (SIGHUP),
#: Ctrl-\ (SIGQUIT).
STOPPING_SIGNALS = {
    getattr(signal, name): word
    for name, word in (("SIGTERM", "Terminated"), ("SIGHUP", "Hung up (SIGHUP)"),
                       ("SIGQUIT", "Quit (SIGQUIT)"))
    if hasattr(signal, name)
}  # fmt: skip


@contextmanager
def sigterm_cleans_up() -> Iterator[None]:
    """Turn SIGTERM, SIGHUP and SIGQUIT into :class:`Terminated` while a command runs: their
    default actions would kill the process on the spot and leave the hidden temporary video, a
    median's scratch file and an ffmpeg encoder behind.

    Examples
    --------
    >>> with sigterm_cleans_up():
    ...     signal.getsignal(signal.SIGHUP) is not signal.SIG_DFL
    True
    """

    def terminate(signum: int, frame: object) -> None:
        raise Terminated(signum)

    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers (e.g. the CLI called from a worker thread)
        return
    # A signal the parent set to be ignored (``nohup``, a background job) stays ignored.
    previous = {
        signum: signal.signal(signum, terminate)
        for signum in STOPPING_SIGNALS
        if signal.getsignal(signum) is not signal.SIG_IGN
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def reports_errors(func: F) -> F:
    """Turn library errors into one ``Error:`` line and an exit code; Ctrl-C into exit 130,
    SIGTERM, SIGHUP and SIGQUIT into 128 + the signal's number after the same clean-up.

    Warnings the library issues (a truncated file, frames lost) are printed as one ``Warning:``
    line each on stderr, after the command's own output.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with sigterm_cleans_up(), warnings_to_stderr():
                return func(*args, **kwargs)
        except Vid2TrailError as exc:
            raise _fail(str(exc), 2 if exc.usage else 1) from None
        except Terminated as stop:
            word = STOPPING_SIGNALS.get(stop.signum, "Terminated")
            typer.echo(f"{word}: no half-written file was left behind.", err=True)
            raise typer.Exit(128 + stop.signum) from None
        except KeyboardInterrupt:
            typer.echo("Interrupted: no half-written file was left behind.", err=True)
            raise typer.Exit(130) from None
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            raise _fail(f"{where}{exc.strerror or exc}", 1) from None

    return wrapper  # type: ignore[return-value]


@contextmanager
def warnings_to_stderr() -> Iterator[None]:
    """Collect warnings raised inside and print each as one ``Warning:`` line on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            # Multi-pass modes decode the input again: say each thing once.
            for text in dict.fromkeys(str(record.message) for record in caught):
                typer.echo(f"Warning: {text}", err=True)


class _FramesPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(
            f"{speed:,.0f} frames/s" if speed else "- frames/s", style="progress.data.speed"
        )


@contextmanager
def progress_bar(enabled: bool, label: str) -> Iterator[ProgressCallback | None]:
    """A rich progress bar on stderr (frames done, frames/s, ETA), or nothing when disabled."""
    if not enabled or not _stderr.is_terminal:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _FramesPerSecond(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=_stderr, transient=False) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _last_selected(frame_range: FrameRange, info: SourceInfo) -> int | None:
    """The highest frame number a window selects, when it is known before decoding (a given end,
    or a counted frame total; an estimate from the container's duration may include audio)."""
    end = frame_range.end
    if end is None and info.frame_count_exact:
        end = info.frame_count
    if end is None:
        return None
    count = FrameRange(frame_range.start, end, frame_range.step).count() or 0
    return frame_range.start + frame_range.step * (count - 1) if count else None


def default_stem(input_path: str) -> str:
    """The name a result is called after: the video's stem, the folder's or the glob's folder name.

    Examples
    --------
    >>> default_stem("clips/iss.mp4"), default_stem("HighRes/*.jpg"), default_stem("night/")
    ('iss', 'HighRes', 'night')
    """
    path = Path(input_path)
    if any(ch in input_path for ch in "*?[") and not path.exists():
        path = path.parent
    if path.is_dir() or not path.suffix:
        name = path.resolve().name if str(path) in ("", ".") else path.name
        return name or "stack"
    return path.stem


_HALF_OPEN = "The window is half-open: start <= frame < end, like Python slicing and ffmpeg's -to."
_MODES = ", ".join(REDUCERS)
_NORMALIZE_DEFAULTS = (
    ", ".join(f"{m}: {n}" for m, n in DEFAULT_NORMALIZE.items() if n != "none") + ", others: none"
)


@app.command(
    "stack",
    epilog=(
        "Positions: a frame number (120) or a time (90s, 4.5s, 2:00, 1:02:03.5). "
        f"{_HALF_OPEN} Exit codes: 0 done, 1 input or output problem, 2 bad option value, "
        "130 interrupted. See also: vid2trail info INPUT (streams, rotation, frame rate, "
        "frame count, bit depth, colour, HDR); vid2trail scan INPUT (plot the brightness of "
        "every frame, choose the night, find the flashes)."
    ),
)
@reports_errors
def stack_command(
    input_path: Annotated[
        str, typer.Argument(metavar="INPUT", help="Video file, folder of images, or quoted glob.")
    ],
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="PATH",
            help="Still to write: .png, .jpg, .tif, .fits or .npy. Default: "
            "<input-stem>-<mode>.png in the current folder.",
        ),
    ] = None,
    mode: Annotated[
        str,
        typer.Option(
            "--mode",
            "-m",
            metavar="MODE",
            help=f"How frames combine: {_MODES}. sigma and winsor reject or clamp outliers "
            "(planes, satellites) in 1 + --iterations decoding passes; median is exact, holding "
            "frames in --memory and caching the rest on disk; maxmean averages --buffers max "
            "stacks to quiet a noisy sky (for stars that stay --buffers frames on a pixel).",
        ),
    ] = "max",
    kappa: Annotated[
        float,
        typer.Option(
            metavar="K", help="sigma/winsor: reject samples beyond K standard deviations."
        ),
    ] = 3.0,
    iterations: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="sigma/winsor: rejection passes after the statistics pass. Default: 1 for "
            "sigma, 2 for winsor.",
            show_default=False,
        ),
    ] = None,
    buffers: Annotated[
        int,
        typer.Option(metavar="K", help="maxmean: max stacks fed round-robin, then averaged."),
    ] = 4,
    memory: Annotated[
        str,
        typer.Option(
            metavar="SIZE",
            help="median: memory for frames (2GB, 500MB, 1GiB). Beyond it frames are cached "
            "in the temporary folder (TMPDIR), which needs frames x width x height x channels "
            "x bytes per sample free (4K 8-bit RGB: 25 MB a frame); the cache is deleted after.",
        ),
    ] = "2GB",
    dark: Annotated[
        str | None,
        typer.Option(
            metavar="PATH",
            help="Master dark subtracted from every frame in linear light (clipped at 0): one "
            "image, .npy or .fits, or a folder, glob or video of darks (their median).",
        ),
    ] = None,
    hot_pixels: Annotated[
        str,
        typer.Option(
            metavar="off|auto",
            help="auto: find pixels bright in every frame (temporal minimum vs 3x3 median) and "
            "replace them by their neighbours' median before stacking.",
        ),
    ] = "off",
    start: Annotated[
        str | None,
        typer.Option(
            metavar="POS",
            help="First frame to stack (frame number or time), or auto: the night a quick scan "
            "finds (its end too, unless --end is given). Default: the first.",
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            metavar="POS",
            help="Stop before this frame (frame number or time), or auto (the night's end). "
            "Default: the end.",
        ),
    ] = None,
    step: Annotated[
        int | None,
        typer.Option(
            metavar="K",
            help="Keep every K-th frame of the window. Default: 1 (with --preview: see there).",
            min=1,
        ),
    ] = None,
    window: Annotated[
        list[str] | None,
        typer.Option(
            metavar="A:B",
            help="START:END window, or auto (the night); repeat for several stills from one "
            "decoding pass, each named after its frames (iss-max-120-900.png).",
        ),
    ] = None,
    reject: Annotated[
        str,
        typer.Option(
            metavar="auto|none",
            help=f"auto: drop flash frames (lightning, headlights) brighter than the running "
            f"median of the previous {REJECT_HISTORY} frames + {DEFAULT_REJECT_K:g} x MAD.",
        ),
    ] = "none",
    reject_above: Annotated[
        float | None,
        typer.Option(
            metavar="K",
            help=f"Like --reject auto with K instead of {DEFAULT_REJECT_K:g}: lower rejects more.",
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            metavar="LIST",
            help="Frames to drop: numbers or times, ranges inclusive, e.g. 300-320,1200 or "
            "1:05-1:10; repeatable.",
        ),
    ] = None,
    normalize: Annotated[
        str | None,
        typer.Option(
            metavar="HOW",
            help="What maps to white, in linear light: none, max, or a percentile such as p99.5. "
            f"Default per mode ({_NORMALIZE_DEFAULTS}).",
        ),
    ] = None,
    gain: Annotated[
        float,
        typer.Option(metavar="X", help="Multiply the light before output (2 = one stop brighter)."),
    ] = 1.0,
    bit_depth: Annotated[
        int | None,
        typer.Option(
            metavar="8|16|32",
            help="Bits per channel: 8; 16 for PNG and TIFF; 32 = float linear light (1.0 = "
            "white, unclipped) for TIFF, FITS and .npy. Default: 32 for FITS, else 8.",
        ),
    ] = None,
    quality: Annotated[int, typer.Option(metavar="Q", help="JPEG quality, 1 to 100.")] = 95,
    backend: Annotated[
        str,
        typer.Option(
            metavar="NAME",
            help="Video decoder: auto (= pyav: FFmpeg's libraries, in-process; "
            "ffmpeg is another name for it).",
        ),
    ] = "auto",
    stream: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="Video stream to read, counting video streams from 0 (see vid2trail info). "
            "Default: the file's default video stream.",
        ),
    ] = None,
    hdr: Annotated[
        str,
        typer.Option(
            metavar="HOW",
            help="HDR (HLG, PQ) video: tonemap (to SDR BT.709) or keep (float linear light, "
            "1.0 = 203 cd/m2; use --bit-depth 32 to keep highlights above 1.0).",
        ),
    ] = "tonemap",
    hwaccel: Annotated[
        str,
        typer.Option(
            metavar="HOW",
            help="Decode video on an NVIDIA GPU (NVDEC): none, auto (the GPU when there is "
            "one, else software, with a note) or cuda (the GPU, or an error).",
        ),
    ] = "none",
    sidecar: Annotated[
        bool,
        typer.Option(
            "--sidecar",
            help="Also write <still>.json: source, frames, mode, options, vid2trail version.",
        ),
    ] = False,
    argmax: Annotated[
        str | None,
        typer.Option(
            metavar="PATH",
            help="max only: write a 16-bit image (.png, .tif, .npy) of the frame number that "
            "supplied each pixel (brightest luma), to find the frame of a satellite.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="Processes that decode and stack parts of a video at once (max, min, mean, sum "
            "with one window and no --reject/--exclude/--dark/--hot-pixels; anything else runs "
            "in one process); for a folder, threads. 1: one process. Default: half the cores "
            f"for a video, all for a folder, at most 8 (here {default_workers()} and "
            f"{default_threads()}).",
        ),
    ] = None,
    preview: Annotated[
        bool,
        typer.Option(
            "--preview",
            help=f"Quick small result: frames shrunk to at most {PREVIEW_SIDE} px on the longer "
            "side inside the decoder (JPEGs decode at 1/2, 1/4 or 1/8 size, 8-bit), and, "
            f"without --step, a long video stacks only its keyframes (if there are at least "
            f"{PREVIEW_MIN_KEYFRAMES}; the decoder skips the rest unseen) or else about "
            f"{PREVIEW_FRAMES} frames of the window. Trails may look dotted. Default name: "
            "<stem>-<mode>-preview.png.",
        ),
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", "-y", help="Replace an existing output file.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    video: Annotated[
        str | None,
        typer.Option(
            metavar="PATH",
            help="Also write a trail video, in the same decoding pass: "
            f"{', '.join(VIDEO_FORMATS)} (GIF and WebP loop). Frame k shows the trails up to "
            "frame k; the last frame is the still.",
            rich_help_panel="Trail video",
        ),
    ] = None,
    trail: Annotated[
        str | None,
        typer.Option(
            metavar="KIND",
            help=f"{'|'.join(TRAIL_KINDS)}. grow: the running --mode stack (default). comet: "
            "tails fade in linear light, A = max(frame, decay * A). window: the max of the last "
            "--trail-frames frames.",
            rich_help_panel="Trail video",
        ),
    ] = None,
    trail_frames: Annotated[
        int | None,
        typer.Option(
            metavar="L",
            help=f"Trail length in frames for comet and window (default {DEFAULT_TRAIL_FRAMES}). "
            f"For comet it sets the decay so a tail falls to {COMET_FLOOR:.0%} of its light "
            "after L frames: decay = 0.01 ** (1/L). window keeps L frames in memory (6 MB each at "
            "1080p).",
            rich_help_panel="Trail video",
        ),
    ] = None,
    decay: Annotated[
        float | None,
        typer.Option(
            metavar="D",
            help="Comet decay per frame, between 0 and 1 (instead of --trail-frames).",
            rich_help_panel="Trail video",
        ),
    ] = None,
    video_fps: Annotated[
        float | None,
        typer.Option(
            metavar="FPS",
            help=f"Video frame rate. Default: the source's ({DEFAULT_FOLDER_FPS:g} for folders).",
            rich_help_panel="Trail video",
        ),
    ] = None,
    video_step: Annotated[
        int | None,
        typer.Option(
            metavar="K",
            help="Emit every K-th stacked frame (and always the last) to shorten long clips.",
            rich_help_panel="Trail video",
        ),
    ] = None,
    video_width: Annotated[
        int | None,
        typer.Option(
            metavar="PX",
            help="Scale the video to this width, keeping the aspect. Default: the source's.",
            rich_help_panel="Trail video",
        ),
    ] = None,
    codec: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help=f"Video codec for .mp4/.mov/.mkv: {', '.join(CODECS)} (default h264).",
            rich_help_panel="Trail video",
        ),
    ] = None,
    crf: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help=f"Constant rate factor, 0-51; lower is better and larger (default {DEFAULT_CRF}, "
            "visually lossless).",
            rich_help_panel="Trail video",
        ),
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help=f"Encoder speed preset, ultrafast .. veryslow (default {DEFAULT_PRESET}).",
            rich_help_panel="Trail video",
        ),
    ] = None,
) -> None:
    """Stack frames of INPUT into a long-exposure still and print the path written."""
    memory_bytes = parse_memory(memory)
    params = {"kappa": kappa, "iterations": iterations, "memory_bytes": memory_bytes,
              "buffers": buffers, "argmax": argmax is not None}  # fmt: skip
    make_reducer(mode, **params)
    if normalize is not None:
        parse_normalize(normalize)
    check_gain(gain)
    if bit_depth is not None and bit_depth not in (8, 16, 32):
        raise UsageError(f"--bit-depth {bit_depth}: use 8, 16 or 32")
    if hot_pixels not in ("off", "auto"):
        raise UsageError(f"--hot-pixels {hot_pixels!r}: use auto or off")
    if argmax is not None and mode != "max":
        raise UsageError(f"--argmax needs --mode max, not --mode {mode}")
    if argmax is not None and Path(argmax).suffix.lower() not in (".png", ".tif", ".tiff", ".npy"):
        raise UsageError(f"--argmax {argmax}: write the frame numbers as .png, .tif or .npy")
    if argmax is not None and window and len(window) > 1:
        raise UsageError("--argmax takes one window: give --window once, or --start/--end")
    threads = workers if workers is not None else default_threads()
    workers = check_workers(workers)
    if window and (start is not None or end is not None):
        raise UsageError("--window cannot be combined with --start/--end: put them in --window")
    if reject not in ("auto", "none"):
        raise UsageError(f"--reject {reject!r}: use auto or none (or --reject-above K)")
    reject_k = parse_reject(reject_above if reject_above is not None else reject)
    windows = (
        [None if text.strip() == "auto" else Window.parse(text) for text in window]
        if window
        else [
            Window(
                parse_position(start, "--start") if start not in (None, "auto") else None,
                parse_position(end, "--end") if end not in (None, "auto") else None,
            )
        ]
    )
    auto = "auto" in (start, end) or None in windows
    video_settings = {"trail": trail, "trail_frames": trail_frames, "decay": decay,
                      "video_step": video_step}  # fmt: skip
    encoding = {"fps": video_fps, "width": video_width, "codec": codec, "crf": crf,
                "preset": preset}  # fmt: skip
    given = [k for k, v in {**video_settings, **encoding}.items() if v is not None]
    if video is None and given:
        flag = {"fps": "--video-fps", "width": "--video-width"}.get(given[0], given[0])
        flag = "--" + flag.lstrip("-").replace("_", "-")
        raise UsageError(f"{flag} sets up the trail video: add --video PATH (e.g. trails.mp4)")
    if codec is not None and video is not None and Path(video).suffix.lower() in (".gif", ".webp"):
        raise UsageError(f"--codec applies to .mp4, .mov and .mkv videos, not {video}")
    if video is not None and window and len(window) > 1:
        raise UsageError("--video takes one window: use --start/--end or a single --window")
    video_options = (
        VideoOptions(**{k: v for k, v in encoding.items() if v is not None})
        if video is not None
        else None
    )
    written: list[str] = []
    suffix = f"{mode}-preview" if preview else mode
    with open_source(
        input_path,
        backend=backend,
        stream=stream,
        hdr=hdr,
        preview=preview,
        threads=threads,
        hwaccel=hwaccel,
    ) as source:
        for note in source.info.notes:
            typer.echo(f"Note: {input_path}: {note}", err=True)
        inputs = tuple(getattr(source, "files", [input_path]))
        if dark is not None:  # the master dark (a file, or the frames it is made from) too
            inputs += (dark, *list_images(dark))
        if auto and not window:  # the name does not depend on the window: check it first
            first = _output_paths(input_path, output, suffix, None)[0]
            check_output(first, bit_depth=_depth(first, bit_depth), overwrite=overwrite,
                         inputs=inputs)  # fmt: skip
        if auto:
            base = Window() if window else windows[0]
            with progress_bar(not quiet, "Scanning") as progress:
                night, description = with_auto_window(source, base, progress)  # type: ignore[arg-type]
            typer.echo(description, err=True)
            windows = [night if w is None or not window else w for w in windows]
        live = [w for w in windows if w is not None]
        if step is None and preview:
            ranges = preview_ranges(source, live)
        else:
            ranges = resolve_windows(live, source, step or 1)
        outputs = _output_paths(input_path, output, suffix, ranges if window else None)
        depths = [_depth(out, bit_depth) for out in outputs]
        for out, depth in zip(outputs, depths, strict=True):
            check_output(out, bit_depth=depth, overwrite=overwrite, inputs=inputs)
            if sidecar:
                check_sidecar(out, overwrite=overwrite)
        if video is not None and Path(video).resolve() == outputs[0].resolve():
            raise UsageError(f"--video {video} is the still's path: give the video its own name")
        if argmax is not None:
            check_output(argmax, bit_depth=16, overwrite=overwrite, inputs=inputs)
            if Path(argmax).resolve() in {Path(out).resolve() for out in outputs}:
                raise UsageError(f"--argmax {argmax} is also the still: give it another name")
            last = _last_selected(ranges[0], source.info)
            if Path(argmax).suffix.lower() == ".png" and last is not None and last > 65535:
                # Found out only after the whole stack otherwise, when the numbers do not fit.
                raise UsageError(
                    f"--argmax {argmax}: frame numbers run up to {last}, past the 65535 a "
                    "16-bit PNG holds: write them as .tif or .npy"
                )
        keep = build_filter(source, decode_plan(ranges), reject_k=reject_k, exclude=exclude or ())
        calibration = make_calibration(dark, hot_pixels == "auto", memory_bytes)
        with progress_bar(not quiet, "Stacking") as progress:
            if video is None:
                reducers = run_reducers(
                    source, ranges, mode, progress, keep, params=params,
                    calibration=calibration, workers=workers,
                )  # fmt: skip
            else:
                reducer, video_path = stack_with_video(
                    source, ranges[0], mode, video,
                    **{k: v for k, v in video_settings.items() if v is not None},
                    options=video_options, normalize=normalize, gain=gain, overwrite=overwrite,
                    progress=progress, keep=keep, params=params, calibration=calibration,
                )  # fmt: skip
                reducers = [reducer]
                written.append(str(video_path))
        info = source.info
    for line in keep.report() if keep is not None else []:
        typer.echo(line, err=True)
    if calibration is not None and calibration.hot_pixel_count is not None:
        count = calibration.hot_pixel_count
        typer.echo(f"Repaired {count} hot pixel{'' if count == 1 else 's'}.", err=True)
    options: dict[str, Any] = {"normalize": normalize, "gain": gain}
    if keep is not None:
        options["frame_filter"] = keep.to_dict()
    for out, depth, reducer, frame_range in zip(outputs, depths, reducers, ranges, strict=True):
        meta = provenance(info, frame_range, reducer, calibration=calibration,
                          options={**options, "bit_depth": depth})  # fmt: skip
        image = render(reducer, out_dtype=output_dtype(depth), normalize=normalize, gain=gain,
                       transfer="linear" if depth == 32 else "srgb")  # fmt: skip
        typer.echo(str(write_still(out, image, quality=quality, metadata=meta)))
        if sidecar:
            typer.echo(str(write_sidecar(out, meta)))
    if argmax is not None:
        dropped = [*keep.excluded, *keep.rejected] if keep is not None else []
        index = argmax_image(reducers[0], ranges[0], dropped)
        meta = {"software": f"vid2trail {__version__}", "argmax_of": str(outputs[0])}
        typer.echo(str(write_still(argmax, index, metadata=meta)))
    for path in written:
        typer.echo(path)


@app.command("info")
@reports_errors
def info_command(
    input_path: Annotated[
        str, typer.Argument(metavar="INPUT", help="Video file, folder of images, or quoted glob.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    stream: Annotated[
        int | None,
        typer.Option(metavar="N", help="Video stream to describe (counting from 0)."),
    ] = None,
) -> None:
    """Show what INPUT holds: container, streams, size and rotation, frame rate, exact frame
    count, pixel format and bit depth, colour tags, HDR, and how vid2trail will decode it."""
    facts = describe(input_path, stream=stream)
    typer.echo(json.dumps(facts, indent=2) if as_json else format_report(facts))


def _depth(out: Path, bit_depth: int | None) -> int:
    return default_bit_depth(out) if bit_depth is None else bit_depth


def _output_paths(
    input_path: str, output: str | None, mode: str, ranges: list[Any] | None
) -> list[Path]:
    base = Path(output) if output else Path(f"{default_stem(input_path)}-{mode}.png")
    if not ranges:
        return [base]
    paths = [base.with_name(f"{base.stem}-{r.label()}{base.suffix}") for r in ranges]
    if len(set(paths)) != len(paths):
        raise UsageError("two --window values name the same frames: give each window once")
    return paths


@app.command(
    "scan",
    epilog=(
        "Brightness is the mean luma Y' of each frame (BT.709 weights on the gamma-encoded "
        "values, 0 black, 1 white). The summary and the suggested command go to stderr, the "
        "picture's path to stdout; with --json, stdout is the JSON alone. Exit codes: 0 done, "
        "1 input or output problem, 2 bad option value, 130 interrupted."
    ),
)
@reports_errors
def scan_command(
    input_path: Annotated[
        str, typer.Argument(metavar="INPUT", help="Video file, folder of images, or quoted glob.")
    ],
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="PATH",
            help="Picture to write: .png, .jpg, .svg or .pdf. Default: <input-stem>-scan.png "
            "(with --json: no picture unless -o is given).",
        ),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the per-frame table and the decisions as JSON.")
    ] = False,
    reject_above: Annotated[
        float,
        typer.Option(
            metavar="K", help="Mark frames brighter than the running median + K x MAD as flashes."
        ),
    ] = DEFAULT_REJECT_K,
    scan_width: Annotated[
        int,
        typer.Option(metavar="PX", help="Width the frames are measured at.", min=16, max=4096),
    ] = SCAN_WIDTH,
    stream: Annotated[
        int | None,
        typer.Option(metavar="N", help="Video stream to scan, counting video streams from 0."),
    ] = None,
    size: Annotated[
        str, typer.Option(metavar="WxH", help="Picture size in pixels.")
    ] = f"{DEFAULT_SIZE[0]}x{DEFAULT_SIZE[1]}",
    backend: Annotated[
        str,
        typer.Option(
            metavar="NAME",
            help="Video decoder: auto (= pyav: FFmpeg's libraries, in-process; "
            "ffmpeg is another name for it).",
        ),
    ] = "auto",
    overwrite: Annotated[
        bool, typer.Option("--overwrite", "-y", help="Replace an existing picture.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
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
    if picture is not None:
        draw_scan(result, picture, size=pixels, title=default_stem(input_path))
    for line in result.summary(input_path):
        typer.echo(line, err=True)
    if json_out:
        if picture is not None:
            typer.echo(f"Wrote {picture}", err=True)
        typer.echo(json.dumps(result.to_dict(input_path), indent=1))
    elif picture is not None:
        typer.echo(str(picture))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vid2trail {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Turn a timelapse video or a folder of photos into a long-exposure still."""


def run() -> None:
    """Console-script entry point."""
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    app(prog_name="vid2trail")
    sys.exit(0)
