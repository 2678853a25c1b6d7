"""The trail video's frames: a trail's picture as 8-bit sRGB, with the still's normalize and gain.

:class:`FrameRenderer` takes any of a trail's codings (:data:`vid2trail.trails.Coding`): sRGB code
values through lookup tables, float linear light quantized to 16 bits and looked up, power codes
through :mod:`vid2trail.powercode`. It runs on every frame of the video, so each path is a few
vectorized passes.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from . import powercode
from .color import check_gain, decode_lut, linear_to_srgb, normalization_scale, parse_normalize
from .trails import Coding

#: Linear light is quantized to this many steps before the sRGB lookup: a step is under 1/40 of
#: the darkest 8-bit code's width, so the lookup is off by at most one level, only at rounding ties.
_LINEAR_STEPS = 65535


@lru_cache(maxsize=1)
def _encode_lut() -> np.ndarray:
    codes = np.rint(linear_to_srgb(np.arange(_LINEAR_STEPS + 1) / _LINEAR_STEPS) * 255)
    return codes.astype(np.uint8)


def _lookup16(index: np.ndarray) -> np.ndarray:
    """``_encode_lut()[index]`` for a 2-D uint16 array, about a third faster than ``np.take``.

    The table is laid out as a 256 x 256 image; the little-endian bytes of each index are then
    its (column, row) in that image, which ``cv2.remap`` reads with nearest-neighbour lookup.
    """
    rows, cols = index.shape
    if cols >= 32767 or rows >= 32767 or not index.flags.c_contiguous:  # remap's size limit
        return np.take(_encode_lut(), index)
    pairs = index.view(np.uint8).reshape(rows, cols, 2)
    if np.little_endian:
        xy = pairs.astype(np.int16)
    else:  # pragma: no cover - big-endian machines
        xy = pairs[..., ::-1].astype(np.int16)
    return cv2.remap(_encode_lut().reshape(256, 256), xy, None, cv2.INTER_NEAREST)


class FrameRenderer:
    """Turn a trail's picture into an 8-bit sRGB frame, with the still's normalization and gain.

    ``coding`` says what the picture holds (:data:`Coding`). Code values (``codes``) with no
    normalization and no gain pass through (uint8) or are rounded to 8 bits (uint16); otherwise
    a lookup table maps code values, or quantized float linear light (``linear``), to output
    codes. Power codes (``power``, :mod:`vid2trail.powercode`) are rendered by scaling passes
    and a toe table. ``normalize`` other than ``none`` is measured on every frame, which costs
    a percentile per frame. A renderer keeps working buffers between frames: use one per
    thread.

    Examples
    --------
    >>> render = FrameRenderer()
    >>> render(np.array([[[0.0, 0.21586, 1.0]]]), coding="linear").tolist()
    [[[0, 128, 255]]]
    """

    def __init__(self, normalize: str = "none", gain: float = 1.0) -> None:
        check_gain(gain)
        self.normalize = parse_normalize(normalize)
        self.gain = float(gain)
        self._power = powercode.Renderer()

    def __call__(self, picture: np.ndarray, *, coding: Coding) -> np.ndarray:
        if coding == "power":
            if self.normalize == "none":
                return self._power(picture, self.gain)
            return self._power(picture, self._factor(powercode.to_linear(picture)))
        if coding == "linear":
            factor = self._factor(picture) * _LINEAR_STEPS
            # addWeighted scales, rounds and saturates to uint16 in one multithreaded pass.
            flat = picture.reshape(picture.shape[0], -1)
            index = cv2.addWeighted(flat, factor, flat, 0.0, 0.0, dtype=cv2.CV_16U)
            return _lookup16(index).reshape(picture.shape)
        plain = self.normalize == "none" and self.gain == 1.0
        if plain and picture.dtype == np.uint8:
            return picture
        table = decode_lut(picture.dtype.name)
        factor = 1.0 if plain else self._factor(np.take(table, picture))
        return np.take(_code_lut(picture.dtype.name, factor), picture)

    def _factor(self, light: np.ndarray) -> float:
        if self.normalize == "none":
            return self.gain
        return normalization_scale(light, self.normalize) * self.gain


@lru_cache(maxsize=8)
def _code_lut(dtype_name: str, factor: float) -> np.ndarray:
    light = np.clip(decode_lut(dtype_name) * factor, 0.0, 1.0)
    return np.rint(linear_to_srgb(light) * 255).astype(np.uint8)
