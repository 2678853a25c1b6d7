"""The one loop that drives a source through reducers: decode once, feed every window.

Several windows (``--window``) share one decoding pass over the union of their ranges
(:func:`vid2trail.plan.decode_plan`). Frame sinks (the trail video) see every frame the reducers
took. Progress reaches the caller through a plain callback, so the library never touches the
terminal. :func:`vid2trail.orchestrator.run` is the one caller that builds all of this from a job.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .errors import EmptySelectionError, SelectionPastEndError, option
from .frames import Frame
from .parallel import can_split, parallel_safe, reduce_in_threads, reduce_segments
from .plan import decode_plan, expected_frames
from .reducers import Reducer, make_reducer
from .segments import split_range
from .select import FrameRange, past_end_error
from .sources import SourceBase

if TYPE_CHECKING:
    import numpy as np

    from .calibrate import Calibration

#: ``progress(frames_done, frames_total_or_None)``, called after every frame.
ProgressCallback = Callable[[int, "int | None"], None]


@runtime_checkable
class FrameWarp(Protocol):
    """A per-frame transform after the calibration, before the reducers and sinks: the sky moved
    onto a reference (:class:`vid2trail.align.AlignSky`) or a gap filled
    (:class:`vid2trail.gaps.FillGaps`)."""

    #: True when a frame's result depends on the frames before it (fed in order, in one pass).
    in_order: bool

    def __call__(self, index: int, pixels: np.ndarray) -> np.ndarray:
        """Frame ``index`` transformed; ``pixels`` is left as it is."""

    def close(self) -> None:
        """Let go of any helper the transform started; called once the frames are done."""


@runtime_checkable
class FrameSink(Protocol):
    """What sees every frame the reducers took in the first pass: the trail video (and, later,
    the keogram). :func:`run_reducers` calls the sink; the orchestrator finishes or aborts it."""

    def __call__(self, frame: Frame) -> None:
        """Take one calibrated, kept frame; its buffer may be reused afterwards."""

    def progress(self, callback: ProgressCallback | None) -> ProgressCallback | None:
        """Wrap the decode progress so that it also counts this sink's own work."""

    def finish(self, progress: ProgressCallback | None = None) -> Path:
        """Complete the output after the last frame and return its path."""

    def abort(self) -> None:
        """Drop the unfinished output; safe to call more than once."""


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
    cluster: Any = None,
    warp: FrameWarp | None = None,
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
    cluster : distributed.Client, optional
        Run one window on this Dask cluster (:mod:`vid2trail.segments`): every mode but the
        median, with calibration, and without ``keep`` or ``sinks``; anything else runs here.
    sinks : sequence of callable
        ``sink(frame)`` for every frame the reducers took in the first pass, right after they
        took it (the trail video): kept frames only, with calibration applied. The frame's buffer
        may be reused afterwards.
    warp : FrameWarp, optional
        Applied to every kept frame after the calibration (``--align``, ``--fill-gaps``). One
        whose ``in_order`` is set keeps the whole window in this process, in one pass.

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
    total = expected_frames(plan, source.known_info(), source)
    passes = max(r.passes for r in reducers)
    if "planes" in source.settings and _planes_will_do(reducers, keep, calibration, sinks, warp):
        source = source.configured(planes=True)  # a copy: only for a source that has planes
    pairs = list(zip(ranges, reducers, strict=True))
    splittable = len(pairs) == 1 and not sinks and isinstance(names[0], str)
    splittable = splittable and (warp is None or not warp.in_order)
    if cluster is not None and splittable and keep is None and cluster_safe(reducers[0]):
        return [_run_on_cluster(cluster, source, plan, names[0], dict(params or {}), calibration,
                                progress, total, ranges[0], warp)]  # fmt: skip
    if splittable and keep is None and calibration is None and parallel_safe(reducers[0]):
        split = _run_split(source, plan, names[0], dict(params or {}), workers, progress, total,
                           warp)  # fmt: skip
        if split is not None:
            if split.count == 0:
                raise _past_end(source, ranges[0])
            return [split]
    try:
        if calibration is not None:
            calibration.prepare(source, plan, total)
        for frame_range, reducer in pairs:
            count = frame_range.count()
            known = total if count is None else min(count, total or count)
            dtype = source.info.dtype
            if calibration is not None:
                dtype = calibration.frame_dtype(dtype)
            reducer.expect(known, source.info.shape, dtype)
        done = 0
        grand_total = None if total is None else total * passes
        dropped: list[int] = []
        for k in range(passes):
            active = [(fr, r) for fr, r in pairs if r.passes > k]
            for _, reducer in active:
                reducer.begin_pass(k)
            first = k == 0
            feed = _Pass(source, plan, active, calibration, keep if first else None, dropped,
                         sinks if first else (), warp)  # fmt: skip
            done = feed.run(progress, done, grand_total)
            if k == 0:
                _check_counts(source, pairs, dropped)
        for reducer in reducers:
            reducer.finish()
    except BaseException:
        for reducer in reducers:
            reducer.close()
        raise
    finally:
        if warp is not None:
            warp.close()
    return reducers


def _planes_will_do(
    reducers: Sequence[Reducer],
    keep: Callable[[Frame], bool] | None,
    calibration: Calibration | None,
    sinks: Sequence[FrameSink],
    warp: FrameWarp | None,
) -> bool:
    """Whether every frame goes to the reducers alone, and each of them takes
    :class:`~vid2trail.frames.Planes` (the extremum modes): the source may then deliver them,
    converting 20-40% faster. Flash tests, calibration, warps and the trail video want frames
    whole."""
    alone = keep is None and calibration is None and warp is None and not sinks
    return alone and all(r.takes_planes for r in reducers)


def cluster_safe(reducer: Reducer) -> bool:
    """True for the reducers a cluster can split: every mode but the median, whose partial
    states are its frames.

    Examples
    --------
    >>> cluster_safe(make_reducer("sigma")), cluster_safe(make_reducer("median"))
    (True, False)
    """
    return reducer.name != "median"


def _run_on_cluster(
    client: Any,
    source: SourceBase,
    plan: FrameRange,
    mode: str,
    params: dict[str, Any],
    calibration: Calibration | None,
    progress: ProgressCallback | None,
    total: int | None,
    frame_range: FrameRange,
    warp: FrameWarp | None = None,
) -> Reducer:
    """One window on the cluster: the calibration's survey here first, then the segments."""
    from .segments import stack_on_cluster

    if total is None or not source.known_info().frame_count_exact:
        total = expected_frames(plan, source.exact_info(), source) or 0
    if calibration is not None:
        calibration.prepare(source, plan, total)
    source.release()  # the workers decode: nothing here need stay open
    reducer = stack_on_cluster(client, source, plan, total, mode, params,
                               calibration=calibration, progress=progress, warp=warp)  # fmt: skip
    if reducer.count == 0:
        raise _past_end(source, frame_range)
    return reducer


def _run_split(
    source: SourceBase,
    plan: FrameRange,
    mode: str,
    params: dict[str, Any],
    workers: int,
    progress: ProgressCallback | None,
    total: int | None,
    warp: FrameWarp | None = None,
) -> Reducer | None:
    """One window cut into segments: processes for a video, threads for a folder; None when
    the input is too short to split, or cannot be."""
    if total is None:
        return None
    if source.keyframes_only and plan.step == 1:
        return _run_keyframes_split(source, plan, mode, params, progress, total, warp)
    if workers > 1 and can_split(source, source.known_info()):
        if not source.known_info().frame_count_exact and source.frame_times():
            # The estimate counts a longer audio track too, which would leave workers idle
            # (and the progress total wrong): one demux pass gives the real count.
            total = expected_frames(plan, source.exact_info(), source) or total
        segments = split_range(plan, total, workers)
        if len(segments) > 1:
            # Share the cores: each process's decoder gets its slice of them.
            part = source.configured(decoder_threads=max(1, (os.cpu_count() or 1) // len(segments)))
            source.release()  # the worker processes decode: nothing here need stay open
            return reduce_segments(part, segments, mode, progress, total, params, warp=warp)
    threads = source.threads
    if threads > 1 and source.info.backend == "images":
        segments = split_range(plan, total, threads, min_frames=4)
        if len(segments) > 1:
            single = source.configured(threads=1)
            return reduce_in_threads(single, segments, mode, progress, total, params, warp)
    return None


def _run_keyframes_split(
    source: SourceBase,
    plan: FrameRange,
    mode: str,
    params: dict[str, Any],
    progress: ProgressCallback | None,
    total: int | None,
    warp: FrameWarp | None = None,
) -> Reducer | None:
    """A keyframes-only preview decoded by several single-threaded decoders at once, one per core.

    Cut at keyframes, each part starts with an exact seek to its first keyframe; threads suffice,
    as decoding and the (small) stacking release the GIL. (This design dates from the ffmpeg
    pipe, where a keyframes-only decode used one core. One PyAV decoder's frame threads decode
    independent keyframes in parallel too: on two cores both measured the same, 1.55 against
    1.59 s for the noisy benchmark clip's preview.)
    """
    cores = os.cpu_count() or 1
    keys = [k for k in source.keyframes_in(plan.start, plan.end) or () if plan.contains(k)]
    parts = min(cores, _PREVIEW_PROCESSES, len(keys) // _PREVIEW_MIN_KEYS_PER_PART)
    if parts < 2:
        return None
    source.frame_times()  # the seeks need the frame times: read them once, not once per part
    cuts = [keys[len(keys) * i // parts] for i in range(parts)]
    ends: list[int | None] = [*cuts[1:], plan.end]
    segments = [FrameRange(a, b, 1) for a, b in zip(cuts, ends, strict=True)]
    single = source.configured(decoder_threads=1)
    return reduce_in_threads(single, segments, mode, progress, total, params, warp)


#: At most this many decoders (threads) decode a keyframes-only preview.
_PREVIEW_PROCESSES = 4
#: ... and each gets at least this many keyframes (a decoder costs an opening and a seek).
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
        sinks: Sequence[FrameSink] = (),
        warp: FrameWarp | None = None,
    ) -> None:
        self.source, self.plan, self.pairs, self.warp = source, plan, pairs, warp
        self.calibration, self.keep, self.dropped = calibration, keep, dropped
        # The first pass asks keep() and records what it drops; later passes drop the same.
        self.skip = frozenset(dropped) if keep is None else frozenset()
        self.sinks = sinks

    def run(self, progress: ProgressCallback | None, done: int, total: int | None) -> int:
        for frame in self.source.frames(self.plan.start, self.plan.end, self.plan.step):
            self._take(frame)
            done += 1
            if progress is not None:
                progress(done, max(total, done) if total is not None else None)
            # Let go of the frame before the next one decodes, so that its buffer can be reused
            # (a 4K RGB frame is 25 MB: a 4K max peaked 20-30 MB higher while it was held).
            del frame
        return done

    def _take(self, frame: Frame) -> None:
        """One frame through the keep test, the calibration, the warp, the reducers, the sinks."""
        if self.keep is not None and not self.keep(frame):
            self.dropped.append(frame.index)
            return
        if frame.index in self.skip:
            return
        pixels = frame.pixels
        if self.calibration is not None:
            pixels = self.calibration.apply(pixels)
        if self.warp is not None:
            pixels = self.warp(frame.index, pixels)
        if len(self.pairs) == 1:
            self.pairs[0][1].update(pixels)
        else:
            for frame_range, reducer in self.pairs:
                if frame_range.contains(frame.index):
                    reducer.update(pixels)
        for sink in self.sinks:
            sink(frame if pixels is frame.pixels else Frame(frame.index, frame.time_s, pixels))


def _check_counts(
    source: SourceBase, pairs: list[tuple[FrameRange, Reducer]], dropped: list[int]
) -> None:
    for frame_range, reducer in pairs:
        if reducer.count == 0 and any(frame_range.contains(i) for i in dropped):
            raise EmptySelectionError(
                f"every selected frame ({frame_range.label()}) was excluded or rejected as a "
                f"flash: exclude fewer frames, or raise {option('reject_above')}"
            )
        if reducer.count == 0:
            raise _past_end(source, frame_range)


def _past_end(source: SourceBase, frame_range: FrameRange) -> SelectionPastEndError:
    # Said with the counted length: one demux pass counts a video's frames (0 for a raw stream
    # whose packets carry no times).
    info = source.known_info()
    counted = source.count_frames()
    if counted is not None:
        count, seconds = counted
        info = replace(info, frame_count=count, frame_count_exact=True,
                       duration_s=seconds or info.duration_s)  # fmt: skip
    return past_end_error(frame_range.start, info)
