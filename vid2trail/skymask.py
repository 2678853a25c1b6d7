"""The sky mask: which pixels show the turning sky, and which the ground and what stays put.

:func:`find_sky` finds it from the frames themselves. Pairs of frames a few pixels of sky motion
apart are compared twice: as they are, and with the earlier one moved along the sky's motion.
Where moving that frame makes the pair agree (a star), the pixel is sky; where it makes them
disagree (a lit window, the horizon's edge, trees, a static light, a hot pixel), it stays put.
Every pixel then takes the side of the nearer of those two kinds of evidence, and a pixel far from
any star stays ground, so dark featureless ground is never taken for sky.

The same frames give the *static* lights: bright in most of them, whether sky or not (a tower's
beacon, a hot pixel, the stars next to the pole that barely move). Gap filling moves none of them.

:func:`read_sky_mask` reads a mask drawn by hand (white = sky), :func:`write_sky_mask` writes the
one a run used, and :func:`feather` makes the soft edge that blends an aligned sky into a frozen
foreground.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from .errors import SourceError, UsageError, option
from .frames import Frame
from .homography import apply, power
from .luma import background, frame_noise, native_luma
from .select import FrameRange
from .sources import SourceBase
from .sources.readahead import beside

#: Frame pairs compared to find the sky.
PAIRS = 6
#: The pairs are this many pixels of sky motion apart (the frame's median), at least.
PAIR_MOTION_PX = 4.0
#: Evidence counts above this many times the noise of a pixel's difference.
EVIDENCE_K = 4.0
#: A pixel brighter than its background by this many times the noise in most of the sampled
#: frames is a static light.
STATIC_K = 4.0
#: Frames of a video this close share a seek: a seek and its keyframe cost about as much as
#: decoding this many frames after them.
SEEK_GAP = 6
#: A part of the frame's edge without evidence, smaller than this share of the frame, is sky.
EDGE_NOTCH_SHARE = 0.01


@dataclass(frozen=True)
class SkyMask:
    """Where the sky is, and what in it stays put.

    Attributes
    ----------
    sky : numpy.ndarray
        ``H x W`` bool, True for the turning sky.
    static : numpy.ndarray
        ``H x W`` bool, True for lights that stay put in most frames (never moved by gap filling).
    noise : float
        The frames' noise (luma code values, one frame's standard deviation).
    source : str
        ``"found"`` or the path of the mask that was read.
    level : float, optional
        The sky's median luma as a share of white (a night sky's is low), where it was found.
    """

    sky: np.ndarray
    static: np.ndarray
    noise: float
    source: str = "found"
    level: float | None = None

    def fraction(self) -> float:
        """The share of the frame that is sky."""
        return float(self.sky.mean())


def find_sky(
    source: SourceBase, frames: FrameRange, unit: np.ndarray, *, pairs: int = PAIRS
) -> SkyMask:
    """Find the sky in ``frames`` of ``source`` that turn by the homography ``unit`` a frame.

    Raises
    ------
    SourceError
        When the window is too short for a pair of frames, or no sky is found.

    Examples
    --------
    >>> from vid2trail.sky import sky_motion
    >>> mask = find_sky(src, FrameRange(0, 300), sky_motion(src).unit)  # doctest: +SKIP
    >>> round(mask.fraction(), 2)  # doctest: +SKIP
    0.78
    """
    info = source.known_info()
    count = frames.count() or 0
    apart = frames_apart(unit, info.width, info.height, count)
    snap = keyframe_snap(source, frames, count - apart)
    firsts: list[int] = []
    for k in np.linspace(0, count - 1 - apart, pairs).round().astype(int):
        near = snap(int(k))  # a keyframe, where a seek decodes least; each serves one pair
        firsts.append(near if near not in firsts else int(k))
    firsts.sort()
    wanted = sorted({frames.start + k for k in firsts} | {frames.start + k + apart for k in firsts})
    lumas = dict(_decoded(source, wanted))
    noise = float(np.median([frame_noise(v.astype(np.float32)) for v in lumas.values()]))
    height, width = info.height, info.width
    moved = power(unit, apart)
    sky_seen = np.zeros((height, width), bool)
    ground_seen = np.zeros((height, width), bool)
    # The pixels whose moved value came from inside the frame (a box filter spreads a NaN).
    inside = cv2.warpPerspective(np.ones((height, width), np.uint8), moved, (width, height),
                                 flags=cv2.INTER_NEAREST, borderValue=0)  # fmt: skip
    valid = cv2.erode(inside, np.ones((5, 5), np.uint8)).astype(bool)
    # A 3x3 mean of |difference of two noisy pixels| has a spread near 0.5 x the noise.
    threshold = EVIDENCE_K * 0.5 * noise
    evidence: list[tuple[int, np.ndarray, np.ndarray]] = []  # bits packed: 1/8 the memory
    for k in firsts:
        a = lumas[frames.start + k].astype(np.float32)
        b = lumas[frames.start + k + apart].astype(np.float32)
        warped = cv2.warpPerspective(a, moved, (width, height), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
        still = cv2.blur(np.abs(a - b), (3, 3))
        turned = cv2.blur(np.abs(warped - b), (3, 3))
        sky_here = valid & (still - turned > threshold)
        # Moving the frame broke what agreed as it was: structure that stays put.
        ground_here = valid & (turned - still > threshold) & (still < threshold)
        evidence.append((int(sky_here.sum()), np.packbits(sky_here), np.packbits(ground_here)))
    # A pair the motion does not match (a bump, a cloud) says nothing of where the sky is.
    typical = float(np.median([seen for seen, _, _ in evidence]))
    agreeing = [(sky, ground) for seen, sky, ground in evidence if seen >= 0.3 * typical]
    staying = np.zeros((height, width), np.uint8)
    for sky, ground in agreeing:
        sky_seen |= np.unpackbits(sky, count=height * width).reshape(height, width).view(bool)
        staying += np.unpackbits(ground, count=height * width).reshape(height, width)
    # What stays put does so in every pair; noise that looks like it, in one.
    ground_seen |= staying >= min(2, len(agreeing))
    ground_seen |= _static_edges(list(lumas.values()), noise)
    sky = _nearer_side(sky_seen, ground_seen)
    if not sky.any():
        raise SourceError(
            f"{info.path}: no sky found (nothing in the frames follows the sky's motion): give "
            f"the sky as {option('sky_mask')} PATH"
        )
    first = next(iter(lumas.values()))
    white = float(np.iinfo(first.dtype).max) if first.dtype.kind in "ui" else 1.0
    level = float(np.median(first[sky])) / white
    return SkyMask(sky, _static(list(lumas.values()), noise), noise, level=level)


def frames_apart(unit: np.ndarray, width: int, height: int, count: int) -> int:
    """Frames for the sky to move :data:`PAIR_MOTION_PX` pixels (the frame's median), within a
    window of ``count`` frames.

    Examples
    --------
    >>> frames_apart(np.array([[1, 0, 0.5], [0, 1, 0], [0, 0, 1.0]]), 64, 48, 100)
    8
    """
    per_frame = motion_px(unit, width, height)
    apart = math.ceil(PAIR_MOTION_PX / per_frame) if per_frame > 0 else count - 1
    return max(1, min(apart, count - 1))


def motion_px(h: np.ndarray, width: int, height: int, where: np.ndarray | None = None) -> float:
    """The median distance (pixels) the homography ``h`` moves the points of a grid over the
    frame, or over the True pixels of ``where``.

    Examples
    --------
    >>> motion_px(np.array([[1, 0, 3.0], [0, 1, 4], [0, 0, 1]]), 64, 48)
    5.0
    """
    xs, ys = np.meshgrid(np.linspace(0, width - 1, 17), np.linspace(0, height - 1, 17))
    grid = np.column_stack([xs.ravel(), ys.ravel()])
    if where is not None:
        inside = where[grid[:, 1].round().astype(int), grid[:, 0].round().astype(int)]
        grid = grid[inside] if inside.any() else grid
    return float(np.median(np.hypot(*(apply(h, grid) - grid).T)))


def keyframe_snap(source: SourceBase, frames: FrameRange, count: int) -> Any:
    """``snap(step)``: the step of the keyframe nearest ``step`` of a video's window (the step
    itself without a keyframe index, or for photos).

    Examples
    --------
    >>> snap = keyframe_snap(src, FrameRange(0, 300), 300)  # doctest: +SKIP
    >>> snap(37)  # doctest: +SKIP
    25
    """
    keys = None
    if frames.step == 1 and source.info.backend != "images":
        keys = source.keyframes_in(frames.start, frames.start + count)
    if not keys:
        return lambda step: step
    offsets = np.array(keys) - frames.start

    def snap(step: int) -> int:
        return int(offsets[np.argmin(np.abs(offsets - step))])

    return snap


def runs(numbers: Sequence[int], gap: int = 1) -> list[tuple[int, int]]:
    """Sorted numbers as runs, ``(first, last)``, of ones at most ``gap`` apart.

    Examples
    --------
    >>> runs([0, 1, 2, 5, 7, 8])
    [(0, 2), (5, 5), (7, 8)]
    >>> runs([0, 1, 2, 5, 7, 8], gap=3)
    [(0, 8)]
    """
    out: list[tuple[int, int]] = []
    for n in numbers:
        if out and n - out[-1][1] <= gap:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


def seek_spans(source: SourceBase, numbers: Sequence[int]) -> list[tuple[int, int]]:
    """The spans of frames to read the sorted ``numbers`` in, one seek each: in a video, frames
    up to :data:`SEEK_GAP` apart share a seek (decoding on costs less than seeking again)."""
    return runs(numbers, 1 if source.info.backend == "images" else SEEK_GAP)


def wanted_frames(source: SourceBase, wanted: Sequence[int]) -> Iterator[Frame]:
    """The frames numbered ``wanted`` (sorted), as copies the decoder cannot reuse, decoded in a
    thread beside the caller: by :func:`seek_spans` where the source seeks exactly, else in one
    pass from the first to the last.

    Examples
    --------
    >>> [f.index for f in wanted_frames(src, [0, 1, 120])]  # doctest: +SKIP
    [0, 1, 120]
    """
    if not wanted:
        return iter(())
    exact = source.exact_seek or source.info.backend == "images"
    spans = seek_spans(source, wanted) if exact else [(wanted[0], wanted[-1])]
    keep = set(wanted)

    def read() -> Iterator[Frame]:
        for first, last in spans:
            for f in source.frames(first, last + 1):
                if f.index in keep:
                    yield Frame(f.index, f.time_s, f.pixels.copy())

    return beside(read())


def _decoded(source: SourceBase, wanted: list[int]) -> list[tuple[int, np.ndarray]]:
    """The luma of the wanted frames, in the frames' own dtype."""
    found = [(f.index, native_luma(f.pixels)) for f in wanted_frames(source, wanted)]
    if len(found) != len(wanted):
        raise SourceError(f"{source.info.path}: frames {wanted} could not all be read to find "
                          "the sky")  # fmt: skip
    return found


def _nearer_side(sky_seen: np.ndarray, ground_seen: np.ndarray) -> np.ndarray:
    """Every pixel on the side of the nearer evidence, and ground beyond the stars' reach.

    The reach is twice the typical spacing of the sky's evidence, so a band of sky between
    stars is sky while dark ground below the last star is not."""
    seeds = sky_seen.astype(np.uint8)
    count, _ = cv2.connectedComponents(seeds, connectivity=8)
    spacing = math.sqrt(sky_seen.size / max(1, count - 1))
    reach = min(max(6.0, 2.0 * spacing), 0.05 * math.hypot(*sky_seen.shape))
    to_sky = cv2.distanceTransform(1 - seeds, cv2.DIST_L2, 3)
    to_ground = cv2.distanceTransform(1 - ground_seen.astype(np.uint8), cv2.DIST_L2, 3)
    sky = (to_sky < to_ground) & (to_sky <= reach)
    # Islands of sky smaller than a star's reach in the ground are noise.
    count, labels, stats, _ = cv2.connectedComponentsWithStats(sky.astype(np.uint8), 4)
    small = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] < reach * reach)
    small = small[small > 0]
    if len(small):
        sky &= ~np.isin(labels, small)
    # Holes in the sky with nothing that stays put in them are sky between sparse stars; so are
    # small notches at the frame's edge, where stars leave the frame before they can be seen
    # to move (a large part without evidence at the edge may be featureless ground).
    count, labels, stats, _ = cv2.connectedComponentsWithStats((~sky).astype(np.uint8), 4)
    evidenced = np.unique(labels[ground_seen & ~sky])
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    notches = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] < EDGE_NOTCH_SHARE * sky.size)
    holes = np.setdiff1d(np.arange(1, count), np.union1d(evidenced, np.setdiff1d(edge, notches)))
    if len(holes):
        sky |= np.isin(labels, holes)
    return sky


def _static_edges(lumas: list[np.ndarray], noise: float) -> np.ndarray:
    """Edges of what stays put: a step in the frames' median, where moving stars leave none
    (the horizon, whatever the direction the sky moves along it)."""
    half = len(lumas) // 2
    median = np.partition(np.stack(lumas), half, axis=0)[half].astype(np.float32)
    smooth = cv2.GaussianBlur(median, (0, 0), 1.0)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3) / 8
    # The median of n frames has about 1.25 / sqrt(n) of one frame's noise, smoothed further.
    return np.hypot(gx, gy) > EVIDENCE_K * noise / math.sqrt(len(lumas))


def _static(lumas: list[np.ndarray], noise: float) -> np.ndarray:
    """Lights above their background in most of the frames (grown by 2 pixels)."""
    count = np.zeros(lumas[0].shape, np.uint8)
    for luma in lumas:
        v = luma.astype(np.float32)
        count += (v - background(v)) > STATIC_K * noise
    static = count.astype(np.int32) * 2 > len(lumas)
    grown = cv2.dilate(static.astype(np.uint8), np.ones((5, 5), np.uint8))
    return grown.astype(bool)


def read_sky_mask(path: str | os.PathLike[str], width: int, height: int) -> np.ndarray:
    """A mask drawn by hand: white (at least half way) is sky; it must have the frames' size.

    Raises
    ------
    UsageError
        When the file cannot be read, or its size is not the frames'.

    Examples
    --------
    >>> sky = read_sky_mask("sky.png", 1920, 1080)  # doctest: +SKIP
    """
    from .sources.stills import read_image

    if not os.path.isfile(path):
        raise UsageError(f"{option('sky_mask')} {path}: no such file; draw the sky as a PNG, TIFF "
                         "or JPEG at the frames' size (white = sky)")  # fmt: skip
    try:
        image = read_image(os.fspath(path))
    except Exception:
        raise UsageError(
            f"{option('sky_mask')} {path}: cannot read it as an image; give a PNG, TIFF or JPEG "
            "(white = sky)"
        ) from None
    if image.shape[:2] != (height, width):
        raise UsageError(
            f"{option('sky_mask')} {path}: it is {image.shape[1]}x{image.shape[0]}, the frames "
            f"are {width}x{height}: draw it at the frames' size"
        )
    level = image.astype(np.float32).mean(axis=2)
    return level >= (np.iinfo(image.dtype).max + 1) / 2


def write_sky_mask(path: str | os.PathLike[str], sky: np.ndarray) -> None:
    """Write a mask as an 8-bit grayscale image (255 = sky), atomically.

    Examples
    --------
    >>> write_sky_mask("sky.png", np.ones((4, 4), bool))  # doctest: +SKIP
    """
    from .writers import write_still

    write_still(path, np.where(sky, 255, 0).astype(np.uint8))


def feather(sky: np.ndarray, width: float) -> np.ndarray:
    """The sky's weight, float32 from 0 on its edge to 1 ``width`` pixels inside it (0 outside
    it), so an aligned sky fades into the frozen foreground without touching the foreground.

    Examples
    --------
    >>> sky = np.zeros((1, 9), bool); sky[0, 2:] = True
    >>> feather(sky, 4).round(2).tolist()
    [[0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0]]
    """
    if width <= 0:
        return sky.astype(np.float32)
    padded = cv2.copyMakeBorder(sky.astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_REPLICATE)
    inside = cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]
    return np.clip(inside / width, 0.0, 1.0).astype(np.float32)


__all__ = ["SkyMask", "feather", "find_sky", "read_sky_mask", "write_sky_mask"]
