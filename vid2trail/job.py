"""One stack job in library terms: what to read, which frames, how to combine them, what to write.

A :class:`StackJob` is frozen data. :meth:`StackJob.validate` holds every check that needs no
decoding, with messages that name the job's fields (``kappa``, ``video_fps``; the command line shows
them as its flags). :func:`vid2trail.orchestrator.run` carries a job out; :func:`vid2trail.stack`
and the ``vid2trail`` command both build one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .choose import DEFAULT_REJECT_K
from .color import check_gain, parse_normalize
from .encoding import VideoOptions
from .errors import UsageError, option
from .keograms import KeogramReducer
from .median import DEFAULT_MEMORY_BYTES, check_memory
from .parallel import default_threads, default_workers
from .reducers import MaxMeanReducer, make_reducer
from .robust import check_rejection
from .select import Window
from .skyjob import SkyJob
from .sources import check_decoding
from .sources.images import SORT_ORDERS
from .trails import make_trail
from .video import GROW_MODES

#: Stills the frame-number image (``argmax``) can be written as.
ARGMAX_SUFFIXES = (".png", ".tif", ".tiff", ".npy")
#: Stills a keogram can be written as.
KEOGRAM_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg")
#: Trail-video formats that take no ``codec``.
_PALETTE_VIDEOS = (".gif", ".webp")


@dataclass(frozen=True)
class TrailVideoJob:
    """The trail video made in the same decoding pass as the still.

    ``trail`` is grow (the running stack), comet (fading tails) or window (the last
    ``trail_frames`` frames); ``step`` emits every ``step``-th stacked frame (and the last).
    ``trail_frames`` ``"auto"`` (a comet's default) sets the length from the sky's motion, for a
    tail ``trail_length`` pixels long (default: 4% of the frame's diagonal).

    Examples
    --------
    >>> TrailVideoJob("trails.mp4", trail="comet").encoding.codec
    'h264'
    """

    path: str
    trail: str = "grow"
    trail_frames: int | str | None = None
    decay: float | None = None
    step: int = 1
    encoding: VideoOptions = field(default_factory=VideoOptions)
    trail_length: float | None = None

    def auto_length(self) -> bool:
        """True when the trail's length in frames comes from the sky's motion."""
        if self.trail_frames == "auto":
            return True
        return self.trail == "comet" and self.trail_frames is None and self.decay is None

    def validate(self, mode: str) -> None:
        """Refuse what cannot make this video from a ``mode`` stack, before any decoding."""
        if self.trail == "grow" and mode not in GROW_MODES:
            raise UsageError(
                f"{option('trail')} grow shows the running stack, and a {mode} stack is only "
                f"known at the end: use {option('mode')} {', '.join(GROW_MODES)}, or "
                f"{option('trail')} comet or window"
            )
        frames = self.trail_frames
        if frames == "auto" or self.trail_length is not None:
            self._check_length()
        # Builds nothing large: checks the kind, and trail_frames and decay against it.
        make_trail(self.trail, mode, trail_frames=None if frames == "auto" else frames,
                   decay=self.decay)  # fmt: skip
        if isinstance(self.step, bool) or not isinstance(self.step, int) or self.step < 1:
            raise UsageError(f"{option('video_step')} {self.step!r}: use a whole number, 1 or more")
        if self.encoding.codec != "h264" and Path(self.path).suffix.lower() in _PALETTE_VIDEOS:
            raise UsageError(
                f"{option('codec')} applies to .mp4, .mov and .mkv videos, not {self.path}"
            )

    def _check_length(self) -> None:
        if self.trail not in ("comet", "window"):
            given = (f"{option('trail_frames')} auto" if self.trail_frames == "auto"
                     else option("trail_length"))  # fmt: skip
            raise UsageError(f"{given} applies to {option('trail')} comet and window; grow "
                             "trails run the whole window")  # fmt: skip
        if self.trail_length is not None:
            length = self.trail_length
            if (
                isinstance(length, bool)
                or not isinstance(length, (int, float))
                or not (1 <= length <= 1e6)
            ):
                raise UsageError(f"{option('trail_length')} {length!r}: use 1 to 1000000 pixels")
            if self.trail_frames not in (None, "auto"):
                raise UsageError(
                    f"give {option('trail_frames')} or {option('trail_length')}, not both: the "
                    "length in pixels sets the frames"
                )
            if self.decay is not None:
                raise UsageError(f"give {option('decay')} or {option('trail_length')}, not both")


@dataclass(frozen=True)
class KeogramJob:
    """The keogram made in the same decoding pass as the still (:mod:`vid2trail.keograms`).

    ``angle`` turns the line through the frame's centre clockwise from vertical; ``width``
    scales the time axis (None: one column per frame); ``path`` None makes it without writing
    it (:func:`vid2trail.keogram`).

    Examples
    --------
    >>> KeogramJob("night-keogram.png", angle=30).validate()
    """

    path: str | None
    angle: float = 0.0
    width: int | None = None

    def validate(self) -> None:
        """Refuse an angle, width or file format that cannot make a keogram."""
        KeogramReducer(self.angle)
        width = self.width
        if width is not None and (
            isinstance(width, bool) or not isinstance(width, int) or not 2 <= width <= 65535
        ):
            raise UsageError(f"{option('keogram_width')} {width!r}: use 2 to 65535 pixels")
        if self.path is not None and Path(self.path).suffix.lower() not in KEOGRAM_SUFFIXES:
            raise UsageError(
                f"{option('keogram')} {self.path}: write the keogram as .png, .tif or .jpg"
            )


@dataclass(frozen=True)
class StackJob:
    """Everything one stack needs, in library terms; see :func:`vid2trail.stack` for each field.

    ``windows`` are the frames to stack, one result per window, all from one decoding pass; a
    window with ``auto`` set takes its unset ends from the night a quick scan finds. ``still`` is
    the path of the still to write (None: write nothing, as :func:`vid2trail.stack` does); with
    several windows each still is named after its frames (``iss-max-120-900.png``).

    Examples
    --------
    >>> job = StackJob("iss.mp4", mode="winsor", kappa=2.5)
    >>> job.validate()
    >>> job.reducer_params()["iterations"] is None
    True
    """

    input: str
    mode: str = "max"
    windows: tuple[Window, ...] = (Window(),)
    step: int | None = None
    # -- how frames combine
    kappa: float = 3.0
    iterations: int | None = None
    buffers: int = 4
    memory: int = DEFAULT_MEMORY_BYTES
    # -- frame choice and calibration
    reject: float | None = None
    exclude: tuple[str, ...] = ()
    #: Left out of comparisons and hashing: an array has no single truth value.
    dark: str | os.PathLike[str] | np.ndarray | None = field(default=None, compare=False)
    hot_pixels: bool = False
    # -- decoding
    backend: str = "auto"
    stream: int | None = None
    hdr: str = "tonemap"
    hwaccel: str = "none"
    preview: bool = False
    workers: int | None = None
    threads: int | None = None
    #: A folder's order: ``name`` (natural) or ``time`` (EXIF capture times).
    sort: str = "name"
    #: Demosaic RAW files at half size.
    raw_half: bool = False
    #: A Dask scheduler's address (``tcp://host:8786``): one window runs on its workers.
    scheduler: str | None = None
    # -- rendering and outputs
    normalize: str | None = None
    gain: float = 1.0
    bit_depth: int | None = None
    quality: int = 95
    still: str | None = None
    #: Name each still after its frames (``iss-max-120-900.png``), as several windows always are.
    window_names: bool = False
    sidecar: bool = False
    argmax: str | None = None
    video: TrailVideoJob | None = None
    keogram: KeogramJob | None = None
    #: Gap filling, alignment and the sky mask (:mod:`vid2trail.skyjob`).
    sky: SkyJob = field(default_factory=SkyJob)
    overwrite: bool = False

    def reducer_params(self) -> dict[str, Any]:
        """The options :func:`~vid2trail.reducers.make_reducer` takes for this job's mode."""
        return {"kappa": self.kappa, "iterations": self.iterations, "memory_bytes": self.memory,
                "buffers": self.buffers, "argmax": self.argmax is not None,
                "keogram_angle": self.keogram.angle if self.keogram else None}  # fmt: skip

    def unused(self) -> list[str]:
        """Notes on options this job sets that its mode does not use (``kappa`` for a max).

        Examples
        --------
        >>> from vid2trail.errors import in_words
        >>> [in_words(note) for note in StackJob("a.mp4", buffers=2).unused()]
        ['buffers applies to mode maxmean; a max stack does not use it']
        """
        defaults = StackJob(self.input)
        users = {"kappa": ("sigma", "winsor"), "iterations": ("sigma", "winsor"),
                 "buffers": ("maxmean",), "memory": ("median",)}  # fmt: skip
        notes = []
        for name, modes in users.items():
            if getattr(self, name) == getattr(defaults, name) or self.mode in modes:
                continue
            if name == "memory" and self.dark is not None:
                continue  # a master dark made from a folder of darks is a median too
            where = " and ".join(modes)
            extra = " (and to a dark made from several frames)" if name == "memory" else ""
            notes.append(f"{option(name)} applies to {option('mode')} {where}{extra}; a "
                         f"{self.mode} stack does not use it")  # fmt: skip
        stills = (self.still, self.keogram.path if self.keogram else None)
        jpegs = [str(p).lower().endswith((".jpg", ".jpeg")) for p in stills if p]
        if self.quality != defaults.quality and not any(jpegs):
            notes.append(f"{option('quality')} applies to JPEG stills; {self.still} is not one")
        video = self.video
        if video is not None and Path(video.path).suffix.lower() in _PALETTE_VIDEOS:
            plain = VideoOptions()
            notes += [f"{option(name)} applies to .mp4, .mov and .mkv videos; {video.path} is not "
                      "one" for name in ("crf", "preset")
                      if getattr(video.encoding, name) != getattr(plain, name)]  # fmt: skip
        return notes

    def names_stills_by_window(self) -> bool:
        """True when each still is named after its frames: several windows, or ``window_names``."""
        return self.window_names or len(self.windows) > 1

    def decoder_threads(self) -> int:
        """Images decoded at once for a folder: ``threads``, else the default."""
        return self.threads if self.threads is not None else default_threads()

    def validate(self) -> None:
        """Every check that needs no decoding; raises :class:`~vid2trail.errors.UsageError`.

        Examples
        --------
        >>> StackJob("a.mp4", bit_depth=12).validate()
        Traceback (most recent call last):
        ...
        vid2trail.errors.UsageError: bit_depth 12: use 8, 16 or 32
        """
        make_reducer(self.mode, **self.reducer_params())
        # Checked whatever the mode: a value that cannot apply is still a mistake to report.
        check_rejection(self.kappa, self.iterations)
        MaxMeanReducer(self.buffers)
        if self.normalize is not None:
            parse_normalize(self.normalize)
        check_gain(self.gain)
        if self.bit_depth is not None and self.bit_depth not in (8, 16, 32):
            raise UsageError(f"{option('bit_depth')} {self.bit_depth}: use 8, 16 or 32")
        check_step(self.step)
        check_decoding(self.backend, self.stream, self.hdr, self.hwaccel)
        if (
            isinstance(self.quality, bool)
            or not isinstance(self.quality, int)
            or not (1 <= self.quality <= 100)
        ):
            raise UsageError(f"{option('quality')} {self.quality}: use 1 to 100")
        if self.memory != DEFAULT_MEMORY_BYTES:
            check_memory(self.memory)
        check_workers(self.workers)
        if self.reject is not None:
            parse_reject(self.reject)
        if not self.windows:
            raise UsageError("give at least one window")
        self._check_argmax()
        if self.video is not None:
            if len(self.windows) > 1:
                raise UsageError(
                    f"{option('video')} takes one window: use {option('start')}/{option('end')} "
                    f"or a single {option('window')}"
                )
            self.video.validate(self.mode)
        if self.keogram is not None:
            self.keogram.validate()
            if len(self.windows) > 1:
                raise UsageError(
                    f"{option('keogram')} takes one window: use {option('start')}/"
                    f"{option('end')} or a single {option('window')}"
                )
        if self.sort not in SORT_ORDERS:
            raise UsageError(f"{option('sort')} {self.sort!r}: choose one of "
                             f"{', '.join(SORT_ORDERS)}")  # fmt: skip
        self.sky.validate(self.mode)
        if self.sky.needs_motion() and len(self.windows) > 1:
            raise UsageError(f"the sky's motion is measured over one window: give "
                             f"{option('window')} once with {option('fill_gaps')}, "
                             f"{option('align')} or {option('sky_mask_out')}")  # fmt: skip

    def _check_argmax(self) -> None:
        if self.argmax is None:
            return
        if self.mode != "max":
            raise UsageError(f"{option('argmax')} needs {option('mode')} max, not "
                             f"{option('mode')} {self.mode}")  # fmt: skip
        if Path(self.argmax).suffix.lower() not in ARGMAX_SUFFIXES:
            raise UsageError(
                f"{option('argmax')} {self.argmax}: write the frame numbers as .png, .tif or .npy"
            )
        if len(self.windows) > 1:
            raise UsageError(
                f"{option('argmax')} takes one window: give {option('window')} once, or "
                f"{option('start')}/{option('end')}"
            )


def check_step(step: int | None) -> None:
    """Refuse a ``step`` that is not a whole number of frames, 1 or more (None: the default).

    Examples
    --------
    >>> check_step(3)
    """
    if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 1):
        raise UsageError(f"{option('step')} {step!r} must be a whole number of frames, 1 or more")


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
        raise UsageError(
            f"{option('workers')} {workers!r}: give a whole number of processes, 1 or more"
        )
    cores = os.cpu_count() or 1
    most = max(8, 4 * cores)
    if workers > most:
        raise UsageError(
            f"{option('workers')} {workers}: use at most {most} (this machine has {cores} "
            f"core{'' if cores == 1 else 's'}; each process decodes on its own)"
        )
    return workers


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
            f"{option('reject')} {value!r}: use auto, none, or a number K (reject above median "
            "+ K x MAD)"
        ) from None
    if not k > 0 or k == float("inf"):  # NaN fails the first test
        raise UsageError(
            f"{option('reject_above')} {value}: K must be a number above 0 (5 is a good start)"
        )
    return k
