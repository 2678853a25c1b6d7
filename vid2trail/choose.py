"""Which frames to stack: flash rejection and frames excluded by hand (the night: :mod:`.night`).

Every decision works on one number per frame, its *brightness*: the mean luma Y' of the frame,
BT.709 weights on the gamma-encoded code values, scaled so 0 is black and 1 is white. Encoded luma
rather than linear light, because it spreads the dark levels where night and twilight differ the
way the eye (and the finished still) sees them; in linear light a night frame and a late-twilight
frame are both "almost zero".

- **Flashes** (``--reject auto``): a frame is rejected when its brightness is both above the
  running median of the frames before it by more than ``K`` robust standard deviations
  (``median + K * 1.4826 * MAD``, with a floor of :data:`SIGMA_FLOOR` so a steady clip does not
  reject noise) and a jump of the same size from the last frame kept (see
  :class:`FlashRejector`). The window looks back only (:data:`REJECT_HISTORY` frames), so it runs
  in the same single pass that stacks; the first frames, which have no past, are judged against
  the first :data:`REJECT_HISTORY` frames, read once ahead of the pass.
- **Exclusions** (``--exclude 300-320,1200``): frame numbers or times, ranges inclusive at both
  ends, read by :mod:`vid2trail.exclude`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cv2
import numpy as np

from .color import LUMA_WEIGHTS
from .errors import UsageError, option
from .exclude import Exclusions, parse_exclude, uses_clock, uses_time
from .frames import Frame
from .select import FrameRange

if TYPE_CHECKING:
    from .sources import SourceBase

#: ``K`` of ``--reject auto``: a frame brighter than median + K robust sigmas is a flash.
DEFAULT_REJECT_K = 5.0
#: Frames in the look-back window of the running median.
REJECT_HISTORY = 15
#: Smallest robust sigma, in brightness units (about 2 8-bit code values): with K = 5 a flash
#: must lift the mean by at least 0.04 (10 code values).
SIGMA_FLOOR = 0.008


def frame_brightness(pixels: np.ndarray, max_samples: int = 200_000) -> float:
    """Mean luma Y' of a frame in ``[0, 1]``, from evenly spaced whole rows (``max_samples`` px).

    Parameters
    ----------
    pixels : numpy.ndarray
        ``H x W x 3`` RGB or ``H x W x 1`` grayscale, uint8, uint16 or float (integers are
        divided by their white level).
    max_samples : int
        Every ``s``-th row is read so that about this many pixels are averaged, and never fewer
        than 64 rows; a small frame is read whole. Whole rows keep the read sequential (OpenCV's
        vectorized mean), which costs a fraction of a millisecond even on a 4K frame.

    Examples
    --------
    >>> round(frame_brightness(np.full((4, 4, 3), 255, np.uint8)), 6)
    1.0
    >>> round(frame_brightness(np.zeros((2, 2, 1), np.uint16) + 32768), 3)
    0.5
    """
    height, width = pixels.shape[:2]
    stride = max(1, min(height // 64, math.ceil(height * width / max_samples)))
    sample = pixels[::stride]
    channels = pixels.shape[2] if pixels.ndim == 3 else 1
    if channels in (1, 3) and pixels.dtype in (np.uint8, np.uint16, np.float32, np.float64):
        means = np.array(cv2.mean(sample)[:channels])
    else:
        means = sample.reshape(-1, channels).mean(axis=0)
    value = float(means[0]) if channels == 1 else float(means @ LUMA_WEIGHTS)
    if np.issubdtype(pixels.dtype, np.integer):
        value /= np.iinfo(pixels.dtype).max
    return value


class FlashRejector:
    """Judge frames one at a time against the frames before them (a causal Hampel filter).

    Over the last ``history`` values (all of them, flashes included: medians ignore a few), a
    value ``v`` is a flash when it is both

    - a *level* outlier: ``v > median + k * sigma``, ``sigma = max(1.4826 * MAD, floor)``, and
    - a *jump*: ``v > last_kept + n * trend + k * sigma``, where ``trend`` is the median
      frame-to-frame difference and ``last_kept`` the value that was not a flash ``n`` frames
      ago.

    The jump test spares steady change that outruns a look-back median: dawn, a cloud drifting
    in. A sudden lasting brightening (a street light switched on) is rejected until half the
    history has seen it. :meth:`prime` gives the first values ahead of time; the frames among them
    are judged against that first group, since they have no past.

    Examples
    --------
    >>> r = FlashRejector(k=5)
    >>> r.prime([0.1, 0.1, 0.9, 0.1, 0.1])
    >>> [r.is_flash(v) for v in [0.1, 0.1, 0.9, 0.1, 0.1, 0.1, 0.8, 0.8, 0.1]]
    [False, False, True, False, False, False, True, True, False]
    """

    def __init__(
        self, k: float = DEFAULT_REJECT_K, history: int = REJECT_HISTORY, floor: float = SIGMA_FLOOR
    ) -> None:
        if not k > 0:
            raise UsageError(f"{option('reject_above')} {k}: K must be above 0 (5 is a good start)")
        self.k, self.history, self.floor = float(k), int(history), float(floor)
        self._past: deque[float] = deque(maxlen=self.history)
        self._primed: list[float] = []
        self._seen = 0
        self._last_kept: float | None = None
        self._since_kept = 0

    def prime(self, values: Iterable[float]) -> None:
        """The first values of the sequence (up to ``history``), known before judging starts."""
        self._primed = [float(v) for v in values][: self.history]
        self._past.extend(self._primed)

    def _robust(self, values: np.ndarray) -> tuple[float, float]:
        median = float(np.median(values))
        return median, max(1.4826 * float(np.median(np.abs(values - median))), self.floor)

    def threshold(self) -> float:
        """The brightness above which the next value is a flash (``inf`` with no reference)."""
        reference = self._primed if self._seen < len(self._primed) else list(self._past)
        if not reference:
            return math.inf
        values = np.asarray(reference)
        median, sigma = self._robust(values)
        level = median + self.k * sigma
        if self._last_kept is None or len(values) < 3:
            return level
        trend = float(np.median(np.diff(values)))
        return max(level, self._last_kept + trend * self._since_kept + self.k * sigma)

    def is_flash(self, value: float) -> bool:
        """Judge the next value, then remember it."""
        flash = value > self.threshold()
        self._since_kept += 1
        if not flash:
            self._last_kept, self._since_kept = float(value), 1
        if self._seen >= len(self._primed):
            self._past.append(float(value))
        self._seen += 1
        return flash


def flag_flashes(
    values: Sequence[float] | np.ndarray,
    k: float = DEFAULT_REJECT_K,
    history: int = REJECT_HISTORY,
) -> np.ndarray:
    """Flash flags for a whole brightness series, exactly as the one-pass stack decides them.

    Examples
    --------
    >>> flag_flashes([0.1] * 8 + [0.7] + [0.1] * 8).nonzero()[0].tolist()
    [8]
    """
    rejector = FlashRejector(k, history)
    values = np.asarray(values, dtype=np.float64)
    rejector.prime(values[:history])
    return np.array([rejector.is_flash(v) for v in values], dtype=bool)


@dataclass
class FrameFilter:
    """The per-frame hook of :func:`vid2trail.pipeline.run_reducers`: keep, or drop and record.

    Exclusions are checked first; excluded frames never enter the flash history.

    Examples
    --------
    >>> keep = FrameFilter(exclusions=Exclusions(((1, 1),)))
    >>> [keep(Frame(i, None, np.zeros((1, 1, 3), np.uint8))) for i in range(3)]
    [True, False, True]
    >>> keep.excluded
    [1]
    """

    exclusions: Exclusions = field(default_factory=Exclusions)
    rejector: FlashRejector | None = None
    excluded: list[int] = field(default_factory=list)
    rejected: list[int] = field(default_factory=list)
    brightness: Callable[[np.ndarray], float] = frame_brightness

    def __call__(self, frame: Frame) -> bool:
        if frame.index in self.exclusions:
            self.excluded.append(frame.index)
            return False
        if self.rejector is not None and self.rejector.is_flash(self.brightness(frame.pixels)):
            self.rejected.append(frame.index)
            return False
        return True

    def prime(self, frames: Iterable[Frame]) -> None:
        """Read the first non-excluded frames' brightness ahead of the pass (flash rejection)."""
        if self.rejector is None:
            return
        values: list[float] = []
        for frame in frames:
            if frame.index not in self.exclusions:
                values.append(self.brightness(frame.pixels))
                if len(values) >= self.rejector.history:
                    break
        self.rejector.prime(values)

    def to_dict(self) -> dict[str, object]:
        """The decisions as JSON types, for a sidecar or a log.

        Examples
        --------
        >>> FrameFilter(Exclusions(((1, 2),)), FlashRejector(4)).to_dict()
        {'excluded': [], 'exclude_ranges': [[1, 2]], 'reject_k': 4.0, 'rejected': []}
        """
        return {
            "excluded": list(self.excluded),
            "exclude_ranges": [list(r) for r in self.exclusions.ranges],
            "reject_k": self.rejector.k if self.rejector is not None else None,
            "rejected": list(self.rejected),
        }

    def report(self) -> list[str]:
        """One line per kind of dropped frame, for stderr."""
        lines = []
        if self.excluded:
            count = len(self.excluded)
            noun = "frame" if count == 1 else "frames"
            lines.append(f"Excluded {count} {noun} by hand: {_spans(self.excluded)}")
        elif self.exclusions:
            lines.append(
                f"Note: {option('exclude')} {self.exclusions.describe()} names no frame that was "
                "to be stacked: nothing was excluded"
            )
        if self.rejector is not None:
            k = f"{self.rejector.k:g}"
            lines.append(
                f"Rejected {len(self.rejected)} flash frames (brighter than the running median "
                f"+ {k} x MAD){': ' + _spans(self.rejected) if self.rejected else ''}"
            )
        return lines


def _spans(indices: Sequence[int]) -> str:
    """``[3, 4, 5, 9]`` -> ``"3-5, 9"``."""
    return Exclusions.of_frames(indices).describe()


def build_filter(
    source: SourceBase,
    plan: FrameRange,
    *,
    reject_k: float | None = None,
    exclude: Sequence[str] = (),
) -> FrameFilter | None:
    """The frame filter for a stack, primed by reading the plan's first frames; None if unused.

    Parameters
    ----------
    source : Source
        The open source (read once ahead for priming when ``reject_k`` is set).
    plan : FrameRange
        The frames the stack will decode, in order.
    reject_k : float, optional
        ``K`` of flash rejection; None turns it off.
    exclude : sequence of str
        ``--exclude`` values.

    Examples
    --------
    >>> build_filter(None, FrameRange(0, 10)) is None  # type: ignore[arg-type]
    True
    """
    if reject_k is None and not exclude:
        return None
    exclusions = Exclusions()
    if exclude:
        info = source.known_info()
        clocks, reason, zone = None, "", None
        if uses_clock(exclude, info.fps is None):
            clocks, zone = source.clock_times(), source.clock_zone()
            reason = source.no_clock() if clocks is None else ""
        times = source.frame_times() if uses_time(exclude) else None
        exclusions = parse_exclude(exclude, info, times, clocks, reason, zone)
    rejector = FlashRejector(reject_k) if reject_k is not None else None
    keep = FrameFilter(exclusions, rejector)
    if rejector is not None:
        keep.prime(source.frames(plan.start, plan.end, plan.step))
    return keep
