"""Light coded as ``L ** (1 / 2.4)`` in 16 bits: the comet trail's fast representation.

A comet tail fades by ``d`` per frame in linear light. Kept as float32 linear light, every 1080p
frame needs a lookup to float, a multiply, a max and a render back to 8-bit sRGB through a 16-bit
index, about 24 ms of the two cores here. Coded as ``P = L ** (1 / 2.4)`` instead (a pure power,
so monotonic, and exact for every ``L``):

- the fade is a multiplication, ``(d * L) ** (1 / 2.4) = d ** (1 / 2.4) * P``;
- the max is the max of the codes (the power is monotonic);
- a frame's 8-bit sRGB codes map to ``P`` through a 256-entry table;
- the render to sRGB is affine in ``P`` above the curve's toe (``1.055 * P - 0.055``, the sRGB
  formula itself), so two scaling passes give it, and a 256-entry table on a coarse index gives
  the toe (codes 0-10).

Each pass is one vectorized OpenCV call on uint16 or uint8 data: about 10 ms a 1080p frame. The
price is one rounding of ``P`` per frame, at most 0.5 of 65535; :func:`fits` keeps the worst case
(all roundings one way), and the floor where rounding stops a fade, under a quarter of an 8-bit
level as rendered; slower fades and bright gains stay in float.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from .color import SRGB_ENCODE_KNEE, decode_lut, linear_to_srgb

#: The power: the sRGB curve's own exponent, so the render is affine above the toe.
POWER = 2.4
#: Full scale of the code.
TOP = 65535
#: Worst-case drift allowed, in codes: every rounding of ``k * P`` one way adds at most 0.5, so a
#: fade drifts by at most ``0.5 / (1 - k)``; 64 codes of P are under 0.27 of an 8-bit sRGB level.
MAX_DRIFT = 64
#: The toe's index step, in codes of P: 255 steps cover the toe (``P`` up to 0.0904).
_TOE_STEP = 24


def fits(decay: float, factor: float | None = 1.0) -> bool:
    """Whether a fade by ``decay`` per frame, rendered with linear light scaled by ``factor``,
    keeps its drift within :data:`MAX_DRIFT` (None: a factor not known in advance, which never
    fits).

    The drift, and the floor under which ``round(k * P)`` stops fading, are both
    ``0.5 / (1 - k)`` codes, and a factor scales codes by ``factor ** (1 / 2.4)``. At factor 1,
    ``decay`` up to about 0.98 fits (a tail visible for 244 frames); slower fades, and bright
    gains, are kept in float32 linear light.

    Examples
    --------
    >>> fits(0.97), fits(0.999), fits(0.97, 1000.0), fits(0.97, None)
    (True, False, False, False)
    """
    if factor is None:
        return False
    return 0.5 / (1.0 - fade_factor(decay)) * max(factor, 0.0) ** (1.0 / POWER) <= MAX_DRIFT


def fade_factor(decay: float) -> float:
    """The factor on ``P`` that fades linear light by ``decay``: ``decay ** (1 / 2.4)``.

    Examples
    --------
    >>> round(fade_factor(0.5) ** POWER, 12)
    0.5
    """
    return float(decay) ** (1.0 / POWER)


@lru_cache(maxsize=1)
def encode_table() -> np.ndarray:
    """``P`` of each 8-bit sRGB code, as uint16 (read-only).

    Examples
    --------
    >>> t = encode_table()
    >>> int(t[0]), int(t[255])
    (0, 65535)
    """
    table = np.rint(decode_lut("uint8") ** (1.0 / POWER) * TOP).astype(np.uint16)
    table.setflags(write=False)
    return table


def encode(pixels: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``P`` of a uint8 frame (any shape), into ``out`` (C-contiguous) when given.

    Examples
    --------
    >>> encode(np.array([[0, 255]], np.uint8)).tolist()
    [[0, 65535]]
    """
    flat = pixels.reshape(pixels.shape[0] if pixels.ndim > 1 else 1, -1)
    if out is None:
        return cv2.LUT(flat, encode_table()).reshape(pixels.shape)
    _check_contiguous(out)
    cv2.LUT(flat, encode_table(), dst=out.reshape(flat.shape))
    return out


def _check_contiguous(buffer: np.ndarray) -> None:
    """Refuse a buffer that ``reshape`` would copy: the result would be written into the copy."""
    if not buffer.flags.c_contiguous:
        raise ValueError("power codes are written in place into C-contiguous arrays only")


def fade(codes: np.ndarray, factor: float) -> None:
    """``codes = round(factor * codes)`` in place (uint16, C-contiguous).

    Examples
    --------
    >>> c = np.array([[1000, 65535]], np.uint16)
    >>> fade(c, 0.5)
    >>> c.tolist()
    [[500, 32768]]
    """
    _check_contiguous(codes)
    flat = codes.reshape(codes.shape[0] if codes.ndim > 1 else 1, -1)
    cv2.addWeighted(flat, factor, flat, 0.0, 0.0, dst=flat)


def to_linear(codes: np.ndarray) -> np.ndarray:
    """Linear light (float32) of power codes: ``(P / 65535) ** 2.4``.

    Examples
    --------
    >>> to_linear(np.array([0, 65535], np.uint16)).tolist()
    [0.0, 1.0]
    """
    return np.take(_linear_table(), codes)


@lru_cache(maxsize=1)
def _linear_table() -> np.ndarray:
    table = ((np.arange(TOP + 1) / TOP) ** POWER).astype(np.float32)
    table.setflags(write=False)
    return table


def render(codes: np.ndarray, factor: float = 1.0) -> np.ndarray:
    """8-bit sRGB of power codes whose linear light is scaled by ``factor`` (clipped at white).

    A one-off :class:`Renderer` call; see there. Off by at most one level from the exact curve,
    at rounding ties.

    Examples
    --------
    >>> render(np.array([[0, 49096, 65535]], np.uint16)).tolist()
    [[0, 188, 255]]
    """
    return Renderer()(codes, factor)


class Renderer:
    """Render power codes to 8-bit sRGB, frame after frame, reusing its working buffers.

    Above the toe, ``code = 255 * (1.055 * s * P - 0.055)`` with ``s = factor ** (1 / 2.4)``: a
    scaling to 256ths of a level (saturated at 0) and one back to levels. The toe (under
    :data:`~vid2trail.color.SRGB_ENCODE_KNEE` of linear light) comes from a table on ``s * P``
    in steps of 24 codes (0.1 of a level), whose entries above the toe are 0; the max of the two
    is the result, a new array each call.

    Examples
    --------
    >>> r = Renderer()
    >>> r(np.array([[0, 65535]], np.uint16), 0.5).tolist()
    [[0, 188]]
    """

    def __init__(self) -> None:
        self._fine: np.ndarray | None = None
        self._toe: np.ndarray | None = None

    def __call__(self, codes: np.ndarray, factor: float = 1.0) -> np.ndarray:
        s = float(factor) ** (1.0 / POWER)
        flat = codes.reshape(codes.shape[0] if codes.ndim > 1 else 1, -1)
        if self._fine is None or self._fine.shape != flat.shape or self._toe is None:
            self._fine = np.empty(flat.shape, np.uint16)
            self._toe = np.empty(flat.shape, np.uint8)
        alpha = 1.055 * 255 * 256 / TOP * s
        cv2.addWeighted(flat, alpha, flat, 0.0, -0.055 * 255 * 256, dst=self._fine)
        out = cv2.convertScaleAbs(self._fine, alpha=1.0 / 256)
        cv2.convertScaleAbs(flat, dst=self._toe, alpha=s / _TOE_STEP)
        cv2.LUT(self._toe, _toe_table(), dst=self._toe)
        cv2.max(out, self._toe, dst=out)
        return out.reshape(codes.shape)


@lru_cache(maxsize=1)
def _toe_table() -> np.ndarray:
    index = np.arange(256)
    p = index * _TOE_STEP / TOP
    codes = np.rint(linear_to_srgb(p**POWER) * 255)
    lower_edge = np.maximum(index * _TOE_STEP - _TOE_STEP / 2, 0) / TOP
    codes[(lower_edge**POWER > SRGB_ENCODE_KNEE) | (index == 255)] = 0
    return codes.astype(np.uint8)
