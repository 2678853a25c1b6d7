"""Still images out: PNG, JPEG, TIFF, FITS and .npy, chosen by extension, written atomically.

``--bit-depth 32`` writes float32 linear light (1.0 = white, nothing clipped), the data an astro
editor (Siril, PixInsight, Photoshop's 32-bit mode) expects; 8 and 16 bits are sRGB code values.
TIFFs are written by tifffile (deflate-compressed, readable by every TIFF reader), FITS by astropy
(optional extra ``fits``; see :mod:`vid2trail.fits`). Provenance (source, frames, mode, options,
version) goes into the file where the format has a place for it: PNG ``iTXt`` text chunks, the
TIFF ``ImageDescription`` (as JSON) and ``Software`` tags, FITS header cards; and, with
``--sidecar``, into a JSON file beside the still (:func:`write_sidecar`).

Every file is first written to a hidden temporary file in the destination folder and then renamed
over the final name (``os.replace`` is atomic on one file system), so an interrupted run never
leaves a half-written image, and an existing file is never touched unless ``overwrite`` is set.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .embed import add_jpeg_comment, add_png_text, ascii_text, json_text, text_chunks
from .errors import OutputError, WriteError, option
from .median import format_size

#: Output extension -> format name; ``--bit-depth`` choices per format below.
STILL_FORMATS = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".npy": "npy",
    ".fits": "fits",
    ".fit": "fits",
    ".fts": "fits",
}
BIT_DEPTHS = {"png": (8, 16), "jpeg": (8,), "tiff": (8, 16, 32), "npy": (8, 16, 32), "fits": (32,)}


def default_bit_depth(path: str | os.PathLike[str]) -> int:
    """The ``--bit-depth`` a still gets when none is given: 32 for FITS, else 8.

    Examples
    --------
    >>> default_bit_depth("m31.fits"), default_bit_depth("trail.png")
    (32, 8)
    """
    return 32 if STILL_FORMATS.get(Path(path).suffix.lower()) == "fits" else 8


def output_dtype(bit_depth: int) -> np.dtype:
    """The array dtype written for ``--bit-depth``.

    Examples
    --------
    >>> output_dtype(16), output_dtype(32)
    (dtype('uint16'), dtype('float32'))
    """
    return np.dtype({8: np.uint8, 16: np.uint16, 32: np.float32}[bit_depth])


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
        8, 16 or 32; must suit the format (JPEG is 8-bit only, FITS 32-bit only).
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
    if out.is_dir():
        raise OutputError(
            f"cannot write {out}: it is a folder; give a file name in it, e.g. {out / 'result.png'}"
        )
    if not ext and out.name.startswith(".") and out.name.count(".") == 1:
        # Path(".png").suffix is "": a bare extension is a name missing, not a format missing.
        raise OutputError(
            f"cannot write {out}: give a file name before the extension, e.g. "
            f"{out.with_name('result' + out.name)}"
        )
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
            f"{option('bit_depth')} {bit_depth} does not suit {out} ({fmt} takes {depths}){hint}"
        )
    if fmt == "fits":
        from .fits import require_astropy

        require_astropy()
    return check_destination(out, overwrite=overwrite, inputs=inputs)


def check_destination(out: Path, *, overwrite: bool = False, inputs: tuple[str, ...] = ()) -> Path:
    """The checks every output shares: its folder exists, it is no input, it is not in the way.

    Examples
    --------
    >>> check_destination(Path("new-result.png"))
    PosixPath('new-result.png')
    """
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(
            f"cannot write {out}: the folder {parent} does not exist; create it first"
        )
    for source in inputs:
        if os.path.exists(source) and out.exists() and os.path.samefile(source, out):
            raise OutputError(f"output {out} is the input: choose another output name")
    if out.exists() and not overwrite:
        raise OutputError(f"{out} already exists: pass {option('overwrite')} to replace it")
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
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{final.stem}.", suffix=f".part{final.suffix}", dir=folder
        )
    except OSError as exc:  # name the output, not the temporary file the user never asked for
        raise OutputError(
            f"cannot write {final}: {exc.strerror or exc} (in {folder}); choose another folder"
        ) from exc
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


@contextlib.contextmanager
def disk_errors(out: Path, needed: int, partial: Path | None = None) -> Iterator[None]:
    """Say which output could not be written and why, once: a full disk with the free space
    left (numpy reports a short write as "N requested and M written", and FITS and PNG say less),
    anything else with the system's reason. ``partial``, the file being written, is about to be
    deleted: its bytes count as free.

    Examples
    --------
    >>> with disk_errors(Path("a.npy"), 10):  # doctest: +ELLIPSIS
    ...     raise OSError(28, "No space left on device")
    Traceback (most recent call last):
    ...
    vid2trail.errors.WriteError: cannot write a.npy: the disk is full (... free in ..., ...
    """
    try:
        yield
    except OutputError:
        raise
    except OSError as exc:
        folder = out.parent if str(out.parent) else Path(".")
        try:
            free: int | None = shutil.disk_usage(folder).free
            if partial is not None and partial.exists():
                free = (free or 0) + partial.stat().st_size
        except OSError:
            free = None
        if exc.errno in (errno.ENOSPC, errno.EDQUOT) or (free is not None and free < needed):
            left = "nothing" if not free else format_size(free)
            raise WriteError(
                f"cannot write {out}: the disk is full ({left} free in {folder.resolve()}, "
                f"about {format_size(needed)} needed): free some space or write it elsewhere"
            ) from None
        raise WriteError(f"cannot write {out}: {exc.strerror or exc}") from None


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: zlib's fastest level, and libpng's row filters off. The adaptive filter choice per row took 40%
#: of a PNG's encoding time (1080p: 108 against 67 ms; 2880x1920: 450 against 290 ms), and level 1
#: takes another 25-40% off level 3 (1080p stills: 167 -> 97 ms, 248 -> 150 ms on a noisy sky,
#: 49 -> 37 ms on a dark one; a 16-bit 2880x1920 mean 391 -> 260 ms). Files grow 3-5% on textured
#: skies, up to 15-25% on smooth ones (the sample clip's max and mean). OpenCV before 4.11 has no
#: filter setting.
_PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 1] + (
    [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE] if hasattr(cv2, "IMWRITE_PNG_FILTER")
    else []
)  # fmt: skip


def write_still(
    path: str | os.PathLike[str],
    image: np.ndarray,
    *,
    quality: int = 95,
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write an RGB or grayscale image, choosing the format by extension, atomically.

    Parameters
    ----------
    path : str or PathLike
        ``.png``, ``.jpg``/``.jpeg``, ``.tif``/``.tiff``, ``.fits``/``.fit``/``.fts`` or ``.npy``.
    image : numpy.ndarray
        ``H x W x 3`` RGB, or ``H x W`` / ``H x W x 1`` grayscale; uint8 or uint16, float32 for
        TIFF and FITS (``.npy`` takes any dtype).
    quality : int
        JPEG quality, 1 to 100.
    metadata : mapping, optional
        Provenance to embed (PNG text chunks, TIFF tags, FITS cards); see
        :func:`vid2trail.pipeline.provenance`.

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
        raise OutputError(f"{option('quality')} {quality}: use 1 to 100")
    pixels = image[:, :, 0] if image.ndim == 3 and image.shape[2] == 1 else image
    if (
        fmt in ("png", "jpeg")
        and pixels.dtype not in (np.uint8, np.uint16)[: 2 if fmt == "png" else 1]
    ):
        raise OutputError(f"cannot write {pixels.dtype} pixels to {out}: use .tif or .npy")
    with atomic_path(out) as tmp, disk_errors(out, pixels.nbytes, tmp):
        if fmt == "npy":
            with open(tmp, "wb") as handle:
                np.save(handle, pixels)
            return out
        if fmt == "fits":
            from .fits import write_fits

            write_fits(tmp, pixels, metadata)
            return out
        if fmt == "tiff":
            _write_tiff(tmp, pixels, metadata)
            return out
        if pixels.ndim == 3:
            pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
        params: list[int] = []
        if fmt == "jpeg":
            params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
        elif fmt == "png":
            params = _PNG_PARAMS
        ok, encoded = cv2.imencode(out.suffix.lower(), pixels, params)
        if not ok:
            raise OutputError(f"OpenCV could not encode {out}")
        data = encoded.tobytes()
        if fmt == "png" and metadata:
            data = add_png_text(data, text_chunks(metadata))
        if fmt == "jpeg" and metadata:
            data = add_jpeg_comment(data, json_text(metadata, ascii_only=True))
        with open(tmp, "wb") as handle:
            handle.write(data)
    return out


def _write_tiff(tmp: Path, pixels: np.ndarray, metadata: Mapping[str, Any] | None) -> None:
    import tifffile

    tifffile.imwrite(
        tmp,
        pixels,
        photometric="rgb" if pixels.ndim == 3 else "minisblack",
        compression="zlib",
        # The horizontal predictor shrinks integer images; tifffile's float predictor needs
        # imagecodecs, so float TIFFs go without one.
        predictor=pixels.dtype.kind in "ui",
        # TIFF text tags are 7-bit ASCII: JSON escapes anything else as \uXXXX.
        description=json.dumps(metadata, sort_keys=True) if metadata else None,
        software=ascii_text(str(metadata.get("software", ""))) if metadata else None,
        metadata=None,
    )


def sidecar_path(still: str | os.PathLike[str]) -> Path:
    """Where ``--sidecar`` writes: the still's name plus ``.json`` (``trail.png.json``).

    Examples
    --------
    >>> sidecar_path("out/trail.png").as_posix()
    'out/trail.png.json'
    """
    still = Path(still)
    return still.with_name(still.name + ".json")


def check_sidecar(still: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Refuse, before any decoding, to replace an existing sidecar without ``overwrite``.

    Examples
    --------
    >>> check_sidecar("new-trail.png").name
    'new-trail.png.json'
    """
    out = sidecar_path(still)
    if out.exists() and not overwrite:
        raise OutputError(f"{out} already exists: pass {option('overwrite')} to replace it")
    return out


def write_sidecar(still: str | os.PathLike[str], metadata: Mapping[str, Any]) -> Path:
    """Write the provenance JSON beside a still, atomically; returns its path.

    Examples
    --------
    >>> write_sidecar("trail.png", {"mode": "max"})  # doctest: +SKIP
    PosixPath('trail.png.json')
    """
    out = sidecar_path(still)
    text = json.dumps(metadata, indent=2, sort_keys=True, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a name that is not UTF-8: escaped, so it reads back the same
        text = json.dumps(metadata, indent=2, sort_keys=True)
    with atomic_path(out) as tmp, disk_errors(out, len(text), tmp):
        tmp.write_text(text + "\n", encoding="utf-8")
    return out
