"""What the command line adds around the library: flags in messages, one ``Error:`` line and an
exit code per failure, signals that clean up like Ctrl-C, warnings as ``Warning:`` lines, and the
progress bar.
"""

from __future__ import annotations

import functools
import signal
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import typer

from ..errors import Vid2TrailError, Vid2TrailWarning, as_flags
from ..pipeline import ProgressCallback

F = TypeVar("F", bound=Callable[..., Any])

#: Flags whose spelling is not ``--`` and the library's name with dashes.
FLAGS = {"overwrite": "--overwrite (-y)", "windows": "--window"}


def flags(text: str) -> str:
    """A library message with its options named as this command's flags.

    Examples
    --------
    >>> from vid2trail.errors import option
    >>> flags(f"{option('video_fps')} 0: use a frame rate above 0")
    '--video-fps 0: use a frame rate above 0'
    """
    return as_flags(text, FLAGS)


def echo(text: str, err: bool = False) -> None:
    """Print a line as the bytes it stands for: a file name that is not UTF-8 (read with
    Python's ``surrogateescape``) goes out as the very bytes it came in as, not a traceback.

    Examples
    --------
    >>> echo("night/caf\udce9.mp4")  # doctest: +SKIP
    """
    typer.echo(text.encode("utf-8", "surrogateescape"), err=err)


def fail(message: str, code: int) -> typer.Exit:
    """Print ``Error: message`` (options as flags) on stderr; the exit to raise."""
    echo(f"Error: {flags(message)}", err=True)
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
    """Turn library errors into one ``Error:`` line and an exit code (2 for a bad value, 1 for a
    problem with the input or an output); Ctrl-C into exit 130, SIGTERM, SIGHUP and SIGQUIT into
    128 + the signal's number after the same clean-up.

    Warnings the library issues (a truncated file, frames lost) are printed as one ``Warning:``
    line each on stderr, after the command's own output.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with sigterm_cleans_up(), warnings_to_stderr():
                return func(*args, **kwargs)
        except Vid2TrailError as exc:
            raise fail(exc.message(), 2 if exc.usage else 1) from None
        except Terminated as stop:
            word = STOPPING_SIGNALS.get(stop.signum, "Terminated")
            echo(f"{word}: no half-written file was left behind.", err=True)
            raise typer.Exit(128 + stop.signum) from None
        except KeyboardInterrupt:
            echo("Interrupted: no half-written file was left behind.", err=True)
            raise typer.Exit(130) from None
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            raise fail(f"{where}{exc.strerror or exc}", 1) from None

    return wrapper  # type: ignore[return-value]


@contextmanager
def warnings_to_stderr() -> Iterator[None]:
    """Collect warnings raised inside and print each as one ``Warning:`` line on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            texts = (
                r.message.message() if isinstance(r.message, Vid2TrailWarning) else str(r.message)
                for r in caught
            )
            # Multi-pass modes decode the input again: say each thing once.
            for text in dict.fromkeys(texts):
                echo(f"Warning: {flags(text)}", err=True)


@contextmanager
def progress_bar(enabled: bool, label: str) -> Iterator[ProgressCallback | None]:
    """A rich progress bar on stderr (frames done, frames/s, ETA), or nothing when disabled or
    off a terminal. rich is imported only here: with ``--quiet`` it is never loaded."""
    if not enabled:
        yield None
        return
    from .progress import rich_bar

    with rich_bar(label) as update:
        yield update


class Terminal:
    """The orchestrator's listener on a terminal: lines and progress on stderr, paths on stdout.

    Examples
    --------
    >>> Terminal(progress=False).message("Repaired 3 hot pixels.")  # doctest: +SKIP
    """

    def __init__(self, progress: bool = True) -> None:
        self.progress = progress

    def message(self, text: str) -> None:
        """One line on stderr, options named as flags."""
        echo(flags(text), err=True)

    def stage(self, label: str) -> Any:
        """The progress bar of one stage (none with ``--quiet`` or off a terminal)."""
        return progress_bar(self.progress, label)

    def wrote(self, path: Path) -> None:
        """A path on stdout, for scripts."""
        echo(str(path))
