"""Video through OpenCV's ``VideoCapture`` (``--backend opencv``).

OpenCV delivers 8-bit BGR; we convert to RGB into a reused buffer. Seeking uses
``CAP_PROP_POS_FRAMES`` (OpenCV's FFmpeg backend seeks to a keyframe and decodes forward), and
``--step`` skips frames with ``grab()``, which decodes but does not convert them.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from dataclasses import replace

import cv2
import numpy as np

from ..errors import DecodeError, DecodeWarning
from ..frames import Frame, SourceInfo
from . import SourceBase
from .damage import lost_frames_warning
from .probe import is_variable_rate, probe_media

# ffmpeg-convention rotation (counter-clockwise display angle) -> the cv2.rotate that shows it.
_ROTATE_CODES = {
    90: cv2.ROTATE_90_COUNTERCLOCKWISE,
    180: cv2.ROTATE_180,
    270: cv2.ROTATE_90_CLOCKWISE,
}


def _quiet_opencv() -> None:
    """Keep OpenCV's log and its ffmpeg's messages off stderr, unless the user set their levels.

    Failures reach the user as one ``Error:`` or ``Warning:`` line instead (OpenCV reads
    ``OPENCV_FFMPEG_LOGLEVEL`` when it first opens a video).
    """
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    if "OPENCV_LOG_LEVEL" not in os.environ:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


class OpenCVSource(SourceBase):
    """A video decoded by OpenCV.

    Parameters
    ----------
    path : str
        A local video file.
    max_side : int, optional
        Preview: frames are shrunk (area averaging) so the longer side is at most this many pixels.
        OpenCV decodes at full size first, so this saves stacking time, not decoding time.

    Examples
    --------
    >>> src = OpenCVSource("sample_clips/startrails.mp4")  # doctest: +SKIP
    >>> src.info.backend  # doctest: +SKIP
    'opencv'
    """

    def __init__(self, path: str, max_side: int | None = None) -> None:
        from .ffmpeg import scaled_size

        self.path = path
        self._auto = True
        self._rotate: int | None = None
        self._times: list[float] | None = None
        self._first_ms = 0.0
        self._seekable: bool | None = None
        if os.path.isdir(path):
            raise DecodeError(f"{path} is a folder, not a video: give the video file inside it")
        if os.path.getsize(path) == 0:
            raise DecodeError(f"{path} is empty (0 bytes): the copy may have failed; copy it again")
        cap = self._open()
        try:
            ok, first = cap.read()
            if not ok or first is None:
                raise DecodeError(
                    f"{path} is not a video OpenCV can read; check the file, or try "
                    "--backend ffmpeg"
                )
            fps = cap.get(cv2.CAP_PROP_FPS) or None
            count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
            fourcc = int(cap.get(cv2.CAP_PROP_FOURCC))
            # OpenCV counts the display rotation the other way round from ffmpeg's report.
            rotation = int(round(360 - cap.get(cv2.CAP_PROP_ORIENTATION_META))) % 360
            self._rotate = _ROTATE_CODES.get(rotation) if not self._auto else None
            if self._rotate is not None:
                first = cv2.rotate(first, self._rotate)
            self._first_ms = cap.get(cv2.CAP_PROP_POS_MSEC)
        finally:
            cap.release()
        codec = "".join(chr((fourcc >> (8 * i)) & 0xFF) for i in range(4)).strip("\0 ")
        height, width = first.shape[:2]
        self.full_size = (width, height)
        self.scaled = scaled_size(width, height, max_side)
        if self.scaled:
            width, height = self.scaled
        self.info = SourceInfo(
            path=path,
            width=width,
            height=height,
            channels=3,
            dtype=np.dtype(np.uint8),
            fps=fps,
            duration_s=count / fps if count and fps else None,
            frame_count=count,
            frame_count_exact=False,
            codec=codec.lower(),
            backend="opencv",
            rotation_deg=rotation,
        )

    def _open(self) -> cv2.VideoCapture:
        _quiet_opencv()
        cap = cv2.VideoCapture(self.path, cv2.CAP_FFMPEG)
        if not cap.isOpened():
            raise DecodeError(
                f"{self.path} is not a video OpenCV can read; check the file, or try "
                "--backend ffmpeg"
            )
        # Apply the display-matrix rotation of phone clips, as the ffmpeg backend does. Builds
        # that ignore the property report 0 back; then frames are rotated here (see frames()).
        cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
        self._auto = bool(cap.get(cv2.CAP_PROP_ORIENTATION_AUTO))
        return cap

    def frame_times(self) -> list[float]:
        """Real presentation times of the frames (seconds from the first), by one demux pass.

        OpenCV cannot list them, so the bundled ffmpeg reads the packets of the file's default
        video stream without decoding them (as the ffmpeg backend does, leaving out the packets
        that are never shown); this also makes ``info.frame_count`` exact.
        """
        if self._times is None:
            from .ffmpeg import FFmpegSource

            # The ffmpeg backend's list drops the packets an edit list hides (a clip cut with
            # ``-c copy`` keeps the keyframe before the cut), which OpenCV does not deliver.
            self._times = list(FFmpegSource(self.path).frame_times())
            if self._times:
                self.info = replace(
                    self.info,
                    frame_count=len(self._times),
                    frame_count_exact=True,
                    variable_fps=is_variable_rate(self._times),
                )
        return self._times

    @property
    def seekable(self) -> bool:
        """False for containers without an index (MPEG-TS, raw streams), where OpenCV's frame
        seek lands on the wrong frame; :meth:`frames` then reads up to ``start`` instead."""
        if self._seekable is None:
            from .ffmpeg import UNINDEXED_CONTAINERS, ffmpeg_exe

            media, _ = probe_media(self.path, ffmpeg_exe())
            self._seekable = not set(media.container.split(",")) & UNINDEXED_CONTAINERS
        return self._seekable

    def frames(self, start: int = 0, end: int | None = None, step: int = 1) -> Iterator[Frame]:
        """Yield frames ``start, start + step, ...`` below ``end``; the pixel buffer is reused.

        ``Frame.time_s`` is the frame's own presentation time as OpenCV reports it. A file that
        ends before its expected length issues a :class:`~vid2trail.errors.DecodeWarning`.
        """
        if end is not None and end <= start:
            return
        cap = self._open()
        full_w, full_h = self.full_size
        bgr = np.empty((full_h, full_w, 3), np.uint8)
        small = np.empty(self.info.shape, np.uint8) if self.scaled else None
        rgb = np.empty(self.info.shape, np.uint8)
        fps = self.info.fps
        try:
            if start > 0 and self.seekable:
                cap.set(cv2.CAP_PROP_POS_FRAMES, start)
            elif start > 0:
                # No index (MPEG-TS, raw streams): a seek may land elsewhere, so count frames.
                for _ in range(start):
                    if not cap.grab():
                        break
            index, delivered = start, 0
            while end is None or index < end:
                ok, image = cap.read(bgr if self._rotate is None else None)
                if not ok or image is None:
                    lost = lost_frames_warning(self, start, end, step, delivered, [])
                    if lost:
                        warnings.warn(lost, DecodeWarning, stacklevel=2)
                    break
                position_ms = cap.get(cv2.CAP_PROP_POS_MSEC)
                if self._rotate is not None:
                    image = cv2.rotate(image, self._rotate)
                if image.shape != bgr.shape:
                    raise DecodeError(
                        f"{self.path}: frame {index} is {image.shape[1]}x{image.shape[0]}, "
                        f"not {self.info.width}x{self.info.height}; try --backend ffmpeg"
                    )
                if small is not None:
                    image = cv2.resize(image, self.scaled, dst=small, interpolation=cv2.INTER_AREA)
                cv2.cvtColor(image, cv2.COLOR_BGR2RGB, dst=rgb)
                time_s = (position_ms - self._first_ms) / 1000 if fps else None
                yield Frame(index, time_s, rgb)
                delivered += 1
                for _ in range(step - 1):
                    index += 1
                    if (end is not None and index >= end) or not cap.grab():
                        return
                index += 1
        finally:
            cap.release()
