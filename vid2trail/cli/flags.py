"""How the ``stack`` command's flags become a :class:`~vid2trail.job.StackJob`: a table of the
flags that are fields as they are, and the few that the command line spells its own way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..cluster import scheduler_address
from ..encoding import VideoOptions
from ..errors import UsageError, option
from ..job import KeogramJob, StackJob, TrailVideoJob, parse_reject
from ..median import parse_size
from ..outputs import default_still
from ..parallel import default_workers
from ..select import Window, window_of
from ..skyjob import SkyJob

#: The trail-video flags, by their name in :class:`~vid2trail.job.TrailVideoJob` (``step``) or
#: :class:`~vid2trail.encode.VideoOptions` (the rest but ``trail``, ``trail_frames``, ``decay``).
_VIDEO_FLAGS = {"trail": "trail", "trail_frames": "trail_frames", "decay": "decay",
                "video_step": "step", "trail_length": "trail_length"}  # fmt: skip
_ENCODING_FLAGS = {"video_fps": "fps", "video_width": "width", "codec": "codec", "crf": "crf",
                   "preset": "preset"}  # fmt: skip


#: Flags that are a job's field as they are, by the field's name.
_AS_IS = ("mode", "step", "kappa", "iterations", "buffers", "dark", "backend", "stream", "hdr",
          "hwaccel", "normalize", "gain", "bit_depth", "quality", "sidecar", "argmax",
          "overwrite", "preview", "sort", "raw_half")  # fmt: skip


def job_from_flags(flags: Mapping[str, Any]) -> StackJob:
    """The job the ``stack`` command's flags describe (by parameter name: ``input_path``,
    ``start``, ``video_fps``, ...; a flag left out keeps the job's default). What is checked
    here exists on the command line alone: words where the job takes values (``--reject``,
    ``--hot-pixels``, ``--memory``), flags that exclude each other, and video settings given
    without ``--video``. The job checks the values themselves
    (:meth:`~vid2trail.job.StackJob.validate`).

    Examples
    --------
    >>> job = job_from_flags({"input_path": "iss.mp4", "start": "120"})
    >>> job.windows[0].start.frame, job.still, job.mode
    (120, 'iss-max.png', 'max')
    """
    fields: dict[str, Any] = {k: flags[k] for k in _AS_IS if flags.get(k) is not None}
    if flags.get("memory") is not None:
        fields["memory"] = parse_size(flags["memory"])
    hot = flags.get("hot_pixels") or "off"
    if hot not in ("off", "auto"):
        raise UsageError(f"{option('hot_pixels')} {hot!r}: use auto or off")
    reject = flags.get("reject") or "none"
    if reject not in ("auto", "none"):
        raise UsageError(f"{option('reject')} {reject!r}: use auto or none (or "
                         f"{option('reject_above')} K)")  # fmt: skip
    above = flags.get("reject_above")
    workers = flags.get("workers")
    source = flags["input_path"]
    mode = fields.get("mode", "max")
    return StackJob(
        source, windows=_windows(flags), reject=parse_reject(reject if above is None else above),
        exclude=tuple(flags.get("exclude") or ()), hot_pixels=hot == "auto",
        # The command's default is processes for a video (the library's is 1: it cannot know
        # that its caller guards its main module, as spawning needs).
        workers=default_workers() if workers is None else workers, threads=workers,
        still=flags.get("output") or default_still(source, mode, bool(fields.get("preview"))),
        window_names=bool(flags.get("window")), video=_video(flags), keogram=_keogram(flags),
        sky=SkyJob(bool(flags.get("fill_gaps")), bool(flags.get("align")), flags.get("align_to"),
                   flags.get("sky_mask"), flags.get("sky_mask_out")),
        scheduler=scheduler_address(flags.get("scheduler")), **fields,
    )  # fmt: skip


def _windows(flags: Mapping[str, Any]) -> tuple[Window, ...]:
    """``--window`` values, or the one window ``--start``/``--end`` give."""
    start, end, windows = flags.get("start"), flags.get("end"), flags.get("window")
    if windows and (start is not None or end is not None):
        raise UsageError(
            f"{option('window')} cannot be combined with {option('start')}/{option('end')}: "
            f"put them in {option('window')}"
        )
    if windows:
        return tuple(Window.parse(text) for text in windows)
    return (window_of(start, end),)


def _video(flags: Mapping[str, Any]) -> TrailVideoJob | None:
    """The trail video ``--video`` asks for, refusing its settings without it."""
    path = flags.get("video")
    given = [k for k in (*_VIDEO_FLAGS, *_ENCODING_FLAGS) if flags.get(k) is not None]
    if path is None:
        if given:
            raise UsageError(
                f"{option(given[0])} sets up the trail video: add {option('video')} PATH "
                "(e.g. trails.mp4)"
            )
        return None
    if flags.get("codec") is not None and str(path).lower().endswith((".gif", ".webp")):
        raise UsageError(f"{option('codec')} applies to .mp4, .mov and .mkv videos, not {path}")
    encoding = VideoOptions(
        **{field: flags[k] for k, field in _ENCODING_FLAGS.items() if flags.get(k) is not None}
    )
    settings = {field: flags[k] for k, field in _VIDEO_FLAGS.items() if flags.get(k) is not None}
    return TrailVideoJob(path, encoding=encoding, **settings)


def _keogram(flags: Mapping[str, Any]) -> KeogramJob | None:
    """The keogram ``--keogram`` asks for, refusing its settings without it."""
    path = flags.get("keogram")
    given = [k for k in ("keogram_angle", "keogram_width") if flags.get(k) is not None]
    if path is None:
        if given:
            raise UsageError(
                f"{option(given[0])} sets up the keogram: add {option('keogram')} PATH "
                "(e.g. keogram.png)"
            )
        return None
    angle = flags.get("keogram_angle")
    return KeogramJob(path, angle=0.0 if angle is None else angle, width=flags.get("keogram_width"))
