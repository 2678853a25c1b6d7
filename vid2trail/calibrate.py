"""Calibration before stacking: subtract a master dark, repair hot (stuck) pixels.

A dark frame records what the sensor adds with the lens capped: thermal signal, amp glow, and the
hot pixels that would otherwise draw a bright dot (or, in a max stack, a bright dot that no frame
can hide) into every result. It is subtracted in linear light, where light adds, and the result
is clipped at zero. Calibrated frames therefore reach the reducers as float32 linear light
(1.0 = white), and every mode, max and min included, then works in linear light; float32 keeps 24
bits of precision, more than any 16-bit source holds.

Hot-pixel repair (``--hot-pixels auto``) needs no dark. A survey over up to 64 frames spread across
the selection takes the per-pixel temporal minimum, where stars and planes have moved on and only
what is bright in every frame stays. A pixel is hot when, in that minimum, it exceeds the median of
its 3x3 neighbourhood by more than ``kappa`` robust standard deviations (1.4826 x the median
absolute deviation of that residual over the image, and at least ``1/255`` of white), and also
exceeds its second-brightest neighbour by as much, and, if its brightest neighbour is bright too,
that neighbour passes both tests as well (a hot pair). These tests spare the corners, edges and
one-pixel lines (ends included) of real bright structures. Each hot
sample is then replaced, in every frame, by the median of its eight neighbours that are not hot
themselves. A one-pixel static light (a far-away street lamp) looks exactly like a hot pixel and is
repaired too; leave ``--hot-pixels`` off for such scenes. Stars that do not move during the
selection (a few seconds of real-time video) are bright in every frame as well: the survey needs a
stretch of sky over which they move by a pixel or more, and a warning says so when it repairs more
than one pixel in 10,000.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import cv2
import numpy as np

from .color import to_linear
from .errors import (
    SourceError,
    SourceNotFoundError,
    UsageError,
    Vid2TrailError,
    Vid2TrailWarning,
    option,
)
from .median import DEFAULT_MEMORY_BYTES, MedianReducer
from .select import FrameRange
from .sources import SourceBase, open_source

#: Frames the hot-pixel survey samples, spread evenly over the selection.
SURVEY_FRAMES = 64
#: Default threshold of the hot-pixel test, in robust standard deviations.
HOT_PIXEL_KAPPA = 5.0
#: The smallest excess over the neighbourhood counted as hot, in linear light.
HOT_PIXEL_FLOOR = 1.0 / 255.0
_FITS_EXTENSIONS = (".fits", ".fit", ".fts")


def load_dark(path: str | os.PathLike[str], memory_bytes: int = DEFAULT_MEMORY_BYTES) -> np.ndarray:
    """Read a master dark as ``H x W x C`` float32 linear light.

    ``path`` is one prepared master (a PNG/TIFF/JPEG in code values, a float TIFF, ``.npy`` or
    FITS file in linear light, as vid2trail writes them with ``--bit-depth 32``), or a folder, glob
    or video of dark frames, whose per-pixel median becomes the master.

    Examples
    --------
    >>> dark = load_dark("darks/")  # doctest: +SKIP
    >>> dark.dtype  # doctest: +SKIP
    dtype('float32')
    """
    text = os.fspath(path)
    suffix = Path(text).suffix.lower()
    if os.path.isfile(text) and suffix in (*_FITS_EXTENSIONS, ".npy", ".tif", ".tiff"):
        return _master(_read_master(text, suffix), text)
    try:
        source = open_source(text)
    except SourceNotFoundError as exc:  # say which input is missing: the dark, not the frames
        raise SourceNotFoundError(f"{option('dark')} {exc.message()}") from None
    with source:
        # No listener hears a dark's notes (an earlier master left out of its folder): warn.
        for note in source.info.notes:
            warnings.warn(f"the dark {text}: {note}", Vid2TrailWarning, stacklevel=2)
        median = MedianReducer(memory_bytes=memory_bytes)
        try:
            for frame in source:
                median.update(frame.pixels)
            return median.result().astype(np.float32)
        finally:
            median.close()


def _read_master(path: str, suffix: str) -> np.ndarray:
    """The samples of a FITS, ``.npy`` or TIFF master, or a :class:`SourceError` naming it."""
    try:
        if suffix in _FITS_EXTENSIONS:
            from .fits import read_fits

            return read_fits(path)
        if suffix == ".npy":
            return np.load(path)
        import tifffile

        try:
            return tifffile.imread(path)
        except ValueError:
            # A compression tifffile decodes only with imagecodecs (LZW, as OpenCV and many
            # photo tools write it): OpenCV reads those.
            image = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
            if image is None:
                raise
            if image.ndim == 3:
                image = cv2.cvtColor(image[:, :, :3], cv2.COLOR_BGR2RGB)
            return image
    except (OSError, ValueError) as exc:
        if isinstance(exc, Vid2TrailError):
            raise
        raise SourceError(f"cannot read the dark {path}: {exc}") from None


def _master(image: np.ndarray, path: str) -> np.ndarray:
    """A master read from a file as linear float32: 8/16-bit code values, or float linear light."""
    if image.dtype.kind != "f" and image.dtype not in (np.uint8, np.uint16):
        raise SourceError(
            f"the dark {path} holds {image.dtype.name} samples: save the master as float linear "
            f"light ({option('bit_depth')} 32) or as 8- or 16-bit code values"
        )
    return _as_hwc(to_linear(image, dtype=np.float32))


def _as_hwc(image: np.ndarray) -> np.ndarray:
    return image[:, :, None] if image.ndim == 2 else image


class Calibration:
    """What happens to every frame before stacking: dark subtraction, then hot-pixel repair.

    Parameters
    ----------
    dark : numpy.ndarray, optional
        Master dark, ``H x W x C`` (or ``H x W`` for grey frames) float linear light; see
        :func:`load_dark`. Its size and channels must be the frames' own.
    hot_pixels : bool
        Survey the frames for hot pixels and repair them.
    kappa : float
        Threshold of the hot-pixel test in robust standard deviations.
    dark_path : str, optional
        Where the dark came from, for messages and provenance.

    Attributes
    ----------
    hot_pixel_count : int or None
        Pixels repaired (a pixel counts once however many of its channels were hot); None until
        :meth:`prepare` has run the survey.

    Examples
    --------
    >>> cal = Calibration(dark=np.full((1, 1, 1), 0.25, np.float32))
    >>> cal.apply(np.full((1, 1, 1), 255, np.uint8)).tolist()
    [[[0.75]]]
    """

    def __init__(
        self,
        dark: np.ndarray | None = None,
        *,
        hot_pixels: bool = False,
        kappa: float = HOT_PIXEL_KAPPA,
        dark_path: str | None = None,
    ) -> None:
        self.dark = None if dark is None else _as_hwc(np.asarray(dark, np.float32))
        self.hot_pixels = hot_pixels
        self.kappa = kappa
        self.dark_path = dark_path
        self.hot_pixel_count: int | None = None
        self._hot: np.ndarray | None = None  # flat indices of hot samples
        self._neighbours: np.ndarray | None = None  # (n, 8) flat indices
        self._usable: np.ndarray | None = None  # (n, 8) neighbour is not hot itself

    def frame_dtype(self, source_dtype: np.dtype) -> np.dtype:
        """The dtype of calibrated frames: float32 with a dark, else the source's own."""
        return np.dtype(np.float32) if self.dark is not None else np.dtype(source_dtype)

    def prepare(self, source: SourceBase, plan: FrameRange, total: int | None) -> None:
        """Check the dark against the source and run the hot-pixel survey (once)."""
        height, width, channels = source.info.shape
        if self.dark is not None:
            dh, dw, dc = self.dark.shape
            name = f"the dark {self.dark_path}" if self.dark_path else "the dark"
            if (dh, dw) != (height, width):
                raise SourceError(
                    f"{name} is {dw}x{dh} with {dc} channel(s) but the frames are "
                    f"{width}x{height} with {channels}: use darks taken with the same camera, "
                    "resolution and orientation"
                )
            if dc != channels:
                # A dark is the sensor's own offset, channel by channel: a grey dark says nothing
                # of the colour channels, and a colour dark for grey frames is another camera's.
                raise SourceError(
                    f"{name} is {_channels(dc)} but the frames are {_channels(channels)}: a dark "
                    "must have the frames' own channels; use darks taken with the same camera "
                    "and settings"
                )
        if not self.hot_pixels or self._hot is not None:
            return
        step = plan.step
        if total is not None and total > SURVEY_FRAMES:
            step = plan.step * (total // SURVEY_FRAMES)
        minimum: np.ndarray | None = None
        for frame in source.frames(plan.start, plan.end, step):
            light = self._subtract_dark(frame.pixels)
            minimum = light.copy() if minimum is None else np.minimum(minimum, light, out=minimum)
        if minimum is None:
            self.hot_pixel_count = 0
            return
        self.set_hot_pixels(find_hot_pixels(minimum, self.kappa))
        if self.hot_pixel_count and self.hot_pixel_count > max(50, height * width // 10_000):
            warnings.warn(
                f"{self.hot_pixel_count} hot pixels is a lot: stars that did not move during "
                "the selection look like hot pixels and are repaired away too; check the result, "
                f"stack a longer stretch of sky, or use {option('dark')} instead of "
                f"{option('hot_pixels')}",
                Vid2TrailWarning,
                stacklevel=2,
            )

    def set_hot_pixels(self, hot: np.ndarray) -> None:
        """Use ``hot`` (``H x W x C`` bool) as the samples to repair from now on."""
        height, width, channels = hot.shape
        ys, xs, cs = np.nonzero(hot)
        self.hot_pixel_count = int(np.count_nonzero(hot.any(axis=2)))
        offsets = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]
        ny = np.stack([_reflect(ys + dy, height) for dy, _ in offsets], axis=1)
        nx = np.stack([_reflect(xs + dx, width) for _, dx in offsets], axis=1)
        neighbours = (ny * width + nx) * channels + cs[:, None]
        usable = ~hot.reshape(-1)[neighbours]
        usable[~usable.any(axis=1)] = True  # all eight hot: use them all rather than none
        self._hot = (ys * width + xs) * channels + cs
        self._neighbours, self._usable = neighbours, usable

    def _subtract_dark(self, pixels: np.ndarray) -> np.ndarray:
        if self.dark is None:
            return to_linear(pixels, dtype=np.float32)
        light = to_linear(pixels, dtype=np.float32) - self.dark
        return np.maximum(light, 0.0, out=light)

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        """One calibrated frame: float32 linear light with a dark, else the source's dtype."""
        if self.dark is not None:
            out = self._subtract_dark(pixels)
        elif self._hot is not None and self._hot.size:
            out = np.array(pixels, copy=True)  # the source may own (and reuse) its buffer
        else:
            return pixels
        if self._hot is not None and self._hot.size:
            flat = out.reshape(-1)
            values = flat[self._neighbours].astype(np.float32)
            values[~self._usable] = np.nan  # type: ignore[index]
            repaired = np.nanmedian(values, axis=1)
            if flat.dtype.kind != "f":
                repaired = np.rint(repaired)
            flat[self._hot] = repaired
        return out


def _channels(count: int) -> str:
    """``grey (1 channel)``, ``colour (3 channels)``, else the count alone."""
    kind = {1: "grey ", 3: "colour "}.get(count, "")
    return f"{kind}({count} channel{'' if count == 1 else 's'})" if kind else f"{count} channels"


def _reflect(index: np.ndarray, size: int) -> np.ndarray:
    """Mirror indices that step off the image (-1 -> 1, size -> size - 2), never onto themselves."""
    if size == 1:
        return np.zeros_like(index)
    index = np.abs(index)
    return np.where(index >= size, 2 * size - 2 - index, index)


def find_hot_pixels(minimum: np.ndarray, kappa: float = HOT_PIXEL_KAPPA) -> np.ndarray:
    """Hot samples of a temporal-minimum image (float linear light), as an ``H x W x C`` mask.

    Examples
    --------
    >>> sky = np.full((9, 9, 1), 0.01, np.float32); sky[4, 4] = 0.8
    >>> np.argwhere(find_hot_pixels(sky)).tolist()
    [[4, 4, 0]]
    """
    if not kappa > 0:
        raise UsageError(f"hot-pixel kappa {kappa}: use a number above 0")
    image = _as_hwc(np.asarray(minimum, np.float32))
    hot = np.zeros(image.shape, bool)
    for c in range(image.shape[2]):
        plane = np.ascontiguousarray(image[:, :, c])
        residual = plane - cv2.medianBlur(plane, 3)
        centre = float(np.median(residual))
        sigma = 1.4826 * float(np.median(np.abs(residual - centre)))
        threshold = max(kappa * sigma, HOT_PIXEL_FLOOR)
        first, second = _brightest_neighbours(plane)
        candidate = (residual > threshold) & (plane - second > threshold)
        # A candidate with a bright neighbour is half of a hot pair only if that neighbour is a
        # candidate too; the end of a one-pixel line has a bright neighbour that is not.
        paired = cv2.filter2D(candidate.astype(np.uint8), -1, _RING, borderType=cv2.BORDER_CONSTANT)
        hot[:, :, c] = candidate & ((plane - first > threshold) | (paired > 0))
    return hot


_RING = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]], np.float32)


def _brightest_neighbours(plane: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The highest and second-highest of each pixel's eight neighbours (edges mirrored)."""
    padded = cv2.copyMakeBorder(plane, 1, 1, 1, 1, cv2.BORDER_REFLECT_101)
    height, width = plane.shape
    first = np.full(plane.shape, -np.inf, np.float32)
    second = first.copy()
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            if (dy, dx) == (1, 1):
                continue
            shifted = padded[dy : dy + height, dx : dx + width]
            np.maximum(second, np.minimum(first, shifted), out=second)
            np.maximum(first, shifted, out=first)
    return first, second


def make_calibration(
    dark: str | os.PathLike[str] | np.ndarray | None,
    hot_pixels: bool,
    memory_bytes: int,
) -> Calibration | None:
    """A :class:`~vid2trail.calibrate.Calibration` for the options given, or None when none is.

    Examples
    --------
    >>> make_calibration(None, False, 10**9) is None
    True
    """
    if dark is None and not hot_pixels:
        return None
    if dark is None or isinstance(dark, np.ndarray):
        return Calibration(dark, hot_pixels=hot_pixels)
    master = load_dark(dark, memory_bytes)
    return Calibration(master, hot_pixels=hot_pixels, dark_path=os.fspath(dark))
