"""The library's two one-call entry points: :func:`stack` makes a still, :func:`keogram` a
keogram. Each builds a :class:`~vid2trail.job.StackJob` and hands it to the one orchestrator
(:func:`vid2trail.orchestrator.run`), as the command line does.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from .job import KeogramJob, StackJob, parse_reject
from .keograms import WithKeogram
from .median import DEFAULT_MEMORY_BYTES, parse_size
from .orchestrator import Silent, run
from .outputs import render
from .pipeline import ProgressCallback
from .select import window_of
from .skyjob import SkyJob


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
    sort: str = "name",
    raw_half: bool = False,
    fill_gaps: bool = False,
    align: bool = False,
    align_to: int | None = None,
    sky_mask: str | os.PathLike[str] | None = None,
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
        A clock time (``"T22:30"``, ``"2026-08-12T22:30"``, and for photos ``"22:30"``) names
        the first frame captured at or after it (:mod:`vid2trail.clock`). ``"auto"`` (either)
        stacks the night a quick scan finds (:func:`vid2trail.night.choose_night`); a value
        given for the other end wins.
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
    sort : {"name", "time"}
        A folder's order: natural name order, or the photos' EXIF capture times.
    raw_half : bool
        Demosaic RAW files at half size (``vid2trail[raw]``): four times fewer pixels.
    fill_gaps : bool
        A max stack with continuous trails: the sky between kept frames is added along its
        measured motion (:mod:`vid2trail.gaps`); the ground is left as shot.
    align : bool
        Every frame's sky turned onto the reference frame's before stacking, the foreground
        left as shot (:mod:`vid2trail.align`): pinpoint stars in a mean, sigma or median.
    align_to : int, optional
        The reference frame of ``align`` (default: the middle of the window).
    sky_mask : path, optional
        The sky drawn by hand (white = sky) instead of the mask found
        (:mod:`vid2trail.skymask`).

    Returns
    -------
    numpy.ndarray
        ``H x W x 3`` RGB, or ``H x W x 1`` for grayscale sources.

    Examples
    --------
    >>> import vid2trail
    >>> image = vid2trail.stack("iss.mp4", mode="max", start=120, end=900)  # doctest: +SKIP
    >>> sharp = vid2trail.stack("night/", mode="mean", align=True)  # doctest: +SKIP
    >>> image.shape, image.dtype  # doctest: +SKIP
    ((1080, 1920, 3), dtype('uint8'))
    """
    job = StackJob(
        os.fspath(path), mode, windows=(window_of(start, end),), step=step, kappa=kappa,
        iterations=iterations, buffers=buffers, memory=parse_size(memory),
        reject=parse_reject(reject), exclude=(exclude,) if isinstance(exclude, str) else
        tuple(exclude), dark=dark, hot_pixels=hot_pixels, backend=backend, stream=stream,
        hdr=hdr, hwaccel=hwaccel, preview=preview, workers=workers, normalize=normalize,
        gain=gain, threads=workers, scheduler=scheduler, sort=sort, raw_half=raw_half,
        sky=SkyJob(fill_gaps, align, align_to, sky_mask),
    )  # fmt: skip
    result = run(job, Silent(progress))
    out = result.info.dtype if dtype is None else dtype
    return render(result.reducers[0], out_dtype=out, normalize=normalize, gain=gain)


def keogram(
    path: str | os.PathLike[str],
    start: int | str | None = None,
    end: int | str | None = None,
    step: int | None = None,
    *,
    angle: float = 0.0,
    sort: str = "name",
    exclude: Sequence[str] | str = (),
    reject: float | str | None = None,
    workers: int | None = None,
    preview: bool = False,
    raw_half: bool = False,
    scheduler: str | None = None,
    progress: ProgressCallback | None = None,
) -> np.ndarray:
    """The keogram of a video, folder or glob: the line through every frame's centre, one
    column per frame, side by side in time (:mod:`vid2trail.keograms`).

    Parameters
    ----------
    path : str or PathLike
        A video file, a folder of images, or a glob.
    start, end, step
        The frames, as for :func:`stack`; clock times (``"22:30"`` for photos, ``"T22:30"``)
        too.
    angle : float
        The line's angle in degrees, clockwise from vertical: 0 is the centre column (top to
        bottom), 90 the centre row (left to right); an all-sky camera's meridian is often
        neither.
    sort : {"name", "time"}
        A folder's order: by name, or by the photos' EXIF capture times.
    exclude, reject, workers, preview, raw_half, scheduler, progress
        As for :func:`stack`; excluded and rejected frames have no column. The keogram splits
        across workers and a cluster like a stack: the parts' columns join in frame order.

    Returns
    -------
    numpy.ndarray
        ``samples x frames x C``, in the frames' own dtype (uint8 or uint16 code values).

    Examples
    --------
    >>> import vid2trail
    >>> k = vid2trail.keogram("allsky/2026-08-12/")  # doctest: +SKIP
    >>> k.shape  # doctest: +SKIP
    (1080, 960, 3)
    """
    job = StackJob(
        os.fspath(path), "max", windows=(window_of(start, end),), step=step, sort=sort,
        exclude=(exclude,) if isinstance(exclude, str) else tuple(exclude),
        reject=parse_reject(reject), workers=workers, threads=workers, preview=preview,
        raw_half=raw_half, scheduler=scheduler, keogram=KeogramJob(None, angle=angle),
    )  # fmt: skip
    both = run(job, Silent(progress)).reducers[0]
    assert isinstance(both, WithKeogram)
    return both.keogram.result()
