"""Decoded frames to RGB arrays: the FFmpeg filter chain that converts them, run in-process.

:func:`plan_conversion` chooses the chain for a stream (rotation, matrix, range, bit depth, HDR);
:class:`Conversion` runs it through a libavfilter graph (kept between calls, one thread at a
time), so the pixels are the ones the ``ffmpeg`` command gives with the same chain, and
:func:`plane_view` hands them to numpy without a copy.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import numpy as np

from ..frames import Planes
from .avio import import_av
from .media import StreamInfo, bits_per_sample, default_matrix, is_yuv


@dataclass(frozen=True)
class Conversion:
    """How one decoded frame becomes an ``H x W x 3`` RGB array: an FFmpeg filter chain.

    The chain is what the ``ffmpeg`` command would build: the display rotation first, then a
    preview's area-average shrink, then ``scale`` with the stream's matrix and range and the
    ``format`` of the output. Built by libavfilter, it gives the same pixels as that command, bit
    for bit, and its frames come from a pool, so converting allocates nothing per frame. ``hdr``
    is the tone-mapping or linear-light step of :mod:`vid2trail.color` that runs after it.
    """

    filters: tuple[tuple[str, str], ...]
    out_format: str
    hdr: Any = None
    #: Of a :meth:`planar` conversion: the packed one it stands for, and falls back to.
    packed: Conversion | None = None

    def describe(self) -> str:
        """The chain as FFmpeg writes it (``vid2trail info``'s conversion line)."""
        chain = ",".join(f"{name}={args}" if args else name for name, args in self.filters)
        return chain + (f"; then {self.hdr.describe()}" if self.hdr is not None else "")

    def with_size(self, size: tuple[int, int]) -> Conversion:
        """The same conversion, shrinking to ``size`` (after the display rotation) first."""
        turns = [f for f in self.filters if f[0] in _TURNS]
        rest = [f for f in self.filters if f not in turns and not f[1].endswith(":flags=area")]
        shrink = ("scale", f"{size[0]}:{size[1]}:flags=area")
        packed = self.packed.with_size(size) if self.packed is not None else None
        return replace(self, filters=(*turns, shrink, *rest), packed=packed)

    def planar(self) -> Conversion:
        """The same conversion delivering :class:`~vid2trail.frames.Planes` (``gbrp``) where
        they hold the same values; otherwise (or where it cannot) this one.

        swscale converts 8-bit YUV to ``gbrp`` 20-40% faster than to packed ``rgb24`` (0.9
        against 1.2-1.5 ms a 1080p frame here), bit for bit the same, but not everywhere: it
        leaves the last columns of 4:2:0 and 4:2:2 frames black at some widths (a width of 98 or
        360), rounds otherwise for deeper sources, and garbles NV12. So the planar conversion
        first converts one frame of random samples of each new size and format both ways, and
        converts to packed RGB wherever the two differ (:func:`_planes_agree`).

        Examples
        --------
        >>> colour = ("scale", "in_color_matrix=bt709:in_range=tv:out_range=pc")
        >>> c = Conversion((colour, ("format", "rgb24")), "rgb24")
        >>> c.planar().filters[-1], c.planar().planar() == c.planar(), c.planar().packed == c
        (('format', 'gbrp'), True, True)
        """
        if self.out_format != "rgb24" or self.hdr is not None or self.packed is not None:
            return self
        if not any(name == "scale" and "in_color_matrix" in args for name, args in self.filters):
            return self  # already RGB: packed costs nothing to convert to, planes would
        chain = tuple(("format", "gbrp") if name == "format" else (name, args)
                      for name, args in self.filters)  # fmt: skip
        return replace(self, filters=chain, out_format="gbrp", packed=self)

    def __call__(self, frame: Any) -> tuple[Any, np.ndarray | Planes]:
        """Convert ``frame``; returns the frame that owns the pixels and the array itself (or
        its planes)."""
        if self.packed is not None and not _planes_agree(self, frame):
            return self.packed(frame)
        out = _graphs.convert(self, frame)
        pixels = plane_view(out)
        if self.hdr is not None:
            pixels = self.hdr(pixels)
        return out, pixels


#: The display rotation's filters (:attr:`.media.StreamInfo.display_filters`).
_TURNS = ("transpose", "hflip", "vflip")
#: Whether a planar conversion gives its packed one's values, by chain, format and size.
_agree: dict[tuple[object, ...], bool] = {}
_agree_lock = threading.Lock()


def _planes_agree(planar: Conversion, frame: Any) -> bool:
    """Whether ``planar`` gives the same values as its packed conversion for frames like
    ``frame``: checked once per chain, format and size, on random samples (a dark sky would
    hide black columns) in a strip as wide as the frame (what goes wrong depends on the width),
    a few milliseconds."""
    assert planar.packed is not None
    key = (planar.filters, planar.packed.filters, frame.format.name, frame.width, frame.height)
    with _agree_lock:
        known = _agree.get(key)
    if known is not None:
        return known
    av = import_av()
    width, height = frame.width, frame.height
    if any(name == "transpose" for name, _ in planar.filters):  # the height becomes the width
        width = min(width, 16 + width % 16)
    else:
        height = min(height, 16 + height % 16)  # the same last rows of chroma
    probe = av.VideoFrame(width, height, frame.format.name)
    noise = np.random.default_rng(0)
    for plane in probe.planes:
        plane.update(noise.bytes(plane.buffer_size))
    want = plane_view(_converted(planar.packed, probe))
    got = plane_view(_converted(planar, probe))
    same = isinstance(got, Planes) and np.array_equal(got.packed(), want)
    with _agree_lock:
        _agree[key] = same
    return same


def _converted(conversion: Conversion, frame: Any) -> Any:
    graph = _configured(conversion, frame)
    graph.push(frame)
    return graph.pull()


class _GraphPool:
    """Configured filter graphs, kept between calls and threads (a graph takes longer to
    configure than to convert a 1080p frame, and a seek starts fresh conversion threads); each
    is used by one thread at a time, since graphs are not thread-safe."""

    #: At most this many kinds of graph are kept (a new kind beyond it clears the others).
    KINDS = 8

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._free: dict[tuple[object, ...], list[Any]] = {}

    def convert(self, conversion: Conversion, frame: Any) -> Any:
        """``frame`` through a graph for ``conversion`` that no other thread is using."""
        key = (conversion.filters, frame.width, frame.height, frame.format.name, frame.time_base)
        with self._lock:
            free = self._free.get(key)
            graph = free.pop() if free else None
        if graph is None:
            graph = _configured(conversion, frame)
        graph.push(frame)
        out = graph.pull()
        with self._lock:  # only a graph that converted cleanly goes back
            if key not in self._free and len(self._free) >= self.KINDS:
                self._free.clear()
            self._free.setdefault(key, []).append(graph)
        return out


def _configured(conversion: Conversion, frame: Any) -> Any:
    """A filter graph running ``conversion`` on frames like ``frame``."""
    av = import_av()
    graph = av.filter.Graph()
    last = graph.add_buffer(
        width=frame.width, height=frame.height, format=frame.format.name,
        time_base=frame.time_base or Fraction(1, 90000),
    )  # fmt: skip
    for name, args in conversion.filters:
        node = graph.add(name, args) if args else graph.add(name)
        last.link_to(node)
        last = node
    sink = graph.add("buffersink")
    last.link_to(sink)
    graph.configure()
    return graph


_graphs = _GraphPool()


def plane_view(frame: Any) -> np.ndarray | Planes:
    """A zero-copy ``H x W x C`` numpy view of a packed RGB frame's pixels, zero-copy
    :class:`~vid2trail.frames.Planes` of a ``gbrp`` one (or planar float G, B, R planes, stacked
    into a new array).

    Examples
    --------
    >>> import av
    >>> f = av.VideoFrame(4, 2, "rgb24")
    >>> plane_view(f).shape
    (2, 4, 3)
    """
    name = frame.format.name
    if name in ("gbrp", "gbrpf32le"):
        kind = np.dtype(np.uint8 if name == "gbrp" else np.float32)
        g, b, r = (
            np.frombuffer(p, kind).reshape(frame.height, p.line_size // kind.itemsize)
            for p in frame.planes
        )
        planes = Planes(*(c[:, : frame.width] for c in (r, g, b)))
        return planes if name == "gbrp" else planes.packed()
    dtype = np.dtype("<u2") if name == "rgb48le" else np.dtype(np.uint8)
    plane = frame.planes[0]
    if plane.line_size < 0:  # vflip alone hands on the frame bottom-up: let PyAV copy it
        return frame.to_ndarray()
    row = plane.line_size // dtype.itemsize
    flat = np.frombuffer(plane, dtype).reshape(frame.height, row)
    return flat[:, : frame.width * 3].reshape(frame.height, frame.width, 3)


def plan_conversion(stream: StreamInfo, hdr: str = "tonemap") -> tuple[Conversion, str]:
    """The conversion to RGB for one stream, and a sentence saying what it does ("" if nothing
    worth saying).

    YUV is converted with the stream's matrix and range (:func:`.media.default_matrix`; untagged
    range is limited "tv" range, ``yuvj`` formats are full range), to ``rgb24`` for 8-bit sources
    and ``rgb48le`` for deeper ones. HDR (PQ, HLG) becomes float RGB here and goes on through
    :class:`vid2trail.color.HdrToSdr`: tone-mapped, or linear light with ``hdr="keep"``.

    Examples
    --------
    >>> s = StreamInfo(0, "video", "h264", pix_fmt="yuv420p", width=1920, height=1080)
    >>> plan_conversion(s)[0].describe()
    'scale=in_color_matrix=bt709:in_range=tv:out_range=pc,format=rgb24'
    """
    out = "rgb48le" if bits_per_sample(stream.pix_fmt) > 8 else "rgb24"
    turn = stream.display_filters
    if not is_yuv(stream.pix_fmt):
        return Conversion((*turn, ("format", out)), out), ""
    if stream.dolby_vision_profile == 5:
        # Profile 5 codes IPTPQc2, not YUV: without the Dolby reshaping the picture is green and
        # purple, and no FFmpeg filter undoes it.
        chain = (*turn, ("scale", "in_range=tv:out_range=pc"), ("format", out))
        return Conversion(chain, out), (
            "Dolby Vision profile 5 has no standard base layer: colours will be wrong; "
            "export the clip from the phone as HDR10 or SDR first"
        )
    matrix = default_matrix(stream)
    full = stream.color_range == "pc" or stream.pix_fmt.startswith("yuvj")
    colour = ("scale", f"in_color_matrix={matrix}:in_range={'pc' if full else 'tv'}:out_range=pc")
    if stream.hdr:
        from ..hdr import HdrToSdr

        # As FFmpeg's zscale reads 4:2:0 HDR: chroma sited left (the H.264/HEVC default),
        # interpolated bilinearly. swscale's own default (centred) shifts saturated edges by
        # several levels once the PQ or HLG curve has amplified them.
        colour = (colour[0], colour[1] + ":flags=bilinear:in_chroma_loc=left")

        step = HdrToSdr.for_stream(stream, keep=hdr == "keep", deep=out == "rgb48le")
        return Conversion((*turn, colour, ("format", "gbrpf32le")), "gbrpf32le", step), step.note()
    return Conversion((*turn, colour, ("format", out)), out), ""


def scaled_size(width: int, height: int, max_side: int | None) -> tuple[int, int] | None:
    """Even ``(width, height)`` whose longer side is at most ``max_side``; None if already small.

    Examples
    --------
    >>> scaled_size(1920, 1080, 640), scaled_size(640, 480, 640), scaled_size(1080, 1920, 640)
    ((640, 360), None, (360, 640))
    """
    if not max_side or max(width, height) <= max_side:
        return None
    factor = max_side / max(width, height)
    even = lambda v: max(2, 2 * int(v * factor / 2))  # noqa: E731  (round down: stay <= max_side)
    return even(width), even(height)


__all__ = ["Conversion", "plan_conversion", "plane_view", "scaled_size"]
