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
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .calibrate import make_calibration
from .choose import build_filter
from .errors import option
from .job import StackJob, parse_reject
from .median import DEFAULT_MEMORY_BYTES, parse_size
from .outputs import OutputPlan, check_outputs, render, write_outputs
from .pipeline import FrameSink, ProgressCallback, run_reducers
from .plan import Selection, select_frames, window_notes, with_auto_window
from .reducers import Reducer, make_reducer
from .select import Window, window_of
from .sources import SourceBase, open_source
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
                             hwaccel=job.hwaccel)  # fmt: skip
    with source if opened else nullcontext(source):
        for note in source.info.notes:
            listener.message(f"Note: {job.input}: {note}")
        inputs = _inputs(job, source)
        selection = _select(job, source, listener, inputs)
        for note in _cannot_apply(job, source, selection):
            listener.message(f"Note: {note}")
        if selection.keyframes_only:
            source = source.configured(keyframes_only=True)
        plan = check_outputs(job, selection.ranges, source.known_info(), inputs)
        keep = build_filter(source, selection.plan(), reject_k=job.reject, exclude=job.exclude)
        calibration = make_calibration(job.dark, job.hot_pixels, job.memory)
        with listener.stage("Stacking") as progress, _cluster(job, listener) as client:
            reducers, video = _stack(job, source, selection, plan, progress, keep, calibration,
                                     workers, client)  # fmt: skip
        info = source.known_info()
    for line in keep.report() if keep is not None else []:
        listener.message(line)
    if calibration is not None and calibration.hot_pixel_count is not None:
        count = calibration.hot_pixel_count
        listener.message(f"Repaired {count} hot pixel{'' if count == 1 else 's'}.")
    written = write_outputs(job, plan, reducers, selection.ranges, info, keep=keep,
                            calibration=calibration, wrote=listener.wrote)  # fmt: skip
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
    return notes + window_notes(selection.windows, selection.ranges, source)


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
) -> tuple[list[Reducer], Path | None]:
    """Decode once through the reducers, and the trail video when the job asks for one."""
    params = job.reducer_params()
    if job.video is None:
        reducers = run_reducers(source, selection.ranges, job.mode, progress, keep, params=params,
                                calibration=calibration, workers=workers,
                                cluster=client)  # fmt: skip
        return reducers, None
    from .video import trail_video

    reducer = make_reducer(job.mode, **params)
    sink: FrameSink = trail_video(job.video, source.info, job.mode, reducer,
                                  normalize=job.normalize, gain=job.gain,
                                  overwrite=job.overwrite)  # fmt: skip
    try:
        reducers = run_reducers(source, selection.ranges, [reducer], sink.progress(progress),
                                keep, params=params, calibration=calibration,
                                sinks=[sink])  # fmt: skip
        path = sink.finish(progress)
    except BaseException:
        sink.abort()
        raise
    return reducers, path


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
    scheduler: str | None = None,
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
        :data:`vid2trail.plan.PREVIEW_FRAMES` frames (see :func:`vid2trail.plan.select_frames`).
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
    scheduler : str, optional
        A Dask scheduler's address: the window is cut into segments reduced on its workers and
        combined there (:mod:`vid2trail.segments`); needs ``vid2trail[dask]``.

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
    job = StackJob(
        os.fspath(path), mode, windows=(window_of(start, end),), step=step, kappa=kappa,
        iterations=iterations, buffers=buffers, memory=parse_size(memory),
        reject=parse_reject(reject), exclude=(exclude,) if isinstance(exclude, str) else
        tuple(exclude), dark=dark, hot_pixels=hot_pixels, backend=backend, stream=stream,
        hdr=hdr, hwaccel=hwaccel, preview=preview, workers=workers, normalize=normalize,
        gain=gain, threads=workers, scheduler=scheduler,
    )  # fmt: skip
    result = run(job, Silent(progress))
    out = result.info.dtype if dtype is None else dtype
    return render(result.reducers[0], out_dtype=out, normalize=normalize, gain=gain)
