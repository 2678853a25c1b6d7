"""Still images out: PNG, JPEG, TIFF and .npy, chosen by extension, written atomically.

Every file is first written to a hidden temporary file in the destination folder and then renamed
over the final name (``os.replace`` is atomic on one file system), so an interrupted run never
leaves a half-written image, and an existing file is never touched unless ``overwrite`` is set.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from .errors import OutputError

#: Output extension -> format name; ``--bit-depth`` choices per format below.
STILL_FORMATS = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".npy": "npy",
}
BIT_DEPTHS = {"png": (8, 16), "jpeg": (8,), "tiff": (8, 16), "npy": (8, 16)}


def output_dtype(bit_depth: int) -> np.dtype:
    """The array dtype written for ``--bit-depth``.

    Examples
    --------
    >>> output_dtype(16)
    dtype('uint16')
    """
    return np.dtype({8: np.uint8, 16: np.uint16}[bit_depth])


def check_output(
    path: str | os.PathLike[str],
    *,
    bit_depth: int = 8,
    overwrite: bool = False,
    inputs: tuple[str, ...] = (),
) -> Path:
    """Validate an output path before any decoding starts.

    Parameters
    ----------
    path : str or PathLike
        Where the still will go.
    bit_depth : int
        8 or 16; must suit the format (JPEG is 8-bit only).
    overwrite : bool
        Allow replacing an existing file.
    inputs : tuple of str
        Input files that the output must never be.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    OutputError
        For an unsupported extension or depth, a missing folder, an existing file without
        ``overwrite``, or an output that is one of the inputs.

    Examples
    --------
    >>> check_output("out.gif")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vid2trail.errors.OutputError: cannot write out.gif: unsupported extension '.gif'; ...
    """
    out = Path(path)
    ext = out.suffix.lower()
    if ext not in STILL_FORMATS:
        known = sorted(STILL_FORMATS)
        raise OutputError(
            f"cannot write {out}: unsupported extension {ext or '(none)'!r}; use "
            f"{', '.join(known[:-1])} or {known[-1]}"
        )
    fmt = STILL_FORMATS[ext]
    if bit_depth not in BIT_DEPTHS[fmt]:
        depths = " or ".join(str(d) for d in BIT_DEPTHS[fmt])
        hint = "; use .png or .tif for 16-bit" if fmt == "jpeg" else ""
        raise OutputError(
            f"--bit-depth {bit_depth} does not suit {out} ({fmt} takes {depths}){hint}"
        )
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(
            f"cannot write {out}: the folder {parent} does not exist; create it first"
        )
    for source in inputs:
        if os.path.exists(source) and out.exists() and os.path.samefile(source, out):
            raise OutputError(f"output {out} is the input: choose another output name")
    if out.exists() and not overwrite:
        raise OutputError(f"{out} already exists: pass --overwrite (-y) to replace it")
    return out


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    Examples
    --------
    >>> with atomic_path("result.npy") as tmp:  # doctest: +SKIP
    ...     np.save(tmp, np.zeros(3))
    """
    final = Path(path)
    folder = final.parent if str(final.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{final.stem}.", suffix=f".part{final.suffix}", dir=folder
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates 0600 files; give the result the permissions a plain open() would.
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_still(path: str | os.PathLike[str], image: np.ndarray, *, quality: int = 95) -> Path:
    """Write an RGB or grayscale image, choosing the format by extension, atomically.

    Parameters
    ----------
    path : str or PathLike
        ``.png``, ``.jpg``/``.jpeg``, ``.tif``/``.tiff`` or ``.npy``.
    image : numpy.ndarray
        ``H x W x 3`` RGB, or ``H x W`` / ``H x W x 1`` grayscale; uint8 or uint16 (``.npy`` takes
        any dtype).
    quality : int
        JPEG quality, 1 to 100.

    Returns
    -------
    pathlib.Path
        The path written.

    Examples
    --------
    >>> write_still("dot.png", np.zeros((4, 4, 3), np.uint8))  # doctest: +SKIP
    PosixPath('dot.png')
    """
    out = Path(path)
    fmt = STILL_FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise OutputError(f"cannot write {out}: unsupported extension {out.suffix!r}")
    if not 1 <= quality <= 100:
        raise OutputError(f"--quality {quality}: use 1 to 100")
    pixels = image[:, :, 0] if image.ndim == 3 and image.shape[2] == 1 else image
    with atomic_path(out) as tmp:
        if fmt == "npy":
            with open(tmp, "wb") as handle:
                np.save(handle, pixels)
            return out
        if pixels.ndim == 3:
            pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
        params: list[int] = []
        if fmt == "jpeg":
            params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
        elif fmt == "png":
            params = [cv2.IMWRITE_PNG_COMPRESSION, 3]
        ok, encoded = cv2.imencode(out.suffix.lower(), pixels, params)
        if not ok:
            raise OutputError(f"OpenCV could not encode {out}")
        encoded.tofile(tmp)
    return out
