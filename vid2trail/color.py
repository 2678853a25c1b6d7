"""Colour maths: the sRGB transfer curve, lookup tables, luma, normalization, output quantization.

Averaging or adding light must happen in linear light: the mean of two sRGB code values is not the
code value of the mean light (a star at 255 averaged with black sky gives 128, which is 22% of the
light, not 50%). We decode with the exact IEC 61966-2-1 piecewise curve, not a 2.2 power law, and
encode back the same way, so a mean of identical frames returns those frames exactly.
"""

from __future__ import annotations

import re
from functools import lru_cache

import cv2
import numpy as np

from .errors import UsageError, check_number, option

#: The sRGB curve's linear toe: code values up to this decode as ``v / 12.92``.
SRGB_DECODE_KNEE = 0.04045
#: The same knee in linear units.
SRGB_ENCODE_KNEE = 0.0031308


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    """Decode sRGB values in ``[0, 1]`` to linear light (IEC 61966-2-1).

    Examples
    --------
    >>> float(srgb_to_linear(np.array(1.0)))
    1.0
    >>> round(float(srgb_to_linear(np.array(0.5))), 4)
    0.214
    """
    v = np.asarray(values, dtype=np.float64)
    return np.where(v <= SRGB_DECODE_KNEE, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(values: np.ndarray) -> np.ndarray:
    """Encode linear light in ``[0, 1]`` as sRGB values in ``[0, 1]`` (IEC 61966-2-1).

    Examples
    --------
    >>> round(float(linear_to_srgb(np.array(0.214041))), 4)
    0.5
    """
    v = np.clip(np.asarray(values, dtype=np.float64), 0.0, None)
    return np.where(v <= SRGB_ENCODE_KNEE, v * 12.92, 1.055 * np.power(v, 1.0 / 2.4) - 0.055)


@lru_cache(maxsize=8)
def decode_lut(dtype_name: str, float_name: str = "float64") -> np.ndarray:
    """Linear-light value of every code value of an integer dtype, as a read-only float table.

    ``float_name`` is the table's own dtype: float64, or float32 (the float64 values rounded once).

    Examples
    --------
    >>> lut = decode_lut("uint8")
    >>> lut.shape, float(lut[255])
    ((256,), 1.0)
    """
    if float_name != "float64":
        table = decode_lut(dtype_name).astype(float_name)
    else:
        top = int(np.iinfo(np.dtype(dtype_name)).max)
        table = srgb_to_linear(np.arange(top + 1, dtype=np.float64) / top)
    table.setflags(write=False)
    return table


def to_linear(
    pixels: np.ndarray, out: np.ndarray | None = None, *, dtype: np.dtype | type | None = None
) -> np.ndarray:
    """Linear light of a frame: integer sRGB codes through the lookup table of :func:`decode_lut`.

    Parameters
    ----------
    pixels : numpy.ndarray
        Integer code values (uint8, uint16), or floats, which are linear light already.
    out : numpy.ndarray, optional
        A buffer of ``pixels``' shape to write into (a reused scratch frame: no allocation per
        frame); its dtype is the result's.
    dtype : dtype, optional
        The result's float dtype when there is no ``out``: float64 (the default) or float32.

    Returns
    -------
    numpy.ndarray
        ``out`` when given, else a new array; floats already of the wanted dtype come back as
        they are (no copy, ``out`` untouched), other floats are cast (into ``out`` when given).

    Examples
    --------
    >>> to_linear(np.array([0, 255], np.uint8)).tolist()
    [0.0, 1.0]
    >>> to_linear(np.array([0, 65535], np.uint16), np.empty(2, np.float32)).dtype
    dtype('float32')
    """
    want = np.dtype(dtype if dtype is not None else out.dtype if out is not None else np.float64)
    if out is not None and out.dtype != want:
        raise ValueError(f"to_linear into a {out.dtype} buffer cannot give {want}")
    if pixels.dtype.kind == "f":
        if pixels.dtype == want:
            return pixels
        if out is None:
            return pixels.astype(want)
        np.copyto(out, pixels, casting="same_kind")
        return out
    lut = decode_lut(pixels.dtype.name, want.name)
    contiguous = out is None or out.flags.c_contiguous
    if pixels.dtype == np.uint8 and pixels.size and pixels.flags.c_contiguous and contiguous:
        # OpenCV's table lookup gives the same values as numpy's take(), several times faster
        # (vectorized, threaded, and it releases the GIL); a 2-D view serves any channel count.
        flat = pixels.reshape(pixels.shape[0] if pixels.ndim > 1 else 1, -1)
        if out is None:
            return cv2.LUT(flat, lut).reshape(pixels.shape)
        cv2.LUT(flat, lut, dst=out.reshape(flat.shape))  # a view: OpenCV writes into ``out``
        return out
    # take() into a reused buffer avoids a fresh float frame per update. Every code indexes the
    # table, so "clip" clips nothing, but it spares take() the bounds check that, with an ``out``,
    # sends it through a buffered copy: 16-bit codes into float64 measured 2-5x faster.
    return np.take(lut, pixels, out=out, mode="clip")


#: BT.709 luma weights for R, G, B (on gamma-encoded values: luma Y', not luminance Y).
LUMA_WEIGHTS = np.array([0.2126, 0.7152, 0.0722])
_LUMA_WEIGHTS32 = LUMA_WEIGHTS.astype(np.float32)


def luma(pixels: np.ndarray, *, scaled: bool = True) -> np.ndarray:
    """Per-pixel luma Y' of an ``H x W x C`` frame as float32 ``H x W`` (C = 1: the channel itself).

    BT.709 weights on the frame's own (gamma-encoded) values. ``scaled`` divides integer codes by
    their white level, so 0 is black and 1 is white; ``scaled=False`` keeps the codes' scale, which
    is enough to compare the pixels of frames of one dtype (the argmax of a max stack).

    Examples
    --------
    >>> round(float(luma(np.array([[[255, 0, 0]]], np.uint8))[0, 0]), 4)
    0.2126
    >>> luma(np.full((1, 1, 3), 10, np.uint8), scaled=False).tolist()
    [[10.0]]
    """
    values = pixels.astype(np.float32)
    if scaled and pixels.dtype.kind in "ui":
        values /= np.float32(np.iinfo(pixels.dtype).max)
    if values.shape[-1] == 1:
        return values[..., 0]
    return values @ _LUMA_WEIGHTS32


_PERCENTILE_RE = re.compile(r"^p(\d{1,2}(?:\.\d+)?|100)$")

#: ``--normalize`` default for each mode: what maps to white before ``--gain``.
DEFAULT_NORMALIZE = {
    "max": "none",
    "min": "none",
    "mean": "none",
    "sum": "p99.5",
    "sigma": "none",
    "winsor": "none",
    "median": "none",
    "maxmean": "none",
}


def check_gain(gain: float) -> None:
    """Refuse a ``--gain`` that is not a finite factor above 0 (at most 1000000).

    Examples
    --------
    >>> check_gain(2.0)
    """
    check_number("gain", gain, 0, 1e6, "a factor above 0, at most 1000000 (2 is one stop brighter)")


def parse_normalize(text: str) -> str:
    """Check a ``--normalize`` value: ``none``, ``max`` or ``pNN`` (a percentile such as p99.5).

    Examples
    --------
    >>> parse_normalize("P99.5")
    'p99.5'
    """
    value = str(text).strip().lower()
    if value in ("none", "max") or _PERCENTILE_RE.match(value):
        return value
    raise UsageError(
        f"{option('normalize')} {text!r} is not understood: use none, max, or a percentile such "
        "as p99.5"
    )


def normalization_scale(linear: np.ndarray, normalize: str) -> float:
    """The factor that maps the chosen statistic of a linear image to white (1.0).

    ``none`` leaves the image as it is; ``max`` maps the brightest sample to white; ``pNN`` maps
    the NN-th percentile of all samples (all channels pooled) to white, clipping the brightest
    (100 - NN)% of samples. An all-black image is left alone.

    Examples
    --------
    >>> normalization_scale(np.array([0.0, 0.25, 0.5]), "max")
    2.0
    """
    level = normalization_level(linear, normalize)
    return 1.0 / level if level > 0 else 1.0


def normalization_level(linear: np.ndarray, normalize: str) -> float:
    """The statistic of ``linear`` that ``normalize`` maps to white (0 for ``none``).

    Examples
    --------
    >>> normalization_level(np.array([0.0, 0.25, 0.5]), "max")
    0.5
    """
    mode = parse_normalize(normalize)
    if mode == "none":
        return 0.0
    if mode == "max":
        return float(linear.max(initial=0.0))
    return float(np.percentile(linear, float(mode[1:])))


def to_output(
    result: np.ndarray,
    *,
    linear: bool,
    out_dtype: np.dtype | type,
    normalize: str = "none",
    gain: float = 1.0,
    transfer: str = "srgb",
    divisor: float = 1.0,
) -> np.ndarray:
    """Turn a reducer's result into an image of ``out_dtype`` (uint8, uint16, float32 or float64).

    Parameters
    ----------
    result : numpy.ndarray
        Either integer sRGB code values (``linear=False``: max and min stacks) or float linear
        light where 1.0 is white (``linear=True``: mean and sum).
    linear : bool
        Which of the two ``result`` holds.
    out_dtype : dtype
        Integer outputs are sRGB code values; float outputs are sRGB-encoded values in ``[0, 1]``.
    normalize : str
        ``none``, ``max`` or ``pNN`` (see :func:`normalization_scale`).
    gain : float
        Multiplies the linear light after normalization (2.0 is one stop brighter).
    transfer : {"srgb", "linear"}
        ``linear`` (float ``out_dtype`` only) returns the normalized linear light itself, not
        clipped to ``[0, 1]`` and not sRGB-encoded: what ``--bit-depth 32`` and FITS hold.
    divisor : float
        A linear ``result`` is light x ``divisor`` (a mean's running sum and its frame count):
        it is divided a band of rows at a time, so no full-size quotient is made.

    Returns
    -------
    numpy.ndarray

    Notes
    -----
    An integer result with no normalization and no gain is rescaled exactly (8 to 16 bit by
    x257), never through floats, so a max stack written at the source's depth is bit-exact.

    Examples
    --------
    >>> to_output(np.array([0, 255], np.uint8), linear=False, out_dtype=np.uint16).tolist()
    [0, 65535]
    >>> to_output(np.array([0.21586]), linear=True, out_dtype=np.uint8).tolist()
    [128]
    >>> to_output(np.array([255], np.uint8), linear=False, out_dtype=np.float32,
    ...           transfer="linear", gain=2.0).tolist()
    [2.0]
    """
    out = np.dtype(out_dtype)
    check_gain(gain)
    if transfer not in ("srgb", "linear"):
        raise UsageError(f"transfer {transfer!r}: use srgb or linear")
    if transfer == "linear":
        if out.kind != "f":
            raise UsageError(f"linear output needs a float dtype, not {out}")
        light = to_linear(result) if not linear else np.asarray(result, dtype=np.float64)
        if divisor != 1.0:
            light = light / divisor
        factor = normalization_scale(light, normalize) * gain
        return (light * factor if factor != 1.0 else light).astype(out)
    if not linear and parse_normalize(normalize) == "none" and gain == 1.0:
        return _rescale_codes(result, out)
    light = to_linear(result) if not linear else np.asarray(result, dtype=np.float64)
    # The statistic of light / divisor is the statistic of light, divided; an all-black
    # statistic leaves the light as it is, as normalization_scale does.
    level = normalization_level(light, normalize)
    factor = (divisor / level if level > 0 else 1.0) * gain
    return _encode_rows(light, factor, out, divisor)


#: Rows encoded at once by :func:`to_output`: its float64 temporaries stay a few MB, not
#: several full-size copies of a 4K or 8K result.
_ENCODE_ROWS = 64


def _encode_rows(
    light: np.ndarray, factor: float, out: np.dtype, divisor: float = 1.0
) -> np.ndarray:
    """``light`` / ``divisor`` x ``factor``, clipped to [0, 1], sRGB-encoded into ``out``, a band
    of rows at a time (integer outputs rounded to the nearest code)."""
    encoded = np.empty(light.shape, out)
    top = np.iinfo(out).max if out.kind != "f" else None
    rows = light.reshape(light.shape[0], -1) if light.ndim > 1 else light.reshape(1, -1)
    dest = encoded.reshape(rows.shape)
    for y in range(0, rows.shape[0], _ENCODE_ROWS):
        band = rows[y : y + _ENCODE_ROWS]
        if divisor != 1.0:
            band = band / divisor
        if factor != 1.0:
            band = band * factor
        values = linear_to_srgb(np.clip(band, 0.0, 1.0))
        if top is None:
            dest[y : y + _ENCODE_ROWS] = values
        else:
            dest[y : y + _ENCODE_ROWS] = np.rint(values * top)
    return encoded


def _rescale_codes(codes: np.ndarray, out: np.dtype) -> np.ndarray:
    """Exact change of bit depth for integer code values (x257 up, rounded /257 down)."""
    if codes.dtype == out:
        return codes
    src_top = np.iinfo(codes.dtype).max
    if out.kind == "f":
        return (codes.astype(np.float64) / src_top).astype(out)
    out_top = np.iinfo(out).max
    if out_top % src_top == 0:
        return codes.astype(out) * (out_top // src_top)
    return np.rint(codes.astype(np.float64) * (out_top / src_top)).astype(out)
