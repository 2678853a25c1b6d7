"""The trail-growth video: trails rendered after every frame, encoded by the bundled ffmpeg.

The video is made in the same decoding pass as the still: :class:`TrailVideo` is a frame sink for
:func:`vid2trail.pipeline.run_reducers`, so each decoded frame updates the still's reducer and the
trail, and the trail's picture goes to an encoder (:class:`VideoWriter`) that runs in its own
process while decoding goes on. Frames reach ffmpeg's stdin as raw RGB from a writer thread with a
small queue, so neither side waits for the other's hiccups.

Colour: the frames are sRGB; ffmpeg converts them to Y'CbCr with the BT.709 matrix at TV range and
the stream is tagged BT.709 (primaries, transfer, matrix), which is what players assume for HD.
Without the explicit matrix swscale would use BT.601 coefficients, and colours would shift in
every player that trusts the BT.709 tags.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from .errors import EncodeError, MissingDependencyError, OutputError, UsageError, check_number
from .frames import Frame
from .pipeline import ProgressCallback, run_reducers
from .reducers import Reducer, make_reducer
from .select import FrameRange
from .sources import SourceBase
from .trails import FrameRenderer, Trail, make_trail
from .writers import atomic_path, check_destination

if TYPE_CHECKING:
    from .calibrate import Calibration

#: Video extension -> container. GIF and WebP are palette / still-image formats for short loops.
VIDEO_FORMATS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".gif": "gif", ".webp": "webp"}
#: ``--codec`` -> ffmpeg encoder, for .mp4, .mov and .mkv.
CODECS = {"h264": "libx264", "hevc": "libx265", "av1": "libsvtav1"}
#: x264/x265 preset names; AV1 (SVT-AV1) maps them onto its numeric presets.
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
           "veryslow")  # fmt: skip
_SVT_PRESETS = dict(zip(PRESETS, (12, 11, 10, 9, 8, 6, 5, 4, 3), strict=True))
#: Default x264 preset. On 1080p star trails at CRF 18, ``veryfast`` gave the smallest files of
#: superfast..medium (superfast's were 2.5-4x larger) at a PSNR within 1 dB of medium's (53.5 dB
#: against 54.5 dB: far past visible), and it is the fastest of the presets that compress well.
#: benchmarks/README.md has the measurements.
DEFAULT_PRESET = "veryfast"
DEFAULT_CRF = 18
#: Frame rate for sources that have none (folders of photos).
DEFAULT_FOLDER_FPS = 24.0
#: Quality of lossy WebP output (libwebp's 0..100 scale).
WEBP_QUALITY = 85
_QUEUE_FRAMES = 4
#: Modes whose running stack (``--trail grow``) can be shown after every frame.
GROW_MODES = ("max", "min", "mean", "sum")
_STDERR_LINES = 40

_PIPE_SIZE = 1 << 20


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary that imageio-ffmpeg bundles (or of ``IMAGEIO_FFMPEG_EXE``): the
    trail video's encoder runs in its own process, beside the decoding and stacking.

    Examples
    --------
    >>> "ffmpeg" in ffmpeg_exe()
    True
    """
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise MissingDependencyError(
            "the trail video needs imageio-ffmpeg: pip install imageio-ffmpeg"
        ) from exc
    return imageio_ffmpeg.get_ffmpeg_exe()


def stderr_tail(text: str, lines: int = 3) -> str:
    """The last few meaningful lines of ffmpeg's stderr, joined for a one-line message.

    Examples
    --------
    >>> stderr_tail("a\\nframe=1\\nb")
    'a | b'
    """
    kept = [
        ln.strip()
        for ln in text.splitlines()
        if ln.strip() and not ln.lstrip().startswith(("frame=", "Press [q]", "[out#"))
    ]
    return " | ".join(kept[-lines:])


def _grow_pipe(stream: object) -> None:
    """Ask Linux for a 1 MiB pipe so the encoder's input blocks less often; harmless elsewhere."""
    try:
        import fcntl

        fcntl.fcntl(stream.fileno(), 1031, _PIPE_SIZE)  # type: ignore[attr-defined]  # F_SETPIPE_SZ
    except (ImportError, OSError, AttributeError):
        pass


@dataclass(frozen=True)
class VideoOptions:
    """How to encode: everything ``--video-*``, ``--codec``, ``--crf`` and ``--preset`` set.

    ``fps`` None means the source's frame rate (24 for folders); ``width`` None keeps the size.

    Examples
    --------
    >>> VideoOptions(crf=20).codec
    'h264'
    """

    fps: float | None = None
    width: int | None = None
    codec: str = "h264"
    crf: int = DEFAULT_CRF
    preset: str = DEFAULT_PRESET

    def __post_init__(self) -> None:
        if self.fps is not None:
            check_number("--video-fps", self.fps, 0, 1000,
                         "a frame rate above 0, at most 1000, e.g. 24 or 30")  # fmt: skip
        if self.width is not None and self.width < 2:
            raise UsageError(f"--video-width {self.width}: use a width of 2 pixels or more")
        if self.codec not in CODECS:
            raise UsageError(f"unknown --codec {self.codec!r}: choose one of {', '.join(CODECS)}")
        if not 0 <= self.crf <= 51:
            raise UsageError(f"--crf {self.crf}: use 0 (lossless) to 51; 18 looks lossless")
        if self.preset not in PRESETS:
            raise UsageError(
                f"unknown --preset {self.preset!r}: choose one of {', '.join(PRESETS)}"
            )


def check_video_output(
    path: str | os.PathLike[str], *, overwrite: bool = False, inputs: Sequence[str] = ()
) -> Path:
    """Validate a video output path before decoding: extension, folder, existing file, not an input.

    Examples
    --------
    >>> check_video_output("trails.avi")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vid2trail.errors.OutputError: cannot write trails.avi: unsupported video extension '.avi'; ...
    """
    out = Path(path)
    ext = out.suffix.lower()
    if ext not in VIDEO_FORMATS:
        raise OutputError(
            f"cannot write {out}: unsupported video extension {ext or '(none)'!r}; use "
            f"{', '.join(VIDEO_FORMATS)}"
        )
    return check_destination(out, overwrite=overwrite, inputs=inputs)


def output_size(width: int, height: int, options: VideoOptions, fmt: str) -> tuple[int, int]:
    """The encoded frame size: scaled to ``options.width`` keeping the aspect, even for 4:2:0.

    4:2:0 video needs even sizes: an odd width or height loses its last column or row (cropped,
    not padded, so no black line appears); a scaled size is rounded to even. GIF keeps any size.

    Examples
    --------
    >>> output_size(1921, 1081, VideoOptions(), "mp4")
    (1920, 1080)
    >>> output_size(1920, 1080, VideoOptions(width=1280), "mp4")
    (1280, 720)
    >>> output_size(65, 49, VideoOptions(), "gif")
    (65, 49)
    """
    even = fmt != "gif"
    if even and options.width is None and min(width, height) < 2:
        # Cropping to even would leave nothing; ffmpeg would fail only once frames arrive.
        raise UsageError(
            f"{width}x{height} frames are too small for 4:2:0 video (at least 2x2 pixels): "
            "scale them with --video-width, or write a .gif"
        )
    if options.width is None:
        w, h = width, height
    else:
        w, h = options.width, max(1, round(height * options.width / width))
    if even:
        w, h = max(2, w - w % 2), max(2, h - h % 2)
        if options.width is not None:
            h = max(2, 2 * round(height * w / width / 2))
    return w, h


def encoder_command(
    path: str | os.PathLike[str],
    size: tuple[int, int],
    fps: float,
    options: VideoOptions,
) -> list[str]:
    """The ffmpeg command that reads raw ``rgb24`` frames of ``size`` on stdin and writes ``path``.

    Examples
    --------
    >>> cmd = encoder_command("t.mp4", (64, 48), 25.0, VideoOptions())
    >>> cmd[cmd.index("-c:v") + 1], cmd[cmd.index("-crf") + 1], "+faststart" in cmd
    ('libx264', '18', True)
    """
    out = Path(path)
    fmt = VIDEO_FORMATS[out.suffix.lower()]
    in_w, in_h = size
    w, h = output_size(in_w, in_h, options, fmt)
    if (w, h) == (in_w, in_h):
        geometry = ""
    elif options.width is None:
        geometry = f"crop={w}:{h}:0:0,"
    else:
        # Area averaging keeps faint stars when shrinking; bicubic would alias them into flicker.
        geometry = f"scale={w}:{h}:flags=area,"
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-nostats",
           "-progress", "pipe:1", "-stats_period", "0.25", "-y",
           "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{in_w}x{in_h}", "-framerate", f"{fps:.6g}", "-i", "-", "-an"]  # fmt: skip
    if fmt == "gif":
        # One palette for the whole clip (ffmpeg buffers it): far better than the fixed 256-colour
        # default, which bands dark skies into grey blotches.
        graph = (f"[0:v]{geometry}split[a][b];[a]palettegen=stats_mode=full[p];"
                 "[b][p]paletteuse=dither=sierra2_4a")  # fmt: skip
        return [*cmd, "-filter_complex", graph, "-loop", "0", "-f", "gif", str(out)]
    if fmt == "webp":
        # Lossy WebP is 4:2:0 with the BT.601 matrix by definition, ffmpeg's default.
        return [*cmd, "-vf", f"{geometry}format=yuv420p", "-c:v", "libwebp_anim",
                "-quality", str(WEBP_QUALITY), "-loop", "0", "-f", "webp", str(out)]  # fmt: skip
    encoder = CODECS[options.codec]
    # setparams stamps the frames themselves: ffmpeg takes the stream's primaries and transfer
    # tags from the frames, and the -color_* options alone would leave them "unknown".
    tags = "color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv"
    cmd += ["-vf", f"{geometry}scale=out_color_matrix=bt709:out_range=tv,format=yuv420p,"
            f"setparams={tags}", "-c:v", encoder, "-crf", str(options.crf)]  # fmt: skip
    if encoder == "libsvtav1":
        cmd += ["-preset", str(_SVT_PRESETS[options.preset])]
    else:
        cmd += ["-preset", options.preset]
    if encoder == "libx265":
        cmd += ["-tag:v", "hvc1", "-x265-params", "log-level=error"]  # hvc1: QuickTime plays it
    cmd += ["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
            "-color_range", "tv"]  # fmt: skip
    if fmt in ("mp4", "mov"):
        cmd += ["-movflags", "+faststart"]
    return [*cmd, "-f", fmt, str(out)]


class VideoWriter:
    """Feed RGB frames, get a video; the file appears only when :meth:`close` succeeds.

    Frames are ``H x W x 3`` (or ``H x W x 1``) uint8 sRGB, all the same size. The encoder starts
    with the first frame and runs in its own process; :meth:`write` copies the frame into a short
    queue that a thread drains into ffmpeg's stdin. The output is written under a hidden temporary
    name beside ``path`` and renamed on success; on an error or Ctrl-C it is deleted.

    Parameters
    ----------
    path : str or PathLike
        ``.mp4``, ``.mov``, ``.mkv``, ``.gif`` or ``.webp``.
    fps : float
        Frames per second of the video.
    options : VideoOptions, optional
        Codec, CRF, preset and width.
    overwrite : bool
        Replace an existing file.

    Examples
    --------
    >>> with VideoWriter("ramp.mp4", fps=24) as video:  # doctest: +SKIP
    ...     for level in range(0, 256, 8):
    ...         video.write(np.full((48, 64, 3), level, np.uint8))
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: float,
        options: VideoOptions | None = None,
        *,
        overwrite: bool = False,
    ) -> None:
        self.options = options or VideoOptions()
        if not fps > 0:
            raise UsageError(f"--video-fps {fps}: use a frame rate above 0, e.g. 24 or 30")
        self.path = check_video_output(path, overwrite=overwrite)
        self.fps = float(fps)
        self.frames_written = 0
        #: Frames the encoder has finished, as ffmpeg reports them (a few per second).
        self.frames_encoded = 0
        self._shape: tuple[int, ...] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=_QUEUE_FRAMES)
        self._threads: list[threading.Thread] = []
        self._errors: deque[str] = deque(maxlen=_STDERR_LINES)
        self._failed: BaseException | None = None
        self._files = contextlib.ExitStack()
        self._tmp: Path | None = None

    def write(self, pixels: np.ndarray) -> None:
        """Queue one frame (copied, so the caller may reuse its buffer)."""
        if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in (1, 3):
            raise UsageError(
                f"a video frame must be H x W x 3 uint8, not {pixels.shape} {pixels.dtype}"
            )
        if pixels.shape[2] == 1:
            # Gray goes in as RGB: ffmpeg reads "gray" as video-range luma, which would shift
            # every level.
            pixels = np.repeat(pixels, 3, axis=2)
        if self._shape is None:
            self._start(pixels.shape)
        elif pixels.shape != self._shape:
            raise UsageError(
                f"frame size {pixels.shape} differs from the first frame's {self._shape}"
            )
        self._check_encoder()
        self._put(pixels.tobytes())
        self.frames_written += 1

    def _put(self, data: bytes | None) -> None:
        while True:  # a blocking put could wait forever on an encoder that died
            try:
                self._queue.put(data, timeout=0.5)
                return
            except queue.Full:
                self._check_encoder()

    def _release(self, proc: subprocess.Popen[bytes]) -> None:
        """Join the helper threads and close the pipes of a finished ffmpeg."""
        for thread in self._threads:
            thread.join(timeout=5)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError, ValueError):
                    stream.close()

    def close(self, progress: ProgressCallback | None = None) -> Path:
        """Finish encoding, wait for ffmpeg, and move the file into place; returns its path."""
        if self._proc is None:
            self.abort()
            raise EncodeError(f"no frames to encode: {self.path} was not written")
        self._put(None)
        proc = self._proc
        while proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.25)
            self._check_encoder(finished=False)
            if progress is not None:
                progress(self.frames_encoded, self.frames_written)
        self._check_encoder()
        self._release(proc)
        self._proc = None
        self._files.close()  # renames the temporary file onto the final name
        return self.path

    def abort(self) -> None:
        """Stop the encoder and delete the temporary file; safe to call more than once."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
        if proc is not None:
            proc.wait()
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(None)
            self._release(proc)
        failure = OutputError(f"{self.path} was not written")
        with contextlib.suppress(OutputError):
            self._files.__exit__(OutputError, failure, None)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _start(self, shape: tuple[int, ...]) -> None:
        self._shape = shape
        self._tmp = self._files.enter_context(atomic_path(self.path))
        size = (shape[1], shape[0])
        cmd = encoder_command(self._tmp, size, self.fps, self.options)
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        _grow_pipe(self._proc.stdin)
        self._threads = [
            threading.Thread(target=self._feed, args=(self._proc.stdin,), daemon=True),
            threading.Thread(target=self._read_progress, args=(self._proc.stdout,), daemon=True),
            threading.Thread(target=self._read_errors, args=(self._proc.stderr,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _feed(self, stdin: IO[bytes]) -> None:
        try:
            while (data := self._queue.get()) is not None:
                stdin.write(data)
        except (BrokenPipeError, OSError, ValueError) as exc:
            self._failed = exc
        finally:
            with contextlib.suppress(OSError, ValueError):
                stdin.close()
            while True:  # unblock a writer waiting on a full queue
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break

    def _read_progress(self, stdout: IO[bytes]) -> None:
        for raw in iter(stdout.readline, b""):
            if raw.startswith(b"frame="):
                with contextlib.suppress(ValueError):
                    self.frames_encoded = int(raw[6:])

    def _read_errors(self, stderr: IO[bytes]) -> None:
        for raw in iter(stderr.readline, b""):
            self._errors.append(raw.decode("utf-8", "replace").rstrip())

    def _log(self) -> str:
        return "\n".join(self._errors) or "no message"

    def _check_encoder(self, finished: bool = True) -> None:
        proc = self._proc
        if self._failed is not None or (
            finished and proc is not None and proc.poll() not in (None, 0)
        ):
            if proc is not None:
                proc.wait()
                for thread in self._threads[1:]:  # let the stderr reader catch the last words
                    thread.join(timeout=5)
            self.abort()
            raise EncodeError(f"ffmpeg could not encode {self.path} ({stderr_tail(self._log())})")


class TrailVideo:
    """A frame sink for :func:`~vid2trail.pipeline.run_reducers` that writes the trail video.

    Every frame updates ``trail``; every ``video_step``-th one (and always the last, so the video
    ends on the full stack) is rendered and sent to ``writer``. The video therefore has
    ``ceil(frames / video_step)`` frames.

    Examples
    --------
    >>> from vid2trail.trails import make_trail
    >>> sink = TrailVideo(VideoWriter("t.mp4", 24), make_trail("comet"))  # doctest: +SKIP
    """

    def __init__(
        self,
        writer: VideoWriter,
        trail: Trail,
        *,
        video_step: int = 1,
        renderer: FrameRenderer | None = None,
    ) -> None:
        if isinstance(video_step, bool) or not isinstance(video_step, int) or video_step < 1:
            raise UsageError(f"--video-step {video_step!r}: use a whole number, 1 or more")
        self.writer = writer
        self.trail = trail
        self.video_step = video_step
        self.renderer = renderer or FrameRenderer()
        self._pending = False
        self._done: int = 0
        self._total: int | None = None

    def __call__(self, frame: Frame) -> None:
        self.trail.update(frame.pixels)
        self._pending = True
        if self.trail.count % self.video_step == 0:
            self._emit()

    def _emit(self) -> None:
        self.writer.write(self.renderer(self.trail.picture(), linear=self.trail.linear))
        self._pending = False

    def progress(self, callback: ProgressCallback | None) -> ProgressCallback | None:
        """Wrap a decode progress callback so that it counts frames both decoded *and* encoded.

        A frame counts as done once the encoder has finished its video frame; frames that do not
        go to the video (dropped by a filter, or a later pass of a multi-pass mode) count when
        decoded.
        """
        if callback is None:
            return None

        def update(done: int, total: int | None) -> None:
            self._done, self._total = done, total
            callback(self._progress_value(), total)

        return update

    def _progress_value(self) -> int:
        waiting = max(0, self.trail.count - self.writer.frames_encoded * self.video_step)
        return max(0, min(self._done, self._done - waiting))

    def finish(self, progress: ProgressCallback | None = None) -> Path:
        """Send the last frame if it is still pending, finish the encoder and rename the file."""
        if self._pending:
            self._emit()

        def update(_encoded: int, _written: int) -> None:
            if progress is not None:
                progress(self._progress_value(), self._total)

        path = self.writer.close(update)
        if progress is not None:
            progress(self._done, self._total if self._total is not None else self._done)
        return path


def progressive_frames(
    frames: Iterable[np.ndarray | Frame],
    trail: Trail,
    *,
    video_step: int = 1,
    renderer: FrameRenderer | None = None,
) -> Iterator[np.ndarray]:
    """Yield the trail video's frames (uint8 sRGB) from an iterable of frames or pixel arrays.

    Like :class:`TrailVideo`, every ``video_step``-th picture is yielded, and always the last.
    Each yielded array is a fresh copy.

    Examples
    --------
    >>> from vid2trail.trails import make_trail
    >>> dots = [np.full((1, 1, 1), v, np.uint8) for v in (255, 0, 0)]
    >>> [int(f[0, 0, 0]) for f in progressive_frames(dots, make_trail("comet", decay=0.5))]
    [255, 188, 137]
    """
    if isinstance(video_step, bool) or not isinstance(video_step, int) or video_step < 1:
        raise UsageError(f"--video-step {video_step!r}: use a whole number, 1 or more")
    render = renderer or FrameRenderer()
    pending = False
    for item in frames:
        trail.update(item.pixels if isinstance(item, Frame) else item)
        pending = True
        if trail.count % video_step == 0:
            yield np.array(render(trail.picture(), linear=trail.linear), copy=True)
            pending = False
    if pending:
        yield np.array(render(trail.picture(), linear=trail.linear), copy=True)


def stack_with_video(
    source: SourceBase,
    frame_range: FrameRange,
    mode: str,
    video_path: str | os.PathLike[str],
    *,
    trail: str = "grow",
    trail_frames: int | None = None,
    decay: float | None = None,
    video_step: int = 1,
    options: VideoOptions | None = None,
    normalize: str | None = None,
    gain: float = 1.0,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    keep: Callable[[Frame], bool] | None = None,
    params: Mapping[str, Any] | None = None,
    calibration: Calibration | None = None,
) -> tuple[Reducer, Path]:
    """Decode once: stack ``frame_range`` with ``mode`` and write the trail video beside it.

    ``normalize`` and ``gain`` apply to the video as to the still (None: the mode's default), so
    the last frame of a ``grow`` video is the still. ``keep``, ``params`` and ``calibration`` go
    to :func:`~vid2trail.pipeline.run_reducers`: rejected frames are left out of the video too, and
    it shows calibrated frames. ``grow`` needs a mode whose stack is known after every frame (max,
    min, mean, sum); the multi-pass modes (sigma, winsor, median) are only known at the end, so
    pair them with ``comet`` or ``window``. Returns the still's reducer (render it with
    :func:`vid2trail.render`) and the video's path.

    Examples
    --------
    >>> from vid2trail import open_source, resolve_window, Window, render
    >>> with open_source("iss.mp4") as src:  # doctest: +SKIP
    ...     window = resolve_window(Window(None, None), src.info)
    ...     reducer, path = stack_with_video(src, window, "max", "comet.mp4", trail="comet")
    """
    from .color import DEFAULT_NORMALIZE

    reducer = make_reducer(mode, **(params or {}))
    if trail == "grow" and mode not in GROW_MODES:
        raise UsageError(
            f"--trail grow shows the running stack, and a {mode} stack is only known at the end: "
            f"use --mode {', '.join(GROW_MODES)}, or --trail comet or window"
        )
    chosen = DEFAULT_NORMALIZE.get(mode, "none") if normalize is None else normalize
    trail_obj = make_trail(trail, mode, trail_frames=trail_frames, decay=decay, reducer=reducer)
    options = options or VideoOptions()
    fps = options.fps or source.info.fps or DEFAULT_FOLDER_FPS
    inputs = tuple(getattr(source, "files", [source.info.path]))
    check_video_output(video_path, overwrite=overwrite, inputs=inputs)
    fmt = VIDEO_FORMATS[Path(video_path).suffix.lower()]
    output_size(source.info.width, source.info.height, options, fmt)  # refuse what cannot encode
    writer = VideoWriter(video_path, fps, options, overwrite=overwrite)
    sink = TrailVideo(
        writer, trail_obj, video_step=video_step, renderer=FrameRenderer(chosen, gain)
    )
    try:
        [reducer] = run_reducers(
            source, [frame_range], [reducer], sink.progress(progress), keep,
            params=params, calibration=calibration, sinks=[sink],
        )  # fmt: skip
        path = sink.finish(progress)
    except BaseException:
        writer.abort()
        raise
    return reducer, path
