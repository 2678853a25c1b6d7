"""The night window (``--start auto``): the longest stretch of dark, steady frames of a clip.

It works on the per-frame brightness of :mod:`vid2trail.choose` (mean luma Y', 0 black, 1 white),
measured by the quick pass of :mod:`vid2trail.scan`, with thresholds relative to the clip's own
darkest and brightest levels, so neither the exposure nor light pollution needs to be known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import UsageError

#: Night: frames within this fraction of the dark-to-bright range above the darkest level.
NIGHT_FRACTION = 0.05
#: Night: gaps (clouds) below this fraction of the range do not break the night.
BRIDGE_FRACTION = 0.5
#: Below this brightness range (dark to bright) the clip has no twilight: every frame is kept.
MIN_CONTRAST = 0.1


def running_median(values: np.ndarray, width: int) -> np.ndarray:
    """Centred running median of odd ``width``; the ends repeat the edge values.

    Examples
    --------
    >>> running_median(np.array([1.0, 1, 9, 1, 1]), 3).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0]
    """
    half = width // 2
    padded = np.pad(np.asarray(values, dtype=np.float64), half, mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, width), axis=1)


@dataclass(frozen=True)
class NightChoice:
    """The window :func:`choose_night` picked and why.

    ``start``/``end`` are positions in the series (half-open); ``smoothed`` is the curve it
    decided on; ``dark`` and ``bright`` the clip's levels; ``night_below`` and ``bridge_below``
    the thresholds; ``twilight`` False when the clip has no dark-to-bright change and every
    frame was chosen; ``reason`` one sentence for the user.
    """

    start: int
    end: int
    smoothed: np.ndarray
    dark: float
    bright: float
    night_below: float
    bridge_below: float
    reason: str
    twilight: bool = True


def smoothing_width(count: int) -> int:
    """Odd running-median width for a series of ``count`` frames: about 1%, 5 to 101.

    Examples
    --------
    >>> smoothing_width(200), smoothing_width(5000), smoothing_width(10**6)
    (5, 51, 101)
    """
    return int(min(101, max(5, 2 * (count // 200) + 1)))


def choose_night(brightness: Sequence[float] | np.ndarray) -> NightChoice:
    """Choose the longest stretch of dark, steady frames (the night) from a brightness curve.

    The curve is smoothed with a centred running median (:func:`smoothing_width`: flashes and
    noise vanish). Its darkest level ``D`` is the 2nd percentile and its brightest ``B`` the 98th.
    Night frames are within :data:`NIGHT_FRACTION` of the range above the darkest
    (``s <= D + 0.05 (B - D)``). Night stretches are joined across gaps that stay below
    :data:`BRIDGE_FRACTION` of the range (a passing cloud, a lit cloud bank), and the longest
    joined stretch, from its first to its last night frame, is the window: twilight at both ends
    is left out. When ``B - D`` is under :data:`MIN_CONTRAST` the clip has no twilight and every
    frame is chosen.

    Examples
    --------
    >>> curve = np.r_[np.linspace(0.8, 0.05, 20), np.full(60, 0.05), np.linspace(0.05, 0.8, 20)]
    >>> c = choose_night(curve)
    >>> (c.start, c.end)
    (19, 81)
    """
    values = np.asarray(brightness, dtype=np.float64)
    count = len(values)
    if count == 0:
        raise UsageError("no frames to choose from")
    smoothed = running_median(values, smoothing_width(count)) if count >= 5 else values.copy()
    dark, bright = (float(np.percentile(smoothed, q)) for q in (2, 98))
    spread = bright - dark
    night_below = dark + NIGHT_FRACTION * spread
    bridge_below = dark + BRIDGE_FRACTION * spread
    if spread < MIN_CONTRAST:
        return NightChoice(
            0, count, smoothed, dark, bright, night_below, bridge_below,
            f"brightness stays within {spread:.3f} of {dark:.3f} (no twilight): all frames",
            twilight=False,
        )  # fmt: skip
    night = np.flatnonzero(smoothed <= night_below)
    best = (0, 0)
    run_start = run_last = int(night[0])
    for index in night[1:]:
        index = int(index)
        if np.all(smoothed[run_last + 1 : index] <= bridge_below):
            run_last = index
            continue
        best = max(best, (run_last + 1 - run_start, run_start), key=lambda r: r[0])
        run_start = run_last = index
    best = max(best, (run_last + 1 - run_start, run_start), key=lambda r: r[0])
    length, start = best
    return NightChoice(
        start, start + length, smoothed, dark, bright, night_below, bridge_below,
        f"longest dark stretch: brightness at most {night_below:.3f} (darkest {dark:.3f}, "
        f"brightest {bright:.3f}), gaps below {bridge_below:.3f} bridged",
    )  # fmt: skip
