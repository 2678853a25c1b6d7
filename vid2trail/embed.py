"""Provenance inside the files vid2trail writes: PNG ``iTXt`` chunks, a JPEG ``COM`` segment, and
JSON text that survives any file name. :mod:`vid2trail.writers` embeds it; the folder source reads
it back to recognise vid2trail's own outputs (:mod:`vid2trail.sources.own`).
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping
from typing import Any


def text_chunks(metadata: Mapping[str, Any]) -> dict[str, str]:
    return {"Software": str(metadata.get("software", "")), "vid2trail": json_text(metadata)}


def json_text(metadata: Mapping[str, Any], *, ascii_only: bool = False) -> str:
    r"""Provenance as JSON text that encodes to UTF-8 whatever the file names: a name that is not
    UTF-8 (old USB sticks, Samba shares) holds undecodable bytes, which JSON then escapes
    (``\udcff``), so that reading it back gives the very same name.

    Examples
    --------
    >>> json_text({"source": "caf\u00e9.mp4"}) == '{"source": "caf\u00e9.mp4"}'
    True
    >>> json_text({"source": "a\udcff.mp4"})
    '{"source": "a\\udcff.mp4"}'
    """
    text = json.dumps(metadata, sort_keys=True, ensure_ascii=ascii_only)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(metadata, sort_keys=True, ensure_ascii=True)
    return text


def add_jpeg_comment(jpeg: bytes, text: str) -> bytes:
    r"""Insert a ``COM`` segment holding ``text`` (ASCII) right after a JPEG's start marker; text
    longer than one segment holds (65533 bytes) is left out.

    Examples
    --------
    >>> add_jpeg_comment(b"\xff\xd8\xff\xd9", "hi")
    b'\xff\xd8\xff\xfe\x00\x04hi\xff\xd9'
    """
    body = text.encode("ascii", "backslashreplace")
    if len(body) > 65533 or not jpeg.startswith(b"\xff\xd8"):
        return jpeg
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(body) + 2) + body + jpeg[2:]


def ascii_text(text: str) -> str:
    return text.encode("ascii", "backslashreplace").decode("ascii")


def add_png_text(png: bytes, texts: Mapping[str, str]) -> bytes:
    """Insert ``iTXt`` chunks (UTF-8 text, PNG 1.2 section 11.3.4.5) before a PNG's ``IEND``.

    Examples
    --------
    >>> import cv2
    >>> import numpy as np
    >>> png = cv2.imencode(".png", np.zeros((1, 1), np.uint8))[1].tobytes()
    >>> b"vid2trail" in add_png_text(png, {"Comment": "vid2trail"})
    True
    """
    end = png.rindex(b"IEND") - 4
    chunks = []
    for keyword, text in texts.items():
        # keyword, NUL, compression flag 0, method 0, empty language tag and translated keyword.
        body = keyword.encode("latin-1") + b"\0\0\0\0\0" + text.encode("utf-8")
        chunk_type = b"iTXt"
        crc = zlib.crc32(chunk_type + body) & 0xFFFFFFFF
        chunks.append(struct.pack(">I", len(body)) + chunk_type + body + struct.pack(">I", crc))
    return png[:end] + b"".join(chunks) + png[end:]


def read_png_text(png: bytes) -> dict[str, str]:
    """The ``iTXt`` text chunks of a PNG (the inverse of :func:`add_png_text`).

    Examples
    --------
    >>> import cv2
    >>> import numpy as np
    >>> png = cv2.imencode(".png", np.zeros((1, 1), np.uint8))[1].tobytes()
    >>> read_png_text(add_png_text(png, {"Comment": "é"}))
    {'Comment': 'é'}
    """
    texts: dict[str, str] = {}
    pos = 8
    while pos + 8 <= len(png):
        length, chunk_type = struct.unpack(">I4s", png[pos : pos + 8])
        body = png[pos + 8 : pos + 8 + length]
        if chunk_type == b"iTXt":
            keyword, rest = body.split(b"\0", 1)
            # Skip the flags and the language and translated-keyword fields.
            _, _, rest = rest[2:].partition(b"\0")
            _, _, text = rest.partition(b"\0")
            texts[keyword.decode("latin-1")] = text.decode("utf-8")
        pos += 12 + length
    return texts
