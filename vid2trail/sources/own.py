"""Recognise the stills vid2trail wrote itself, so that a folder's earlier result is not stacked.

``vid2trail night/ -o night/trails.png``, run twice, would otherwise stack the first run's still
as one more frame. vid2trail signs what it writes (see :mod:`vid2trail.writers`), and the
signature is found with one open and one small read per file, whatever the image's size: a PNG's
``iTXt`` chunk with the keyword ``vid2trail`` sits just before ``IEND`` (the last 64 KiB); a
JPEG's comment (``COM``) segment holding the provenance JSON comes right after ``SOI`` (the first
64 KiB); a TIFF's ``ImageDescription`` JSON lies in its first IFD, which tifffile reads alone.
A file that cannot be read is not vid2trail's: the decoder then says what is wrong with it.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Sequence

#: Bytes read from the end of a PNG or the start of a JPEG: far more than the provenance takes.
SIGNATURE_BYTES = 64 * 1024
#: The ``iTXt`` chunk type, the keyword, its NUL and the two compression bytes (flag 0, method 0).
_PNG_SIGNATURE = b"iTXtvid2trail\x00\x00\x00"
_SOFTWARE = re.compile(rb'"software":\s*"vid2trail[ "]')
#: Names shown in a note before "and N more".
SHOWN = 3


def wrote_it(path: str) -> bool:
    """Whether ``path`` is a still vid2trail wrote (it carries vid2trail's provenance).

    Examples
    --------
    >>> wrote_it("night/IMG_0001.JPG")  # doctest: +SKIP
    False
    """
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext == ".png":
            return _PNG_SIGNATURE in _read(path, from_end=True)
        if ext in (".jpg", ".jpeg"):
            return _jpeg_signed(_read(path, from_end=False))
        if ext in (".tif", ".tiff"):
            return _tiff_signed(path)
    except (OSError, ValueError, struct.error):
        return False
    return False


def _read(path: str, *, from_end: bool) -> bytes:
    with open(path, "rb") as handle:
        if from_end:
            end = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, end - SIGNATURE_BYTES))
        return handle.read(SIGNATURE_BYTES)


def _jpeg_signed(head: bytes) -> bool:
    """A ``COM`` segment before the scan data holding vid2trail's provenance JSON."""
    if head[:2] != b"\xff\xd8":
        return False
    pos = 2
    while pos + 4 <= len(head) and head[pos] == 0xFF:
        marker = head[pos + 1]
        if marker == 0xDA:  # start of scan: the metadata segments are over
            return False
        (length,) = struct.unpack(">H", head[pos + 2 : pos + 4])
        if marker == 0xFE:
            text = head[pos + 4 : pos + 2 + length]
            if text.startswith(b'{"') and _SOFTWARE.search(text):
                return True
        pos += 2 + length
    return False


def _tiff_signed(path: str) -> bool:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            description = tif.pages[0].description
    except Exception:  # tifffile raises many kinds of error for a file it cannot parse
        return False
    return bool(_SOFTWARE.search(description.encode("utf-8", "replace")))


def leave_out_own(files: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split ``files`` into those to stack and those vid2trail wrote itself, order kept.

    Examples
    --------
    >>> leave_out_own([])
    ([], [])
    """
    kept: list[str] = []
    own: list[str] = []
    for name in files:
        (own if wrote_it(name) else kept).append(name)
    return kept, own


def describe_own(own: Sequence[str]) -> str:
    """Name the images left out and what to do, for a note or an error.

    Examples
    --------
    >>> describe_own(["n/a.png"])
    '1 image vid2trail wrote itself (n/a.png): name it alone to stack it'
    >>> describe_own([f"{k}.png" for k in range(5)])  # doctest: +ELLIPSIS
    '5 images vid2trail wrote itself (0.png, 1.png, 2.png and 2 more): name one alone...'
    """
    names = ", ".join(own[:SHOWN])
    if len(own) > SHOWN:
        names += f" and {len(own) - SHOWN} more"
    if len(own) == 1:
        return f"1 image vid2trail wrote itself ({names}): name it alone to stack it"
    return f"{len(own)} images vid2trail wrote itself ({names}): name one alone to stack it"
