"""One quick pass over a clip: per-frame statistics, the night window, the flashes, a suggestion.

The pass decodes small frames (:data:`SCAN_WIDTH` pixels wide; ffmpeg scales with an area average
before the pipe, so the cost is the decode itself) and measures, per frame, on luma Y' in
``[0, 1]`` (BT.709 weights on the gamma-encoded values, see :mod:`vid2trail.choose`):

- ``mean``: mean luma, the *brightness* every decision uses (an area average keeps the mean of
  the full frame);
- ``median``: median luma, the sky level with stars and lights ignored;
- ``white``: fraction of pixels with luma at or above :data:`WHITE_LEVEL` (burnt-out areas);
- ``change``: mean absolute luma difference from the previous frame (a bumped camera, a cut).

:func:`scan` adds the decisions: the night window (:func:`vid2trail.night.choose_night`) and the
frames ``--reject auto`` would drop inside it, judged exactly as the stack judges them.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from .choose import DEFAULT_REJECT_K, REJECT_HISTORY, flag_flashes, frame_brightness
from .color import luma
from .errors import SourceError, UsageError, option
from .frames import Frame, SourceInfo
from .night import NightChoice, choose_night
from .sources import SourceBase, open_source

#: Width in pixels of the frames the scan measures.
SCAN_WIDTH = 240
#: Thumbnails kept for the picture's strip.
THUMBNAILS = 10
#: Luma at or above this counts as near-white.
WHITE_LEVEL = 0.95

#: ``progress(frames_done, frames_total_or_None)``.
ProgressCallback = Callable[[int, "int | None"], None]


def small_frames(source: SourceBase, width: int = SCAN_WIDTH) -> Iterator[Frame]:
    """Every frame of ``source`` at most ``width`` pixels wide (area average; never enlarged).

    Video through ffmpeg is scaled inside ffmpeg; other sources are read whole and shrunk with
    OpenCV.

    Examples
    --------
    >>> from vid2trail.sources import open_source
    >>> with open_source("sample_clips/startrails.mp4") as src:  # doctest: +SKIP
    ...     next(small_frames(src, 240)).pixels.shape
    (135, 240, 3)
    """
    small = source.downscaled(width)
    if small is not None:
        yield from small.frames()
        return
    import cv2

    for frame in source.frames():
        height, full = frame.pixels.shape[:2]
        if full <= width:
            yield frame
            continue
        size = (width, max(1, round(height * width / full)))
        small = cv2.resize(frame.pixels, size, interpolation=cv2.INTER_AREA)
        yield Frame(frame.index, frame.time_s, small.reshape(size[1], size[0], -1))


@dataclass
class ScanTable:
    """Per-frame statistics of one pass; arrays share one row per decoded frame.

    ``change`` is NaN for the first frame; ``time_s`` is NaN where the source has no clock.
    ``thumbnails`` holds ``(frame number, small RGB or gray image)`` pairs for the picture;
    ``size`` is the ``(width, height)`` the frames were measured at.
    """

    info: SourceInfo
    index: np.ndarray
    time_s: np.ndarray
    mean: np.ndarray
    median: np.ndarray
    white: np.ndarray
    change: np.ndarray
    thumbnails: list[tuple[int, np.ndarray]] = field(default_factory=list)
    size: tuple[int, int] = (0, 0)
    #: Each row's capture time, where the source has a clock (photos' EXIF, a video's
    #: creation time); None where it has none.
    clock: list[datetime] | None = None

    def __len__(self) -> int:
        return len(self.index)


def measure(
    source: SourceBase,
    *,
    width: int = SCAN_WIDTH,
    thumbnails: int = THUMBNAILS,
    progress: ProgressCallback | None = None,
) -> ScanTable:
    """Decode every frame small and measure it (see the module docstring for the columns).

    Parameters
    ----------
    source : Source
        An open source.
    width : int
        Width of the measured frames.
    thumbnails : int
        How many evenly spread frames to keep for the picture (0: none).
    progress : callable, optional
        ``progress(done, total_or_None)`` after every frame.

    Examples
    --------
    >>> with open_source("sample_clips/startrails.mp4") as src:  # doctest: +SKIP
    ...     table = measure(src)
    >>> len(table), round(float(table.mean[0]), 3)  # doctest: +SKIP
    (240, 0.041)
    """
    rows: list[tuple[int, float, float, float, float, float]] = []
    total = source.known_info().frame_count
    stride = max(1, (total or 0) // max(1, 2 * thumbnails))
    kept: list[tuple[int, np.ndarray]] = []
    previous: np.ndarray | None = None
    size = (0, 0)
    for frame in small_frames(source, width):
        size = (frame.pixels.shape[1], frame.pixels.shape[0])
        y = luma(frame.pixels)
        change = float(np.abs(y - previous).mean()) if previous is not None else math.nan
        time_s = frame.time_s if frame.time_s is not None else math.nan
        rows.append((frame.index, time_s, frame_brightness(frame.pixels), float(np.median(y)),
                     float((y >= WHITE_LEVEL).mean()), change))  # fmt: skip
        previous = y
        if thumbnails and frame.index % stride == 0:
            kept.append((frame.index, frame.pixels.copy()))
            if len(kept) > 4 * thumbnails:  # the length estimate was short: thin out
                stride *= 2
                kept = [(i, p) for i, p in kept if i % stride == 0]
        if progress is not None:
            progress(len(rows), max(total, len(rows)) if total else None)
    if not rows:
        raise SourceError(f"{source.info.path}: no frame could be decoded")
    columns = list(zip(*rows, strict=True))
    if thumbnails and len(kept) > thumbnails:
        picks = np.linspace(0, len(kept) - 1, thumbnails).round().astype(int)
        kept = [kept[i] for i in picks]
    clocks = source.clock_times()
    index = np.array(columns[0], dtype=np.int64)
    return ScanTable(
        source.info,
        index,
        *(np.array(c, dtype=np.float64) for c in columns[1:]),
        thumbnails=kept,
        size=size,
        clock=[clocks[i] for i in index] if clocks else None,
    )


@dataclass
class ScanResult:
    """A scan's statistics and decisions.

    ``start``/``end`` are the chosen frame numbers (half-open); ``rejected`` flags the frames
    inside the window that ``--reject-above reject_k`` drops.
    """

    table: ScanTable
    night: NightChoice
    reject_k: float
    rejected: np.ndarray
    stream: int | None = None

    @property
    def start(self) -> int:
        """First frame of the chosen window."""
        return int(self.table.index[self.night.start])

    @property
    def end(self) -> int:
        """The frame after the chosen window's last."""
        return int(self.table.index[self.night.end - 1]) + 1

    @property
    def rejected_frames(self) -> list[int]:
        """Frame numbers ``--reject`` drops inside the window."""
        return [int(i) for i in self.table.index[self.rejected]]

    def suggested_command(self, input_text: str | None = None) -> str:
        """The stack command line that uses these decisions.

        Examples
        --------
        >>> result.suggested_command("iss.mp4")  # doctest: +SKIP
        'vid2trail iss.mp4 --start 212 --end 1730 --reject auto'
        """
        parts = ["vid2trail", shlex.quote(input_text or self.table.info.path)]
        if self.stream is not None:
            parts += ["--stream", str(self.stream)]
        if self.start > 0:
            parts += ["--start", str(self.start)]
        if self.end < int(self.table.index[-1]) + 1:
            parts += ["--end", str(self.end)]
        if self.reject_k == DEFAULT_REJECT_K:
            parts += ["--reject", "auto"]
        else:
            parts += ["--reject-above", f"{self.reject_k:g}"]
        return " ".join(parts)

    def summary(self, input_text: str | None = None) -> list[str]:
        """Lines for the terminal: what was scanned, the window, the flashes, the command."""
        t, night = self.table, self.night
        fps = t.info.fps
        when = (
            f" ({format_clock(self.start / fps)} to {format_clock(self.end / fps)})" if fps else ""
        )
        flashes = self.rejected_frames
        plural = "s" if len(t) != 1 else ""
        return [
            f"Scanned {len(t)} frame{plural} at {t.size[0]}x{t.size[1]}; brightness "
            f"{np.nanmin(t.mean):.3f} to {np.nanmax(t.mean):.3f} (mean luma, 0 black, 1 white)",
            f"Night window: frames {self.start} to {self.end}{when}, {self.end - self.start} "
            f"frames; {night.reason}",
            f"Flashes in the window (brighter than the running median + {self.reject_k:g} x MAD):"
            f" {len(flashes)}{': ' + ', '.join(map(str, flashes)) if flashes else ''}",
            f"Suggested: {self.suggested_command(input_text)}",
        ]

    def to_dict(self, input_text: str | None = None) -> dict[str, Any]:
        """Everything as plain JSON types: the settings, the decisions and one row per frame."""
        t = self.table
        night = self.night
        in_window = np.zeros(len(t), dtype=bool)
        in_window[night.start : night.end] = True
        rows = [
            {
                "frame": int(t.index[i]),
                "time_s": _num(t.time_s[i]),
                "mean": _num(t.mean[i]),
                "median": _num(t.median[i]),
                "white": _num(t.white[i]),
                "change": _num(t.change[i]),
                "smoothed": _num(night.smoothed[i]),
                "in_window": bool(in_window[i]),
                "rejected": bool(self.rejected[i]),
            }
            for i in range(len(t))
        ]
        fps = t.info.fps
        return {
            "input": input_text or t.info.path,
            "frames": len(t),
            "fps": fps,
            "scan_size": list(t.size),
            "brightness": "mean luma Y' (BT.709 weights on gamma-encoded values), 0 black, 1 white",
            "window": {
                "start": self.start,
                "end": self.end,
                "frames": self.end - self.start,
                "start_s": self.start / fps if fps else None,
                "end_s": self.end / fps if fps else None,
                "reason": night.reason,
                "dark": night.dark,
                "bright": night.bright,
                "night_below": night.night_below,
                "bridge_below": night.bridge_below,
            },
            "reject": {
                "k": self.reject_k,
                "history": REJECT_HISTORY,
                "frames": self.rejected_frames,
            },
            "command": self.suggested_command(input_text),
            "table": rows,
        }


def _num(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 6)


def decide(table: ScanTable, reject_k: float = DEFAULT_REJECT_K) -> ScanResult:
    """Choose the night window and flag the flashes inside it, as the stack would judge them.

    Examples
    --------
    >>> result = decide(table)  # doctest: +SKIP
    >>> result.start, result.end, result.rejected_frames  # doctest: +SKIP
    (212, 1730, [905])
    """
    night = choose_night(table.mean)
    rejected = np.zeros(len(table), dtype=bool)
    rejected[night.start : night.end] = flag_flashes(table.mean[night.start : night.end], reject_k)
    return ScanResult(table, night, float(reject_k), rejected)


def scan(
    path: str,
    *,
    reject_k: float = DEFAULT_REJECT_K,
    width: int = SCAN_WIDTH,
    thumbnails: int = THUMBNAILS,
    backend: str = "auto",
    stream: int | None = None,
    progress: ProgressCallback | None = None,
) -> ScanResult:
    """Measure a video, folder or glob in one small pass and decide what to stack.

    Examples
    --------
    >>> result = scan("iss.mp4")  # doctest: +SKIP
    >>> result.suggested_command()  # doctest: +SKIP
    'vid2trail iss.mp4 --start 212 --end 1730 --reject auto'
    """
    if isinstance(width, bool) or not isinstance(width, int) or not 16 <= width <= 4096:
        raise UsageError(f"{option('scan_width')} {width!r}: use 16 to 4096 pixels")
    with open_source(path, backend=backend, stream=stream) as source:
        table = measure(source, width=width, thumbnails=thumbnails, progress=progress)
    result = decide(table, reject_k)
    result.stream = stream
    return result


def auto_window(
    source: SourceBase, progress: ProgressCallback | None = None
) -> tuple[int, int, str]:
    """The night window of an open source as ``(start, end, description)``, from a small pass.

    Examples
    --------
    >>> with open_source("dusk-to-dawn.mp4") as src:  # doctest: +SKIP
    ...     auto_window(src)[:2]
    (212, 1730)
    """
    table = measure(source, thumbnails=0, progress=progress)
    result = decide(table)
    start, end = result.start, result.end
    fps = table.info.fps
    when = f" ({format_clock(start / fps)} to {format_clock(end / fps)})" if fps else ""
    return (
        start,
        end,
        (
            f"Night window: frames {start} to {end}{when}, {end - start} of {len(table)} frames; "
            f"{result.night.reason}"
        ),
    )


def format_clock(seconds: float) -> str:
    """``75.5`` -> ``"1:15.5"``.

    Examples
    --------
    >>> format_clock(75.5), format_clock(3725.0)
    ('1:15.5', '1:02:05')
    """
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    text = f"{secs:04.1f}".removesuffix(".0")
    return f"{hours}:{minutes:02d}:{text}" if hours else f"{minutes}:{text}"
