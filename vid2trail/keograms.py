"""Keograms: one line of pixels through every frame, laid side by side in time.

An all-sky camera's night in one picture: clouds, aurora, the moon and dawn. The line runs
through the frame's centre, vertical by default (the centre column, top to bottom) or turned by
``angle`` degrees clockwise for a meridian that is not vertical. Each frame gives one column, in
frame order, so the keogram is ``samples x frames x channels``.

:class:`KeogramReducer` is a reducer like the stacking modes: it collects columns, and its
``combine`` concatenates them in order, so a keogram splits across ``--workers`` threads,
processes and a cluster with the still. :class:`WithKeogram` feeds a stacking reducer and a
keogram the same frames, so both come out of one decoding pass. :func:`keogram_image` scales the
time axis and draws clock ticks under it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .color import to_output
from .errors import UsageError, option
from .frames import SourceInfo
from .reducer import Reducer, ReducerBase
from .version import __version__
from .writers import output_dtype, write_still

#: Columns are kept in blocks of this many frames (no copy per frame, no guess of the count).
_BLOCK = 256


def line_through_centre(width: int, height: int, angle_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """The sample points ``(x, y)`` of the line through the frame's centre at ``angle_deg``
    (0: the centre column ``width // 2``, top to bottom; 90: the centre row, left to right),
    one pixel apart, clipped to the frame.

    Examples
    --------
    >>> x, y = line_through_centre(5, 4, 0)
    >>> x.tolist(), y.tolist()
    ([2.0, 2.0, 2.0, 2.0], [0.0, 1.0, 2.0, 3.0])
    >>> x, y = line_through_centre(5, 4, 90)
    >>> len(x), sorted(set(np.round(y, 9).tolist()))
    (5, [2.0])
    """
    theta = math.radians(angle_deg % 360)
    dx, dy = math.sin(theta), math.cos(theta)
    dx, dy = (0.0 if abs(dx) < 1e-12 else dx), (0.0 if abs(dy) < 1e-12 else dy)
    x0, y0 = width // 2, height // 2
    low, high = -math.inf, math.inf
    for start, step, size in ((x0, dx, width), (y0, dy, height)):
        if step:
            a, b = (0 - start) / step, (size - 1 - start) / step
            low, high = max(low, min(a, b)), min(high, max(a, b))
    first, last = math.ceil(low - 1e-9), math.floor(high + 1e-9)
    t = np.arange(first, last + 1, dtype=np.float64)
    xs = np.clip(x0 + t * dx, 0, width - 1)
    ys = np.clip(y0 + t * dy, 0, height - 1)
    return xs, ys


class KeogramReducer(ReducerBase):
    """Collect the line through the centre of every frame; ``result()`` is the keogram.

    Parameters
    ----------
    angle_deg : float
        The line's angle, clockwise from vertical (0: the centre column).

    Examples
    --------
    >>> k = KeogramReducer()
    >>> for v in (1, 2, 3):
    ...     k.update(np.full((4, 5, 1), v, np.uint8))
    >>> k.result()[:, :, 0].tolist()
    [[1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3]]
    """

    name = "keogram"

    def __init__(self, angle_deg: float = 0.0) -> None:
        if (
            isinstance(angle_deg, bool)
            or not isinstance(angle_deg, (int, float))
            or not (math.isfinite(angle_deg))
        ):
            raise UsageError(f"{option('keogram_angle')} {angle_deg!r}: give an angle in degrees")
        self.angle_deg = float(angle_deg)
        self.count = 0
        self._blocks: list[np.ndarray] = []
        self._used = 0  # columns used in the last block
        self._maps: tuple[np.ndarray, np.ndarray] | None = None
        self._shape: tuple[int, ...] | None = None

    def _line(self, pixels: np.ndarray) -> np.ndarray:
        """The frame's samples along the line: ``samples x channels``."""
        height, width = pixels.shape[:2]
        if self.angle_deg % 360 == 0:
            return pixels[:, width // 2]
        if self.angle_deg % 360 == 90:
            return pixels[height // 2]
        if self._maps is None or self._shape != pixels.shape:
            xs, ys = line_through_centre(width, height, self.angle_deg)
            self._maps = (xs.astype(np.float32)[:, None], ys.astype(np.float32)[:, None])
            self._shape = pixels.shape
        # OpenCV's remap has no float64; a 1-channel result loses its channel axis.
        source = pixels if pixels.dtype != np.float64 else pixels.astype(np.float32)
        line = cv2.remap(source, *self._maps, cv2.INTER_LINEAR)
        return line.reshape(len(self._maps[0]), pixels.shape[2]).astype(pixels.dtype, copy=False)

    def update(self, pixels: np.ndarray) -> None:
        line = self._line(pixels)
        if not self._blocks or self._used == _BLOCK:
            self._blocks.append(np.empty((line.shape[0], _BLOCK, line.shape[1]), line.dtype))
            self._used = 0
        self._blocks[-1][:, self._used] = line
        self._used += 1
        self.count += 1
        self.linear = line.dtype.kind == "f"

    def combine(self, other: Reducer) -> Reducer:
        """Append ``other``'s columns after this one's (``other`` holds the later frames)."""
        self._check_same(other)
        if isinstance(other, KeogramReducer) and other.count:
            mine = self._columns()
            theirs = other._columns()
            joined = theirs if mine is None else np.concatenate([mine, theirs], axis=1)
            self._blocks, self._used = [joined], joined.shape[1]
            self.count += other.count
            self.linear = other.linear
        return self

    def _columns(self) -> np.ndarray | None:
        if not self._blocks:
            return None
        parts = [*self._blocks[:-1], self._blocks[-1][:, : self._used]]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)

    def result(self) -> np.ndarray:
        """The keogram, ``samples x frames x channels``, in the frames' own dtype."""
        columns = self._columns()
        if columns is None:
            raise UsageError("no frames were stacked: the keogram is empty")
        self._blocks, self._used = [columns], columns.shape[1]
        return columns

    def parameters(self) -> dict[str, object]:
        return {"keogram_angle": self.angle_deg}


class WithKeogram(ReducerBase):
    """A stacking reducer and a keogram fed the same frames, as one reducer.

    Everything but the keogram is the stacking reducer's (``name``, ``result()``, ``passes``);
    the keogram collects in the first pass only, so a multi-pass mode (``sigma``) gives one
    column per frame too.

    Examples
    --------
    >>> from vid2trail.reducers import make_reducer
    >>> both = WithKeogram(make_reducer("max"), KeogramReducer())
    >>> for v in (3, 9, 5):
    ...     both.update(np.full((2, 2, 1), v, np.uint8))
    >>> both.name, int(both.result().max()), both.keogram.result()[0, :, 0].tolist()
    ('max', 9, [3, 9, 5])
    """

    def __init__(self, main: Reducer, keogram: KeogramReducer) -> None:
        self.main = main
        self.keogram = keogram
        self.name = main.name
        self.passes = main.passes
        self._pass = 0

    @property  # type: ignore[override]
    def count(self) -> int:
        return self.main.count

    @property  # type: ignore[override]
    def linear(self) -> bool:
        return self.main.linear

    def update(self, pixels: np.ndarray) -> None:
        self.main.update(pixels)
        if self._pass == 0:
            self.keogram.update(pixels)

    def combine(self, other: Reducer) -> Reducer:
        """Combine both parts; after the first pass the keogram is complete (every partial of a
        later pass carries a copy of it), so only the first pass concatenates."""
        self._check_same(other)
        assert isinstance(other, WithKeogram)
        self.main.combine(other.main)
        if self._pass == 0:
            self.keogram.combine(other.keogram)
        return self

    def result(self) -> np.ndarray:
        return self.main.result()

    def begin_pass(self, k: int) -> None:
        self._pass = k
        self.main.begin_pass(k)

    def expect(self, frames: int | None, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.main.expect(frames, shape, dtype)

    def finish(self) -> None:
        self.main.finish()

    def close(self) -> None:
        self.main.close()

    def argmax(self) -> np.ndarray:
        return self.main.argmax()

    def parameters(self) -> dict[str, object]:
        return self.main.parameters()

    def scaled_result(self) -> tuple[np.ndarray, float]:
        return self.main.scaled_result()


def stretch_time(keogram: np.ndarray, width: int | None) -> np.ndarray:
    """The keogram with its time axis scaled to ``width`` columns (None: one per frame):
    averaged when it shrinks, each frame repeated when it grows.

    Examples
    --------
    >>> k = np.arange(0, 16, 2, dtype=np.uint8).reshape(1, 8, 1)
    >>> stretch_time(k, 4)[0, :, 0].tolist(), stretch_time(k[:, :2], 4)[0, :, 0].tolist()
    ([1, 5, 9, 13], [0, 0, 2, 2])
    """
    if width is None or width == keogram.shape[1]:
        return keogram
    channels = keogram.shape[2]
    source = keogram if keogram.dtype != np.float64 else keogram.astype(np.float32)
    how = cv2.INTER_AREA if width < keogram.shape[1] else cv2.INTER_NEAREST
    scaled = cv2.resize(source, (width, keogram.shape[0]), interpolation=how)
    return scaled.reshape(keogram.shape[0], width, channels).astype(keogram.dtype, copy=False)


#: Captures longer than this (3 days) get no clock ticks: an hourly axis would be a smear.
_TICKED_SPAN_S = 3 * 24 * 3600


def tick_times(first: datetime, last: datetime) -> list[datetime]:
    """The round clock times to mark between ``first`` and ``last``: every hour for a night,
    every 10 or 1 minutes for a shorter capture; none beyond 3 days.

    Examples
    --------
    >>> ticks = tick_times(datetime(2026, 8, 12, 21, 40), datetime(2026, 8, 13, 0, 10))
    >>> [t.strftime("%H:%M") for t in ticks]
    ['22:00', '23:00', '00:00']
    """
    span = (last - first).total_seconds()
    if not 0 < span <= _TICKED_SPAN_S:
        return []  # a wrong camera date (years apart) leaves no axis to draw
    step = 3600 if span >= 2 * 3600 else 600 if span >= 20 * 60 else 60
    start = first.replace(minute=0, second=0, microsecond=0)
    ticks = []
    moment = start
    while moment <= last:
        if moment >= first:
            ticks.append(moment)
        moment += timedelta(seconds=step)
    return ticks


def keogram_image(
    keogram: np.ndarray, width: int | None = None, clock: Sequence[datetime] | None = None
) -> np.ndarray:
    """The keogram to write: its time axis scaled to ``width``, and, when every column's clock
    time is known, a strip under it with a tick and a label at each round hour (or 10 minutes).

    Examples
    --------
    >>> k = np.zeros((40, 120, 3), np.uint8)
    >>> times = [datetime(2026, 8, 12, 21) + timedelta(minutes=2 * i) for i in range(120)]
    >>> keogram_image(k, clock=times).shape
    (64, 120, 3)
    """
    scaled = stretch_time(keogram, width)
    if not clock or len(clock) != keogram.shape[1] or len(clock) < 2:
        return scaled
    seconds = np.array([(t - clock[0]).total_seconds() for t in clock])
    if np.any(np.diff(seconds) < 0):
        return scaled  # out of clock order (sorted by name): no axis can be drawn
    height, columns = scaled.shape[:2]
    strip_height = 24
    white = np.iinfo(scaled.dtype).max if scaled.dtype.kind in "ui" else 1.0
    strip = np.zeros((strip_height, columns, scaled.shape[2]), scaled.dtype)
    drawn = np.zeros((strip_height, columns), np.uint8)
    last_label = -math.inf
    for tick in tick_times(clock[0], clock[-1]):
        position = np.interp((tick - clock[0]).total_seconds(), seconds, np.arange(len(clock)))
        x = int(round((position + 0.5) * columns / len(clock) - 0.5))
        drawn[:6, max(0, x) : x + 1] = 255
        label = tick.strftime("%H:%M")
        if x - last_label >= 48 and 16 <= x <= columns - 16:
            cv2.putText(drawn, label, (x - 15, 19), cv2.FONT_HERSHEY_PLAIN, 0.8, 255, 1,
                        cv2.LINE_AA)  # fmt: skip
            last_label = x
    strip[:] = (drawn[:, :, None].astype(np.float64) / 255 * white).astype(scaled.dtype)
    return np.concatenate([scaled, strip], axis=0)


def render_keogram(
    keogram: KeogramReducer,
    out_dtype: np.dtype | type,
    width: int | None = None,
    clock: Sequence[datetime] | None = None,
) -> np.ndarray:
    """The keogram as the picture to write: code values of ``out_dtype`` (calibrated or HDR
    frames' linear light sRGB-encoded, 16-bit codes scaled for an 8-bit file, exactly), then
    :func:`keogram_image`'s width and clock ticks.

    Examples
    --------
    >>> k = KeogramReducer()
    >>> k.update(np.full((3, 4, 1), 65535, np.uint16))
    >>> render_keogram(k, np.uint8)[:, :, 0].tolist()
    [[255], [255], [255]]
    """
    codes = to_output(keogram.result(), linear=keogram.linear, out_dtype=out_dtype)
    return keogram_image(codes, width, clock)


def write_keogram(
    path: Path,
    keogram: KeogramReducer,
    info: SourceInfo,
    clock: Sequence[datetime] | None,
    *,
    width: int | None = None,
    quality: int = 95,
) -> Path:
    """Write the keogram of ``info``'s source at its depth (8-bit for a JPEG), atomically, with
    its provenance; ``clock`` holds each column's capture time (None: no ticks).

    Examples
    --------
    >>> write_keogram(Path("night-keogram.png"), k, src.info, None)  # doctest: +SKIP
    PosixPath('night-keogram.png')
    """
    deep = info.dtype != np.uint8 and path.suffix.lower() in (".png", ".tif", ".tiff")
    image = render_keogram(keogram, output_dtype(16 if deep else 8), width, clock)
    meta: dict[str, Any] = {
        "software": f"vid2trail {__version__}",
        "keogram_of": info.path,
        "frames": keogram.count,
        "keogram_angle": keogram.angle_deg,
    }
    if clock:
        meta.update(first_capture=clock[0].isoformat(), last_capture=clock[-1].isoformat())
    return write_still(path, image, quality=quality, metadata=meta)


__all__ = [
    "KeogramReducer",
    "WithKeogram",
    "keogram_image",
    "line_through_centre",
    "render_keogram",
    "write_keogram",
]
