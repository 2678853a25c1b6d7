"""The one loop that drives a source through reducers: decode once, feed every window.

Several windows (``--window``) share one decoding pass over the union of their ranges. Progress
reaches the caller through a plain callback, so the library never touches the terminal.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from math import gcd
from typing import TYPE_CHECKING, Any

import numpy as np

from .choose import DEFAULT_REJECT_K, build_filter
from .color import DEFAULT_NORMALIZE, check_gain, to_output
from .errors import EmptySelectionError, SelectionPastEndError, UsageError
from .frames import Frame, SourceInfo
from .median import DEFAULT_MEMORY_BYTES, parse_size
from .parallel import (
    can_split,
    default_threads,
    default_workers,
    parallel_safe,
    reduce_in_threads,
    reduce_segments,
    split_range,
)
from .reducers import MeanReducer, Reducer, SumReducer, make_reducer
from .select import (
    FrameRange,
    Position,
    Window,
    parse_position,
    past_end_error,
    resolve_window,
)
from .sources import SourceBase, frame_times, open_source

if TYPE_CHECKING:
    from .calibrate import Calibration

#: ``progress(frames_done, frames_total_or_None)``, called after every frame.
ProgressCallback = Callable[[int, "int | None"], None]
#: Called with every decoded frame after the reducers took it (the trail video is one).
FrameSink = Callable[[Frame], None]


def check_workers(workers: int | None) -> int:
    """Validate ``workers``; None becomes :func:`~vid2trail.parallel.default_workers`.

    Examples
    --------
    >>> check_workers(3)
    3
    """
    if workers is None:
        return default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UsageError(f"--workers {workers!r}: give a whole number of processes, 1 or more")
    return workers


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


def expected_frames(
    plan: FrameRange, info: SourceInfo, source: SourceBase | None = None
) -> int | None:
    """How many frames the plan will decode, exactly or as estimated from the source's length.

    A ``source`` that decodes only keyframes (a preview) counts its keyframes in the plan.
    """
    if source is not None and getattr(source, "keyframes_only", False):
        return len([k for k in source.keyframes_in(plan.start, plan.end) if plan.contains(k)])  # type: ignore[attr-defined]
    known = plan.count()
    total = info.frame_count
    if total is not None:
        available = max(0, -(-(total - plan.start) // plan.step))
        return available if known is None else min(known, available)
    return known


def run_reducers(
    source: SourceBase,
    ranges: Sequence[FrameRange],
    modes: Sequence[str | Reducer] | str,
    progress: ProgressCallback | None = None,
    keep: Callable[[Frame], bool] | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    calibration: Calibration | None = None,
    workers: int = 1,
    sinks: Sequence[FrameSink] = (),
) -> list[Reducer]:
    """Decode once (once per pass for the multi-pass modes) and feed every window's reducer.

    With ``workers`` above 1, one window of a video that seeks exactly is cut into segments
    reduced in parallel processes (:mod:`vid2trail.parallel`); several windows share one pass in
    this process, as the point of ``--window`` is to decode once. (A folder decodes in threads
    instead: see ``threads`` of :func:`~vid2trail.sources.open_source`.)

    Parameters
    ----------
    source : Source
        An open source.
    ranges : sequence of FrameRange
        One window per reducer.
    modes : str or sequence of str or Reducer
        The mode of every window's reducer (one name applies to all), or reducers to feed.
    progress : callable, optional
        ``progress(done, total)`` after every decoded frame, counted over all passes.
    keep : callable, optional
        ``keep(frame)`` is asked once per decoded frame, in frame order, before the frame is
        reduced; False drops it from every window (``--exclude``, ``--reject``:
        :class:`vid2trail.choose.FrameFilter`, whose flash test depends on that order). It is
        asked in the first pass only; later passes drop the same frames.
    params : mapping, optional
        Reducer options (``kappa``, ``iterations``, ``memory_bytes``, ``buffers``, ``argmax``);
        see :func:`~vid2trail.reducers.make_reducer`.
    calibration : Calibration, optional
        Dark subtraction and hot-pixel repair applied to every frame before the reducers see it;
        a hot-pixel survey runs first over a sample of the frames when it needs one.
    workers : int
        Processes for one window of a video (see :mod:`vid2trail.parallel`); 1 runs everything
        in this process. Only single-pass modes that combine exactly (max, min, mean, sum)
        without ``keep`` or ``calibration`` split; the others run here whatever ``workers`` says.
    sinks : sequence of callable
        ``sink(frame)`` for every frame the reducers took in the first pass, right after they
        took it (the trail video): kept frames only, with calibration applied. The frame's buffer
        may be reused afterwards.

    Returns
    -------
    list of Reducer
        In the order of ``ranges``, finished (a median is computed and its disk cache removed).

    Raises
    ------
    SelectionPastEndError
        When a window received no frame because it starts after the end of the input.

    Examples
    --------
    >>> from vid2trail.sources import open_source
    >>> with open_source("frames/") as src:  # doctest: +SKIP
    ...     [r] = run_reducers(src, [FrameRange(0, None)], "max")
    """
    names = [modes] * len(ranges) if isinstance(modes, str) else list(modes)
    reducers = [make_reducer(m, **(params or {})) if isinstance(m, str) else m for m in names]
    plan = decode_plan(ranges)
    total = expected_frames(plan, source.info, source)
    passes = max(getattr(r, "passes", 1) for r in reducers)
    pairs = list(zip(ranges, reducers, strict=True))
    splittable = len(pairs) == 1 and not sinks and isinstance(names[0], str)
    if splittable and keep is None and calibration is None and parallel_safe(reducers[0]):
        split = _run_split(source, plan, names[0], dict(params or {}), workers, progress, total)
        if split is not None:
            if split.count == 0:
                raise _past_end(source, ranges[0])
            return [split]
    try:
        if calibration is not None:
            calibration.prepare(source, plan, total)
        for frame_range, reducer in pairs:
            expect = getattr(reducer, "expect", None)
            if callable(expect):
                count = frame_range.count()
                known = total if count is None else min(count, total or count)
                dtype = source.info.dtype
                if calibration is not None:
                    dtype = calibration.frame_dtype(dtype)
                expect(known, source.info.shape, dtype)
        done = 0
        grand_total = None if total is None else total * passes
        dropped: list[int] = []
        for k in range(passes):
            active = [(fr, r) for fr, r in pairs if getattr(r, "passes", 1) > k]
            for _, reducer in active:
                begin = getattr(reducer, "begin_pass", None)
                if callable(begin):
                    begin(k)
            feed = _Pass(source, plan, active, calibration, keep if k == 0 else None, dropped)
            feed.sinks = sinks if k == 0 else ()
            done = feed.run(progress, done, grand_total)
            if k == 0:
                _check_counts(source, pairs, dropped)
        for reducer in reducers:
            finish = getattr(reducer, "finish", None)
            if callable(finish):
                finish()
    except BaseException:
        for reducer in reducers:
            close = getattr(reducer, "close", None)
            if callable(close):
                close()
        raise
    return reducers


def _run_split(
    source: SourceBase,
    plan: FrameRange,
    mode: str,
    params: dict[str, Any],
    workers: int,
    progress: ProgressCallback | None,
    total: int | None,
) -> Reducer | None:
    """One window cut into segments: processes for a video, threads for a folder; None when
    the input is too short to split, or cannot be."""
    if total is None:
        return None
    if getattr(source, "keyframes_only", False) and plan.step == 1:
        return _run_keyframes_split(source, plan, mode, params, progress, total)
    if workers > 1 and can_split(source, source.info):
        if not source.info.frame_count_exact and frame_times(source):
            # The estimate counts a longer audio track too, which would leave workers idle
            # (and the progress total wrong): one demux pass gives the real count.
            total = expected_frames(plan, source.info, source) or total
        segments = split_range(plan, total, workers)
        if len(segments) > 1:
            part = copy.copy(source)
            # Share the cores: each process's decoder gets its slice of them.
            part.decoder_threads = max(1, (os.cpu_count() or 1) // len(segments))  # type: ignore[attr-defined]
            return reduce_segments(part, segments, mode, progress, total, params)
    threads = getattr(source, "threads", 1)
    if threads > 1 and source.info.backend == "images":
        segments = split_range(plan, total, threads, min_frames=4)
        if len(segments) > 1:
            single = copy.copy(source)
            single.threads = 1  # type: ignore[attr-defined]
            return reduce_in_threads(single, segments, mode, progress, total, params)
    return None


def _run_keyframes_split(
    source: SourceBase,
    plan: FrameRange,
    mode: str,
    params: dict[str, Any],
    progress: ProgressCallback | None,
    total: int | None,
) -> Reducer | None:
    """A keyframes-only preview decoded by several ffmpeg processes at once, one per core.

    Skipping to keyframes leaves ffmpeg nothing to decode in parallel (its frame threads need
    consecutive frames), so one process uses one core; cut at keyframes, each part starts with
    an exact seek to its first keyframe. Threads suffice here: each part's frames cross a pipe
    from its own ffmpeg, and the reads and the (small) stacking release the GIL.
    """
    cores = os.cpu_count() or 1
    keys = [k for k in source.keyframes_in(plan.start, plan.end) if plan.contains(k)]  # type: ignore[attr-defined]
    parts = min(cores, _PREVIEW_PROCESSES, len(keys) // _PREVIEW_MIN_KEYS_PER_PART)
    if parts < 2:
        return None
    frame_times(source)  # the seeks need the frame times: read them once, not once per part
    cuts = [keys[len(keys) * i // parts] for i in range(parts)]
    ends: list[int | None] = [*cuts[1:], plan.end]
    segments = [FrameRange(a, b, 1) for a, b in zip(cuts, ends, strict=True)]
    single = copy.copy(source)
    single.decoder_threads = 1  # type: ignore[attr-defined]
    return reduce_in_threads(single, segments, mode, progress, total, params)


#: At most this many ffmpeg processes decode a keyframes-only preview.
_PREVIEW_PROCESSES = 4
#: ... and each gets at least this many keyframes (a process costs a start-up and a seek).
_PREVIEW_MIN_KEYS_PER_PART = 8


class _Pass:
    """One decoding pass: every frame of the plan to the reducers whose window holds it."""

    def __init__(
        self,
        source: SourceBase,
        plan: FrameRange,
        pairs: list[tuple[FrameRange, Reducer]],
        calibration: Calibration | None,
        keep: Callable[[Frame], bool] | None,
        dropped: list[int],
    ) -> None:
        self.source, self.plan, self.pairs = source, plan, pairs
        self.calibration, self.keep, self.dropped = calibration, keep, dropped
        # The first pass asks keep() and records what it drops; later passes drop the same.
        self.skip = frozenset(dropped) if keep is None else frozenset()
        self.sinks: Sequence[FrameSink] = ()

    def run(self, progress: ProgressCallback | None, done: int, total: int | None) -> int:
        single = len(self.pairs) == 1
        plan = self.plan
        for frame in self.source.frames(plan.start, plan.end, plan.step):
            if self.keep is not None and not self.keep(frame):
                self.dropped.append(frame.index)
            elif frame.index not in self.skip:
                pixels = frame.pixels
                if self.calibration is not None:
                    pixels = self.calibration.apply(pixels)
                if single:
                    self.pairs[0][1].update(pixels)
                else:
                    for frame_range, reducer in self.pairs:
                        if frame_range.contains(frame.index):
                            reducer.update(pixels)
                for sink in self.sinks:
                    sink(
                        frame
                        if pixels is frame.pixels
                        else Frame(frame.index, frame.time_s, pixels)
                    )
            done += 1
            if progress is not None:
                progress(done, max(total, done) if total is not None else None)
        return done


def _check_counts(
    source: SourceBase, pairs: list[tuple[FrameRange, Reducer]], dropped: list[int]
) -> None:
    for frame_range, reducer in pairs:
        if reducer.count == 0 and any(frame_range.contains(i) for i in dropped):
            raise EmptySelectionError(
                f"every selected frame ({frame_range.label()}) was excluded or rejected as a "
                "flash: exclude fewer frames, or raise --reject-above"
            )
        if reducer.count == 0:
            raise _past_end(source, frame_range)


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


#: ``--preview`` without ``--step`` keeps about this many frames of the window.
PREVIEW_FRAMES = 300


def preview_step(frame_count: int | None, max_frames: int | None = None) -> int:
    """The ``--step`` that keeps at most ``max_frames`` of ``frame_count`` frames (1 if unknown).

    Examples
    --------
    >>> preview_step(7200), preview_step(250), preview_step(None)
    (24, 1, 1)
    """
    max_frames = max_frames or PREVIEW_FRAMES
    if not frame_count or frame_count <= max_frames:
        return 1
    return -(-frame_count // max_frames)


#: A keyframes-only preview needs at least this many keyframes in every window.
PREVIEW_MIN_KEYFRAMES = 24


def preview_ranges(source: SourceBase, windows: Sequence[Window]) -> list[FrameRange]:
    """The frames a ``--preview`` without ``--step`` stacks, for each window.

    Windows of at most :data:`PREVIEW_FRAMES` frames are stacked whole. Longer windows of a video
    whose keyframes are at least 2 frames apart, with at least :data:`PREVIEW_MIN_KEYFRAMES` of
    them in every window, stack only the keyframes: the decoder then skips every other frame
    without decoding it, which is what makes a preview of a long clip several times faster (a
    ``--step`` still decodes every frame, as each depends on the ones before). Otherwise a step
    keeps about :data:`PREVIEW_FRAMES` frames.

    Examples
    --------
    >>> from vid2trail.sources import open_source
    >>> src = open_source("phone.mp4", preview=True)  # doctest: +SKIP
    >>> preview_ranges(src, [Window(None, None)])  # doctest: +SKIP
    [FrameRange(start=0, end=None, step=1)]
    """
    ranges = resolve_windows(windows, source)
    counts = [expected_frames(r, source.info) or 0 for r in ranges]
    if max(counts) <= PREVIEW_FRAMES:
        return ranges
    keyframes = getattr(source, "keyframes_in", None)
    # Without an index (MPEG-TS) a late start is reached by counting decoded frames, which a
    # keyframes-only decode cannot do.
    seekable = getattr(source, "seekable", True) or all(r.start == 0 for r in ranges)
    if callable(keyframes) and source.info.frame_count and seekable:
        found = [len(keyframes(r.start, r.end)) for r in ranges]
        if min(found) >= PREVIEW_MIN_KEYFRAMES and 2 * max(found) <= max(counts):
            source.keyframes_only = True  # type: ignore[attr-defined]
            return ranges
    return resolve_windows(windows, source, preview_step(max(counts)))


def render(
    reducer: Reducer,
    *,
    out_dtype: np.dtype | type,
    normalize: str | None = None,
    gain: float = 1.0,
    transfer: str = "srgb",
) -> np.ndarray:
    """A reducer's result as an image of ``out_dtype``, normalized and exposed.

    ``normalize`` None picks the mode's default (:data:`vid2trail.color.DEFAULT_NORMALIZE`);
    ``transfer="linear"`` keeps float linear light (see :func:`vid2trail.color.to_output`).

    Examples
    --------
    >>> from vid2trail.reducers import MaxReducer
    >>> r = MaxReducer(); r.update(np.full((1, 1, 3), 200, np.uint8))
    >>> render(r, out_dtype=np.uint8).ravel().tolist()
    [200, 200, 200]
    """
    chosen = DEFAULT_NORMALIZE.get(reducer.name, "none") if normalize is None else normalize
    if isinstance(reducer, MeanReducer) and reducer.count:
        # The running sum, divided band by band as it is encoded: no full-size quotient (200 MB
        # for a 4K mean).
        result, divisor = SumReducer.result(reducer), float(reducer.count)
    else:
        result, divisor = reducer.result(), 1.0
    return to_output(
        result,
        divisor=divisor,
        linear=reducer.linear,
        out_dtype=out_dtype,
        normalize=chosen,
        gain=gain,
        transfer=transfer,
    )


def provenance(
    info: SourceInfo,
    frame_range: FrameRange,
    reducer: Reducer,
    *,
    options: Mapping[str, Any] | None = None,
    calibration: Calibration | None = None,
) -> dict[str, Any]:
    """What made a still: source, frames, mode, options, calibration and the vid2trail version.

    Written into the still (PNG text, TIFF tags, FITS cards) and, with ``--sidecar``, beside it.

    Examples
    --------
    >>> from vid2trail.reducers import MaxReducer
    >>> info = SourceInfo("a.mp4", 4, 4, 3, np.dtype(np.uint8), 25.0, 2.0, 50, False)
    >>> r = MaxReducer(); r.update(np.zeros((4, 4, 3), np.uint8))
    >>> meta = provenance(info, FrameRange(0, 50), r)
    >>> meta["mode"], meta["frames_used"], meta["software"].split()[0]
    ('max', 1, 'vid2trail')
    """
    from . import __version__

    meta: dict[str, Any] = {
        "software": f"vid2trail {__version__}",
        "source": info.path,
        "source_absolute": os.path.abspath(info.path),
        "source_size": f"{info.width}x{info.height}",
        "source_bits": info.bits_per_sample,
        "mode": reducer.name,
        "frames_used": reducer.count,
        "start": frame_range.start,
        "end": frame_range.end,
        "step": frame_range.step,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    for name in ("kappa", "iterations", "memory_bytes", "buffers"):
        if hasattr(reducer, name):
            meta[name] = getattr(reducer, name)
    if calibration is not None:
        meta["dark"] = calibration.dark_path
        meta["hot_pixels_fixed"] = calibration.hot_pixel_count
    meta.update({k: v for k, v in (options or {}).items() if v is not None})
    if options is not None and "normalize" in options and options["normalize"] is None:
        # None stands for the mode's default, which did scale the light (sum: p99.5).
        meta["normalize"] = DEFAULT_NORMALIZE.get(reducer.name, "none")
    if info.notes:
        # What the decoder did to the pixels, e.g. HDR kept as linear light (1.0 = 203 cd/m2).
        meta["decoding"] = "; ".join(info.notes)
    return meta


def stack(
    path: str | os.PathLike[str],
    mode: str = "max",
    start: int | str | None = None,
    end: int | str | None = None,
    step: int | None = None,
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
    kappa: float = 3.0,
    iterations: int | None = None,
    memory: int | str = DEFAULT_MEMORY_BYTES,
    dark: str | os.PathLike[str] | np.ndarray | None = None,
    hot_pixels: bool = False,
    buffers: int = 4,
    workers: int | None = None,
    preview: bool = False,
    hwaccel: str = "none",
) -> np.ndarray:
    """Stack a video, folder or glob into one long-exposure image.

    Parameters
    ----------
    path : str or PathLike
        A video file, a folder of images, or a glob such as ``"night/*.jpg"``.
    mode : {"max", "min", "mean", "sum", "sigma", "winsor", "median", "maxmean"}
        ``max`` lightens (star trails), ``min`` darkens, ``mean`` averages in linear light,
        ``sum`` adds light (normalized to ``p99.5`` by default), ``sigma`` and ``winsor`` average
        while rejecting or clamping outliers (planes, satellites), ``median`` is the exact median,
        ``maxmean`` averages ``buffers`` round-robin max stacks (a quieter max for noisy video).
    start, end : int or str, optional
        Frame number (``120``) or time (``"90s"``, ``"2:00"``); half-open ``start <= f < end``.
        ``"auto"`` (either) stacks the night a quick scan finds
        (:func:`vid2trail.night.choose_night`); a value given for the other end wins.
    step : int, optional
        Keep every ``step``-th frame. Default 1, or for a preview the step that keeps about
        :data:`PREVIEW_FRAMES` frames (see :func:`preview_ranges`).
    normalize : str, optional
        ``"none"``, ``"max"`` or a percentile like ``"p99.5"`` mapped to white; default per mode.
    gain : float
        Multiplies linear light before output.
    dtype : dtype, optional
        Output dtype: uint8, uint16, float32 or float64 (sRGB-encoded in ``[0, 1]``). Default:
        the source's own depth.
    backend : {"auto", "pyav", "ffmpeg"}
        Video decoder (all three: FFmpeg's libraries, in-process through PyAV).
    progress : callable, optional
        ``progress(done, total)`` after every frame.
    stream : int, optional
        Video stream number (counting video streams from 0); default: the file's default.
    hdr : {"tonemap", "keep"}
        HDR video: tone-map to SDR BT.709 (default) or keep it as float linear light.
    reject : float or "auto", optional
        Drop flash frames brighter than the running median + K x MAD (``"auto"``: K = 5).
    exclude : str or sequence of str
        Frames to drop, e.g. ``"300-320,1200"`` (inclusive ranges; times allowed).
    kappa, iterations : float, int
        Rejection threshold (standard deviations) and passes of ``sigma`` and ``winsor``
        (None: 1 for sigma, 2 for winsor).
    memory : int or str
        Memory bound of ``median`` in bytes, or a size such as ``"500MB"``; beyond it frames are
        cached on disk under the temporary folder.
    dark : path or numpy.ndarray, optional
        Master dark (see :func:`vid2trail.calibrate.load_dark`), subtracted in linear light.
    hot_pixels : bool
        Find hot pixels in a survey of the frames and repair them before stacking.
    buffers : int
        Max stacks that ``maxmean`` feeds round-robin and averages.
    workers : int, optional
        Processes for a video (threads for a folder). Default: 1 process for a video (the
        command line's default is :func:`vid2trail.parallel.default_workers`), and
        :func:`vid2trail.parallel.default_threads` threads for a folder. Worker processes are
        started with ``spawn``, so a script that asks for them must keep its top-level code
        under ``if __name__ == "__main__":``, as :mod:`multiprocessing` requires.
    preview : bool
        A quick small result: frames at most :data:`vid2trail.sources.PREVIEW_SIDE` pixels on
        the longer side, scaled inside the decoder.

    hwaccel : {"none", "auto", "cuda"}
        Decode on an NVIDIA GPU (NVDEC); ``auto`` falls back to software decoding.
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
    if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 1):
        raise UsageError(f"step {step!r} must be a whole number of frames, 1 or more")
    threads = workers if workers is not None else default_threads()
    # Processes only on request: spawning needs the caller's main-module guard.
    workers = check_workers(workers) if workers is not None else 1
    auto = "auto" in (start, end)
    window = Window(
        parse_position(str(start), "start") if start not in (None, "auto") else None,
        parse_position(str(end), "end") if end not in (None, "auto") else None,
    )
    memory_bytes = parse_size(memory)
    params = {"kappa": kappa, "iterations": iterations, "memory_bytes": memory_bytes,
              "buffers": buffers}  # fmt: skip
    make_reducer(mode, **params)
    check_gain(gain)
    calibration = make_calibration(dark, hot_pixels, memory_bytes)
    reject_k = parse_reject(reject)
    excludes = [exclude] if isinstance(exclude, str) else list(exclude)
    with open_source(
        path,
        backend=backend,
        stream=stream,
        hdr=hdr,
        preview=preview,
        threads=threads,
        hwaccel=hwaccel,
    ) as source:
        if auto:
            window = with_auto_window(source, window)[0]
        if step is None and preview:
            [frame_range] = preview_ranges(source, [window])
        else:
            [frame_range] = resolve_windows([window], source, step or 1)
        keep = build_filter(source, frame_range, reject_k=reject_k, exclude=excludes)
        [reducer] = run_reducers(
            source, [frame_range], mode, progress, keep, params=params, calibration=calibration,
            workers=workers,
        )  # fmt: skip
        out = source.info.dtype if dtype is None else dtype
        return render(reducer, out_dtype=out, normalize=normalize, gain=gain)


def argmax_image(
    reducer: Reducer, frame_range: FrameRange, dropped: Iterable[int] = ()
) -> np.ndarray:
    """The source frame number that supplied each pixel of a max stack, as ``H x W`` integers.

    uint16 while every frame number fits (below 65536), else uint32 (write it as .tif or .npy).
    ``dropped`` are the frame numbers the stack left out (``--exclude``, ``--reject``): the
    reducer counts only the frames it took, so they are skipped when counting positions.

    Examples
    --------
    >>> from vid2trail.reducers import ArgmaxReducer
    >>> r = ArgmaxReducer()
    >>> for v in (3, 9, 5):
    ...     r.update(np.full((1, 1, 1), v, np.uint8))
    >>> argmax_image(r, FrameRange(100, 106, 2)).tolist()
    [[102]]
    """
    argmax = getattr(reducer, "argmax", None)
    if not callable(argmax):
        raise UsageError(f"--argmax needs --mode max, not --mode {reducer.name}")
    positions = argmax().astype(np.int64)
    gone = {i for i in dropped if frame_range.contains(i)}
    if gone:
        stacked: list[int] = []
        index = frame_range.start
        while len(stacked) < reducer.count:
            if index not in gone:
                stacked.append(index)
            index += frame_range.step
        frames = np.array(stacked, np.int64)[positions]
    else:
        frames = frame_range.start + frame_range.step * positions
    return frames.astype(np.uint16 if frames.max(initial=0) <= 65535 else np.uint32)


def make_calibration(
    dark: str | os.PathLike[str] | np.ndarray | None,
    hot_pixels: bool,
    memory_bytes: int = DEFAULT_MEMORY_BYTES,
) -> Calibration | None:
    """A :class:`~vid2trail.calibrate.Calibration` for the options given, or None when none is.

    Examples
    --------
    >>> make_calibration(None, False) is None
    True
    """
    if dark is None and not hot_pixels:
        return None
    from .calibrate import Calibration, load_dark

    if dark is None or isinstance(dark, np.ndarray):
        return Calibration(dark, hot_pixels=hot_pixels)
    master = load_dark(dark, memory_bytes)
    return Calibration(master, hot_pixels=hot_pixels, dark_path=os.fspath(dark))
