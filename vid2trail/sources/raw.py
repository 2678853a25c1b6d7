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
import multiprocessing
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from functools import lru_cache
from multiprocessing import resource_tracker, shared_memory
from types import ModuleType
from typing import Any

import numpy as np

from ..color import linear_to_srgb
from ..errors import SourceError


def import_rawpy(path: str) -> ModuleType:
    """``rawpy``, or a :class:`SourceError` that names ``path`` and the extra to install."""
    # Images decode side by side, so LibRaw's OpenMP threads would only oversubscribe the cores:
    # 2 at once with 1 thread each measured 1.5x faster than one at a time with OpenMP on 2
    # cores. OpenMP reads this once, when rawpy's library loads.
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
    and ``--preview``). The camera's orientation is applied. The work is done in a decoding
    process (:func:`_decoders`): LibRaw reports damaged data on the C library's ``stderr``,
    which rawpy offers no way to redirect, and there it goes nowhere; the damage still reaches
    the caller, as the :class:`SourceError` that names the file.

    Examples
    --------
    >>> read_raw("night/IMG_0001.CR2").dtype  # doctest: +SKIP
    dtype('uint16')
    """
    import_rawpy(path)  # the missing extra is said here, before any process starts
    try:
        return _received(_decoders().submit(_develop_shared, path, half).result())
    except BrokenProcessPool:
        raise SourceError(
            f"the process decoding {path} stopped unexpectedly (out of memory?); try --raw-half"
        ) from None


def develop(path: str, half: bool = False) -> np.ndarray:
    """:func:`read_raw`'s work, in this process: LibRaw's demosaic, then the sRGB encoding."""
    rawpy = import_rawpy(path)
    try:
        with _open(rawpy, path) as raw:
            linear = raw.postprocess(use_camera_wb=True, no_auto_bright=True, gamma=(1, 1),
                                     output_bps=16, half_size=half)  # fmt: skip
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
    except rawpy.LibRawIOError as exc:
        raise SourceError(
            f"{path} ends before its image data does (LibRaw: {_reason(exc)}): the file is "
            "truncated or damaged; copy it again from the card, or remove it"
        ) from None
    except (rawpy.LibRawError, ValueError) as exc:
        raise SourceError(
            f"{path} is not a RAW file LibRaw can decode ({_reason(exc)}); remove it or "
            "re-export it"
        ) from None
    return encode_srgb(linear)


def _develop_shared(path: str, half: bool) -> tuple[str, tuple[int, ...]]:
    """In a decoding process: :func:`develop` into shared memory (a 24 MP image is 144 MB, which
    a pipe would copy twice), named for the caller to take, who also unlinks it."""
    image = develop(path, half)
    block = shared_memory.SharedMemory(create=True, size=max(1, image.nbytes))
    try:
        np.ndarray(image.shape, image.dtype, buffer=block.buf)[...] = image
        # The caller unlinks it: this process's resource tracker must not (nor warn at exit).
        resource_tracker.unregister(block._name, "shared_memory")  # type: ignore[attr-defined]
        return block.name, image.shape
    finally:
        block.close()


def _received(shared: tuple[str, tuple[int, ...]]) -> np.ndarray:
    """The image a decoding process left in shared memory, copied out; the block is removed."""
    name, shape = shared
    block = shared_memory.SharedMemory(name=name)
    try:
        return np.ndarray(shape, np.uint16, buffer=block.buf).copy()
    finally:
        block.close()
        block.unlink()


def _reason(exc: Exception) -> str:
    """LibRaw's complaint as text (rawpy passes it as bytes)."""
    first = exc.args[0] if exc.args else ""
    text = first.decode("utf-8", "replace") if isinstance(first, bytes) else str(first)
    return text or type(exc).__name__


_POOL: ProcessPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _decoders() -> ProcessPoolExecutor:
    """The decoding processes, one per core, started on the first RAW file and shared by every
    source of this process (each folder still decodes as many files at once as it has threads).
    Started with ``spawn``, as LibRaw's OpenMP requires."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            context = multiprocessing.get_context("spawn")
            _POOL = ProcessPoolExecutor(os.cpu_count() or 1, mp_context=context,
                                        initializer=_quiet)  # fmt: skip
        return _POOL


def _quiet() -> None:
    """A decoding process's start: C's stderr to nowhere, one OpenMP thread, and Ctrl-C left to
    the parent (which stops waiting; this process ends with it)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    os.environ["OMP_NUM_THREADS"] = "1"
    signal.signal(signal.SIGINT, signal.SIG_IGN)


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


__all__ = ["develop", "encode_srgb", "import_rawpy", "libraw_time", "read_raw"]
