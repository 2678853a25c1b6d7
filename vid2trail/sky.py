"""The sky's motion, measured: stars detected in each frame, matched, and fitted with homographies.

A camera on a tripod sees the sky turn rigidly about the celestial pole. In the image that motion
between two frames is one homography, ``H = K R K^-1``; between frames at a constant interval it is
the same ``H`` every time, so ``H_k = H^k`` and its fractional powers give the sky at any moment in
between. ``H`` is similar to the rotation ``R``, so its eigenvalues (scaled by the real one) are
``1, e^{+i theta}, e^{-i theta}``: ``theta`` is the sky's true turn per frame, whatever the lens,
and the real eigenvalue's eigenvector is the pole in image coordinates (it may lie outside the
frame, or at infinity for a camera aimed at the celestial equator).

The fit, :func:`sky_motion`:

1. Stars are detected on luma against the local background with ``sep`` (Source Extractor as a
   library), brightest first (:func:`detect_stars`).
2. Neighbouring frames are matched (a translation from phase correlation first, then mutual
   nearest neighbours) and fitted with RANSAC (:func:`fit_homography`), so planes, noise and lit
   windows on the ground, which do not follow the sky, are outliers.
3. The steady model grows from that first step: ``H^k`` predicts where the stars of frame 0 are in
   frame ``k`` for ``k = 2, 4, 8, ...`` up to the end of the window, each fit refines ``H``, and
   the long baseline makes it precise (a pole to a pixel, a rate to a fraction of a percent).
4. Steps spread over the window are fitted on their own; one that the steady model does not
   predict to a pixel is a break (a bumped tripod, a cut, a moving platform such as the ISS).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import SourceError
from .homography import (
    Turn,
    apply,
    fit_homography,
    power,
    refine_turn,
    step_error,
    turn_and_pole,
)
from .select import FrameRange
from .skymask import keyframe_snap, wanted_frames
from .sources import SourceBase
from .stars import detect_stars, match_stars

#: Stars a frame needs for the motion to be measured.
MIN_STARS = 12
#: A step the steady model misses by more than this (pixels, root mean square over the frame)
#: is a break.
BREAK_PX = 1.0
#: The sidereal rate: the sky turns 360 degrees in 23 h 56 min 4 s.
SIDEREAL_DEG_PER_HOUR = 360 / (23 + 56 / 60 + 4.0905 / 3600)
#: A motion whose scale changes the frame's corners by more than this (pixels, over the
#: window) is no turn of the sky.
SCALE_PX = 8.0
#: Consecutive steps fitted alone to check that the motion is steady.
CHECKED_STEPS = 5


@dataclass(frozen=True)
class SkyMotion:
    """The fitted motion of the sky over a window.

    Attributes
    ----------
    unit : numpy.ndarray
        The steady model: the homography of one step (one kept frame to the next).
    pole : (float, float) or None
        The celestial pole in image coordinates (None: at infinity).
    deg_per_step : float
        The sky's turn per step, in degrees.
    deg_per_hour : float or None
        The turn per hour of the frames' clock (capture times, else a video's own time).
    stars : int
        Stars detected in the first frame.
    steady : bool
        True when every checked step follows the steady model to :data:`BREAK_PX`.
    breaks : tuple of int
        Frame numbers after which the motion is not the steady model's.
    step_errors : tuple of (int, float)
        The checked steps: the frame number and how far the steady model misses it (pixels).
    drift : (int, int) or None
        Frames between which the sky left the steady model (a bump between two baselines), the
        model being fitted on the frames before.
    """

    unit: np.ndarray
    pole: tuple[float, float] | None
    deg_per_step: float
    deg_per_hour: float | None
    stars: int
    steady: bool
    breaks: tuple[int, ...] = ()
    step_errors: tuple[tuple[int, float], ...] = field(default=())
    drift: tuple[int, int] | None = None

    def describe(self) -> list[str]:
        """Lines for the user: the pole, the rate and its sidereal check, the breaks."""
        pole = ("at infinity (the camera looks at the celestial equator)" if self.pole is None
                else f"at ({self.pole[0]:.1f}, {self.pole[1]:.1f}) px")  # fmt: skip
        lines = [f"Sky motion: {self.stars} stars; the sky turns {self.deg_per_step:.4f} degrees a "
                 f"frame about the pole {pole}"]  # fmt: skip
        if self.deg_per_hour is not None:
            ratio = self.deg_per_hour / SIDEREAL_DEG_PER_HOUR
            line = (f"Rate: {self.deg_per_hour:.2f} degrees an hour of the frames' clock "
                    f"({ratio:.3f} x the sidereal 15.04)")  # fmt: skip
            if ratio > 1.5:  # a timelapse: its clock runs faster than the sky
                every = self.deg_per_step / SIDEREAL_DEG_PER_HOUR * 3600
                line += f"; as a timelapse of the turning sky, a frame every {every:.1f} s"
            lines.append(line)
        if self.drift is not None:
            first, last = self.drift
            lines.append(f"The motion leaves the steady model between frames {first} and {last} "
                         "(a bumped tripod?): the model is fitted before it")  # fmt: skip
        if self.breaks:
            plural = "s" if len(self.breaks) > 1 else ""
            lines.append(f"The motion is not steady after frame{plural} "
                         f"{', '.join(map(str, self.breaks))} (a bumped tripod, a cut, a moving "
                         "platform): each step is fitted alone there")  # fmt: skip
        return lines

    def as_dict(self) -> dict[str, Any]:
        """Plain data, for the sidecar and ``--json``."""
        return {"pole_px": list(self.pole) if self.pole else None,
                "deg_per_frame": self.deg_per_step, "deg_per_hour": self.deg_per_hour,
                "stars": self.stars, "steady": self.steady, "breaks": list(self.breaks),
                "drift": list(self.drift) if self.drift else None,
                "homography_per_frame": self.unit.tolist()}  # fmt: skip


def sky_motion(
    source: SourceBase | str | os.PathLike[str],
    frames: FrameRange | None = None,
    *,
    checked: int = CHECKED_STEPS,
) -> SkyMotion:
    """Fit the sky's motion over ``frames`` (default: all) of a source, or of the video, folder
    or glob at a path (see the module docstring). About 30 frames are decoded, whatever the
    window's length: the doubling baselines from its first frame, and ``checked`` steps spread
    over it.

    Raises
    ------
    SourceError
        When too few stars are found to measure it (daylight, clouds, fog).

    Examples
    --------
    >>> from vid2trail.sources import open_source
    >>> with open_source("night.mp4") as src:  # doctest: +SKIP
    ...     motion = sky_motion(src)
    >>> motion.pole, round(motion.deg_per_hour, 1)  # doctest: +SKIP
    ((1203.4, -388.0), 15.0)
    """
    if not isinstance(source, SourceBase):
        from .sources import open_source

        with open_source(source) as opened:
            return sky_motion(opened, frames, checked=checked)
    info = source.known_info()
    frames = frames or FrameRange(0, info.frame_count, 1)
    count = frames.count() or 0
    if count < 2:
        raise SourceError(f"{info.path}: the sky's motion needs at least 2 frames")
    picks = _picks(source, frames, count, checked)
    stars = _stars(source, frames, picks)
    first = stars[0]
    if len(first) < MIN_STARS:
        raise SourceError(
            f"{info.path}: only {len(first)} stars found in frame {frames.start} (daylight, "
            "clouds or fog?): the sky's motion cannot be measured there"
        )
    unit = _first_step(source, frames, stars)
    tracks: list[tuple[int, np.ndarray, np.ndarray]] = []
    for k in sorted(p for p in picks if p >= 1):
        predicted = apply(power(unit, k), first[:, :2])
        a, b = match_stars(first, stars[k], predicted, radius=3.0)
        fitted = fit_homography(first[a, :2], stars[k][b, :2])
        if fitted is None:
            continue
        inliers = fitted[1]
        tracks.append((k, first[a, :2][inliers], stars[k][b, :2][inliers]))
        unit = power(fitted[0], 1 / k) if k >= 2 else unit
    unit, drift = _steady_part(unit, tracks, frames, info.width, info.height)
    _check_turn(unit, count, info.path, math.hypot(info.width, info.height) / 2)
    degrees, pole = turn_and_pole(unit)
    errors = _check_steps(unit, stars, frames, picks, info.width, info.height)
    breaks = tuple(i for i, error in errors if error > BREAK_PX)
    return SkyMotion(unit, pole, degrees, _per_hour(source, frames, degrees), len(first),
                     not breaks and drift is None, breaks, tuple(errors), drift)  # fmt: skip


def _check_turn(unit: np.ndarray, count: int, path: object, reach: float) -> None:
    """Refuse a motion that is no turn: a turn's homography keeps sizes (its eigenvalues all
    have one modulus), so content that grows or shrinks more than it turns, by more than
    :data:`SCALE_PX` at ``reach`` from the centre over the window, is a zoom or no sky at all.
    (A fisheye's turn fitted by a homography changes scale a little; it turns far more.)"""
    eigenvalues = np.linalg.eigvals(unit)
    moduli = np.abs(eigenvalues)
    change = float(moduli.max() / moduli.min() - 1)
    turn = float(np.max(np.abs(np.angle(eigenvalues))))  # radians a frame
    if change * (count - 1) * reach > SCALE_PX and change > turn:
        raise SourceError(
            f"{path}: what moves in the frames grows or shrinks {change:.2%} a frame, which a "
            "turning sky never does (a zoom, or no sky in view): the sky's motion cannot be "
            "measured"
        )


def _steady_part(
    unit: np.ndarray,
    tracks: list[tuple[int, np.ndarray, np.ndarray]],
    frames: FrameRange,
    width: int,
    height: int,
) -> tuple[np.ndarray, tuple[int, int] | None]:
    """The rotation model fitted to the tracks, refitted to those before the first baseline it
    misses by more than :data:`BREAK_PX` (a bump between two baselines); that baseline's span."""
    turn = refine_turn(unit, tracks, width, height)
    if turn is None:
        return unit, None
    drift, fitted_on = None, len(tracks)
    for _ in range(4):  # a model fitted across the bump first misses an earlier baseline
        missed = next((n for n, (k, a, b) in enumerate(tracks) if n >= 2 and _rms(turn, k, a, b)
                       > BREAK_PX), None)  # fmt: skip
        if missed is None or missed == fitted_on:
            break
        again = refine_turn(turn.homography(1), tracks[:missed], width, height)
        if again is None:
            break
        start, step = frames.start, frames.step
        drift = (int(start + tracks[missed - 1][0] * step), int(start + tracks[missed][0] * step))
        turn, fitted_on = again, missed
    return turn.homography(1), drift


def _rms(turn: Turn, k: int, a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum((apply(turn.homography(k), a) - b) ** 2, axis=1))))


def _picks(source: SourceBase, frames: FrameRange, count: int, checked: int) -> list[int]:
    """The steps to decode: 0 and 1, doubling baselines, the last, and ``checked`` pairs of
    consecutive steps spread over the window. In a video they move to the nearest keyframe (a
    pair: a keyframe and the frame after it), so that a seek decodes one or two frames, not a
    group of pictures."""
    spread = np.linspace(1, count - 1, checked + 1).round().astype(int)[1:]
    doubling = [2**k for k in range(1, 32) if 2**k < count]
    snap = keyframe_snap(source, frames, count)
    singles = {snap(p) for p in [*doubling, count - 1]}
    pairs: set[int] = set()
    for p in spread:  # a keyframe serves one pair: as many checks as asked for
        near = snap(p - 1)
        pairs.add(near if near not in pairs else p - 1)
    return sorted(
        int(p) for p in {0, 1, *singles, *pairs, *(p + 1 for p in pairs if p + 1 < count)}
    )


def _stars(source: SourceBase, frames: FrameRange, picks: Sequence[int]) -> dict[int, np.ndarray]:
    """The stars of the picked steps (positions counted from the window's first frame); the next
    frames decode while the stars of this one are found."""
    wanted = {frames.start + k * frames.step: k for k in picks}
    return {wanted[f.index]: detect_stars(f.pixels) for f in wanted_frames(source, sorted(wanted))}


def _first_step(source: SourceBase, frames: FrameRange, stars: dict[int, np.ndarray]) -> np.ndarray:
    """The homography of the first step, from a phase-correlation shift and matched stars."""
    a, b = stars[0], stars[1]
    shift = _shift(a, b)
    moved = a[:, :2] + shift
    for radius in (3.0, 8.0, 20.0):
        i, j = match_stars(a, b, moved, radius)
        fitted = fit_homography(a[i, :2], b[j, :2])
        if fitted is not None:
            return fitted[0]
    raise SourceError(
        f"{source.info.path}: the stars of frames {frames.start} and {frames.start + frames.step} "
        "could not be matched (too few in common): the sky's motion cannot be measured"
    )


def _shift(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The most common displacement between two star lists (a vote over every pair)."""
    if not len(a) or not len(b):
        return np.zeros(2)
    top_a, top_b = a[:80, :2], b[:80, :2]
    pairs = (top_b[None, :, :] - top_a[:, None, :]).reshape(-1, 2)
    votes = np.round(pairs / 2.0)
    keys, counts = np.unique(votes, axis=0, return_counts=True)
    best = keys[counts.argmax()] * 2.0
    near = np.hypot(*(pairs - best).T) <= 2.5
    return pairs[near].mean(axis=0) if near.any() else best


def _check_steps(
    unit: np.ndarray,
    stars: dict[int, np.ndarray],
    frames: FrameRange,
    picks: Sequence[int],
    width: int,
    height: int,
) -> list[tuple[int, float]]:
    """How far the steady model misses each fitted consecutive step of the picks."""
    errors = []
    for k in picks:
        if k + 1 not in stars or k not in stars:
            continue
        a, b = stars[k], stars[k + 1]
        i, j = match_stars(a, b, apply(unit, a[:, :2]), radius=6.0)
        fitted = fit_homography(a[i, :2], b[j, :2])
        index = frames.start + k * frames.step
        if fitted is None:
            errors.append((index, math.inf))
            continue
        errors.append((index, step_error(fitted[0], unit, width, height)))
    return errors


def _per_hour(source: SourceBase, frames: FrameRange, degrees: float) -> float | None:
    """Degrees an hour of the frames' clock: their capture times, else a video's own times."""
    count = frames.count() or 0
    last = frames.start + (count - 1) * frames.step
    clocks = source.clock_times()
    if clocks is not None and last < len(clocks):
        seconds = (clocks[last] - clocks[frames.start]).total_seconds()
    else:
        times = source.frame_times()
        if times is None or last >= len(times):
            return None
        seconds = times[last] - times[frames.start]
    if seconds <= 0:
        return None
    return degrees * (count - 1) / seconds * 3600


__all__ = ["SkyMotion", "detect_stars", "match_stars", "sky_motion"]
