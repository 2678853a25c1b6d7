"""When each frame was captured: a photo's EXIF time, a video's creation time.

Photos carry ``DateTimeOriginal`` (with ``SubSecTimeOriginal`` and ``OffsetTimeOriginal`` where the
camera writes them), read with ``exifread`` from JPEG, TIFF, PNG and the TIFF-based RAW formats,
and through LibRaw (``rawpy``) from the others (CR3, RAF). All-sky cameras often write no EXIF but
name each image after its time (``image-20260812223005.jpg``, ``ccd1_20260812_223005.jpg``): a
name holding a date and a time to the second gives it where EXIF does not. A video's container
may say when it was recorded (``creation_time``, UTC; Apple's
``com.apple.quicktime.creationdate``, local with its offset).

Clock times are naive ``datetime`` values on the camera's clock: an EXIF time is the camera's
local time already, and a video's UTC creation time is shown in this machine's time zone.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone, tzinfo

from ..errors import SourceError
from .raw import libraw_time

# exifread logs a warning for every file without EXIF ("PNG file does not have exif data"):
# Python's last-resort handler would print those on the terminal. A missing time is ours to say.
logging.getLogger("exifread").setLevel(logging.CRITICAL + 1)

#: RAW formats that are not TIFF inside, where exifread may find nothing: LibRaw reads them.
_NOT_TIFF = (".cr3", ".raf")
#: A date and a time to the second in a file name: 20260812223005, 20260812_223005,
#: 2026-08-12_22-30-05, 2026-08-12T22:30:05 ...
_NAME_TIME = re.compile(
    r"(?<!\d)((?:19|20)\d{2})[-_]?(\d{2})[-_]?(\d{2})"  # the date
    r"[T_\- ]?(\d{2})[-_:.h]?(\d{2})[-_:.m]?(\d{2})(?!\d)"  # the time
)
_EXIF_TIME = re.compile(r"^\s*(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"^\s*([+-])(\d{2}):?(\d{2})\s*$")


def parse_exif_time(text: str, subsec: str = "", offset: str = "") -> datetime | None:
    """An EXIF date and time (``2026:08:12 22:30:05``) with its sub-second digits, as a naive
    ``datetime`` on the camera's clock; None for a blank or impossible value (``0000:00:00``).

    ``offset`` (``+02:00``) is the camera's zone; the time stays the local time it names.

    Examples
    --------
    >>> parse_exif_time("2026:08:12 22:30:05", "25")
    datetime.datetime(2026, 8, 12, 22, 30, 5, 250000)
    >>> parse_exif_time("0000:00:00 00:00:00") is None
    True
    """
    match = _EXIF_TIME.match(text or "")
    if not match:
        return None
    try:
        moment = datetime(*(int(part) for part in match.groups()))  # type: ignore[misc]
    except ValueError:
        return None
    digits = "".join(ch for ch in (subsec or "") if ch.isdigit())
    if digits:
        moment += timedelta(seconds=int(digits) / 10 ** len(digits))
    return moment


def exif_offset(text: str) -> timezone | None:
    """The zone of an EXIF ``OffsetTime*`` value (``+02:00``), or None.

    Examples
    --------
    >>> exif_offset("+02:00"), exif_offset("")
    (datetime.timezone(datetime.timedelta(seconds=7200)), None)
    """
    match = _OFFSET.match(text or "")
    if not match:
        return None
    sign, hours, minutes = match.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    return timezone(-delta if sign == "-" else delta)


def read_capture_time(path: str) -> tuple[datetime | None, timezone | None]:
    """A photo's capture time (naive, camera clock) and the camera's zone where it says; both
    None when the file carries no time.

    Examples
    --------
    >>> read_capture_time("night/IMG_0001.JPG")  # doctest: +SKIP
    (datetime.datetime(2026, 8, 12, 22, 30, 5, 250000), None)
    """
    import exifread  # here, not at the top: 9 ms of every start-up, which only photos need

    try:
        with open(path, "rb") as handle:
            tags = exifread.process_file(handle, details=False, extract_thumbnail=False,
                                         stop_tag="SubSecTimeOriginal")  # fmt: skip
    except Exception:  # exifread raises many kinds on files it cannot parse: no time there
        tags = {}
    # TIFF/EP (and so a DNG) may keep DateTimeOriginal in its first IFD; DateTime is when the
    # file was last changed, the camera's own time where nothing edited it.
    text = str(tags.get("EXIF DateTimeOriginal") or tags.get("Image DateTimeOriginal")
               or tags.get("Image DateTime") or "")  # fmt: skip
    moment = parse_exif_time(text, str(tags.get("EXIF SubSecTimeOriginal") or ""))
    zone = exif_offset(str(tags.get("EXIF OffsetTimeOriginal") or ""))
    if moment is None and not tags and path.lower().endswith(_NOT_TIFF):
        moment = _libraw_time(path)  # seconds only, and LibRaw opens the whole file: a fallback
    if moment is None:
        moment = time_in_name(path)
    return moment, zone


def time_in_name(path: str) -> datetime | None:
    """The date and time a file's name holds (an all-sky camera's ``image-20260812223005.jpg``),
    or None.

    Examples
    --------
    >>> time_in_name("allsky/image-20260812223005.jpg")
    datetime.datetime(2026, 8, 12, 22, 30, 5)
    >>> time_in_name("ccd1_20260812_223005.jpg"), time_in_name("IMG_0042.JPG")
    (datetime.datetime(2026, 8, 12, 22, 30, 5), None)
    """
    match = _NAME_TIME.search(os.path.basename(path))
    if not match:
        return None
    try:
        return datetime(*(int(part) for part in match.groups()))  # type: ignore[misc]
    except ValueError:
        return None


def _libraw_time(path: str) -> datetime | None:
    """LibRaw's capture time of a RAW file that exifread cannot read (CR3, RAF)."""
    try:
        return libraw_time(path)
    except SourceError:  # no [raw] extra: the file is refused when it decodes
        return None


def capture_times(paths: Sequence[str]) -> tuple[list[datetime | None], timezone | None]:
    """Every photo's capture time (None where a file has none) and the first zone found.

    Examples
    --------
    >>> capture_times([])
    ([], None)
    """
    times: list[datetime | None] = []
    zone = None
    for path in paths:
        moment, found = read_capture_time(path)
        times.append(moment)
        zone = zone or found
    return times, zone


def creation_clock(tags: dict[str, str]) -> tuple[datetime | None, tzinfo | None]:
    """A video's recording start on a naive clock, and that clock's zone, from its container
    tags: Apple's local ``com.apple.quicktime.creationdate`` first, else ``creation_time`` (UTC)
    in this machine's zone; ``(None, None)`` without either.

    Examples
    --------
    >>> creation_clock({"com.apple.quicktime.creationdate": "2026-08-12T22:30:00+0200"})[0]
    datetime.datetime(2026, 8, 12, 22, 30)
    >>> creation_clock({})
    (None, None)
    """
    moment = _iso(tags.get("com.apple.quicktime.creationdate", ""))
    if moment is not None:
        return moment.replace(tzinfo=None), moment.tzinfo
    moment = _iso(tags.get("creation_time", ""))
    if moment is None or moment.year <= 1970:  # 1970 or 1904: a camera that never set it
        return None, None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    local = moment.astimezone()
    return local.replace(tzinfo=None), local.tzinfo


def _iso(text: str) -> datetime | None:
    value = (text or "").strip().replace("Z", "+00:00")
    value = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", value)
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
