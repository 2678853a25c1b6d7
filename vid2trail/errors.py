"""The vid2trail exception family.

Every error the library raises on purpose derives from :class:`Vid2TrailError` and also from the
matching builtin, so callers can catch either (``except FileNotFoundError`` keeps working). Each
message names the path or value at fault and what to try; the CLI prints it as one ``Error:`` line.
``usage`` marks errors in the command-line values themselves (exit code 2 in the CLI) as opposed to
problems with the input's content (exit code 1).

Messages name options in library words: a message is built with :func:`option` around each
option's name (``f"{option('start')} 5x: ..."``); ``str(error)`` reads ``start 5x: ...``, the words
a Python caller of :func:`vid2trail.stack` used, and the command line renders the same message
with its flags (``--start 5x: ...``) through :func:`as_flags`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

#: Marks an option's name inside a message (ASCII unit separators, never typed by a user).
_MARK = "\x1f"
_MARKED = re.compile(f"{_MARK}([a-z_]+){_MARK}")
#: Library words where an option's name alone would not read as Python (the rest stay as named).
LIBRARY_WORDS: Mapping[str, str] = {
    "overwrite": "overwrite=True",
    "reject_above": "reject",
    "window": "windows",
    "video_step": "TrailVideoJob.step",
    "video_fps": "VideoOptions.fps",
    "video_width": "VideoOptions.width",
    "fill_gaps": "fill_gaps=True",
    "align": "align=True",
    "sky_mask_out": "SkyJob.mask_out",
}


def option(name: str) -> str:
    """Mark ``name`` (a keyword of :func:`vid2trail.stack` or a field of the job) in a message.

    Examples
    --------
    >>> in_words(f"{option('gain')} nan: use a factor above 0")
    'gain nan: use a factor above 0'
    >>> as_flags(f"{option('video_fps')} 0: use a frame rate above 0")
    '--video-fps 0: use a frame rate above 0'
    """
    return f"{_MARK}{name}{_MARK}"


def in_words(text: str) -> str:
    """``text`` with every marked option in library words (``start``, ``video_fps``).

    Examples
    --------
    >>> in_words(f"pass {option('overwrite')} to replace it")
    'pass overwrite=True to replace it'
    """
    return _MARKED.sub(lambda m: LIBRARY_WORDS.get(m[1], m[1]), text)


def as_flags(text: str, flags: Mapping[str, str] | None = None) -> str:
    """``text`` with every marked option as a command-line flag: ``flags[name]`` where given,
    else ``--`` and the name with dashes (``video_fps`` -> ``--video-fps``).

    Examples
    --------
    >>> as_flags(f"pass {option('overwrite')} to replace it", {"overwrite": "--overwrite (-y)"})
    'pass --overwrite (-y) to replace it'
    """
    table = flags or {}
    return _MARKED.sub(lambda m: table.get(m[1], "--" + m[1].replace("_", "-")), text)


class Vid2TrailError(Exception):
    """Base class of every error vid2trail raises on purpose.

    ``str(error)`` names options in library words; :meth:`message` gives the text with marks, for
    a caller that renders them its own way (the command line, as flags).
    """

    usage: bool = False

    def message(self) -> str:
        """The message with its options still marked (see :func:`option`)."""
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:
        return in_words(self.message()) if len(self.args) == 1 else super().__str__()


class UsageError(Vid2TrailError, ValueError):
    """A command-line or API value that cannot be used as given (exit code 2)."""

    usage = True


def check_number(name: str, value: float, low: float, high: float, use: str) -> None:
    """Refuse a number that is not finite or lies outside ``low < value <= high``: NaN, an
    infinity or an absurd size would give a black or white still, a numpy warning, or a run
    that never ends.

    Examples
    --------
    >>> check_number("gain", 2.0, 0, 1e6, "a factor above 0, at most 1000000")
    >>> check_number("gain", float("nan"), 0, 1e6, "a factor above 0, at most 1000000")
    Traceback (most recent call last):
    ...
    vid2trail.errors.UsageError: gain nan: use a factor above 0, at most 1000000
    """
    import math

    if not (isinstance(value, (int, float)) and math.isfinite(value) and low < value <= high):
        raise UsageError(f"{option(name)} {value}: use {use}")


class TimeParseError(UsageError):
    """A frame number or time such as ``2:00`` that does not parse."""


class EmptySelectionError(UsageError):
    """A window that selects no frames, such as ``start >= end``."""


class OutputError(UsageError):
    """An output path that cannot be written: bad extension, missing folder, existing file."""


class SourceNotFoundError(Vid2TrailError, FileNotFoundError):
    """The input path, folder or glob does not exist."""


class DecodeError(Vid2TrailError, OSError):
    """The decoder could not read the input; the message ends with the decoder's own words."""


class EncodeError(Vid2TrailError, OSError):
    """The encoder could not write the video; the message ends with ffmpeg's own words."""


class WriteError(Vid2TrailError, OSError):
    """An output could not be written (a full disk, a folder gone); says what was written."""


class SourceError(Vid2TrailError, ValueError):
    """The input exists but cannot be stacked as it is (no images, mixed sizes, ...)."""


class SelectionPastEndError(SourceError):
    """The selection starts after the last frame of the input."""


class MissingDependencyError(Vid2TrailError, ImportError):
    """An optional backend is not installed; the message names the extra to install."""


class Vid2TrailWarning(UserWarning):
    """Base class of the warnings vid2trail issues; the CLI prints each as one ``Warning:`` line.

    Like errors, ``str(warning)`` names options in library words (see :func:`option`).
    """

    def message(self) -> str:
        """The message with its options still marked."""
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:
        return in_words(self.message()) if len(self.args) == 1 else super().__str__()


class DecodeWarning(Vid2TrailWarning):
    """Part of the input did not decode (a truncated or corrupt file); the rest was used."""


class DiskSpaceError(Vid2TrailError, OSError):
    """Not enough free disk for a temporary cache (the median's frame cache)."""
