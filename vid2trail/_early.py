"""Start ffmpeg's look at the input video while Python is still importing numpy and OpenCV.

The ``vid2trail`` command spends its first quarter second importing; the ffmpeg backend then runs
ffmpeg once to read the file's header and decode its first frame (and, for a time selection or a
preview, once more to list its packets). :func:`start` launches those runs straight away, from a
guess at the input in the command line, so they finish during the imports; the ffmpeg source later
collects them with :func:`take` (or runs them itself when nothing matching was started). A guess
that is never collected (a wrong file, an error, another backend) is killed at exit: it only costs
a little CPU, and never changes a result, because a run is collected only for the same file (same
path, size and modification time) and the same command.

This module imports nothing heavy, so that the package's ``__init__`` stays cheap to reach.
"""

from __future__ import annotations

import atexit
import os
import subprocess

#: Extensions the command-line guess treats as videos.
VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".mts", ".m2ts", ".mpg", ".mpeg",
     ".3gp", ".wmv", ".flv", ".mxf"}
)  # fmt: skip
#: Options whose value is a file other than the input (outputs, the master dark): not a guess.
_PATH_OPTIONS = frozenset({"-o", "--output", "--video", "--argmax", "--dark"})
#: Options whose values can make the selection need the frame times.
_SELECTION_OPTIONS = frozenset({"--start", "--end", "--window", "--exclude"})
#: The stream the ffmpeg source probes first when no ``--stream`` is given.
DEFAULT_GUESS = "V:0"

_started: dict[tuple[object, ...], subprocess.Popen[bytes]] = {}


def first_frame_command(exe: str, path: str, stream: int | str) -> list[str]:
    """ffmpeg reading the file's header and decoding one frame of ``stream`` (an index or a
    specifier such as ``V:0``); its stderr says both.

    Examples
    --------
    >>> first_frame_command("ffmpeg", "a.mp4", "V:0")[-9:-3]
    ['-map', '0:V:0', '-frames:v', '1', '-vf', 'showinfo=checksum=0']
    """
    # One thread: frame threads only delay the first frame (about 20 ms for 1080p H.264).
    return [exe, "-hide_banner", "-nostdin", "-threads", "1", "-i", path,
            "-map", f"0:{stream}", "-frames:v", "1", "-vf", "showinfo=checksum=0",
            "-f", "null", "-"]  # fmt: skip


def listing_command(exe: str, path: str, stream: int | str) -> list[str]:
    """ffmpeg listing one stream's packets (``framecrc``), demuxed but not decoded.

    Examples
    --------
    >>> listing_command("ffmpeg", "a.mp4", 0)[-6:]
    ['0:0', '-c', 'copy', '-f', 'framecrc', '-']
    """
    return [exe, "-hide_banner", "-nostdin", "-loglevel", "error", "-i", path,
            "-map", f"0:{stream}", "-c", "copy", "-f", "framecrc", "-"]  # fmt: skip


def _key(kind: str, path: str, stream: int | str) -> tuple[object, ...] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return kind, os.path.realpath(path), str(stream), st.st_size, st.st_mtime_ns


def needs_frame_times(
    start: object = None,
    end: object = None,
    windows: object = (),
    excludes: object = (),
    preview: bool = False,
) -> bool:
    """True when a selection will need the video's frame times (one read of the whole file): a
    seek (a start past frame 0), a time or ``auto`` anywhere, a ``--window``, or a preview (its
    keyframes). Frame numbers alone (``--end 500``, ``--exclude 3-5``) do not.

    Examples
    --------
    >>> needs_frame_times(end="500", excludes=["3-5"]), needs_frame_times(start="120")
    (False, True)
    >>> needs_frame_times(end="1:30"), needs_frame_times(excludes=["2s-3s"])
    (True, True)
    """
    if preview or windows or (start is not None and str(start).strip() != "0"):
        return True
    if end is not None and not str(end).strip().isdigit():
        return True
    texts = [excludes] if isinstance(excludes, str) else list(excludes or ())  # type: ignore[call-overload]
    return any(ch not in "0123456789,- " for text in texts for ch in str(text))


def _option_values(args: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """``--name value`` / ``--name=value`` pairs of the options named in ``_PATH_OPTIONS`` and
    ``_SELECTION_OPTIONS``, and the other arguments."""
    wanted = _PATH_OPTIONS | _SELECTION_OPTIONS
    values: dict[str, list[str]] = {}
    rest: list[str] = []
    items = iter(args)
    for arg in items:
        name, eq, value = arg.partition("=")
        if name in wanted:
            if not eq:
                value = next(items, "")
            values.setdefault(name, []).append(value)
        else:
            rest.append(arg)
    return values, rest


def guess_input(args: list[str]) -> str | None:
    """The first argument that names an existing video file (not the value of ``-o``,
    ``--video``, ``--argmax`` or ``--dark``), or None.

    Examples
    --------
    >>> guess_input(["--mode", "max", "-o", "x.png"]) is None
    True
    """
    for arg in _option_values(args)[1]:
        if arg.startswith("-") or os.path.splitext(arg)[1].lower() not in VIDEO_EXTENSIONS:
            continue
        if os.path.isfile(arg):
            return arg
    return None


def start(args: list[str]) -> None:
    """Start the runs the ffmpeg source will want for the video among ``args`` (the command line
    after the program name). Does nothing when the guess is unsure: no video file, ``--stream``
    or ``--backend`` given, or ``--help``.

    Examples
    --------
    >>> start(["--help"])
    """
    names = {arg.split("=", 1)[0] for arg in args if arg.startswith("-")}
    if names & {"--stream", "--backend", "--help", "--version"}:
        return
    path = guess_input(args)
    if path is None:
        return
    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
        _launch("probe", path, first_frame_command(exe, path, DEFAULT_GUESS), stdout=False)
        values, _ = _option_values(args)
        if needs_frame_times(
            next(iter(values.get("--start", [])), None),
            next(iter(values.get("--end", [])), None),
            values.get("--window", []),
            values.get("--exclude", []),
            preview="--preview" in names,
        ):
            _launch("listing", path, listing_command(exe, path, DEFAULT_GUESS), stdout=True)
    except Exception:  # noqa: BLE001 - a guess: the source runs ffmpeg itself if this fails
        return


def _launch(kind: str, path: str, cmd: list[str], *, stdout: bool) -> None:
    key = _key(kind, path, DEFAULT_GUESS)
    if key is None or key in _started:
        return
    if not _started:
        atexit.register(_reap)
    _started[key] = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def take(kind: str, path: str, stream: int | str) -> subprocess.Popen[bytes] | None:
    """The run of ``kind`` (``probe`` or ``listing``) started early for this file and stream, if
    any; the caller reads its output. Each run is handed out once.

    Examples
    --------
    >>> take("probe", "no-such-file.mp4", "V:0") is None
    True
    """
    key = _key(kind, path, stream)
    found = _started.pop(key, None) if key is not None else None
    if found is None and kind == "probe":
        # The first video opened is the input: runs started for another file were a wrong
        # guess; stop them now rather than at exit (a listing would sit on a full pipe).
        _reap()
    return found


def _reap() -> None:
    """Kill the runs nobody collected (the guess was wrong, or the command failed first)."""
    for proc in _started.values():
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    _started.clear()


def main() -> None:
    """The ``vid2trail`` console script: start ffmpeg on the input, then import and run the CLI."""
    import sys

    start(sys.argv[1:])
    from .cli import run

    run()
