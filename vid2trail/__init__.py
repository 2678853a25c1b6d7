"""vid2trail: turn a timelapse video or a folder of photos into a long-exposure still.

Examples
--------
>>> import vid2trail
>>> image = vid2trail.stack("iss.mp4", mode="max", start=120, end=900)  # doctest: +SKIP
"""

from __future__ import annotations

__version__ = "0.1.0"

from .calibrate import Calibration, load_dark  # noqa: E402
from .color import linear_to_srgb, srgb_to_linear, to_output  # noqa: E402
from .errors import (  # noqa: E402
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
from .frames import Frame, SourceInfo  # noqa: E402
from .pipeline import provenance, render, run_reducers, stack  # noqa: E402
from .reducers import REDUCERS, Reducer, make_reducer  # noqa: E402
from .select import FrameRange, Window, parse_position, resolve_window  # noqa: E402
from .sources import open_source  # noqa: E402
from .trails import FrameRenderer, Trail, comet_decay, make_trail  # noqa: E402
from .video import (  # noqa: E402
    TrailVideo,
    VideoOptions,
    VideoWriter,
    progressive_frames,
    stack_with_video,
)
from .writers import write_sidecar, write_still  # noqa: E402

__all__ = [
    "REDUCERS",
    "Calibration",
    "DecodeError",
    "DecodeWarning",
    "DiskSpaceError",
    "EmptySelectionError",
    "EncodeError",
    "Frame",
    "FrameRange",
    "FrameRenderer",
    "OutputError",
    "Reducer",
    "SelectionPastEndError",
    "SourceError",
    "SourceInfo",
    "SourceNotFoundError",
    "TimeParseError",
    "Trail",
    "TrailVideo",
    "UsageError",
    "Vid2TrailError",
    "Vid2TrailWarning",
    "VideoOptions",
    "VideoWriter",
    "Window",
    "__version__",
    "comet_decay",
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
    "run_reducers",
    "srgb_to_linear",
    "stack",
    "stack_with_video",
    "to_output",
    "write_sidecar",
    "write_still",
]
