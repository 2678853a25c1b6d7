"""The one orchestrator: :func:`run` carries out a :class:`~vid2trail.job.StackJob`.

Source, selection, reducers, writers, in that order:

1. validate the job (:meth:`~vid2trail.job.StackJob.validate`) and open the source
   (:func:`vid2trail.sources.open_source`);
2. find the night for ``auto`` windows (:func:`vid2trail.plan.with_auto_window`) and resolve the
   windows to frame ranges (:func:`vid2trail.plan.select_frames`);
3. check every destination (:func:`vid2trail.outputs.check_outputs`), build the frame filter
   (:func:`vid2trail.choose.build_filter`) and the calibration;
4. decode once through the reducers and the frame sinks, such as the trail video
   (:func:`vid2trail.pipeline.run_reducers`);
5. render and write the stills, sidecars and frame-number image
   (:func:`vid2trail.outputs.write_outputs`).

:func:`vid2trail.stack` and the ``vid2trail`` command both come through here. What a run says to
its user (notes, the night it chose, progress) goes to a :class:`Listener`; nothing here prints.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .calibrate import make_calibration
from .choose import build_filter
from .clock import interval_jumps, order_note
from .errors import SourceError, option
from .job import StackJob
from .keograms import WithKeogram
from .outputs import OutputPlan, check_outputs, write_outputs
from .pipeline import FrameSink, ProgressCallback, run_reducers
from .plan import Selection, select_frames, window_notes, with_auto_window
from .reducers import Reducer, make_reducer
from .select import Window
from .skyjob import PreparedSky, auto_trail_frames, prepare_sky
from .sources import PREVIEW_SIDE, SourceBase, open_source
from .sources.images import list_images

if TYPE_CHECKING:
    from .calibrate import Calibration
    from .choose import FrameFilter
    from .frames import SourceInfo
    from .select import FrameRange


class Listener(Protocol):
    """Who hears what a run has to say: the command line prints it, a library caller may not."""

    def message(self, text: str) -> None:
        """One line for the user (a note, the night chosen, frames rejected); options marked
        as :func:`vid2trail.errors.option` marks them."""

    def stage(self, label: str) -> AbstractContextManager[ProgressCallback | None]:
        """A stage of the run (``Scanning``, ``Stacking``): yields its progress callback."""

    def wrote(self, path: Path) -> None:
        """An output is in place."""


class Silent:
    """A listener that hears nothing, or only the stacking progress (``progress``).

    Examples
    --------
    >>> with Silent().stage("Stacking") as progress:
    ...     progress is None
    True
    """

    def __init__(self, progress: ProgressCallback | None = None) -> None:
        self._progress = progress

    def message(self, text: str) -> None:
        """Dropped."""

    @contextmanager
    def stage(self, label: str) -> Iterator[ProgressCallback | None]:
        """The stacking stage reports to ``progress``; the others to nobody."""
        yield self._progress if label == "Stacking" else None

    def wrote(self, path: Path) -> None:
        """Dropped."""


@dataclass(frozen=True)
class StackResult:
    """What a run made: one finished reducer per window, and the files written, in order."""

    reducers: tuple[Reducer, ...]
    ranges: tuple[FrameRange, ...]
    info: SourceInfo
    written: tuple[Path, ...] = ()


def run(
    job: StackJob, listener: Listener | None = None, *, source: SourceBase | None = None
) -> StackResult:
    """Carry out ``job``: decode its input once, stack every window, write what it asks for.

    Parameters
    ----------
    job : StackJob
        What to do; checked first (:meth:`~vid2trail.job.StackJob.validate`).
    listener : Listener, optional
        Hears notes, the night chosen, progress and the paths written; default: nobody.
    source : Source, optional
        An open source to read instead of opening ``job.input`` (left open).

    Returns
    -------
    StackResult
        The finished reducers (render one with :func:`vid2trail.outputs.render`), their frame
        ranges, the source's facts, and the paths written.

    Examples
    --------
    >>> from vid2trail.job import StackJob
    >>> result = run(StackJob("iss.mp4", still="iss-max.png"))  # doctest: +SKIP
    >>> [str(p) for p in result.written]  # doctest: +SKIP
    ['iss-max.png']
    """
    listener = listener or Silent()
    job.validate()
    workers = job.workers or 1  # checked by validate()
    opened = source is None
    if source is None:
        source = open_source(job.input, backend=job.backend, stream=job.stream, hdr=job.hdr,
                             preview=job.preview, threads=job.decoder_threads(),
                             hwaccel=job.hwaccel, sort=job.sort, raw_half=job.raw_half)  # fmt: skip
    with source if opened else nullcontext(source):
        for note in source.info.notes:
            listener.message(f"Note: {job.input}: {note}")
        inputs = _inputs(job, source)
        selection = _select(job, source, listener, inputs)
        for note in _cannot_apply(job, source, selection):
            listener.message(f"Note: {note}")
        for line in _clock_notes(job, source, selection):
            listener.message(line)
        every = source  # decodes every frame: the sky's motion is measured between neighbours
        if selection.keyframes_only:
            source = source.configured(keyframes_only=True, keyframe_step=selection.keyframe_step)
        plan = check_outputs(job, selection.ranges, source.known_info(), inputs)
        keep = build_filter(source, selection.plan(), reject_k=job.reject, exclude=job.exclude)
        if isinstance(job.dark, (str, os.PathLike)):
            source.release()  # the dark's frames decode next: the input's decoder need not wait
        calibration = make_calibration(job.dark, job.hot_pixels, job.memory)
        sky = _measure_sky(job, every, selection, listener)
        job = _trail_length(job, source, selection, listener, sky)
        with listener.stage("Stacking") as progress, _cluster(job, listener) as client:
            reducers, video = _stack(job, source, selection, plan, progress, keep, calibration,
                                     workers, client, sky)  # fmt: skip
        for line in _sky_report(sky):
            listener.message(line)
        info = source.known_info()
        clock = _keogram_clock(job, source, selection, reducers[0], keep)
    for line in keep.report() if keep is not None else []:
        listener.message(line)
    if calibration is not None and calibration.hot_pixel_count is not None:
        count = calibration.hot_pixel_count
        listener.message(f"Repaired {count} hot pixel{'' if count == 1 else 's'}.")
    written = write_outputs(job, plan, reducers, selection.ranges, info, keep=keep,
                            calibration=calibration, wrote=listener.wrote, clock=clock,
                            sky=sky.record() if sky is not None else None)  # fmt: skip
    if video is not None:
        written.append(video)
        listener.wrote(video)
    return StackResult(tuple(reducers), selection.ranges, info, tuple(written))


def _cannot_apply(job: StackJob, source: SourceBase, selection: Selection) -> list[str]:
    """Options this job gives that cannot apply here: to its mode, to a folder, to its windows."""
    notes = job.unused()
    if source.info.backend == "images":
        video_only = {
            "stream": job.stream is not None,
            "hdr": job.hdr != "tonemap",
            "hwaccel": job.hwaccel != "none",
            "backend": job.backend != "auto",
        }
        notes += [f"{option(name)} applies to video; {job.input} is images: ignored"
                  for name, given in video_only.items() if given]  # fmt: skip
        if job.raw_half and source.info.codec != "raw":
            notes.append(f"{option('raw_half')} applies to RAW files; {job.input} has none")
    else:
        folder_only = {"sort": job.sort != "name", "raw_half": job.raw_half}
        notes += [f"{option(name)} applies to folders of photos; {job.input} is a video: ignored"
                  for name, given in folder_only.items() if given]  # fmt: skip
    return notes + window_notes(selection.windows, selection.ranges, source)


def _clock_notes(job: StackJob, source: SourceBase, selection: Selection) -> list[str]:
    """For photos with capture times: a name order that is not the clock's, and the jumps in
    the capture interval (a card swap) within the frames to stack, each a gap in the trails."""
    if source.info.backend != "images" or len(source.files) < 2:
        return []
    clocks = source.clock_times()
    if clocks is None:
        return []
    plan = selection.plan()
    frames = range(plan.start, len(clocks) if plan.end is None else min(plan.end, len(clocks)),
                   plan.step)  # fmt: skip
    names = [os.path.basename(source.files[i]) for i in frames]
    times = [clocks[i] for i in frames]
    lines = []
    order = order_note(times, names) if job.sort == "name" else ""
    if order:
        lines.append(f"Note: {job.input}: {order}")
    elif times:
        lines += [f"Warning: {job.input}: {jump}" for jump in interval_jumps(times, names)]
    return lines


def _keogram_clock(
    job: StackJob,
    source: SourceBase,
    selection: Selection,
    reducer: Reducer,
    keep: FrameFilter | None,
) -> list[datetime] | None:
    """The capture time of each keogram column (for its ticks), or None where any is unknown:
    the stacked frames, which a keyframes-only preview picks among the keyframes."""
    if not isinstance(reducer, WithKeogram):
        return None
    clocks = source.clock_times()
    if clocks is None:
        return None
    frames_range = selection.ranges[0]
    dropped = [*keep.excluded, *keep.rejected] if keep is not None else []
    count = reducer.keogram.count
    if source.keyframes_only:
        gone = set(dropped)
        keys = source.keyframes_in(frames_range.start, frames_range.end) or []
        frames = [k for k in keys if frames_range.contains(k) and k not in gone][:count]
    else:
        frames = frames_range.stacked(count, dropped)
    if len(frames) != count or (frames and frames[-1] >= len(clocks)):
        return None
    return [clocks[i] for i in frames]


@contextmanager
def _cluster(job: StackJob, listener: Listener) -> Iterator[Any]:
    """The Dask client the job's one window runs on, or None: no scheduler, or a job the cluster
    cannot split (said in a note)."""
    if job.scheduler is None:
        yield None
        return
    from .cluster import check_readable, connect

    here = _runs_here(job)
    if here:
        listener.message(f"Note: {option('scheduler')}: {here}: stacking here")
        yield None
        return
    with connect(job.scheduler) as client:
        check_readable(client, job.input)
        yield client


def _runs_here(job: StackJob) -> str:
    """Why a job cannot run on a cluster, or ''."""
    if job.mode == "median":
        return "a median's partial states are its frames"
    if job.reject is not None or job.exclude:
        return f"{option('reject')} and {option('exclude')} judge frames in order"
    if job.video is not None:
        return "a trail video follows the frames in order"
    if job.sky.fill_gaps:
        return f"{option('fill_gaps')} fills each gap from the frame before it"
    if len(job.windows) > 1:
        return f"several {option('window')} values share one decoding pass"
    return ""


def _inputs(job: StackJob, source: SourceBase) -> tuple[str, ...]:
    """Every file the job reads, which no output may replace: the frames and the darks."""
    inputs = tuple(source.files)
    if isinstance(job.dark, (str, os.PathLike)):
        dark = os.fspath(job.dark)
        inputs += (dark, *list_images(dark))
    return inputs


def _select(
    job: StackJob, source: SourceBase, listener: Listener, inputs: tuple[str, ...]
) -> Selection:
    """The night for ``auto`` windows (one scan for all), then every window's frames."""
    windows = list(job.windows)
    if any(w.auto for w in windows):
        check_outputs(job, None, None, inputs)  # what it can before the scan decodes
        # One window keeps the ends it was given; several share the night of the whole input.
        base = replace(windows[0], auto=False) if len(windows) == 1 else Window()
        with listener.stage("Scanning") as progress:
            night, description = with_auto_window(source, base, progress)
        listener.message(description)
        windows = [night if w.auto else w for w in windows]
    return select_frames(source, windows, job.step, job.preview)


def _stack(
    job: StackJob,
    source: SourceBase,
    selection: Selection,
    plan: OutputPlan,
    progress: ProgressCallback | None,
    keep: FrameFilter | None,
    calibration: Calibration | None,
    workers: int,
    client: Any = None,
    sky: PreparedSky | None = None,
) -> tuple[list[Reducer], Path | None]:
    """Decode once through the reducers, and the trail video when the job asks for one."""
    params = job.reducer_params()
    warp = sky.warp if sky is not None else None
    if job.video is None:
        reducers = run_reducers(source, selection.ranges, job.mode, progress, keep, params=params,
                                calibration=calibration, workers=workers, cluster=client,
                                warp=warp)  # fmt: skip
        return reducers, None
    from .video import trail_video

    reducer = make_reducer(job.mode, **params)
    sink: FrameSink = trail_video(job.video, source.info, job.mode, reducer,
                                  normalize=job.normalize, gain=job.gain,
                                  overwrite=job.overwrite)  # fmt: skip
    try:
        reducers = run_reducers(source, selection.ranges, [reducer], sink.progress(progress),
                                keep, params=params, calibration=calibration, sinks=[sink],
                                warp=warp)  # fmt: skip
        path = sink.finish(progress)
    except BaseException:
        sink.abort()
        raise
    return reducers, path


def _measure_sky(
    job: StackJob, source: SourceBase, selection: Selection, listener: Listener
) -> PreparedSky | None:
    """The sky's motion and mask, where the job needs them. A preview's frames are small, and
    faint stars fade in them: an error measuring the sky then says so."""
    if not job.sky.needs_motion():
        return None
    try:
        return prepare_sky(job.sky, source, selection.plan(), listener.message)
    except SourceError as exc:
        if not job.preview:
            raise
        raise SourceError(
            f"{exc.message()} (with {option('preview')} the frames are at most {PREVIEW_SIDE} px, "
            f"where faint stars fade: try it without {option('preview')})"
        ) from None


def _trail_length(job: StackJob, source: SourceBase, selection: Selection, listener: Listener,
                  sky: PreparedSky | None) -> StackJob:  # fmt: skip
    """The job with its trail video's length in frames set from the sky's motion where it is
    ``auto`` (a comet's default); 30 frames, said in a note, where the motion is not known."""
    video = job.video
    if video is None or not video.auto_length():
        return job
    from .trails import DEFAULT_TRAIL_FRAMES

    frames, line = auto_trail_frames(source, selection.plan(), video.trail, video.trail_length,
                                     sky.motion if sky is not None else None)  # fmt: skip
    if frames is None:
        listener.message(f"Note: {option('trail_frames')} auto: {line}: {video.trail} trails of "
                         f"{DEFAULT_TRAIL_FRAMES} frames")  # fmt: skip
        frames = DEFAULT_TRAIL_FRAMES
    else:
        listener.message(f"Trail length: {line}")
    return replace(job, video=replace(video, trail_frames=frames, trail_length=None))


def _sky_report(sky: PreparedSky | None) -> list[str]:
    """What gap filling and registration did, for the user."""
    from .align import AlignSky
    from .gaps import FillGaps

    warp = sky.warp if sky is not None else None
    if isinstance(warp, FillGaps) and warp.skipped:
        shown = ", ".join(map(str, warp.skipped[:8])) + (", ..." if len(warp.skipped) > 8 else "")
        return [f"Note: {option('fill_gaps')}: {len(warp.skipped)} of "
                f"{len(warp.skipped) + warp.filled} gaps left open (a break in the sky's motion, "
                f"a pause, or clouds), after frames {shown}"]  # fmt: skip
    if isinstance(warp, AlignSky) and warp.stars is not None:
        return [f"Registered {warp.registered} frames on the reference frame's stars."]
    return []
