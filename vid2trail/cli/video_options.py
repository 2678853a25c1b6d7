"""The ``stack`` command's trail-video options (its "Trail video" help panel), declared once."""

from __future__ import annotations

from typing import Annotated

import typer

from ..encoding import CODECS, DEFAULT_CRF, DEFAULT_FOLDER_FPS, DEFAULT_PRESET, VIDEO_FORMATS
from ..trails import COMET_FLOOR, DEFAULT_TRAIL_FRAMES, TRAIL_KINDS
from .options import VIDEO, number, whole
from .sky_options import trail_frames

VideoOpt = Annotated[
    str | None,
    typer.Option(
        metavar="PATH",
        help="Also write a trail video, in the same decoding pass: "
        f"{', '.join(VIDEO_FORMATS)} (GIF and WebP loop). Frame k shows the trails up to "
        "frame k; the last frame is the still.",
        show_default=False,
        rich_help_panel=VIDEO,
    ),
]
TrailOpt = Annotated[
    str | None,
    typer.Option(
        metavar="KIND",
        help=f"{'|'.join(TRAIL_KINDS)}. grow: the running --mode stack. comet: tails fade in "
        "linear light, A = max(frame, decay * A). window: the max of the last --trail-frames "
        "frames.",
        show_default="grow",
        rich_help_panel=VIDEO,
    ),
]
TrailFramesOpt = Annotated[
    str | None,
    typer.Option(
        parser=trail_frames,
        metavar="L|auto",
        help="Trail length in frames for comet and window. For comet it sets the decay so a "
        f"tail falls to {COMET_FLOOR:.0%} of its light after L frames: decay = 0.01 ** (1/L). "
        "window keeps L frames in memory (6 MB each at 1080p). auto: from the sky's measured "
        "motion, a tail of --trail-length pixels.",
        show_default=f"comet: auto, window: {DEFAULT_TRAIL_FRAMES}",
        rich_help_panel=VIDEO,
    ),
]
TrailLengthOpt = Annotated[
    float | None,
    typer.Option(
        parser=number,
        metavar="PX",
        help="The tail's length in pixels for --trail-frames auto.",
        show_default="4% of the frame's diagonal",
        rich_help_panel=VIDEO,
    ),
]
DecayOpt = Annotated[
    float | None,
    typer.Option(
        parser=number,
        metavar="D",
        help="Comet decay per frame, between 0 and 1 (instead of --trail-frames).",
        show_default=False,
        rich_help_panel=VIDEO,
    ),  # fmt: skip
]
VideoFpsOpt = Annotated[
    float | None,
    typer.Option(
        parser=number,
        metavar="FPS",
        help="Video frame rate (above 0, at most 1000).",
        show_default=f"the source's; {DEFAULT_FOLDER_FPS:g} for folders",
        rich_help_panel=VIDEO,
    ),
]
VideoStepOpt = Annotated[
    int | None,
    typer.Option(
        parser=whole,
        metavar="K",
        help="Emit every K-th stacked frame (and always the last) to shorten long clips.",
        show_default="1",
        rich_help_panel=VIDEO,
    ),  # fmt: skip
]
VideoWidthOpt = Annotated[
    int | None,
    typer.Option(
        parser=whole,
        metavar="PX",
        help="Scale the video to this width, keeping the aspect.",
        show_default="the source's",
        rich_help_panel=VIDEO,
    ),  # fmt: skip
]
CodecOpt = Annotated[
    str | None,
    typer.Option(
        metavar="NAME",
        help=f"Video codec for .mp4/.mov/.mkv: {', '.join(CODECS)}.",
        show_default="h264",
        rich_help_panel=VIDEO,
    ),  # fmt: skip
]
CrfOpt = Annotated[
    int | None,
    typer.Option(
        parser=whole,
        metavar="N",
        help="Constant rate factor, 0-51; lower is better and larger (18 looks lossless).",
        show_default=str(DEFAULT_CRF),
        rich_help_panel=VIDEO,
    ),  # fmt: skip
]
PresetOpt = Annotated[
    str | None,
    typer.Option(
        metavar="NAME",
        help="Encoder speed preset, ultrafast .. veryslow.",
        show_default=DEFAULT_PRESET,
        rich_help_panel=VIDEO,
    ),  # fmt: skip
]
