"""Linear-light sums: ``sum`` and ``mean``, as runs of unchanged codes or a band of rows at a time.

Light adds in linear light, through the lookup table of :func:`vid2trail.color.decode_lut`, into a
float64 accumulator. What this module adds is speed, with the sums of float64 kept:

- where frames change little from one to the next (a static sky in a well-compressed video, whose
  skipped blocks decode to the same codes), each sample's codes are kept as runs, and a run is
  added once, as its length times its linear light, when its sample changes (or at the end);
- elsewhere integer frames are held a few at a time and added band by band, the two halves of
  each frame on two cores, bit-identical to adding them one at a time.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from .color import decode_lut, to_linear
from .errors import UsageError
from .reducer import Reducer, ReducerBase


class SumReducer(ReducerBase):
    """Additive: ``out = sum over frames of linear(frame)`` in float64; order does not matter.

    The result is linear light that exceeds 1.0 wherever the frames add up past white; the output
    step normalizes it (default ``--normalize p99.5``).

    A float64 update of a whole frame is bound by memory and by its lookup, one table read a
    sample. Two ways round it, chosen frame by frame:

    - **Runs**, where few samples change from the frame before (under :attr:`RUNS_BELOW` of its
      8-byte words; a dark sky in a compressed video changes a fraction of a percent). Each word
      of samples (eight 8-bit ones) keeps the codes it has held since some frame, and that frame.
      A frame is compared with the codes word by word (as wide integers: one pass over its
      bytes), and only the words that changed add their finished runs, each sample's length
      times its linear light, to the accumulator. A frame that changes more than
      :attr:`DENSE_ABOVE` of its words ends the runs.
    - **Held frames** otherwise: :attr:`BATCH` copies of the integer frames' codes (one or two
      bytes a sample) are added band by band. A few rows of each held frame go through the
      lookup table into a scratch band and are added in turn to the same rows of the
      accumulator, which stay in the CPU cache for the whole batch: the same additions, in the
      same order, as one frame at a time, at a fraction of the memory traffic. Every
      :attr:`PROBE` frames a frame is compared with the one before, to go back to runs.

    A run adds ``length x value`` where adding frame by frame adds ``value`` ``length`` times: the
    sums differ by float64 rounding alone, and the runs' is the more exact (a frame-by-frame sum
    of 131,070 equal frames drifts 1.4e-12 off the exact one; the runs' does not).

    Examples
    --------
    >>> r = SumReducer()
    >>> for v in (255, 255):
    ...     r.update(np.full((1, 1, 1), v, np.uint8))
    >>> float(r.result()[0, 0, 0])
    2.0
    """

    name = "sum"
    linear = True
    #: Integer frames held before one pass over the accumulator ...
    BATCH = 4
    #: ... and at most this many bytes of them (two 4K frames).
    _HELD_BYTES = 64 << 20
    #: Rows of a band: the scratch (rows x width x channels float64) fits in a core's cache.
    _BAND_BYTES = 1 << 19
    #: Runs end at a frame that changes more than this share of the codes' 8-byte words ...
    DENSE_ABOVE = 0.06
    #: ... and resume at a frame that changes less than this share of them, ...
    RUNS_BELOW = 0.03
    #: ... looked for every this many frames of held ones.
    PROBE = 64
    #: A run's length is a uint16: the runs are added in and started again before it overflows.
    _RUN_FRAMES = (1 << 16) - 1

    def __init__(self) -> None:
        self._acc: np.ndarray | None = None
        self._held: list[np.ndarray] = []
        self._spare: list[np.ndarray] = []
        self.count = 0
        self._runs: _Runs | None = None
        self._probe_at = 0

    def update(self, pixels: np.ndarray) -> None:
        if self._acc is None:
            self._acc = np.zeros(pixels.shape, np.float64)
        if pixels.dtype.kind == "f":
            self._fold_runs()
            np.add(self._acc, pixels, out=self._acc)
        elif not self._as_runs(pixels):
            self._hold(pixels)
        self.count += 1
        if self._runs is not None and self.count - self._runs.first >= self._RUN_FRAMES:
            self._runs.fold(self.count, self._acc)  # before a run's length would overflow

    def _as_runs(self, pixels: np.ndarray) -> bool:
        """Take ``pixels`` into the runs, or start runs with them, where runs pay; else False."""
        assert self._acc is not None
        if self._runs is not None:
            words = self._runs.changed(pixels)
            if words is not None and self._runs.share(words) <= self.DENSE_ABOVE:
                self._runs.take(pixels, self.count, words, self._acc)
                return True
            self._fold_runs()  # this frame changed too much: the runs end before it
            self._probe_at = self.count + self.PROBE
            return False
        if self.count < self._probe_at or not self._settled_since(pixels):
            return False
        self._flush()
        self._runs = _Runs(pixels, self.count)
        return True

    def _settled_since(self, pixels: np.ndarray) -> bool:
        """Whether ``pixels`` changed so little from the frame before that runs will pay."""
        if self.count and not self._held:
            return False  # the frame before is added and gone: ask again at the next frame
        self._probe_at = self.count + self.PROBE
        if not self.count:
            return True  # the first frame starts runs: a static sky shows at the second
        before = self._held[-1]
        if pixels.dtype != before.dtype or pixels.shape != before.shape:
            return False
        word = _word(before)
        changed = np.count_nonzero(_as_words(pixels, word) != _as_words(before, word))
        return changed < self.RUNS_BELOW * (before.nbytes // word.itemsize)

    def _hold(self, pixels: np.ndarray) -> None:
        copy = self._spare.pop() if self._spare else np.empty_like(pixels)
        np.copyto(copy, pixels)
        self._held.append(copy)
        if len(self._held) >= max(1, min(self.BATCH, self._HELD_BYTES // pixels.nbytes)):
            self._flush()

    def _fold_runs(self) -> None:
        """Add every sample's open run to the accumulator, and end the runs."""
        if self._runs is not None and self._acc is not None:
            self._runs.fold(self.count, self._acc)
        self._runs = None

    def _flush(self) -> None:
        """Add the held integer frames to the accumulator, one cache-sized band at a time."""
        if not self._held or self._acc is None:
            return
        acc, held = self._acc, self._held
        # The lookup is inlined rather than color.to_linear per band: a band is a few rows, and
        # that call's checks (holding the GIL the two halves share) measured 40% slower on 4K
        # frames; the table and the values are the same.
        lut = decode_lut(held[0].dtype.name)
        eight_bit = held[0].dtype == np.uint8
        rows = max(1, self._BAND_BYTES // max(1, acc[0].nbytes))

        def add_rows(top: int, bottom: int) -> None:
            term = np.empty((rows, *acc.shape[1:]), np.float64)
            for y in range(top, bottom, rows):
                n = min(rows, bottom - y)
                extra, into = term[:n], acc[y : y + n]
                for frame in held:  # in order: the same sums as one frame at a time, bit for bit
                    if eight_bit:  # OpenCV's lookup: the same values as take(), much faster
                        cv2.LUT(frame[y : y + n], lut, dst=extra)
                    else:
                        np.take(lut, frame[y : y + n], out=extra, mode="clip")  # see to_linear
                    cv2.add(into, extra, dst=into)

        in_row_halves(add_rows, acc.shape[0])
        self._spare.extend(held)
        self._held = []

    def _settle(self) -> None:
        """Add everything taken so far to the accumulator: held frames and open runs."""
        self._flush()
        self._fold_runs()

    def combine(self, other: Reducer) -> Reducer:
        self._check_same(other)
        if isinstance(other, SumReducer):
            other._settle()
            if other._acc is not None:
                self._settle()
                if self._acc is None:
                    self._acc = other._acc.copy()
                else:
                    self._acc += other._acc
                self.count += other.count
        return self

    def __getstate__(self) -> dict[str, object]:
        # A partial reducer travels between processes (--workers): held frames and runs are
        # added first, and the buffers need not travel.
        self._settle()
        return {**self.__dict__, "_held": [], "_spare": []}

    def result(self) -> np.ndarray:
        self._settle()
        self._spare = []
        if self._acc is None:
            raise UsageError("no frames were stacked: the selection is empty")
        return self._acc


def _word(codes: np.ndarray) -> np.dtype:
    """The widest unsigned integer that divides the bytes of ``codes`` into whole words."""
    for size in (8, 4, 2):
        if codes.nbytes % size == 0 and size >= codes.itemsize:
            return np.dtype(f"u{size}")
    return codes.dtype


def _as_words(codes: np.ndarray, word: np.dtype) -> np.ndarray:
    """``codes`` as one row of words (a view where ``codes`` is contiguous, else a copy)."""
    return np.ascontiguousarray(codes).reshape(-1).view(word)


class _Runs:
    """A sum's frames as runs: each word of codes, and the frame since which it has held them.

    A frame is compared with the current codes word by word (8 bytes: eight 8-bit samples). Each
    word that changed ends its samples' runs: they add their length times their linear light to
    the sum, and start again from this frame.
    """

    def __init__(self, pixels: np.ndarray, first: int) -> None:
        self.word = _word(pixels)
        self.codes = _as_words(pixels, self.word).copy()
        self.since = np.zeros(self.codes.size, np.uint16)
        self.first = first
        self._dtype, self._shape = pixels.dtype, pixels.shape
        self._per = self.word.itemsize // pixels.dtype.itemsize  # samples a word
        #: Words a step: their float64 light (and that of their rows of the sum) is 256 kB.
        self._block = max(1, (1 << 18) // (8 * self._per))

    def changed(self, pixels: np.ndarray) -> np.ndarray | None:
        """Indices of the words of ``pixels`` that differ from the codes; None if not comparable."""
        if pixels.dtype != self._dtype or pixels.shape != self._shape:
            return None
        return np.flatnonzero(_as_words(pixels, self.word) != self.codes)

    def share(self, words: np.ndarray) -> float:
        """The share of all words that ``words`` (from :meth:`changed`) is."""
        return words.size / max(1, self.codes.size)

    def take(self, pixels: np.ndarray, index: int, words: np.ndarray, acc: np.ndarray) -> None:
        """Frame ``index`` ends the runs of ``words``: add them to ``acc``, and start them anew."""
        frame = index - self.first
        new = _as_words(pixels, self.word)
        sums = acc.reshape(self.codes.size, self._per)  # a row of samples a word
        for i in range(0, words.size, self._block):  # a few, so the temporaries stay small
            some = words[i : i + self._block]
            # take() with "clip" (which clips nothing here) is 2-3x faster than indexing.
            was = np.take(self.codes, some, mode="clip")
            self.codes[some] = np.take(new, some, mode="clip")
            lengths = frame - np.take(self.since, some, mode="clip")
            self.since[some] = frame
            light = to_linear(was.view(self._dtype).reshape(some.size, self._per))
            np.multiply(light, lengths[:, None], out=light)
            rows = np.take(sums, some, axis=0, mode="clip")
            rows += light
            sums[some] = rows

    def fold(self, end: int, acc: np.ndarray) -> None:
        """Add every open run, up to frame ``end`` (not included), to ``acc``; start them there.

        A block of words at a time, the two halves of the words on two cores (this comes once the
        decoder is done, or at a change of path).
        """
        sums = acc.reshape(self.codes.size, self._per)
        frames = end - self.first
        block = self._block

        def add_words(top: int, bottom: int) -> None:
            light = np.empty((min(block, bottom - top), self._per), np.float64)
            lengths = np.empty(len(light), np.float64)
            for i in range(top, bottom, block):
                part = slice(i, min(i + block, bottom))
                n = part.stop - part.start
                to_linear(self.codes[part].view(self._dtype).reshape(n, self._per), light[:n])
                np.subtract(frames, self.since[part], out=lengths[:n])
                np.multiply(light[:n], lengths[:n, None], out=light[:n])
                np.add(sums[part], light[:n], out=sums[part])

        in_row_halves(add_words, self.codes.size)
        self.since[:] = 0
        self.first = end


class MeanReducer(SumReducer):
    """Average in linear light: ``out = sum(linear(frame)) / n`` in float64; order does not matter.

    Examples
    --------
    >>> r = MeanReducer()
    >>> for v in (0, 255):
    ...     r.update(np.full((1, 1, 1), v, np.uint8))
    >>> float(r.result()[0, 0, 0])
    0.5
    """

    name = "mean"

    def result(self) -> np.ndarray:
        return super().result() / self.count

    def scaled_result(self) -> tuple[np.ndarray, float]:
        """The running sum and the count: the still divides them band by band."""
        if not self.count:
            return self.result(), 1.0  # the empty selection's error
        return super().result(), float(self.count)


_halves_pool: Any = None
#: Below this many rows a frame is folded in one piece (threads cost more than they save).
_MIN_SPLIT_ROWS = 256


def in_row_halves(work: Callable[[int, int], None], rows: int) -> None:
    """Run ``work(top, bottom)`` over the rows of a frame, the two halves at once on two cores.

    The decoder's own threads leave the CPU partly idle between frames; numpy's and OpenCV's
    kernels release the GIL, so a second thread folds the lower half meanwhile. Each row is
    still updated in the same order, so results are bit-identical to one thread.
    """
    global _halves_pool
    if rows < _MIN_SPLIT_ROWS or (os.cpu_count() or 1) < 2:
        work(0, rows)
        return
    if _halves_pool is None:
        from concurrent.futures import ThreadPoolExecutor

        _halves_pool = ThreadPoolExecutor(1, thread_name_prefix="vid2trail-fold")
    middle = rows // 2
    lower = _halves_pool.submit(work, middle, rows)
    work(0, middle)
    lower.result()
