"""How the ``stack`` command's flags become a :class:`~vid2trail.job.StackJob`.

The job checks its own values (:meth:`~vid2trail.job.StackJob.validate`); what is checked here is
only what exists on the command line alone: flags that exclude each other, and video settings given
without ``--video``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..encoding import VideoOptions
from ..errors import UsageError, option
from ..job import StackJob, TrailVideoJob, check_workers, parse_reject
from ..median import parse_size
from ..orchestrator import window_of
from ..outputs import default_still
from ..parallel import default_threads
from ..select import Window

#: The trail-video flags, by their name in :class:`~vid2trail.job.TrailVideoJob` (``step``) or
#: :class:`~vid2trail.encode.VideoOptions` (the rest but ``trail``, ``trail_frames``, ``decay``).
_VIDEO_FLAGS = {"trail": "trail", "trail_frames": "trail_frames", "decay": "decay",
                "video_step": "step"}  # fmt: skip
_ENCODING_FLAGS = {"video_fps": "fps", "video_width": "width", "codec": "codec", "crf": "crf",
                   "preset": "preset"}  # fmt: skip


def job_from_flags(flags: Mapping[str, Any]) -> StackJob:
    """The job the ``stack`` command's flags describe (by parameter name: ``input_path``,
    ``start``, ``video_fps``, ...), checked for what only the command line can get wrong.

    Examples
    --------
    >>> job = job_from_flags({"input_path": "iss.mp4", "mode": "max", "start": "120"})
    >>> job.windows[0].start.frame, job.still
    (120, 'iss-max.png')
    """
    get = flags.get
    memory = parse_size(get("memory", "2GB"))
    if get("hot_pixels", "off") not in ("off", "auto"):
        raise UsageError(f"{option('hot_pixels')} {get('hot_pixels')!r}: use auto or off")
    workers = get("workers")
    reject = get("reject", "none")
    if reject not in ("auto", "none"):
        raise UsageError(f"{option('reject')} {reject!r}: use auto or none (or "
                         f"{option('reject_above')} K)")  # fmt: skip
    reject_above = get("reject_above")
    mode = get("mode", "max")
    return StackJob(
        get("input_path"), mode, windows=_windows(flags), step=get("step"),
        kappa=get("kappa", 3.0), iterations=get("iterations"), buffers=get("buffers", 4),
        memory=memory, reject=parse_reject(reject_above if reject_above is not None else reject),
        exclude=tuple(get("exclude") or ()), dark=get("dark"),
        hot_pixels=get("hot_pixels") == "auto", backend=get("backend", "auto"),
        stream=get("stream"), hdr=get("hdr", "tonemap"), hwaccel=get("hwaccel", "none"),
        preview=bool(get("preview")), workers=check_workers(workers),
        threads=workers if workers is not None else default_threads(),
        normalize=get("normalize"), gain=get("gain", 1.0), bit_depth=get("bit_depth"),
        quality=get("quality", 95),
        still=get("output") or default_still(get("input_path"), mode, bool(get("preview"))),
        window_names=bool(get("window")), sidecar=bool(get("sidecar")), argmax=get("argmax"),
        video=_video(flags), overwrite=bool(get("overwrite")),
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
    if flags.get("window") and len(flags["window"]) > 1:
        raise UsageError(
            f"{option('video')} takes one window: use {option('start')}/{option('end')} or a "
            f"single {option('window')}"
        )
    encoding = VideoOptions(
        **{field: flags[k] for k, field in _ENCODING_FLAGS.items() if flags.get(k) is not None}
    )
    settings = {field: flags[k] for k, field in _VIDEO_FLAGS.items() if flags.get(k) is not None}
    return TrailVideoJob(path, encoding=encoding, **settings)
