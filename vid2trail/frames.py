"""Small frozen records that travel through the pipeline: one decoded frame, one source's facts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One decoded frame.

    Attributes
    ----------
    index : int
        The frame number in the source, counting decoded frames from 0 (for a folder: the position
        of the file in natural sort order).
    time_s : float or None
        Presentation time in seconds from the start of the video, or None where the source has no
        clock (a folder of photos).
    pixels : numpy.ndarray or Planes
        ``H x W x C`` array, C = 3 (RGB) or 1 (grayscale), dtype uint8 or uint16. Sources may reuse
        the buffer for the next frame: copy it if you keep it. A source configured with
        ``planes=True`` may deliver :class:`Planes` instead.

    Examples
    --------
    >>> import numpy as np
    >>> Frame(0, 0.0, np.zeros((2, 2, 3), np.uint8)).index
    0
    """

    index: int
    time_s: float | None
    pixels: np.ndarray | Planes


class Planes(NamedTuple):
    """An RGB frame as three ``H x W`` planes, each in a buffer of its own, as FFmpeg's planar
    ``gbrp`` format holds it (no ``H x W x 3`` view of them exists without a copy).

    A video converts to planes about a fifth faster than to packed RGB, with the same values;
    only consumers that work channel by channel (the extremum reducers) ask for them.

    Examples
    --------
    >>> p = Planes(*(np.full((2, 4), v, np.uint8) for v in (1, 2, 3)))
    >>> p.shape, p.dtype, p.packed()[0, 0].tolist()
    ((2, 4, 3), dtype('uint8'), [1, 2, 3])
    """

    r: np.ndarray
    g: np.ndarray
    b: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(H, W, 3)``, the shape of :meth:`packed`."""
        return (*self.r.shape[:2], 3)  # type: ignore[return-value]

    @property
    def dtype(self) -> np.dtype:
        """The samples' dtype."""
        return self.r.dtype

    def packed(self) -> np.ndarray:
        """The frame as one new ``H x W x 3`` array."""
        return np.dstack(self)


@dataclass(frozen=True)
class SourceInfo:
    """What a source knows about itself before decoding.

    Attributes
    ----------
    path : str
        The path, folder or glob as given.
    width, height : int
        Frame size in pixels as delivered (after any display rotation).
    channels : int
        3 for RGB, 1 for grayscale.
    dtype : numpy.dtype
        uint8 or uint16 samples (sRGB-encoded code values), or float32 linear light (1.0 =
        white) for HDR video decoded with ``hdr="keep"``.
    fps : float or None
        Frames per second; None when unknown (folders).
    duration_s : float or None
        Length in seconds; None when unknown.
    frame_count : int or None
        Number of frames; see ``frame_count_exact``. None when nothing is known.
    frame_count_exact : bool
        True when ``frame_count`` was counted (a folder's file list), False when it was estimated
        from duration x fps, which can be off by a frame or two, or more for variable frame rates.
        A source's ``info`` never changes; ``source.exact_info()`` counts a video's frames.
    codec : str
        Decoder or file format name, for messages ("h264", "images").
    backend : str
        Which decoder delivers the frames ("ffmpeg", "opencv", "images").
    rotation_deg : int
        Display rotation that was applied (0, 90, 180 or 270).
    pix_fmt : str
        The source's own pixel format as the decoder names it ("yuv420p", "yuv420p10le", "gray").
    bits_per_sample : int
        Significant bits in the source (8, 10, 12 or 16).
    variable_fps : bool or None
        True when frame durations vary (phone clips often do), False when they were checked and
        are constant, None when not checked (``fps`` is then the container's average rate).
    stream : int
        Which video stream is read, counting video streams from 0.
    notes : tuple of str
        What the decoder did that a user should know (tone mapping, a colour matrix assumed for
        an untagged stream), one sentence each.

    Examples
    --------
    >>> import numpy as np
    >>> info = SourceInfo("a.mp4", 64, 48, 3, np.dtype(np.uint8), 25.0, 2.0, 50, False)
    >>> info.max_value
    255
    """

    path: str
    width: int
    height: int
    channels: int
    dtype: np.dtype
    fps: float | None
    duration_s: float | None
    frame_count: int | None
    frame_count_exact: bool
    codec: str = ""
    backend: str = ""
    rotation_deg: int = 0
    pix_fmt: str = ""
    bits_per_sample: int = 8
    variable_fps: bool | None = None
    stream: int = 0
    notes: tuple[str, ...] = ()

    @property
    def max_value(self) -> int:
        """The white level of ``dtype``: 255, 65535, or 1 for float linear light."""
        return int(np.iinfo(self.dtype).max) if self.dtype.kind in "ui" else 1

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(height, width, channels)`` of every frame."""
        return (self.height, self.width, self.channels)

    @property
    def frame_bytes(self) -> int:
        """The bytes of one frame's pixels."""
        return self.width * self.height * self.channels * self.dtype.itemsize

    def describe_length(self) -> str:
        """Say how long the source is, e.g. ``"300 frames (about 12.0 s)"``."""
        if self.frame_count is None:
            return "an unknown number of frames"
        approx = "" if self.frame_count_exact else "about "
        noun = "frame" if self.frame_count == 1 else "frames"
        text = f"{approx}{self.frame_count} {noun}"
        if self.duration_s is not None:
            text += f" ({self.duration_s:.2f} s)"
        return text
