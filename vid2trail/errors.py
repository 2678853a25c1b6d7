"""The vid2trail exception family.

Every error the library raises on purpose derives from :class:`Vid2TrailError` and also from the
matching builtin, so callers can catch either (``except FileNotFoundError`` keeps working). Each
message names the path or value at fault and what to try; the CLI prints it as one ``Error:`` line.
``usage`` marks errors in the command-line values themselves (exit code 2 in the CLI) as opposed to
problems with the input's content (exit code 1).
"""

from __future__ import annotations


class Vid2TrailError(Exception):
    """Base class of every error vid2trail raises on purpose."""

    usage: bool = False


class UsageError(Vid2TrailError, ValueError):
    """A command-line or API value that cannot be used as given (exit code 2)."""

    usage = True


def check_number(flag: str, value: float, low: float, high: float, use: str) -> None:
    """Refuse a number that is not finite or lies outside ``low < value <= high``: NaN, an
    infinity or an absurd size would give a black or white still, a numpy warning, or a run
    that never ends.

    Examples
    --------
    >>> check_number("--gain", 2.0, 0, 1e6, "a factor above 0, at most 1000000")
    >>> check_number("--gain", float("nan"), 0, 1e6, "a factor above 0, at most 1000000")
    Traceback (most recent call last):
    ...
    vid2trail.errors.UsageError: --gain nan: use a factor above 0, at most 1000000
    """
    import math

    if not (isinstance(value, (int, float)) and math.isfinite(value) and low < value <= high):
        raise UsageError(f"{flag} {value}: use {use}")


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


class SourceError(Vid2TrailError, ValueError):
    """The input exists but cannot be stacked as it is (no images, mixed sizes, ...)."""


class SelectionPastEndError(SourceError):
    """The selection starts after the last frame of the input."""


class MissingDependencyError(Vid2TrailError, ImportError):
    """An optional backend is not installed; the message names the extra to install."""


class Vid2TrailWarning(UserWarning):
    """Base class of the warnings vid2trail issues; the CLI prints each as one ``Warning:`` line."""


class DecodeWarning(Vid2TrailWarning):
    """Part of the input did not decode (a truncated or corrupt file); the rest was used."""


class DiskSpaceError(Vid2TrailError, OSError):
    """Not enough free disk for a temporary cache (the median's frame cache)."""
