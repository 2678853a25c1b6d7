"""What a stack asks of the sky's motion, and the work done before decoding to give it.

A :class:`SkyJob` says whether to fill the gaps of a max stack (:mod:`vid2trail.gaps`), align the
sky of the other modes (:mod:`vid2trail.align`), which sky mask to use and where to write it.
:func:`prepare_sky` measures the motion (:func:`vid2trail.sky.sky_motion`), finds or reads the
mask (:mod:`vid2trail.skymask`) and builds the frame transform the pipeline applies;
:func:`auto_trail_frames` turns the motion into a trail length in frames for ``--trail-frames
auto``. The orchestrator calls both; nothing here prints.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import SourceError, UsageError, option
from .select import FrameRange

if TYPE_CHECKING:
    from .align import AlignSky
    from .gaps import FillGaps
    from .sky import SkyMotion
    from .sources import SourceBase

#: The modes whose gaps ``fill_gaps`` fills: a max stack's trails.
FILL_MODES = ("max",)
#: The modes whose sky ``align`` moves onto the reference frame.
ALIGN_MODES = ("mean", "sum", "sigma", "winsor", "median", "maxmean", "min")
#: Sky masks are written as these.
MASK_SUFFIXES = (".png", ".tif", ".tiff")
#: An aligned sky fades into the foreground over this share of the frame's diagonal.
FEATHER_SHARE = 0.01
#: ``--align`` interpolates bicubically where a frame is this many times its noise above the
#: sky (bilinearly elsewhere).
STAR_FLOOR_K = 5.0
#: A sky brighter than this share of white (its median) is said to be: a night sky is darker.
BRIGHT_SKY = 0.35
#: ``--trail-frames auto``: a tail this share of the frame's diagonal long.
TRAIL_SHARE = 0.04
#: ``--trail-frames auto`` for window trails holds at most this many bytes of frames.
WINDOW_BYTES = 1 << 30


@dataclass(frozen=True)
class SkyJob:
    """The sky's part of a stack job.

    Examples
    --------
    >>> SkyJob(fill_gaps=True).validate("max")
    >>> SkyJob(align=True, align_to=120).needs_motion()
    True
    """

    fill_gaps: bool = False
    align: bool = False
    #: The reference frame of ``align`` (None: the middle of the window).
    align_to: int | None = None
    #: A mask drawn by hand (white = sky) instead of the one found.
    mask: str | os.PathLike[str] | None = None
    #: Where to write the mask used.
    mask_out: str | os.PathLike[str] | None = None

    def needs_motion(self) -> bool:
        """True when the stack needs the sky's motion measured first."""
        return self.fill_gaps or self.align or self.mask_out is not None

    def validate(self, mode: str) -> None:
        """Refuse what cannot apply to a ``mode`` stack, before any decoding."""
        if self.fill_gaps and self.align:
            raise UsageError(
                f"give {option('fill_gaps')} or {option('align')}, not both: gaps are filled in "
                f"the trails of a max stack, the sky is aligned for the other modes"
            )
        if self.fill_gaps and mode not in FILL_MODES:
            raise UsageError(
                f"{option('fill_gaps')} fills the trails of {option('mode')} max, not of a "
                f"{mode} stack: for a sharp {mode} of the sky, use {option('align')}"
            )
        if self.align and mode not in ALIGN_MODES:
            raise UsageError(
                f"{option('align')} applies to {option('mode')} {', '.join(ALIGN_MODES)}: a max "
                f"stack's trails are the sky's motion; to close their gaps, use "
                f"{option('fill_gaps')}"
            )
        if self.align_to is not None and not self.align:
            raise UsageError(f"{option('align_to')} needs {option('align')}")
        if self.align_to is not None and (
            isinstance(self.align_to, bool) or not isinstance(self.align_to, int)
            or self.align_to < 0
        ):  # fmt: skip
            raise UsageError(f"{option('align_to')} {self.align_to!r}: give a frame number")
        if self.mask is not None and not (self.fill_gaps or self.align):
            raise UsageError(f"{option('sky_mask')} applies to {option('fill_gaps')} and "
                             f"{option('align')}: add one of them")  # fmt: skip
        out = self.mask_out
        if out is not None and Path(out).suffix.lower() not in MASK_SUFFIXES:
            raise UsageError(f"{option('sky_mask_out')} {out}: write the mask as .png or .tif")


@dataclass(frozen=True)
class PreparedSky:
    """The motion and mask a run measured, and the frame transform built on them."""

    motion: SkyMotion
    warp: FillGaps | AlignSky | None
    sky_share: float
    reference: int | None = None

    def record(self) -> dict[str, Any]:
        """For the still's provenance and its sidecar."""
        out: dict[str, Any] = {"sky_motion": self.motion.as_dict(),
                               "sky_share": round(self.sky_share, 4)}  # fmt: skip
        if self.reference is not None:
            out["aligned_to"] = self.reference
        return out


def prepare_sky(
    sky: SkyJob,
    source: SourceBase,
    plan: FrameRange,
    say: Callable[[str], None],
) -> PreparedSky:
    """Measure the sky over ``plan`` (every frame of it: the sky kept turning between the kept
    ones), find or read its mask, write the mask where asked, and build the frame transform.

    Raises
    ------
    SourceError
        Too few stars, frames that do not match, no sky found.
    UsageError
        An ``align_to`` frame outside the window, a mask of the wrong size.

    Examples
    --------
    >>> from vid2trail.sources import open_source
    >>> with open_source("night.mp4") as src:  # doctest: +SKIP
    ...     ready = prepare_sky(SkyJob(fill_gaps=True), src, FrameRange(0, 900), print)
    """
    from .sky import sky_motion
    from .skymask import SkyMask, feather, find_sky, read_sky_mask, write_sky_mask
    from .stars import detect_stars

    info = source.known_info()
    every = every_frame(source, plan)
    reference = _reference(sky, source, every)
    drawn = None if sky.mask is None else read_sky_mask(sky.mask, info.width, info.height)
    motion = sky_motion(source, every)
    for line in motion.describe():
        say(line)
    found = find_sky(source, every, motion.unit)
    mask = found
    if drawn is not None and sky.mask is not None:
        mask = SkyMask(drawn, found.static, found.noise, os.fspath(sky.mask))
    say(f"Sky: {mask.fraction():.0%} of the frame"
        + (f" (from {mask.source})" if sky.mask is not None else ""))  # fmt: skip
    if found.level is not None and found.level > BRIGHT_SKY:
        say(f"Note: the sky is bright (its median is {found.level:.0%} of white): daylight, or a "
            "bright Moon? What turns with it may be the scene, not stars")  # fmt: skip
    if sky.mask_out is not None:
        write_sky_mask(sky.mask_out, mask.sky)
    warp: FillGaps | AlignSky | None = None
    if sky.fill_gaps:
        from .gaps import FillGaps

        warp = FillGaps(motion.unit, mask, motion.breaks, source.clock_times())
    elif sky.align:
        from .align import AlignSky

        weight = feather(mask.sky, FEATHER_SHARE * math.hypot(info.width, info.height))
        [frame] = list(source.frames(reference, reference + 1))
        stars = None
        if not motion.steady:
            stars = detect_stars(frame.pixels)
            say("The motion is not steady: every frame is registered on the stars of frame "
                f"{reference}")  # fmt: skip
        sharp = star_pixels(frame.pixels, mask.noise)
        warp = AlignSky(motion.unit, weight, reference, stars, sharp)
    return PreparedSky(motion, warp, mask.fraction(), reference if sky.align else None)


def every_frame(source: SourceBase, plan: FrameRange) -> FrameRange:
    """Every frame of the plan's span, its end known (the sky kept turning between kept ones).

    Examples
    --------
    >>> every_frame(src, FrameRange(10, None, 8))  # doctest: +SKIP
    FrameRange(start=10, end=900, step=1)
    """
    end = plan.end
    known = source.exact_info().frame_count
    if known is not None:
        end = known if end is None else min(end, known)
    if end is None:
        raise SourceError(f"{source.info.path}: the frame count is not known: give an end")
    return FrameRange(plan.start, end, 1)


def star_pixels(pixels: np.ndarray, noise: float) -> np.ndarray:
    """A frame's star pixels and those next to them: luma above its local background by
    :data:`STAR_FLOOR_K` times the noise, grown by a pixel (:class:`vid2trail.align.AlignSky`
    interpolates those bicubically).

    Examples
    --------
    >>> frame = np.full((64, 64, 3), 10, np.uint8); frame[30, 40] = 200
    >>> int(star_pixels(frame, 2.0).sum())
    9
    """
    import cv2

    from .luma import background, native_luma

    luma = native_luma(pixels)
    floor = background(luma.astype(np.float32)) + STAR_FLOOR_K * noise
    above = (luma > floor).astype(np.uint8)
    return cv2.dilate(above, np.ones((3, 3), np.uint8)).astype(bool)


def _reference(sky: SkyJob, source: SourceBase, every: FrameRange) -> int:
    """The frame the sky is aligned to: ``align_to``, else the middle of the window."""
    count = every.count() or 1
    last = every.start + count - 1
    if sky.align_to is None:
        return every.start + (count - 1) // 2
    if not every.start <= sky.align_to <= last:
        raise UsageError(
            f"{option('align_to')} {sky.align_to}: the frames stacked are {every.start} to "
            f"{last}; give one of them"
        )
    return sky.align_to


def auto_trail_frames(
    source: SourceBase,
    plan: FrameRange,
    trail: str,
    length_px: float | None,
    motion: SkyMotion | None = None,
) -> tuple[int | None, str]:
    """The trail length in stacked frames that makes a ``trail`` (comet or window) tail
    ``length_px`` pixels long (default :data:`TRAIL_SHARE` of the diagonal), and a line that
    says so; ``(None, why)`` where the sky's motion cannot be measured. ``motion``: the motion
    measured already (``--fill-gaps`` with a trail video), else it is measured here.

    Examples
    --------
    >>> from vid2trail.sources import open_source
    >>> with open_source("stars.mp4") as src:  # doctest: +SKIP
    ...     auto_trail_frames(src, FrameRange(0, 600), "comet", None)
    (52, 'comet trails of 52 frames: a 44-pixel tail at 0.85 pixels a frame')
    """
    from .homography import power
    from .sky import sky_motion
    from .skymask import motion_px

    info = source.known_info()
    if motion is None:
        try:
            motion = sky_motion(source, every_frame(source, plan))
        except SourceError as exc:
            return None, str(exc)
    per_frame = motion_px(power(motion.unit, plan.step), info.width, info.height)
    diagonal = math.hypot(info.width, info.height)
    length = length_px if length_px is not None else TRAIL_SHARE * diagonal
    if per_frame <= 0.01:
        return None, f"{info.path}: the stars barely move ({per_frame:.3f} pixels a frame)"
    frames = max(2, math.ceil(length / per_frame))
    capped = ""
    if trail == "window":
        most = max(2, WINDOW_BYTES // info.frame_bytes)
        if frames > most:
            frames, capped = most, f" (at most {most} frames: 1 GiB of them)"
    frames = min(frames, 1_000_000)
    return frames, (f"{trail} trails of {frames} frames{capped}: a {length:.0f}-pixel tail at "
                    f"{per_frame:.2f} pixels a frame")  # fmt: skip


__all__ = ["SkyJob", "auto_trail_frames", "prepare_sky"]
