"""The ``info`` and ``scan`` commands' own options, declared once (the shared ones are in
:mod:`vid2trail.cli.options`)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..scan import SCAN_WIDTH
from ..scanplot import DEFAULT_SIZE
from .options import number, whole

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
ScanJsonOpt = Annotated[
    bool, typer.Option("--json", help="Print the per-frame table and the decisions as JSON.")
]
ScanOutputOpt = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        metavar="PATH",
        help="Picture to write: .png, .jpg, .svg or .pdf (with --json: none unless -o is given).",
        show_default="<input-stem>-scan.png",
    ),
]
ScanRejectOpt = Annotated[
    float,
    typer.Option(
        "--reject-above",
        parser=number,
        metavar="K",
        help="Mark frames brighter than the running median + K x MAD as flashes.",
    ),
]
ScanWidthOpt = Annotated[
    int,
    typer.Option(parser=whole, metavar="PX", help="Width the frames are measured at (16 to 4096)."),
]
SizeOpt = Annotated[str, typer.Option(metavar="WxH", help="Picture size in pixels.")]
#: The picture size ``scan`` draws by default.
DEFAULT_PICTURE = f"{DEFAULT_SIZE[0]}x{DEFAULT_SIZE[1]}"
DEFAULT_SCAN_WIDTH = SCAN_WIDTH
MotionOpt = Annotated[
    bool,
    typer.Option(
        "--motion",
        help="Also measure the sky's motion over the night: stars matched between frames, the "
        "pole (in image pixels) and the rate, and whether the camera stayed still (about 30 "
        "frames decoded at full size).",
    ),
]
