"""The scan picture: thumbnails, the brightness curve, the chosen window and the rejected frames.

Drawn with matplotlib (``pip install 'vid2trail[scan]'``) on its Agg backend, so no display is
needed, and saved atomically like every other output.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .embed import add_png_text, json_text
from .errors import MissingDependencyError, OutputError, option
from .keograms import tick_times
from .scan import ScanResult, format_clock
from .version import __version__
from .writers import atomic_path, check_destination

if TYPE_CHECKING:
    from .sky import SkyMotion

#: Extensions the picture may be saved as.
PICTURE_FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".svg": "svg", ".pdf": "pdf"}
#: Default picture size in pixels.
DEFAULT_SIZE = (1400, 800)
_DPI = 100


def check_picture_path(
    path: str | os.PathLike[str], *, overwrite: bool = False, inputs: tuple[str, ...] = ()
) -> Path:
    """Validate where the picture goes before the pass starts; it may not be one of ``inputs``.

    Examples
    --------
    >>> check_picture_path("scan.gif")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vid2trail.errors.OutputError: cannot write scan.gif: the picture can be .jpeg, .jpg, ...
    """
    out = Path(path)
    if out.suffix.lower() not in PICTURE_FORMATS:
        raise OutputError(
            f"cannot write {out}: the picture can be {', '.join(sorted(PICTURE_FORMATS))}"
        )
    return check_destination(out, overwrite=overwrite, inputs=inputs)


def parse_size(text: str) -> tuple[int, int]:
    """``"1400x800"`` -> ``(1400, 800)``; 200 to 10000 pixels each way.

    Examples
    --------
    >>> parse_size("1200x600")
    (1200, 600)
    """
    try:
        width, height = (int(v) for v in str(text).lower().split("x"))
    except ValueError:
        raise OutputError(
            f"{option('size')} {text!r}: write WIDTHxHEIGHT in pixels, e.g. 1400x800"
        ) from None
    if not (200 <= width <= 10000 and 200 <= height <= 10000):
        raise OutputError(f"{option('size')} {text}: each side must be 200 to 10000 pixels")
    return width, height


def require_matplotlib() -> None:
    """Raise :class:`MissingDependencyError` now, before a long pass, if matplotlib is missing.

    Examples
    --------
    >>> require_matplotlib()  # doctest: +SKIP
    """
    _pyplot()


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise MissingDependencyError(
            "the scan picture needs matplotlib: pip install 'vid2trail[scan]' "
            f"(or use {option('json')} alone for the numbers)"
        ) from exc
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def draw_scan(
    result: ScanResult,
    path: str | os.PathLike[str],
    *,
    size: tuple[int, int] = DEFAULT_SIZE,
    title: str | None = None,
    motion: SkyMotion | None = None,
) -> Path:
    """Draw the scan picture and write it atomically.

    Top: a strip of thumbnails with their frame numbers. Middle: mean and median brightness per
    frame, the smoothed curve the night was chosen on, the night threshold, the chosen window
    shaded and the rejected frames marked. Bottom: frame-to-frame change and the near-white
    fraction. Frame numbers run along the bottom, times (where the source has a frame rate)
    along the top.

    Parameters
    ----------
    result : ScanResult
        From :func:`vid2trail.scan.scan`.
    path : str or PathLike
        ``.png``, ``.jpg``, ``.svg`` or ``.pdf``.
    size : (int, int)
        Width and height in pixels (at 100 dpi).
    title : str, optional
        Defaults to the input's name.
    motion : SkyMotion, optional
        The sky's motion (:func:`vid2trail.sky.sky_motion`): its pole and rate go under the
        heading.

    Examples
    --------
    >>> draw_scan(scan("iss.mp4"), "scan.png")  # doctest: +SKIP
    PosixPath('scan.png')
    """
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    out = Path(path)
    fmt = PICTURE_FORMATS.get(out.suffix.lower())
    if fmt is None:
        check_picture_path(out, overwrite=True)
    table = result.table
    frames = table.index
    fig = plt.figure(figsize=(size[0] / _DPI, size[1] / _DPI), dpi=_DPI)
    try:
        grid = fig.add_gridspec(
            3, 1, height_ratios=(0.9, 3, 1.2), hspace=0.2, left=0.07, right=0.93, top=0.93,
            bottom=0.08,
        )  # fmt: skip
        _thumbnail_strip(fig, grid[0], table.thumbnails)
        ax = fig.add_subplot(grid[1])
        low = fig.add_subplot(grid[2], sharex=ax)
        _brightness_panel(ax, result)
        _change_panel(low, result)
        low.set_xlabel("frame")
        low.xaxis.set_major_locator(MaxNLocator(integer=True))
        left, right = frames[0] - 0.5, frames[-1] + 0.5
        ax.set_xlim(left, right if right > left else left + 1)
        ax.tick_params(labelbottom=False)
        fps = table.info.fps
        if table.clock and len(table.clock) > 1:
            _clock_axis(ax, frames, table.clock)
        elif fps:
            top = ax.secondary_xaxis("top", functions=(lambda f: f / fps, lambda t: t * fps))
            top.set_xlabel("time (m:ss)")
            top.xaxis.set_major_formatter(lambda t, _pos: format_clock(max(t, 0.0)))
        window = f"frames {result.start} to {result.end}"
        heading = (f"{title or table.info.path}: {len(table)} frames; window {window}; "
                   f"{len(result.rejected_frames)} rejected")  # fmt: skip
        if motion is not None:
            heading += "\n" + "; ".join(line.removeprefix("Sky motion: ")
                                         for line in motion.describe()[:2])  # fmt: skip
        # A name that is not UTF-8 holds undecodable bytes, which no font can draw.
        heading = heading.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        fig.suptitle(heading, fontsize=11)
        with atomic_path(out) as tmp:
            fig.savefig(tmp, format=fmt, dpi=_DPI)
            if fmt == "png":
                # Signed like the stills, so that a later stack of the folder leaves it out.
                meta = {"software": f"vid2trail {__version__}", "scan_of": table.info.path}
                tmp.write_bytes(add_png_text(tmp.read_bytes(), {"vid2trail": json_text(meta)}))
    finally:
        plt.close(fig)
    return out


def _clock_axis(ax: Any, frames: np.ndarray, clock: list[datetime]) -> None:
    """Capture times along the top: a tick at each round hour (or 10 minutes) of the clock."""
    seconds = np.array([(t - clock[0]).total_seconds() for t in clock])
    if np.any(np.diff(seconds) <= 0):
        return  # not in clock order (sorted by name): no axis maps frames to times
    ticks = tick_times(clock[0], clock[-1])
    at = np.interp([(t - clock[0]).total_seconds() for t in ticks], seconds, frames)
    top = ax.secondary_xaxis("top")
    top.set_xticks(at, [t.strftime("%H:%M") for t in ticks])
    top.set_xlabel(f"capture time ({clock[0]:%Y-%m-%d} {clock[0]:%H:%M} to {clock[-1]:%H:%M})")


def _thumbnail_strip(fig: Any, cell: Any, thumbnails: list[tuple[int, np.ndarray]]) -> None:
    count = max(1, len(thumbnails))
    strip = cell.subgridspec(1, count, wspace=0.04)
    images = [
        (img[..., 0] if img.shape[-1] == 1 else img) / float(np.iinfo(img.dtype).max)
        for _, img in thumbnails
    ]
    # Night frames are nearly black at their true level: brighten the whole strip by one common
    # gain (so frames keep their order of brightness) until its brightest detail is white.
    top = max((float(np.percentile(img, 99.5)) for img in images), default=1.0)
    gain = float(np.clip(1.0 / max(top, 1e-6), 1.0, 16.0))
    for k, ((index, _), pixels) in enumerate(zip(thumbnails, images, strict=True)):
        axis = fig.add_subplot(strip[0, k])
        shown = np.clip(pixels * gain, 0.0, 1.0)
        axis.imshow(shown, cmap="gray" if shown.ndim == 2 else None, vmin=0, vmax=1)
        label = f"#{index}" if k or gain < 1.05 else f"#{index} (x{gain:.1f})"
        axis.set_title(label, fontsize=8, pad=2)
        axis.set_xticks([])
        axis.set_yticks([])


def _brightness_panel(ax: Any, result: ScanResult) -> None:
    table, night = result.table, result.night
    frames = table.index
    ax.axvspan(result.start - 0.5, result.end - 0.5, color="tab:green", alpha=0.15,
               label=f"chosen window {result.start}-{result.end}")  # fmt: skip
    marker = "." if len(frames) <= 300 else None
    ax.plot(frames, table.mean, color="tab:blue", lw=1, marker=marker, ms=3, label="mean")
    ax.plot(frames, table.median, color="tab:cyan", lw=0.8, label="median")
    ax.plot(frames, night.smoothed, color="black", lw=1, ls="--", label="smoothed mean")
    if night.twilight:
        ax.axhline(night.night_below, color="tab:green", lw=0.8, ls=":",
                   label=f"night below {night.night_below:.3f}")  # fmt: skip
    if result.rejected.any():
        ax.scatter(frames[result.rejected], table.mean[result.rejected], marker="x",
                   color="tab:red", s=40, zorder=5,
                   label=f"rejected (median + {result.reject_k:g} MAD)")  # fmt: skip
    ax.set_ylabel("brightness (luma Y', 0-1)")
    top = max(float(np.nanmax(table.mean)), float(np.nanmax(table.median)), night.night_below)
    top = min(1.0, top * 1.08 + 1e-3)
    ax.set_ylim(0, top)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8, ncol=3, framealpha=0.8)


def _change_panel(ax: Any, result: ScanResult) -> None:
    table = result.table
    ax.plot(table.index, table.change, color="tab:purple", lw=0.9, label="change from previous")
    ax.set_ylabel("change", fontsize=9)
    ax.grid(alpha=0.3)
    white = ax.twinx()
    white.plot(table.index, table.white * 100, color="tab:orange", lw=0.9, label="near-white %")
    white.set_ylabel("near-white %", fontsize=9)
    white.set_ylim(bottom=0)
    ax.set_ylim(bottom=0)
    handles = ax.get_legend_handles_labels()[0] + white.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper right", fontsize=8, framealpha=0.8)
    for index in table.index[result.rejected]:
        ax.axvline(index, color="tab:red", lw=0.6, alpha=0.6)
