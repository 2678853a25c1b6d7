"""The video encoder: RGB frames in, an MP4/MOV/MKV/GIF/WebP file out, through the bundled ffmpeg.

:class:`VideoWriter` runs ffmpeg in its own process while decoding goes on (the trail video of
:mod:`vid2trail.video` feeds it). Frames reach ffmpeg's stdin as raw RGB from a writer thread with a
small queue, so neither side waits for the other's hiccups; the file appears only when the encoder
succeeds. What it encodes to (format, codec, size, the command) is :mod:`vid2trail.encoding`.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO

import numpy as np

from .encoding import VideoOptions, check_video_output, encoder_command, stderr_tail
from .errors import EncodeError, OutputError, UsageError, option
from .writers import atomic_path

#: ``progress(frames_encoded, frames_written)`` while the encoder finishes.
EncodeProgress = Callable[[int, "int | None"], None]

_QUEUE_FRAMES = 4
_STDERR_LINES = 40

_PIPE_SIZE = 1 << 20


def _grow_pipe(stream: object) -> None:
    """Ask Linux for a 1 MiB pipe so the encoder's input blocks less often; harmless elsewhere."""
    try:
        import fcntl

        fcntl.fcntl(stream.fileno(), 1031, _PIPE_SIZE)  # type: ignore[attr-defined]  # F_SETPIPE_SZ
    except (ImportError, OSError, AttributeError):
        pass


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
            raise UsageError(
                f"{option('video_fps')} {fps}: use a frame rate above 0, e.g. 24 or 30"
            )
        self.path = check_video_output(path, overwrite=overwrite)
        self.fps = float(fps)
        self.frames_written = 0
        #: Frames the encoder has finished, as ffmpeg reports them (a few per second).
        self.frames_encoded = 0
        self._shape: tuple[int, ...] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._queue: queue.Queue[bytes | memoryview | None] = queue.Queue(maxsize=_QUEUE_FRAMES)
        self._threads: list[threading.Thread] = []
        self._errors: deque[str] = deque(maxlen=_STDERR_LINES)
        self._failed: BaseException | None = None
        self._files = contextlib.ExitStack()
        self._tmp: Path | None = None

    def write(self, pixels: np.ndarray, *, owned: bool = False) -> None:
        """Queue one frame: copied, so the caller may reuse its buffer, unless ``owned``.

        ``owned=True`` hands a C-contiguous array over: it is queued as it is, and the caller
        must not write into it again (a fresh frame per call, as a renderer makes).
        """
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
        self._put(memoryview(pixels).cast("B") if owned and pixels.flags.c_contiguous
                  else pixels.tobytes())  # fmt: skip
        self.frames_written += 1

    def _put(self, data: bytes | memoryview | None) -> None:
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

    def close(self, progress: EncodeProgress | None = None) -> Path:
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
