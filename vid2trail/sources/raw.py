"""Camera RAW files (CR2, CR3, NEF, ARW, RAF, ORF, RW2, PEF, DNG) through LibRaw (``rawpy``).

A RAW file is demosaiced to 16-bit RGB as linear as LibRaw makes it (the rawpy maintainer's
recipe): the camera's white balance, no auto-brightening, gamma 1, sRGB primaries. The linear
values are then sRGB-encoded to 16-bit code values, the form every other source delivers, so the
reducers stack them in linear light as they stack a 16-bit TIFF, and a max is unchanged (the
encoding is monotonic). The encoding keeps more precision in the shadows than linear 16-bit.

``rawpy`` is the ``[raw]`` extra: a folder of RAW files without it is one error naming it.
"""

from __future__ import annotations

import io
import os
from datetime import datetime
from functools import lru_cache
from types import ModuleType
from typing import Any

import numpy as np

from ..color import linear_to_srgb
from ..errors import SourceError


def import_rawpy(path: str) -> ModuleType:
    """``rawpy``, or a :class:`SourceError` that names ``path`` and the extra to install."""
    # Each image decodes in a thread of its own (rawpy releases the GIL), so LibRaw's OpenMP
    # threads would only oversubscribe the cores: 2 threads of 1 measured 1.5x faster than one
    # call with OpenMP on 2 cores. OpenMP reads this once, when rawpy's library loads.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import rawpy
    except ImportError:
        raise SourceError(
            f"{path} is a RAW file: install the RAW extra (pip install 'vid2trail[raw]') to "
            "decode it, or give a glob of the JPEGs beside it"
        ) from None
    return rawpy


@lru_cache(maxsize=1)
def _srgb_table() -> np.ndarray:
    """uint16 linear -> uint16 sRGB code values, all 65536 of them."""
    codes = linear_to_srgb(np.arange(65536, dtype=np.float64) / 65535.0)
    return np.round(codes * 65535.0).astype(np.uint16)


def read_raw(path: str, *, half: bool = False) -> np.ndarray:
    """Demosaic one RAW file to ``H x W x 3`` uint16 sRGB code values (linear light inside).

    ``half`` demosaics at half size, four times fewer pixels, for a quick look (``--raw-half``,
    and ``--preview``). The camera's orientation is applied.

    Examples
    --------
    >>> read_raw("night/IMG_0001.CR2").dtype  # doctest: +SKIP
    dtype('uint16')
    """
    rawpy = import_rawpy(path)
    try:
        with _open(rawpy, path) as raw:
            linear = raw.postprocess(use_camera_wb=True, no_auto_bright=True, gamma=(1, 1),
                                     output_bps=16, half_size=half)  # fmt: skip
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (rawpy.LibRawError, ValueError) as exc:
        raise SourceError(
            f"{path} is not a RAW file LibRaw can decode ({exc or type(exc).__name__}); "
            "remove it or re-export it"
        ) from None
    return encode_srgb(linear)


def libraw_time(path: str) -> datetime | None:
    """The capture time LibRaw reads from a RAW file's own metadata, or None.

    Raises
    ------
    SourceError
        Without the ``[raw]`` extra.

    Examples
    --------
    >>> libraw_time("night/IMG_0001.CR3")  # doctest: +SKIP
    datetime.datetime(2026, 8, 12, 22, 30, 5)
    """
    rawpy = import_rawpy(path)
    try:
        with _open(rawpy, path) as raw:
            stamp = raw.other.timestamp
    except Exception:  # LibRaw's errors, or an unreadable file: no time from it
        return None
    return stamp if isinstance(stamp, datetime) and stamp.year > 1970 else None


def _open(rawpy: ModuleType, path: str) -> Any:
    """LibRaw on the file itself (it reads what it needs), or on its bytes for a name that is
    not valid UTF-8 (LibRaw takes UTF-8 names only)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return rawpy.imread(io.BytesIO(np.fromfile(path, dtype=np.uint8).tobytes()))
    return rawpy.imread(path)


#: Rows sRGB-encoded at once: the table lookup's index temporaries stay a few MB.
_ENCODE_ROWS = 64


def encode_srgb(linear: np.ndarray) -> np.ndarray:
    """16-bit linear light to 16-bit sRGB code values, in place, a band of rows at a time.

    Examples
    --------
    >>> encode_srgb(np.array([[[0, 65535, 3277]]], np.uint16)).tolist()
    [[[0, 65535, 16240]]]
    """
    table = _srgb_table()
    for top in range(0, linear.shape[0], _ENCODE_ROWS):
        band = linear[top : top + _ENCODE_ROWS]
        np.take(table, band, out=band, mode="clip")  # elementwise: safe in place
    return linear


__all__ = ["encode_srgb", "import_rawpy", "libraw_time", "read_raw"]
