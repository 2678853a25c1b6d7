"""FITS stills through astropy (the optional extra ``fits``: ``pip install 'vid2trail[fits]'``).

Astronomy software reads FITS as linear data, so vid2trail writes float32 linear light (1.0 =
white, ``BITPIX = -32``). FITS counts rows from the bottom, so the image is stored bottom row first
(``ROWORDER = 'BOTTOM-UP'``, the convention Siril and DS9 follow) and a colour image as three
planes (``NAXIS3 = 3``, R, G, B), the layout Siril, PixInsight and DS9 read as colour.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from .errors import MissingDependencyError

#: Provenance keys written as FITS cards (key: (card name, comment)).
_CARDS = {
    "software": ("CREATOR", "program that made this image"),
    "source": ("SOURCE", "video, folder or glob that was stacked"),
    "mode": ("STACKMOD", "how frames were combined"),
    "frames_used": ("STACKCNT", "number of frames stacked"),
    "start": ("FRSTART", "first frame number stacked"),
    "end": ("FREND", "stop before this frame number"),
    "step": ("FRSTEP", "every n-th frame"),
    "kappa": ("KAPPA", "rejection threshold, standard deviations"),
    "iterations": ("ITERS", "rejection passes"),
    "dark": ("DARK", "master dark subtracted"),
    "hot_pixels_fixed": ("HOTPIX", "hot pixels repaired"),
    "normalize": ("NORMALIZ", "what was mapped to 1.0"),
    "gain": ("GAIN", "linear gain applied after normalization"),
    "created": ("DATE", "UTC time the image was written"),
    "decoding": ("DECODING", "what the decoder did to the pixels"),
}


def require_astropy() -> Any:
    """``astropy.io.fits``, or a :class:`MissingDependencyError` naming the extra to install.

    Examples
    --------
    >>> require_astropy().__name__  # doctest: +SKIP
    'astropy.io.fits'
    """
    try:
        from astropy.io import fits
    except ImportError:
        raise MissingDependencyError(
            "writing or reading .fits needs astropy: pip install 'vid2trail[fits]'"
        ) from None
    return fits


def write_fits(path: str | os.PathLike[str], image: np.ndarray,
               metadata: Mapping[str, Any] | None = None) -> None:  # fmt: skip
    """Write ``H x W x C`` (or ``H x W``) pixels as one FITS primary HDU, bottom row first.

    Examples
    --------
    >>> write_fits("trail.fits", np.zeros((4, 4, 3), np.float32))  # doctest: +SKIP
    """
    fits = require_astropy()
    planes = image if image.ndim == 2 else np.moveaxis(image, 2, 0)
    if planes.ndim == 3 and planes.shape[0] == 1:
        planes = planes[0]
    hdu = fits.PrimaryHDU(np.ascontiguousarray(planes[..., ::-1, :]))
    header = hdu.header
    header["ROWORDER"] = ("BOTTOM-UP", "first row stored is the bottom of the image")
    header["BUNIT"] = ("linear", "linear light, 1.0 = white")
    for key, value in (metadata or {}).items():
        if key in _CARDS and value is not None:
            name, comment = _CARDS[key]
            if not isinstance(value, (int, float, bool)):
                # FITS headers are ASCII: escape the rest (a path with accents) as \xNN.
                value = str(value).encode("ascii", "backslashreplace").decode("ascii")
            # A long value (a deep path) leaves no room for the comment: drop the comment
            # rather than let astropy warn that it truncates it.
            text = f"{value!r}" if isinstance(value, str) else str(value)
            header[name] = (value, comment) if len(text) + len(comment) < 64 else value
    with open(path, "wb") as handle:
        hdu.writeto(handle)


def read_fits(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a FITS image as ``H x W x C``, top row first (the inverse of :func:`write_fits`).

    Examples
    --------
    >>> read_fits("trail.fits").shape  # doctest: +SKIP
    (1080, 1920, 3)
    """
    fits = require_astropy()
    with fits.open(path) as hdus:
        hdu = next((h for h in hdus if h.data is not None), None)
        if hdu is None:
            from .errors import SourceError

            raise SourceError(f"{path} holds no image data")
        data = np.array(hdu.data)
        bottom_up = str(hdu.header.get("ROWORDER", "BOTTOM-UP")).upper() != "TOP-DOWN"
    if bottom_up:
        data = data[..., ::-1, :]
    data = data[:, :, None] if data.ndim == 2 else np.moveaxis(data, 0, 2)
    return np.ascontiguousarray(data.astype(data.dtype.newbyteorder("=")))
