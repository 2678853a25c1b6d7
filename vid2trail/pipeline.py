"""The one loop that drives a source through reducers: decode once, feed every window.

Several windows (``--window``) share one decoding pass over the union of their ranges. Progress
reaches the caller through a plain callback, so the library never touches the terminal.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from math import gcd

import numpy as np

from .choose import DEFAULT_REJECT_K, build_filter
from .color import DEFAULT_NORMALIZE, to_output
from .errors import EmptySelectionError, SelectionPastEndError, UsageError
from .frames import Frame, SourceInfo
from .reducers import Reducer, make_reducer
from .select import (
    FrameRange,
    Position,
    Window,
    parse_position,
    past_end_error,
    resolve_window,
)
from .sources import SourceBase, frame_times, open_source

#: ``progress(frames_done, frames_total_or_None)``, called after every frame.
ProgressCallback = Callable[[int, "int | None"], None]


def decode_plan(ranges: Sequence[FrameRange]) -> FrameRange:
    """The single range to decode so that every window sees its frames.

    The union runs from the earliest start to the latest end. The decoder may skip frames
    (``step``) only when every window keeps the same phase of that step.

    Examples
    --------
    >>> decode_plan([FrameRange(10, 20, 2), FrameRange(14, 30, 2)])
    FrameRange(start=10, end=30, step=2)
    >>> decode_plan([FrameRange(10, 20, 2), FrameRange(15, 30, 2)])
    FrameRange(start=10, end=30, step=1)
    """
    start = min(r.start for r in ranges)
    end = None if any(r.end is None for r in ranges) else max(r.end for r in ranges)  # type: ignore[type-var]
    step = 0
    for r in ranges:
        step = gcd(step, r.step)
        step = gcd(step, r.start - start) if r.start != start else step
    return FrameRange(start, end, max(step, 1))


def expected_frames(plan: FrameRange, info: SourceInfo) -> int | None:
    """How many frames the plan will decode, exactly or as estimated from the source's length."""
    known = plan.count()
    total = info.frame_count
    if total is not None:
        available = max(0, -(-(total - plan.start) // plan.step))
        return available if known is None else min(known, available)
    return known


def run_reducers(
    source: SourceBase,
    ranges: Sequence[FrameRange],
    modes: Sequence[str] | str,
    progress: ProgressCallback | None = None,
    keep: Callable[[Frame], bool] | None = None,
) -> list[Reducer]:
    """Decode once and feed every window's reducer.

    Parameters
    ----------
    source : Source
        An open source.
    ranges : sequence of FrameRange
        One window per reducer.
    modes : str or sequence of str
        The mode of every window's reducer (one name applies to all).
    progress : callable, optional
        ``progress(done, total)`` after every decoded frame.
    keep : callable, optional
        ``keep(frame)`` is asked once per decoded frame, in frame order, before the frame is
        reduced; False drops it from every window (``--exclude``, ``--reject``:
        :class:`vid2trail.choose.FrameFilter`, whose flash test depends on that order).

    Returns
    -------
    list of Reducer
        In the order of ``ranges``.

    Raises
    ------
    SelectionPastEndError
        When a window received no frame because it starts after the end of the input.
    EmptySelectionError
        When ``keep`` dropped every frame of a window.

    Examples
    --------
    >>> from vid2trail.sources import open_source
    >>> with open_source("frames/") as src:  # doctest: +SKIP
    ...     [r] = run_reducers(src, [FrameRange(0, None)], "max")
    """
    names = [modes] * len(ranges) if isinstance(modes, str) else list(modes)
    reducers = [make_reducer(name) for name in names]
    plan = decode_plan(ranges)
    total = expected_frames(plan, source.info)
    pairs = list(zip(ranges, reducers, strict=True))
    single = len(pairs) == 1
    done = 0
    dropped: list[int] = []
    for frame in source.frames(plan.start, plan.end, plan.step):
        if keep is not None and not keep(frame):
            dropped.append(frame.index)
        elif single:
            reducers[0].update(frame.pixels)
        else:
            for frame_range, reducer in pairs:
                if frame_range.contains(frame.index):
                    reducer.update(frame.pixels)
        done += 1
        if progress is not None:
            progress(done, max(total, done) if total is not None else None)
    for frame_range, reducer in pairs:
        if reducer.count == 0 and any(frame_range.contains(i) for i in dropped):
            raise EmptySelectionError(
                f"every selected frame ({frame_range.label()}) was excluded or rejected as a "
                "flash: exclude fewer frames, or raise --reject-above"
            )
        if reducer.count == 0:
            raise _past_end(source, frame_range)
    return reducers


def parse_reject(value: float | str | None) -> float | None:
    """``K`` for flash rejection from ``"auto"``, ``"none"``, a number, or None (off).

    Examples
    --------
    >>> parse_reject("auto"), parse_reject("3.5"), parse_reject(None), parse_reject("none")
    (5.0, 3.5, None, None)
    """
    if value is None or value == "none":
        return None
    if value == "auto":
        return DEFAULT_REJECT_K
    try:
        k = float(value)
    except ValueError:
        raise UsageError(
            f"--reject {value!r}: use auto, none, or a number K (reject above median + K x MAD)"
        ) from None
    if not k > 0 or k != k or k == float("inf"):
        raise UsageError(f"--reject-above {value}: K must be a number above 0 (5 is a good start)")
    return k


def with_auto_window(
    source: SourceBase, window: Window, progress: ProgressCallback | None = None
) -> tuple[Window, str]:
    """Fill the unset ends of ``window`` with the night a quick scan of ``source`` finds.

    Returns the window and a one-line description of the choice for the user.

    Examples
    --------
    >>> with open_source("dusk-to-dawn.mp4") as src:  # doctest: +SKIP
    ...     window, text = with_auto_window(src, Window())
    >>> (window.start.frame, window.end.frame)  # doctest: +SKIP
    (104, 617)
    """
    from .scan import auto_window

    start, end, description = auto_window(source, progress)
    chosen = Window(
        window.start or Position(frame=start, text=str(start)),
        window.end or Position(frame=end, text=str(end)),
    )
    return chosen, description


def _past_end(source: SourceBase, frame_range: FrameRange) -> SelectionPastEndError:
    counter = getattr(source, "count_frames", None)
    info = source.info
    if callable(counter):
        count, seconds = counter()
        info = SourceInfo(**{**info.__dict__, "frame_count": count, "frame_count_exact": True,
                             "duration_s": seconds or info.duration_s})  # fmt: skip
    return past_end_error(frame_range.start, info)


def resolve_windows(
    windows: Sequence[Window], source: SourceBase, step: int = 1
) -> list[FrameRange]:
    """Resolve windows against a source, with the frames' real times when a window uses times.

    Examples
    --------
    >>> with open_source("clip.mp4") as src:  # doctest: +SKIP
    ...     resolve_windows([Window.parse("2s:4s")], src)
    [FrameRange(start=50, end=100, step=1)]
    """
    times = frame_times(source) if any(w.uses_time() for w in windows) else None
    return [resolve_window(w, source.info, step, times) for w in windows]


def render(
    reducer: Reducer,
    *,
    out_dtype: np.dtype | type,
    normalize: str | None = None,
    gain: float = 1.0,
) -> np.ndarray:
    """A reducer's result as an image of ``out_dtype``, normalized and exposed.

    ``normalize`` None picks the mode's default (:data:`vid2trail.color.DEFAULT_NORMALIZE`).

    Examples
    --------
    >>> from vid2trail.reducers import MaxReducer
    >>> r = MaxReducer(); r.update(np.full((1, 1, 3), 200, np.uint8))
    >>> render(r, out_dtype=np.uint8).ravel().tolist()
    [200, 200, 200]
    """
    chosen = DEFAULT_NORMALIZE.get(reducer.name, "none") if normalize is None else normalize
    return to_output(
        reducer.result(), linear=reducer.linear, out_dtype=out_dtype, normalize=chosen, gain=gain
    )


def stack(
    path: str | os.PathLike[str],
    mode: str = "max",
    start: int | str | None = None,
    end: int | str | None = None,
    step: int = 1,
    *,
    normalize: str | None = None,
    gain: float = 1.0,
    dtype: np.dtype | type | None = None,
    backend: str = "auto",
    progress: ProgressCallback | None = None,
    stream: int | None = None,
    hdr: str = "tonemap",
    reject: float | str | None = None,
    exclude: Sequence[str] | str = (),
) -> np.ndarray:
    """Stack a video, folder or glob into one long-exposure image.

    Parameters
    ----------
    path : str or PathLike
        A video file, a folder of images, or a glob such as ``"night/*.jpg"``.
    mode : {"max", "min", "mean", "sum"}
        ``max`` lightens (star trails), ``min`` darkens, ``mean`` averages in linear light,
        ``sum`` adds light (normalized to ``p99.5`` by default).
    start, end : int or str, optional
        Frame number (``120``) or time (``"90s"``, ``"2:00"``); half-open ``start <= f < end``.
        ``"auto"`` (either) stacks the night a quick scan finds
        (:func:`vid2trail.night.choose_night`); a value given for the other end wins.
    step : int
        Keep every ``step``-th frame.
    normalize : str, optional
        ``"none"``, ``"max"`` or a percentile like ``"p99.5"`` mapped to white; default per mode.
    gain : float
        Multiplies linear light before output.
    dtype : dtype, optional
        Output dtype: uint8, uint16, float32 or float64 (sRGB-encoded in ``[0, 1]``). Default:
        the source's own depth.
    backend : {"auto", "ffmpeg", "opencv"}
        Video decoder.
    progress : callable, optional
        ``progress(done, total)`` after every frame.
    stream : int, optional
        Video stream number (counting video streams from 0); default: the file's default.
    hdr : {"tonemap", "keep"}
        HDR video: tone-map to SDR BT.709 (default) or keep the signal as coded.
    reject : float or "auto", optional
        Drop flash frames brighter than the running median + K x MAD (``"auto"``: K = 5).
    exclude : str or sequence of str
        Frames to drop, e.g. ``"300-320,1200"`` (inclusive ranges; times allowed).

    Returns
    -------
    numpy.ndarray
        ``H x W x 3`` RGB, or ``H x W x 1`` for grayscale sources.

    Examples
    --------
    >>> import vid2trail
    >>> image = vid2trail.stack("iss.mp4", mode="max", start=120, end=900)  # doctest: +SKIP
    >>> image.shape, image.dtype  # doctest: +SKIP
    ((1080, 1920, 3), dtype('uint8'))
    """
    if isinstance(step, bool) or not isinstance(step, int):
        raise UsageError(f"step {step!r} must be a whole number of frames")
    auto = "auto" in (start, end)
    window = Window(
        parse_position(str(start), "start") if start not in (None, "auto") else None,
        parse_position(str(end), "end") if end not in (None, "auto") else None,
    )
    make_reducer(mode)
    reject_k = parse_reject(reject)
    excludes = [exclude] if isinstance(exclude, str) else list(exclude)
    with open_source(path, backend=backend, stream=stream, hdr=hdr) as source:
        if auto:
            window = with_auto_window(source, window)[0]
        [frame_range] = resolve_windows([window], source, step)
        keep = build_filter(source, frame_range, reject_k=reject_k, exclude=excludes)
        [reducer] = run_reducers(source, [frame_range], mode, progress, keep)
        out = source.info.dtype if dtype is None else dtype
        return render(reducer, out_dtype=out, normalize=normalize, gain=gain)
