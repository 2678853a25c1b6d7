"""vid2trail: turn a timelapse video or a folder of photos into a long-exposure still.

Examples
--------
>>> import vid2trail
>>> image = vid2trail.stack("iss.mp4", mode="max", start=120, end=900)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .version import __version__

# The public names, by the module that defines them. They are imported on first use (PEP 562), so
# that ``import vid2trail`` is cheap: numpy, OpenCV and PyAV load when something needs them.
_EXPORTS = {
    "batch": ("BatchJob", "run_batch"),
    "calibrate": ("Calibration", "load_dark"),
    "color": ("linear_to_srgb", "srgb_to_linear", "to_output"),
    "errors": (
        "DecodeError", "DecodeWarning", "DiskSpaceError", "EmptySelectionError", "EncodeError",
        "OutputError", "SelectionPastEndError", "SourceError", "SourceNotFoundError",
        "TimeParseError", "UsageError", "Vid2TrailError", "Vid2TrailWarning",
    ),
    "encode": ("VideoWriter",),
    "encoding": ("VideoOptions",),
    "frames": ("Frame", "SourceInfo"),
    "job": ("KeogramJob", "StackJob", "TrailVideoJob"),
    "api": ("keogram", "stack"),
    "orchestrator": ("StackResult", "run"),
    "outputs": ("provenance", "render"),
    "pipeline": ("FrameSink", "run_reducers"),
    "reducers": ("REDUCERS", "Reducer", "make_reducer"),
    "select": ("FrameRange", "Window", "parse_position", "resolve_window"),
    "sky": ("SkyMotion", "sky_motion"),
    "sources": ("open_source",),
    "rendering": ("FrameRenderer",),
    "trails": ("Trail", "comet_decay", "make_trail"),
    "video": ("TrailVideo", "progressive_frames", "trail_video"),
    "writers": ("write_sidecar", "write_still"),
}  # fmt: skip
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> Any:
    import importlib

    module = _HOME.get(name)
    if module is None:
        # A submodule (``vid2trail.pipeline`` after ``import vid2trail``), as the eager imports
        # used to provide.
        try:
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module 'vid2trail' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})


if TYPE_CHECKING:  # what type checkers and editors see
    from .api import keogram, stack
    from .batch import BatchJob, run_batch
    from .calibrate import Calibration, load_dark
    from .color import linear_to_srgb, srgb_to_linear, to_output
    from .encode import VideoWriter
    from .encoding import VideoOptions
    from .errors import (
        DecodeError,
        DecodeWarning,
        DiskSpaceError,
        EmptySelectionError,
        EncodeError,
        OutputError,
        SelectionPastEndError,
        SourceError,
        SourceNotFoundError,
        TimeParseError,
        UsageError,
        Vid2TrailError,
        Vid2TrailWarning,
    )
    from .frames import Frame, SourceInfo
    from .job import KeogramJob, StackJob, TrailVideoJob
    from .orchestrator import StackResult, run
    from .outputs import provenance, render
    from .pipeline import FrameSink, run_reducers
    from .reducers import REDUCERS, Reducer, make_reducer
    from .rendering import FrameRenderer
    from .select import FrameRange, Window, parse_position, resolve_window
    from .sky import SkyMotion, sky_motion
    from .sources import open_source
    from .trails import Trail, comet_decay, make_trail
    from .video import TrailVideo, progressive_frames, trail_video
    from .writers import write_sidecar, write_still

__all__ = [
    "REDUCERS",
    "BatchJob",
    "Calibration",
    "DecodeError",
    "DecodeWarning",
    "DiskSpaceError",
    "EmptySelectionError",
    "EncodeError",
    "Frame",
    "FrameRange",
    "FrameSink",
    "KeogramJob",
    "FrameRenderer",
    "OutputError",
    "Reducer",
    "SelectionPastEndError",
    "SkyMotion",
    "SourceError",
    "SourceInfo",
    "SourceNotFoundError",
    "StackJob",
    "StackResult",
    "TimeParseError",
    "Trail",
    "TrailVideo",
    "TrailVideoJob",
    "UsageError",
    "Vid2TrailError",
    "Vid2TrailWarning",
    "VideoOptions",
    "VideoWriter",
    "Window",
    "__version__",
    "comet_decay",
    "keogram",
    "linear_to_srgb",
    "load_dark",
    "make_reducer",
    "make_trail",
    "open_source",
    "parse_position",
    "provenance",
    "progressive_frames",
    "render",
    "resolve_window",
    "run",
    "run_batch",
    "run_reducers",
    "sky_motion",
    "srgb_to_linear",
    "stack",
    "to_output",
    "trail_video",
    "write_sidecar",
    "write_still",
]
