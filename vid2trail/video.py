"""The trail-growth video: trails rendered after every frame, in the same pass as the still.

:class:`TrailVideo` is a frame sink (:class:`vid2trail.pipeline.FrameSink`): each frame the
reducers took also updates the trail (:mod:`vid2trail.trails`), whose picture goes to the encoder
(:class:`vid2trail.encode.VideoWriter`) running in its own process. :func:`trail_video` builds the
sink for a job's video; :func:`vid2trail.orchestrator.run` plugs it into the one decoding pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .color import DEFAULT_NORMALIZE, parse_normalize
from .encode import VideoWriter
from .encoding import DEFAULT_FOLDER_FPS, VIDEO_FORMATS, output_size
from .errors import UsageError, option
from .frames import Frame, SourceInfo
from .reducers import Reducer
from .rendering import FrameRenderer
from .trails import Trail, make_trail

if TYPE_CHECKING:
    from .job import TrailVideoJob
    from .pipeline import ProgressCallback

#: Modes whose running stack (``trail grow``) can be shown after every frame.
GROW_MODES = ("max", "min", "mean", "sum")


class TrailVideo:
    """The frame sink that writes the trail video (a :class:`~vid2trail.pipeline.FrameSink`).

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
            raise UsageError(
                f"{option('video_step')} {video_step!r}: use a whole number, 1 or more"
            )
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
        picture = self.trail.picture()
        frame = self.renderer(picture, coding=self.trail.coding)
        # A rendered frame is new (no copy to queue it); a passed-through picture is not.
        self.writer.write(frame, owned=not np.may_share_memory(frame, picture))
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

    def abort(self) -> None:
        """Stop the encoder and delete the unfinished video."""
        self.writer.abort()


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
        raise UsageError(f"{option('video_step')} {video_step!r}: use a whole number, 1 or more")
    render = renderer or FrameRenderer()
    pending = False
    for item in frames:
        trail.update(item.pixels if isinstance(item, Frame) else item)
        pending = True
        if trail.count % video_step == 0:
            yield np.array(render(trail.picture(), coding=trail.coding), copy=True)
            pending = False
    if pending:
        yield np.array(render(trail.picture(), coding=trail.coding), copy=True)


def trail_video(
    job: TrailVideoJob,
    info: SourceInfo,
    mode: str,
    reducer: Reducer,
    *,
    normalize: str | None = None,
    gain: float = 1.0,
    overwrite: bool = False,
) -> TrailVideo:
    """The sink that writes ``job``'s trail video of a ``mode`` stack fed to ``reducer``.

    ``normalize`` and ``gain`` apply to the video as to the still (None: the mode's default), so
    the last frame of a ``grow`` video is the still; ``grow`` shares ``reducer`` itself.

    Examples
    --------
    >>> from vid2trail.job import TrailVideoJob
    >>> from vid2trail.reducers import MaxReducer
    >>> info = SourceInfo("a.mp4", 64, 48, 3, np.dtype(np.uint8), 25.0, 2.0, 50, True)
    >>> sink = trail_video(TrailVideoJob("t.mp4"), info, "max", MaxReducer())  # doctest: +SKIP
    """
    chosen = DEFAULT_NORMALIZE.get(mode, "none") if normalize is None else normalize
    factor = gain if parse_normalize(chosen) == "none" else None  # None: measured per frame
    trail = make_trail(job.trail, mode, trail_frames=job.trail_frames, decay=job.decay,
                       reducer=reducer, render_factor=factor)  # fmt: skip
    options = job.encoding
    fmt = VIDEO_FORMATS[Path(job.path).suffix.lower()]
    output_size(info.width, info.height, options, fmt)  # refuse what cannot encode, before decoding
    writer = VideoWriter(job.path, options.fps or info.fps or DEFAULT_FOLDER_FPS, options,
                         overwrite=overwrite)  # fmt: skip
    return TrailVideo(writer, trail, video_step=job.step, renderer=FrameRenderer(chosen, gain))
