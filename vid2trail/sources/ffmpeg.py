"""Video through the ffmpeg binary that imageio-ffmpeg bundles (no system ffmpeg needed).

Frames come through a pipe as raw ``rgb24`` (8-bit sources) or ``rgb48le`` (10/12/16-bit sources),
read with ``readinto`` into one preallocated array, so a stack allocates nothing per frame.
Selection runs inside ffmpeg where it saves work: ``-ss`` before ``-i`` seeks to the nearest
keyframe and decodes forward (ffmpeg's accurate seek), ``select`` drops frames for ``--step`` before
the RGB conversion, and ``-frames:v`` stops at the end of the window.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import subprocess
import threading
import warnings
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, replace

import numpy as np

from .._early import first_frame_command
from .._early import take as take_early
from ..errors import DecodeError, DecodeWarning, MissingDependencyError, UsageError
from ..frames import Frame, SourceInfo
from . import SourceBase
from .damage import lost_frames_warning
from .probe import (
    color_filter,
    demux_listing,
    finish,
    is_variable_rate,
    parse_framecrc,
    parse_media,
    probe_media,
    split_top_level,
)

#: ``--hdr`` choices: tone-map HDR to SDR BT.709, or keep its light as float linear light.
HDR_MODES = ("tonemap", "keep")

_PROBE_TIMEOUT_S = 60
_STDERR_LINES = 40
_PIPE_SIZE = 1 << 20
#: ffmpeg's names of containers without an index, where a seek may land past its target.
UNINDEXED_CONTAINERS = frozenset({"mpegts", "mpeg", "h264", "hevc", "mpegvideo", "m4v", "vc1"})
#: Raw format on the pipe for each frame dtype (float32: ``--hdr keep`` linear light).
_PIPE_FORMATS = {"uint8": "rgb24", "uint16": "rgb48le", "float32": "gbrpf32le"}


def ffmpeg_exe() -> str:
    """Path of the bundled ffmpeg binary (imageio-ffmpeg), or of ``IMAGEIO_FFMPEG_EXE``.

    Examples
    --------
    >>> ffmpeg_exe().endswith(("ffmpeg", ".exe")) or "ffmpeg" in ffmpeg_exe()
    True
    """
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise MissingDependencyError(
            "the ffmpeg backend needs imageio-ffmpeg: pip install imageio-ffmpeg"
        ) from exc
    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class ProbeResult:
    """What ``ffmpeg -i`` plus one decoded frame says about the first video stream."""

    codec: str
    pix_fmt: str
    width: int
    height: int
    fps: float | None
    duration_s: float | None
    container_start_s: float
    first_pts_s: float | None
    rotation_deg: int
    stderr: str


_DURATION_RE = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_START_RE = re.compile(r"start: (-?\d+(?:\.\d+)?)")
_STREAM_RE = re.compile(r"^\s*Stream #(\d+):(\d+)[^:]*: Video: (.*)$")
_SIZE_RE = re.compile(r"^(\d{1,5})x(\d{1,5})")
_FPS_RE = re.compile(r"(\d+(?:\.\d+)?)(k?) (fps|tbr)")
_ROTATION_RE = re.compile(r"rotation of (-?\d+(?:\.\d+)?) degrees", re.IGNORECASE)
_PTS_RE = re.compile(r"\bn:\s*\d+\s+pts:\s*-?\d+\s+pts_time:(-?[\d.e+-]+)")


def _parse_stream(description: str) -> tuple[str, str, int, int, float | None]:
    """codec, pix_fmt, width, height and fps from the text after ``Video:``."""
    fields = split_top_level(description)
    codec = fields[0].split(" ")[0] if fields else ""
    pix_fmt, width, height = "", 0, 0
    for field in fields[1:]:
        size = _SIZE_RE.match(field)
        if size and not width:
            width, height = int(size.group(1)), int(size.group(2))
        elif not pix_fmt and not width and re.match(r"^[a-z][a-z0-9_]*", field):
            pix_fmt = re.match(r"^[a-z][a-z0-9_]*", field).group(0)  # type: ignore[union-attr]
    rates = {unit: float(v) * (1000 if k else 1) for v, k, unit in _FPS_RE.findall(description)}
    fps = rates.get("fps") or rates.get("tbr")
    return codec, pix_fmt, width, height, fps


def parse_probe(stderr: str) -> ProbeResult | None:
    """Read the facts of the first video stream from ffmpeg's stderr; None if there is none.

    The frame size comes from the *output* stream when present, because that is after ffmpeg's
    automatic display-matrix rotation, i.e. the size of the frames the pipe will deliver.

    Examples
    --------
    >>> text = '''  Duration: 00:00:02.00, start: 0.000000, bitrate: 5 kb/s
    ...   Stream #0:0[0x1](und): Video: h264 (High), yuv420p(progressive), 64x48, 25 fps, 25 tbr
    ... '''
    >>> p = parse_probe(text)
    >>> (p.codec, p.pix_fmt, p.width, p.height, p.fps, p.duration_s)
    ('h264', 'yuv420p', 64, 48, 25.0, 2.0)
    """
    input_part, _, output_part = stderr.partition("\nOutput #0")
    stream = None
    for line in input_part.splitlines():
        match = _STREAM_RE.match(line)
        if match:
            stream = match.group(3)
            break
    if stream is None:
        return None
    codec, pix_fmt, width, height, fps = _parse_stream(stream)
    for line in output_part.splitlines():
        match = _STREAM_RE.match(line)
        if match:
            _, _, out_w, out_h, _ = _parse_stream(match.group(3))
            if out_w:
                width, height = out_w, out_h
            break
    duration = _DURATION_RE.search(input_part)
    duration_s = (
        int(duration.group(1)) * 3600 + int(duration.group(2)) * 60 + float(duration.group(3))
        if duration
        else None
    )
    start = _START_RE.search(input_part)
    rotation = _ROTATION_RE.search(input_part)
    pts = _PTS_RE.search(stderr)
    return ProbeResult(
        codec=codec,
        pix_fmt=pix_fmt,
        width=width,
        height=height,
        fps=fps,
        duration_s=duration_s,
        container_start_s=float(start.group(1)) if start else 0.0,
        first_pts_s=float(pts.group(1)) if pts else None,
        rotation_deg=int(round(float(rotation.group(1)))) % 360 if rotation else 0,
        stderr=stderr,
    )


def bits_per_sample(pix_fmt: str) -> int:
    """Significant bits per sample of an ffmpeg pixel format name.

    Examples
    --------
    >>> bits_per_sample("yuv420p"), bits_per_sample("yuv420p10le"), bits_per_sample("p010le")
    (8, 10, 10)
    """
    match = re.search(r"(\d{2})(?:le|be)$", pix_fmt) or re.match(r"^p(\d{2})", pix_fmt)
    if match and 9 <= int(match.group(1)) <= 16:
        return int(match.group(1))
    if pix_fmt.endswith(("48le", "48be", "64le", "64be")):
        return 16
    return 8


def stderr_tail(text: str, lines: int = 3) -> str:
    """The last few meaningful lines of ffmpeg's stderr, joined for a one-line message."""
    kept = [
        ln.strip()
        for ln in text.splitlines()
        if ln.strip() and not ln.lstrip().startswith(("frame=", "Press [q]", "[out#"))
    ]
    return " | ".join(kept[-lines:])


class FFmpegSource(SourceBase):
    """A video decoded by the bundled ffmpeg.

    Parameters
    ----------
    path : str
        A local video file.
    stream : int, optional
        Which video stream, counting video streams from 0; default: the file's default one.
    hdr : {"tonemap", "keep"}
        HDR video: tone-map to SDR, or keep float linear light.
    prefetch : bool
        Start reading the packet listing (frame times, keyframes) in the background while the
        first frame is probed, for selections that will need it (``--start``/``--end``, seeks,
        ``--preview``): the two ffmpeg runs then overlap instead of adding up.

    Examples
    --------
    >>> src = FFmpegSource("sample_clips/startrails.mp4")  # doctest: +SKIP
    >>> first = next(src.frames(0, 1))  # doctest: +SKIP
    >>> first.pixels.shape  # doctest: +SKIP
    (540, 960, 3)
    """

    #: Decoder threads (``-threads``); None lets ffmpeg choose (one per core).
    decoder_threads: int | None = None
    #: Preview: decode only keyframes (``-skip_frame nokey``), the cheapest frames to reach.
    keyframes_only = False

    def __init__(
        self, path: str, stream: int | None = None, hdr: str = "tonemap", *, prefetch: bool = False
    ) -> None:
        self.path = path
        self.exe = ffmpeg_exe()
        if os.path.isdir(path):
            raise DecodeError(f"{path} is a folder, not a video: give the video file inside it")
        if os.path.getsize(path) == 0:
            raise DecodeError(f"{path} is empty (0 bytes): the copy may have failed; copy it again")
        if hdr not in HDR_MODES:
            raise UsageError(f"--hdr {hdr!r}: choose one of {', '.join(HDR_MODES)}")
        self.last_warnings: list[str] = []
        self.scale: tuple[int, int] | None = None
        self._times: list[float] | None = None
        self._keyframes: list[int] | None = None
        self._listing: tuple[str, int] | None = None
        self._pending_listing: Future[tuple[str, int]] | None = None
        # One ffmpeg run reports the file and decodes the first frame of the stream it will most
        # likely be asked for (ffmpeg's V:N, video streams without cover art); the rare file whose
        # default stream is another one gets a second run for that stream.
        guess = f"V:{stream if stream is not None else 0}"
        if prefetch:
            self._prefetch_listing(guess)
        text = self._first_frame_report(guess)
        self.media = parse_media(text)
        try:
            self.stream = self.media.video_stream(stream)
        except DecodeError as exc:
            if stream is None:
                _, media_text = probe_media(path, self.exe)  # the plain report says it best
                raise DecodeError(
                    f"{path} is not a video ffmpeg can read ({stderr_tail(media_text, 2)}); "
                    "check that the file is complete, or try --backend opencv"
                ) from None
            raise UsageError(f"--stream {stream}: {path}: {exc}") from None
        if _mapped_stream(text) != self.stream.index:
            if prefetch:
                self._prefetch_listing(self.stream.index)
            text = self._first_frame_report(self.stream.index)
        # The chosen stream's own facts: parse_probe reads the first stream of the file.
        self.probe = replace(
            self._parse_first_frame(text),
            codec=self.stream.codec,
            pix_fmt=self.stream.pix_fmt,
            fps=self.stream.fps or self.stream.tbr,
        )
        bits = bits_per_sample(self.probe.pix_fmt)
        dtype = np.dtype(np.uint16 if bits > 8 else np.uint8)
        if hdr == "keep" and self.stream.hdr:
            dtype = np.dtype(np.float32)  # linear light, see probe.color_filter
        fps, duration = self.probe.fps, self.probe.duration_s
        count = int(round(duration * fps)) if fps and duration else None
        self.filter_chain, note = color_filter(
            self.stream, "rgb48le" if dtype == np.uint16 else "rgb24", hdr
        )
        tbr = self.stream.tbr
        self.info = SourceInfo(
            path=path,
            width=self.probe.width,
            height=self.probe.height,
            channels=3,
            dtype=dtype,
            fps=fps,
            duration_s=duration,
            frame_count=count,
            frame_count_exact=False,
            codec=self.probe.codec,
            backend="ffmpeg",
            rotation_deg=self.probe.rotation_deg,
            pix_fmt=self.probe.pix_fmt,
            bits_per_sample=bits,
            # An average rate that differs from the base rate is ffmpeg's own sign of VFR.
            variable_fps=True if fps and tbr and abs(fps - tbr) > 0.01 * tbr else None,
            stream=self.media.video_streams().index(self.stream),
            notes=(note,) if note else (),
        )

    def frame_times(self) -> list[float]:
        """Presentation time of every frame in seconds from the first frame, from one demux pass.

        The first call reads the whole file without decoding it (about disk speed) and also
        makes ``info.frame_count`` exact, sets ``info.variable_fps``, and sets
        ``info.duration_s`` to the video's own length.
        """
        if self._times is None:
            raw = sorted(parse_framecrc(self._demux()[0]))
            first = self.probe.first_pts_s
            if first is not None:
                # Packets before the first decoded frame (edit lists, open-GOP leading frames)
                # are dropped by the decoder, so they are not frames.
                raw = [t for t in raw if t >= first - 1e-4]
            origin = raw[0] if raw else 0.0
            self._times = [t - origin for t in raw]
            if self._times:
                count, fps = len(self._times), self.info.fps
                last = self._times[-1]
                # The video's own length (the container's may include a longer audio track).
                frame_s = 1 / fps if fps else (last / (count - 1) if count > 1 else 0.0)
                self.info = replace(
                    self.info,
                    frame_count=count,
                    frame_count_exact=True,
                    variable_fps=is_variable_rate(self._times),
                    duration_s=last + frame_s if last or frame_s else self.info.duration_s,
                )
        return self._times

    def count_frames(self) -> tuple[int, float]:
        """Exact frame count and duration in seconds (reads the whole file, decodes nothing)."""
        return count_frames(self.path)

    def _frames_held(self) -> int:
        """The frames the file really holds (whole packets; a truncated file has fewer than
        its header promises), or a huge number when they cannot be counted."""
        try:
            return self.count_frames()[0]
        except DecodeError:
            return 1 << 62

    @property
    def exact_seek(self) -> bool:
        """True when ``-ss`` lands on the exact frame (indexed containers), so a range can be
        split across processes."""
        return self.seekable

    def downscaled_to_fit(self, side: int) -> FFmpegSource:
        """:meth:`downscaled` so that the longer side is at most ``side`` pixels (even sizes)."""
        size = scaled_size(self.info.width, self.info.height, side)
        if size is None:
            return self
        small = self.downscaled(size[0])
        small.scale = size
        small.info = replace(self.info, width=size[0], height=size[1])
        return small

    def downscaled(self, width: int) -> FFmpegSource:
        """This video decoded at most ``width`` pixels wide: ffmpeg scales (area average) before
        the pipe, so a quick look costs the decode and little else. Never scales up."""
        small = copy.copy(self)
        w = min(int(width), self.info.width)
        h = max(1, round(self.info.height * w / self.info.width))
        small.scale = (w, h)
        small.info = replace(self.info, width=w, height=h)
        return small

    def _first_frame_report(self, stream: int | str) -> str:
        """ffmpeg's stderr after reading the file's header and decoding one frame of ``stream``
        (an index, or a specifier such as ``V:0``); collected from the run the command line
        started early when there is one (:mod:`vid2trail._early`)."""
        proc = take_early("probe", self.path, stream) or subprocess.Popen(
            first_frame_command(self.exe, self.path, stream),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        _, err = finish(proc, _PROBE_TIMEOUT_S, f"open {self.path}")
        return err.decode("utf-8", "replace")

    def _parse_first_frame(self, text: str) -> ProbeResult:
        probe = parse_probe(text)
        if probe is None or not probe.width:
            raise DecodeError(
                f"{self.path} is not a video ffmpeg can read ({stderr_tail(text, 2)}); "
                "check that the file is complete, or try --backend opencv"
            )
        if probe.first_pts_s is None:
            raise DecodeError(
                f"{self.path}: ffmpeg found a {probe.codec} video stream but decoded no frame "
                f"({stderr_tail(text, 2)}); the file may be truncated or corrupt"
            )
        return probe

    def _demux(self) -> tuple[str, int]:
        """The stream's packet listing (one read of the file, cached for times and keyframes)."""
        if self._listing is None:
            if self._pending_listing is not None:
                self._listing = self._pending_listing.result()
            else:
                self._listing = demux_listing(self.path, self.exe, self.stream.index)
        return self._listing

    def _prefetch_listing(self, stream: int | str) -> None:
        """Run :func:`demux_listing` for ``stream`` in a background thread; :meth:`_demux`
        collects it."""
        pending: Future[tuple[str, int]] = Future()

        early = take_early("listing", self.path, stream)

        def run() -> None:
            try:
                pending.set_result(demux_listing(self.path, self.exe, stream, started=early))
            except BaseException as exc:  # handed to whoever asks for the listing
                pending.set_exception(exc)

        threading.Thread(target=run, name="vid2trail-demux", daemon=True).start()
        self._pending_listing = pending

    def __copy__(self) -> FFmpegSource:
        # A copy (a downscaled view, a segment) shares a listing still being read.
        twin = object.__new__(type(self))
        twin.__dict__.update(self.__dict__)
        return twin

    def __getstate__(self) -> dict[str, object]:
        # Worker processes get the listing itself: a pending result cannot travel.
        if self._pending_listing is not None and self._listing is None:
            with contextlib.suppress(DecodeError):
                self._demux()
        return {**self.__dict__, "_pending_listing": None}

    def keyframe_indices(self) -> list[int]:
        """Frame numbers of the keyframes, from one demuxing pass (no decoding); cached.

        Empty when the packets carry no usable timestamps or their count disagrees with the
        frame count ffmpeg reports, so callers can fall back to ``--step``.
        """
        if self._keyframes is None:
            self._keyframes = []
            try:
                text, code = self._demux()
            except DecodeError:
                return []
            keys = parse_keyframes(text)
            if keys is not None:
                indices, packets = keys
                expected = self.info.frame_count or packets
                if code == 0 and abs(packets - expected) <= max(2, expected // 50):
                    self._keyframes = indices
        return self._keyframes

    def keyframes_in(self, start: int, end: int | None) -> list[int]:
        """The keyframes ``start <= k < end`` (see :meth:`keyframe_indices`)."""
        return [k for k in self.keyframe_indices() if k >= start and (end is None or k < end)]

    def _seek_seconds(self, start: int) -> float:
        """Input-side ``-ss`` that lands exactly on frame ``start``.

        ffmpeg keeps the frames whose time from the container start is at or after ``-ss``;
        aiming halfway between frame ``start - 1`` and frame ``start`` makes that its first frame
        even when the video stream starts a little after the container (an audio track that
        starts first). The frames' real times are used (one demux pass, cached), so a
        variable-rate clip lands on the right frame too.
        """
        # ffmpeg reports frame times, and takes -ss, from the container's start (its timeline
        # is shifted by -start_time), so the first frame's reported time is already the offset.
        offset = self.probe.first_pts_s or 0.0
        times = self.frame_times()
        if 0 < start < len(times):
            return max(0.0, offset + (times[start - 1] + times[start]) / 2)
        fps = self.info.fps or 25.0
        return max(0.0, offset + (start - 0.5) / fps)

    def command(self, start: int = 0, end: int | None = None, step: int = 1) -> list[str]:
        """The ffmpeg command line that decodes frames ``start:end:step`` to raw RGB on stdout."""
        cmd = [self.exe, "-hide_banner", "-nostdin", "-loglevel", "warning"]
        if self.decoder_threads:
            cmd += ["-threads", str(self.decoder_threads)]
        if self.keyframes_only:
            # The decoder skips every other frame unseen; frames() numbers the keyframes.
            cmd += ["-skip_frame", "nokey"]
        seek = start > 0 and self.seekable
        skip_s = 0.0
        if seek and self.open_gop and not self.keyframes_only:
            # Start decoding a keyframe earlier, so the frames that lead the keyframe before
            # ``start`` decode, and drop the frames before ``start`` by their time instead.
            early = self._safe_seek_seconds(start)
            skip_s = max(1e-6, self._seek_seconds(start) - early)
            cmd += ["-ss", f"{early:.6f}"]
        elif seek:
            cmd += ["-ss", f"{self._seek_seconds(start):.6f}"]
        cmd += ["-i", self.path, "-map", f"0:{self.stream.index}", "-an", "-sn", "-dn"]
        if self.keyframes_only:
            cmd += ["-frames:v", str(len(self.keyframes_in(start, end)))]
            step, end = 1, None
        cmd += ["-vf", self.video_filter(step, 0 if seek else start, skip_s)]
        if end is not None:
            cmd += ["-frames:v", str(max(0, -(-(end - start) // step)))]
        pix_fmt = _PIPE_FORMATS[self.info.dtype.name]
        # passthrough: one output frame per decoded frame, never duplicated or dropped to reach
        # a constant rate (the rawvideo muxer would otherwise ask for CFR).
        cmd += ["-fps_mode", "passthrough", "-pix_fmt", pix_fmt, "-f", "rawvideo", "-"]
        return cmd

    @property
    def open_gop(self) -> bool:
        """True for HEVC, whose keyframes may be open-GOP CRA frames (x265's default).

        The frames that lead a CRA frame in display order follow it in decode order and
        refer to the frames before it, so a decode that starts at the CRA frame loses them;
        :meth:`command` then starts one keyframe earlier and drops frames by time.
        """
        return self.probe.codec == "hevc"

    def _safe_seek_seconds(self, start: int) -> float:
        """Input-side ``-ss`` that starts decoding at the keyframe before the last keyframe at
        or before ``start`` (0 when there is none, or the keyframes cannot be listed)."""
        keys = [k for k in self.keyframe_indices() if k <= start]
        first = keys[-2] if len(keys) >= 2 else 0
        return self._seek_seconds(first) if first > 0 else 0.0

    @property
    def seekable(self) -> bool:
        """False for containers without an index (MPEG-TS, MPEG-PS, raw H.264/HEVC streams).

        ffmpeg seeks those by bisecting byte positions and can land a keyframe *after* the
        target, so frames would be lost and mislabelled; they are decoded from the start and
        ``select`` drops the frames before ``start`` instead.
        """
        return not set(self.media.container.split(",")) & UNINDEXED_CONTAINERS

    def video_filter(self, step: int = 1, skip: int = 0, skip_s: float = 0.0) -> str:
        """The ``-vf`` chain: drop frames for ``step``, then convert to RGB with the right colours.

        ``select`` comes first so that dropped frames are never colour-converted; ``n`` counts
        frames after the seek, so frame ``start`` is ``n = 0`` and is kept. Without a seek,
        ``skip`` frames are dropped first; ``skip_s`` drops the frames shown before that many
        seconds after the seek point (an open-GOP seek, see :attr:`open_gop`).
        """
        if skip_s:
            chain = [f"select=gte(t\\,{skip_s:.6f})"]
            if step > 1:
                chain.append(f"select=not(mod(n\\,{step}))")
        elif skip:
            chain = [f"select=gte(n\\,{skip})*not(mod(n-{skip}\\,{step}))"]
        else:
            chain = [f"select=not(mod(n\\,{step}))"] if step > 1 else []
        if self.scale:  # downscaled(): shrink (area average) first, so the rest works on less
            chain.append("scale={}:{}:flags=area".format(*self.scale))
        return ",".join([*chain, self.filter_chain])

    def frames(self, start: int = 0, end: int | None = None, step: int = 1) -> Iterator[Frame]:
        """Yield frames ``start, start + step, ...`` below ``end``; the pixel buffer is reused.

        A truncated or partly corrupt file yields every frame that decodes, then issues a
        :class:`~vid2trail.errors.DecodeWarning` saying how many frames were lost and where.
        """
        if end is not None and end <= start:
            return
        info = self.info
        planar = info.dtype == np.float32
        if planar:  # G, B, R planes in, H x W x RGB out (one strided copy per frame)
            raw = np.empty((3, info.height, info.width), dtype=info.dtype)
            buffer = np.empty(info.shape, dtype=info.dtype)
        else:
            raw = buffer = np.empty(info.shape, dtype=info.dtype)
        view = memoryview(raw).cast("B")
        frame_bytes = raw.nbytes
        proc = subprocess.Popen(
            self.command(start, end, step),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
        )
        _grow_pipe(proc.stdout)
        errors: deque[str] = deque(maxlen=_STDERR_LINES)
        drain = threading.Thread(target=_drain, args=(proc.stderr, errors), daemon=True)
        drain.start()
        index, delivered = start, 0
        fps = info.fps
        times = self._times
        keys = iter(self.keyframes_in(start, end)) if self.keyframes_only else None
        try:
            while True:
                got = _read_exactly(proc.stdout, view, frame_bytes)
                if got < frame_bytes:
                    break
                if keys is not None:
                    index = next(keys, index + 1)
                    if (index - start) % step:
                        continue
                if planar:
                    np.copyto(buffer, raw[[2, 0, 1]].transpose(1, 2, 0))
                if times is not None and index < len(times):
                    time_s: float | None = times[index]
                else:
                    time_s = index / fps if fps else None
                yield Frame(index, time_s, buffer)
                delivered += 1
                if keys is None:
                    index += step
            proc.wait()
            drain.join(timeout=5)
            if delivered == 0 and start > 0 and start >= self._frames_held():
                return  # past the end of a damaged file: the caller says so, in its words
            if delivered == 0 and proc.returncode not in (0, None):
                raise DecodeError(
                    f"ffmpeg could not decode {self.path} ({stderr_tail(chr(10).join(errors))})"
                )
            self.last_warnings = list(errors)
            lost = None
            if not self.keyframes_only:  # a keyframe preview delivers few frames on purpose
                lost = lost_frames_warning(self, start, end, step, delivered, list(errors))
            if lost:
                warnings.warn(lost, DecodeWarning, stacklevel=2)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()


_MAPPED_RE = re.compile(r"^\s*Stream #0:(\d+)(?:\[[^\]]*\])?(?:\([^)]*\))? -> #0:0\b", re.M)


def _mapped_stream(report: str) -> int | None:
    """The input stream ffmpeg mapped to its first output, from its ``Stream mapping:`` lines.

    Examples
    --------
    >>> _mapped_stream("Stream mapping:\\n  Stream #0:3 -> #0:0 (h264 (native) -> wrapped_avframe)")
    3
    """
    found = _MAPPED_RE.search(report.partition("Stream mapping:")[2])
    return int(found.group(1)) if found else None


def parse_keyframes(framecrc: str) -> tuple[list[int], int] | None:
    """Keyframe frame numbers and the packet count from ffmpeg's ``framecrc`` listing.

    A frame's number is its rank in presentation order; a packet is a keyframe when it has no
    ``F=`` field (flags are printed only when they differ from "key") or its flags have bit 0.
    None when a timestamp is missing.

    Examples
    --------
    >>> rows = ["#tb 0: 1/25", "0, -1, 0, 1, 9, 0x1", "0, 0, 2, 1, 9, 0x2, F=0x0",
    ...         "0, 1, 1, 1, 9, 0x3, F=0x0"]
    >>> parse_keyframes(chr(10).join(rows))
    ([0], 3)
    """
    rows: list[tuple[int, bool]] = []
    for line in framecrc.splitlines():
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split(",")]
        try:
            pts = int(fields[2])
        except (IndexError, ValueError):
            return None
        flags = next((f[2:] for f in fields[6:] if f.startswith("F=")), "0x1")
        rows.append((pts, bool(int(flags, 16) & 1)))
    rows.sort()
    return [rank for rank, (_, key) in enumerate(rows) if key], len(rows)


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


def _grow_pipe(stream: object) -> None:
    """Ask Linux for a 1 MiB pipe so ffmpeg blocks less often; harmless where unsupported."""
    try:
        import fcntl

        fcntl.fcntl(stream.fileno(), 1031, _PIPE_SIZE)  # type: ignore[attr-defined]  # F_SETPIPE_SZ
    except (ImportError, OSError, AttributeError):
        pass


def _read_exactly(stream: object, view: memoryview, size: int) -> int:
    """Fill ``view[:size]`` from a raw pipe; returns the bytes read (less only at the end)."""
    got = 0
    while got < size:
        n = stream.readinto(view[got:size])  # type: ignore[attr-defined]
        if not n:
            break
        got += n
    return got


def _drain(stream: object, sink: deque[str]) -> None:
    """Keep reading ffmpeg's stderr so it never blocks on a full pipe; keep the last lines."""
    for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
        sink.append(raw.decode("utf-8", "replace").rstrip())


def count_frames(path: str) -> tuple[int, float]:
    """Count the frames of the first video stream exactly, by demuxing without decoding.

    Examples
    --------
    >>> count_frames("sample_clips/startrails.mp4")  # doctest: +SKIP
    (240, 9.6)
    """
    import imageio_ffmpeg

    try:
        return imageio_ffmpeg.count_frames_and_secs(path)
    except RuntimeError as exc:
        raise DecodeError(f"ffmpeg could not count the frames of {path}: {exc}") from exc
