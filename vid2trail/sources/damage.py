"""Accounting for broken input: how many frames a truncated or corrupt file lost, and where.

The video source calls :func:`lost_frames_warning` when decoding ends on its own; the message
becomes a :class:`~vid2trail.errors.DecodeWarning`, one line in the CLI.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..frames import SourceInfo

if TYPE_CHECKING:
    from .base import SourceBase

# ffmpeg's words for data it could not use; any of them in the stderr of a decode means frames
# may have been lost even when the count looks right.
_DAMAGE_RE = re.compile(
    r"error while decoding|invalid data|corrupt|truncat|partial file|missing|concealing|"
    r"no frame|invalid|decode_slice|packet too small|end of file|co located|demuxing stopped",
    re.IGNORECASE,
)


def _expected(info: SourceInfo, start: int, end: int | None, step: int) -> int:
    total = info.frame_count or 0
    stop = total if end is None else min(end, total)
    return max(0, -(-(stop - start) // step))


def lost_frames_warning(
    source: SourceBase, start: int, end: int | None, step: int, delivered: int, errors: list[str]
) -> str | None:
    """The one-line warning for a decode that delivered fewer frames than the file promises.

    None when nothing was lost: the count is as expected (within the one-frame slack of an
    estimated count) and ffmpeg reported no damage.

    Parameters
    ----------
    source : SourceBase
        Gives what is known of its length (``known_info()``, ``known_times()``), and the exact
        length (``exact_info()``) when the known one may be an estimate that misleads.
    start, end, step : int
        The range that was asked for.
    delivered : int
        Frames actually decoded.
    errors : list of str
        The decoder's last stderr lines (empty where the decoder does not report them).

    Examples
    --------
    >>> import numpy as np
    >>> from vid2trail.sources.base import SourceBase
    >>> class Clip(SourceBase):
    ...     info = SourceInfo("a.mkv", 8, 8, 3, np.dtype(np.uint8), 25.0, 1.6, 40, True)
    >>> lost_frames_warning(Clip(), 0, None, 1, 24, []).split("; ")[:2]
    ['a.mkv: decoding ended at frame 23 (about 0.92 s)', '16 of 40 expected frames lost']
    """
    info = source.known_info()
    damaged = [line for line in errors if _DAMAGE_RE.search(line)]
    if not damaged and not info.frame_count_exact and delivered < _expected(info, start, end, step):
        # The estimate (container duration x fps) counts a longer audio track too: ask the
        # file's own index before crying wolf (one demux pass).
        info = source.exact_info()
    total = info.frame_count
    if total is None:
        return None
    expected = _expected(info, start, end, step)
    slack = 0 if info.frame_count_exact else 1
    missing = expected - delivered
    if missing <= slack and not damaged:
        return None
    last = start + (delivered - 1) * step
    times = source.known_times()
    if delivered and times is not None and last < len(times):
        where = f"decoding ended at frame {last} ({times[last]:.2f} s)"
    elif delivered and info.fps:
        where = f"decoding ended at frame {last} (about {last / info.fps:.2f} s)"
    else:
        where = "no frame decoded"
    approx = "" if info.frame_count_exact else "about "
    if missing > 0:
        lost = f"{approx}{missing} of {expected} expected frames lost"
    else:
        lost = "some frames are damaged"
    detail = f" (ffmpeg: {damaged[-1].strip()[:120]})" if damaged else ""
    return (
        f"{info.path}: {where}; {lost}{detail}; the file may be truncated or corrupt, "
        "the frames that decoded were used"
    )
