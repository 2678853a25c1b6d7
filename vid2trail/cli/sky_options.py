"""The ``stack`` command's options that use the sky's motion (its "Sky motion" help panel):
gap filling, alignment and the sky mask, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

from .options import SKY, whole

FillGapsOpt = Annotated[
    bool,
    typer.Option(
        "--fill-gaps",
        help="Continuous trails from a timelapse (a max stack, and grow, window or comet trail "
        "videos): the sky between kept frames is added along its measured motion. The ground, "
        "static lights and hot pixels are left as shot.",
        rich_help_panel=SKY,
    ),
]
AlignOpt = Annotated[
    bool,
    typer.Option(
        "--align",
        help="Pinpoint stars in a mean, sum, sigma, winsor, median, maxmean or min stack: every "
        "frame's sky is turned onto a reference frame, the foreground stays as shot (freeze "
        "ground), blended along a feathered horizon.",
        rich_help_panel=SKY,
    ),
]
AlignToOpt = Annotated[
    int | None,
    typer.Option(
        parser=whole,
        metavar="N",
        help="The reference frame of --align.",
        show_default="the middle frame",
        rich_help_panel=SKY,
    ),
]
SkyMaskOpt = Annotated[
    str | None,
    typer.Option(
        metavar="PATH",
        help="The sky, drawn by hand at the frames' size (white = sky), instead of the mask "
        "found from the frames.",
        show_default="found",
        rich_help_panel=SKY,
    ),
]
SkyMaskOutOpt = Annotated[
    str | None,
    typer.Option(
        metavar="PATH",
        help="Write the sky mask used (.png, .tif: white = sky), to check it or to edit it for "
        "--sky-mask.",
        show_default=False,
        rich_help_panel=SKY,
    ),
]


def trail_frames(text: str) -> int | str:
    """``--trail-frames``: a whole number, or ``auto`` (from the sky's motion).

    Examples
    --------
    >>> trail_frames("40"), trail_frames("auto")
    (40, 'auto')
    """
    return "auto" if str(text).strip().lower() == "auto" else whole(text)
