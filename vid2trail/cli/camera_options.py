"""The ``stack`` command's options for photographers and all-sky cameras: a folder's order, RAW
demosaicing, and the keogram (its own help panel), declared once."""

from __future__ import annotations

from typing import Annotated

import typer

from ..sources.images import SORT_ORDERS
from .options import INPUT, KEOGRAM, PERFORMANCE, number, whole

SortOpt = Annotated[
    str,
    typer.Option(
        metavar="ORDER",
        help=f"A folder's order: {' or '.join(SORT_ORDERS)} (the photos' EXIF capture times; a "
        "note says when they disagree with the names).",
        rich_help_panel=INPUT,
    ),
]
RawHalfOpt = Annotated[
    bool,
    typer.Option(
        "--raw-half",
        help="Demosaic RAW files at half size: four times fewer pixels, several times faster "
        "(--preview does it too). RAW needs pip install 'vid2trail[raw]'.",
        rich_help_panel=PERFORMANCE,
    ),
]
KeogramOpt = Annotated[
    str | None,
    typer.Option(
        metavar="PATH",
        help="Also write a keogram (.png, .tif, .jpg), in the same decoding pass: the line "
        "through every frame's centre, one column per frame, time running left to right, with "
        "clock ticks under it when the frames' capture times are known.",
        show_default=False,
        rich_help_panel=KEOGRAM,
    ),
]
KeogramAngleOpt = Annotated[
    float | None,
    typer.Option(
        parser=number,
        metavar="DEG",
        help="The keogram's line, clockwise from vertical: 0 is the centre column (top to "
        "bottom), 90 the centre row; for an all-sky lens, the angle of the meridian.",
        show_default="0",
        rich_help_panel=KEOGRAM,
    ),
]
KeogramWidthOpt = Annotated[
    int | None,
    typer.Option(
        parser=whole,
        metavar="PX",
        help="Scale the keogram's time axis to PX columns (frames averaged or repeated).",
        show_default="one column per frame",
        rich_help_panel=KEOGRAM,
    ),
]
