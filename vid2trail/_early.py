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
#: Options after which the frame times are needed (seeks, time selections, keyframes).
_LISTING_OPTIONS = frozenset({"--start", "--end", "--window", "--exclude", "--preview"})
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


def guess_input(args: list[str]) -> str | None:
    """The first argument that names an existing video file, or None.

    Examples
    --------
    >>> guess_input(["--mode", "max", "-o", "x.png"]) is None
    True
    """
    for arg in args:
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
        if names & _LISTING_OPTIONS:
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
    return _started.pop(key, None) if key is not None else None


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
