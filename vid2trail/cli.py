"""The ``vid2trail`` command: a thin typer skin over :mod:`vid2trail.pipeline`.

It parses options, builds the library objects, runs them, and turns the library's errors into one
``Error:`` line on stderr with exit code 2 (a bad value on the command line) or 1 (a problem with
the input or the output). Only output paths go to stdout; progress goes to stderr.
"""

from __future__ import annotations

import functools
import json
import os
import sys
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
from .color import DEFAULT_NORMALIZE, parse_normalize
from .errors import UsageError, Vid2TrailError
from .info import describe, format_report
from .pipeline import ProgressCallback, render, resolve_windows, run_reducers
from .reducers import REDUCERS, make_reducer
from .select import Window, parse_position
from .sources import VIDEO_BACKENDS, open_source
from .writers import check_output, output_dtype, write_still

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


def reports_errors(func: F) -> F:
    """Turn library errors into one ``Error:`` line and an exit code; Ctrl-C into exit 130.

    Warnings the library issues (a truncated file, frames lost) are printed as one ``Warning:``
    line each on stderr, after the command's own output.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with warnings_to_stderr():
                return func(*args, **kwargs)
        except Vid2TrailError as exc:
            raise _fail(str(exc), 2 if exc.usage else 1) from None
        except KeyboardInterrupt:
            typer.echo("Interrupted: no output was written.", err=True)
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
            for record in caught:
                typer.echo(f"Warning: {record.message}", err=True)


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
_NORMALIZE_DEFAULTS = ", ".join(f"{m}: {n}" for m, n in DEFAULT_NORMALIZE.items())


@app.command(
    "stack",
    epilog=(
        "Positions: a frame number (120) or a time (90s, 4.5s, 2:00, 1:02:03.5). "
        f"{_HALF_OPEN} Exit codes: 0 done, 1 input or output problem, 2 bad option value, "
        "130 interrupted. See also: vid2trail info INPUT (streams, rotation, frame rate, "
        "frame count, bit depth, colour, HDR)."
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
            help="Still to write: .png, .jpg, .tif or .npy. Default: <input-stem>-<mode>.png "
            "in the current folder.",
        ),
    ] = None,
    mode: Annotated[
        str, typer.Option("--mode", "-m", metavar="MODE", help=f"How frames combine: {_MODES}.")
    ] = "max",
    start: Annotated[
        str | None,
        typer.Option(
            metavar="POS", help="First frame to stack (frame number or time). Default: the first."
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            metavar="POS", help="Stop before this frame (frame number or time). Default: the end."
        ),
    ] = None,
    step: Annotated[
        int, typer.Option(metavar="K", help="Keep every K-th frame of the window.", min=1)
    ] = 1,
    window: Annotated[
        list[str] | None,
        typer.Option(
            metavar="A:B",
            help="START:END window; repeat for several stills from one decoding pass, each "
            "named after its frames (iss-max-120-900.png).",
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
        int,
        typer.Option(
            metavar="8|16", help="Bits per channel of the still: 8, or 16 for PNG and TIFF."
        ),
    ] = 8,
    quality: Annotated[int, typer.Option(metavar="Q", help="JPEG quality, 1 to 100.")] = 95,
    backend: Annotated[
        str,
        typer.Option(
            metavar="NAME", help=f"Video decoder: auto (= ffmpeg), {', '.join(VIDEO_BACKENDS)}."
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
            help="HDR (HLG, PQ) video: tonemap (to SDR BT.709) or keep (the HDR signal as "
            "coded, at the source's bit depth).",
        ),
    ] = "tonemap",
    overwrite: Annotated[
        bool, typer.Option("--overwrite", "-y", help="Replace an existing output file.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Stack frames of INPUT into a long-exposure still and print the path written."""
    make_reducer(mode)
    if normalize is not None:
        parse_normalize(normalize)
    if gain <= 0:
        raise UsageError(f"--gain {gain}: the gain must be above 0")
    if bit_depth not in (8, 16):
        raise UsageError(f"--bit-depth {bit_depth}: use 8 or 16")
    if window and (start is not None or end is not None):
        raise UsageError("--window cannot be combined with --start/--end: put them in --window")
    windows = (
        [Window.parse(text) for text in window]
        if window
        else [
            Window(
                parse_position(start, "--start") if start is not None else None,
                parse_position(end, "--end") if end is not None else None,
            )
        ]
    )
    with open_source(input_path, backend=backend, stream=stream, hdr=hdr) as source:
        for note in source.info.notes:
            typer.echo(f"Note: {input_path}: {note}", err=True)
        ranges = resolve_windows(windows, source, step)
        outputs = _output_paths(input_path, output, mode, ranges if window else None)
        inputs = tuple(getattr(source, "files", [input_path]))
        for out in outputs:
            check_output(out, bit_depth=bit_depth, overwrite=overwrite, inputs=inputs)
        with progress_bar(not quiet, "Stacking") as progress:
            reducers = run_reducers(source, ranges, mode, progress)
    for out, reducer in zip(outputs, reducers, strict=True):
        image = render(reducer, out_dtype=output_dtype(bit_depth), normalize=normalize, gain=gain)
        typer.echo(str(write_still(out, image, quality=quality)))


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
