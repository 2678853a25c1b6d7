"""What a job writes: default names, destination checks, rendering, provenance, and the writing.

Every destination is checked before any decoding (:func:`check_outputs`), so a run never decodes
for minutes and then finds it cannot write. The files themselves are written atomically by
:mod:`vid2trail.writers` (a hidden temporary name, renamed into place), and each path is reported
as soon as it is in place.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .color import DEFAULT_NORMALIZE, to_output
from .encoding import check_video_output
from .errors import UsageError, Vid2TrailError, WriteError, in_words, option
from .frames import SourceInfo
from .job import StackJob
from .keograms import WithKeogram, write_keogram
from .reducers import Reducer
from .select import FrameRange
from .sources.images import source_stamp
from .version import __version__
from .writers import (
    check_output,
    check_sidecar,
    default_bit_depth,
    output_dtype,
    write_sidecar,
    write_still,
)

if TYPE_CHECKING:
    from .calibrate import Calibration
    from .choose import FrameFilter


def default_stem(input_path: str) -> str:
    """The name a result is called after: the video's stem, the folder's or the glob's folder name.

    Examples
    --------
    >>> default_stem("clips/iss.mp4"), default_stem("HighRes/*.jpg"), default_stem("night/")
    ('iss', 'HighRes', 'night')
    >>> default_stem("nights/*/f01.jpg"), default_stem("nights/**/*.jpg")
    ('nights', 'nights')
    """
    path = Path(input_path)
    if not _exists(path):
        # A glob: name it after the folder it searches, above any part with a wildcard
        # (``'**/f01.jpg'`` searches the current folder).
        while any(ch in path.name for ch in "*?[") or (
            path.name and any(ch in str(path.parent) for ch in "*?[")
        ):
            path = path.parent
    if _is_dir(path) or not path.suffix:
        name = path.resolve().name if str(path) in ("", ".") else path.name
        return name or "stack"
    return path.stem


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long for the system: the source says so, not this
        return True


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def default_still(input_path: str, mode: str, preview: bool = False) -> str:
    """The still's default name: ``<input-stem>-<mode>.png`` (``-preview`` for a preview).

    Examples
    --------
    >>> default_still("clips/iss.mp4", "max"), default_still("night/", "mean", preview=True)
    ('iss-max.png', 'night-mean-preview.png')
    """
    suffix = f"{mode}-preview" if preview else mode
    return f"{default_stem(input_path)}-{suffix}.png"


def still_paths(still: str, ranges: Sequence[FrameRange] | None) -> list[Path]:
    """The stills of a job: ``still`` itself, or with several windows one per window named after
    its frames (``iss-max-120-900.png``).

    Examples
    --------
    >>> [p.name for p in still_paths("iss-max.png", [FrameRange(0, 10), FrameRange(5, 20)])]
    ['iss-max-0-10.png', 'iss-max-5-20.png']
    """
    base = Path(still)
    if not ranges:
        return [base]
    paths = [base.with_name(f"{base.stem}-{r.label()}{base.suffix}") for r in ranges]
    if len(set(paths)) != len(paths):
        raise UsageError(
            f"two {option('window')} values name the same frames: give each window once"
        )
    return paths


def bit_depth_of(path: Path, bit_depth: int | None) -> int:
    """``bit_depth``, or the default of the still's format (32 for FITS, else 8)."""
    return default_bit_depth(path) if bit_depth is None else bit_depth


@dataclass(frozen=True)
class OutputPlan:
    """The checked destinations of one job: stills (with their bit depths), argmax, video."""

    stills: tuple[Path, ...] = ()
    depths: tuple[int, ...] = ()
    argmax: Path | None = None
    video: Path | None = None
    keogram: Path | None = None


def check_outputs(
    job: StackJob,
    ranges: Sequence[FrameRange] | None,
    info: SourceInfo | None,
    inputs: tuple[str, ...],
) -> OutputPlan:
    """Check every destination of ``job`` before decoding: formats and bit depths, folders,
    existing files, inputs, and names that collide; returns where everything goes.

    ``ranges`` None checks what does not depend on the windows, before a night scan finds them:
    all but stills named after their frames, and the frame-number image's 16-bit limit."""
    stills: list[Path] = []
    by_window = job.names_stills_by_window()
    if job.still is not None and (ranges is not None or not by_window):
        stills = still_paths(job.still, ranges if by_window else None)
    depths = [bit_depth_of(out, job.bit_depth) for out in stills]
    for out, depth in zip(stills, depths, strict=True):
        check_output(out, bit_depth=depth, overwrite=job.overwrite, inputs=inputs)
        if job.sidecar:
            check_sidecar(out, overwrite=job.overwrite)
    video = Path(job.video.path) if job.video is not None else None
    if video is not None and stills and video.resolve() == stills[0].resolve():
        raise UsageError(
            f"{option('video')} {video} is the still's path: give the video its own name"
        )
    argmax = Path(job.argmax) if job.argmax is not None else None
    if argmax is not None:
        _check_argmax(argmax, stills, ranges[0] if ranges else None, info, job.overwrite, inputs)
    if video is not None:
        check_video_output(video, overwrite=job.overwrite, inputs=inputs)
    keogram = _check_keogram(job, stills, argmax, video, inputs)
    if job.sky.mask_out is not None:
        check_output(Path(job.sky.mask_out), bit_depth=8, overwrite=job.overwrite, inputs=inputs)
    return OutputPlan(tuple(stills), tuple(depths), argmax, video, keogram)


def _check_keogram(
    job: StackJob,
    stills: Sequence[Path],
    argmax: Path | None,
    video: Path | None,
    inputs: tuple[str, ...],
) -> Path | None:
    if job.keogram is None or job.keogram.path is None:
        return None
    keogram = Path(job.keogram.path)
    check_output(keogram, bit_depth=8, overwrite=job.overwrite, inputs=inputs)
    taken = {p.resolve() for p in (*stills, argmax, video) if p is not None}
    if keogram.resolve() in taken:
        raise UsageError(
            f"{option('keogram')} {keogram} is another output's path: give it its own name"
        )
    return keogram


def _check_argmax(
    argmax: Path,
    stills: Sequence[Path],
    frame_range: FrameRange | None,
    info: SourceInfo | None,
    overwrite: bool,
    inputs: tuple[str, ...],
) -> None:
    check_output(argmax, bit_depth=16, overwrite=overwrite, inputs=inputs)
    if argmax.resolve() in {out.resolve() for out in stills}:
        raise UsageError(f"{option('argmax')} {argmax} is also the still: give it another name")
    if frame_range is None or info is None:
        return
    last = last_selected(frame_range, info)
    if argmax.suffix.lower() == ".png" and last is not None and last > 65535:
        # Found out only after the whole stack otherwise, when the numbers do not fit.
        raise UsageError(
            f"{option('argmax')} {argmax}: frame numbers run up to {last}, past the 65535 a "
            "16-bit PNG holds: write them as .tif or .npy"
        )


def last_selected(frame_range: FrameRange, info: SourceInfo) -> int | None:
    """The highest frame number a window selects, when it is known before decoding (a given end,
    or a counted frame total; an estimate from the container's duration may include audio).

    Examples
    --------
    >>> info = SourceInfo("a.mp4", 8, 8, 3, np.dtype(np.uint8), 25.0, 4.0, 100, True)
    >>> last_selected(FrameRange(0, None, 7), info)
    98
    """
    end = frame_range.end
    if end is None and info.frame_count_exact:
        end = info.frame_count
    if end is None:
        return None
    count = FrameRange(frame_range.start, end, frame_range.step).count() or 0
    return frame_range.start + frame_range.step * (count - 1) if count else None


def render(
    reducer: Reducer,
    *,
    out_dtype: np.dtype | type,
    normalize: str | None = None,
    gain: float = 1.0,
    transfer: str = "srgb",
) -> np.ndarray:
    """A reducer's result as an image of ``out_dtype``, normalized and exposed.

    ``normalize`` None picks the mode's default (:data:`vid2trail.color.DEFAULT_NORMALIZE`);
    ``transfer="linear"`` keeps float linear light (see :func:`vid2trail.color.to_output`).

    Examples
    --------
    >>> from vid2trail.reducers import MaxReducer
    >>> r = MaxReducer(); r.update(np.full((1, 1, 3), 200, np.uint8))
    >>> render(r, out_dtype=np.uint8).ravel().tolist()
    [200, 200, 200]
    """
    chosen = DEFAULT_NORMALIZE.get(reducer.name, "none") if normalize is None else normalize
    result, divisor = reducer.scaled_result()
    return to_output(result, divisor=divisor, linear=reducer.linear, out_dtype=out_dtype,
                     normalize=chosen, gain=gain, transfer=transfer)  # fmt: skip


def provenance(
    info: SourceInfo,
    frame_range: FrameRange,
    reducer: Reducer,
    *,
    options: Mapping[str, Any] | None = None,
    calibration: Calibration | None = None,
) -> dict[str, Any]:
    """What made a still: source, frames, mode, options, calibration and the vid2trail version.

    Written into the still (PNG text, TIFF tags, FITS cards) and, with a sidecar, beside it. The
    source's bytes and modification time (``source_bytes``, ``source_mtime``; for a folder or
    glob of images their total, the newest time and ``source_files``, the count) tell whether the
    still is older than its input (see :func:`vid2trail.sources.images.source_stamp`).

    Examples
    --------
    >>> from vid2trail.reducers import MaxReducer
    >>> info = SourceInfo("a.mp4", 4, 4, 3, np.dtype(np.uint8), 25.0, 2.0, 50, False)
    >>> r = MaxReducer(); r.update(np.zeros((4, 4, 3), np.uint8))
    >>> meta = provenance(info, FrameRange(0, 50), r)
    >>> meta["mode"], meta["frames_used"], meta["software"].split()[0]
    ('max', 1, 'vid2trail')
    """
    meta: dict[str, Any] = {
        "software": f"vid2trail {__version__}",
        "source": info.path,
        "source_absolute": os.path.abspath(info.path),
        "source_size": f"{info.width}x{info.height}",
        "source_bits": info.bits_per_sample,
        **source_stamp(info.path),
        "mode": reducer.name,
        "frames_used": reducer.count,
        "start": frame_range.start,
        "end": frame_range.end,
        "step": frame_range.step,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    meta.update(reducer.parameters())
    if calibration is not None:
        meta["dark"] = calibration.dark_path
        meta["hot_pixels_fixed"] = calibration.hot_pixel_count
    meta.update({k: v for k, v in (options or {}).items() if v is not None})
    if options is not None and "normalize" in options and options["normalize"] is None:
        # None stands for the mode's default, which did scale the light (sum: p99.5).
        meta["normalize"] = DEFAULT_NORMALIZE.get(reducer.name, "none")
    if info.notes:
        # What the decoder did to the pixels, e.g. HDR kept as linear light (1.0 = 203 cd/m2).
        meta["decoding"] = "; ".join(in_words(note) for note in info.notes)
    return meta


def argmax_image(
    reducer: Reducer, frame_range: FrameRange, dropped: Iterable[int] = ()
) -> np.ndarray:
    """The source frame number that supplied each pixel of a max stack, as ``H x W`` integers.

    uint16 while every frame number fits (below 65536), else uint32 (write it as .tif or .npy).
    ``dropped`` are the frame numbers the stack left out (``exclude``, ``reject``): the reducer
    counts only the frames it took, so they are skipped when counting positions.

    Examples
    --------
    >>> from vid2trail.reducers import ArgmaxReducer
    >>> r = ArgmaxReducer()
    >>> for v in (3, 9, 5):
    ...     r.update(np.full((1, 1, 1), v, np.uint8))
    >>> argmax_image(r, FrameRange(100, 106, 2)).tolist()
    [[102]]
    """
    positions = reducer.argmax().astype(np.int64)
    frames = np.array(frame_range.stacked(reducer.count, dropped), np.int64)[positions]
    return frames.astype(np.uint16 if frames.max(initial=0) <= 65535 else np.uint32)


def write_outputs(
    job: StackJob,
    plan: OutputPlan,
    reducers: Sequence[Reducer],
    ranges: Sequence[FrameRange],
    info: SourceInfo,
    *,
    keep: FrameFilter | None = None,
    calibration: Calibration | None = None,
    wrote: Callable[[Path], None] = lambda path: None,
    clock: Sequence[datetime] | None = None,
    sky: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Render and write the stills (with their sidecars), the argmax image and the keogram;
    ``wrote(path)`` as each file lands. When one fails, the error says which files were written
    before it. ``clock``: each keogram column's capture time, for its ticks; ``sky``: the sky's
    measured motion, recorded in the provenance."""
    written: list[Path] = []

    def landed(path: Path) -> None:
        written.append(path)
        wrote(path)

    options: dict[str, Any] = {"normalize": job.normalize, "gain": job.gain}
    if keep is not None:
        options["frame_filter"] = keep.to_dict()
    options.update(sky or {})
    try:
        for out, depth, reducer, frame_range in zip(
            plan.stills, plan.depths, reducers, ranges, strict=False
        ):
            meta = provenance(info, frame_range, reducer, calibration=calibration,
                              options={**options, "bit_depth": depth})  # fmt: skip
            image = render(reducer, out_dtype=output_dtype(depth), normalize=job.normalize,
                           gain=job.gain, transfer="linear" if depth == 32 else "srgb")  # fmt: skip
            landed(write_still(out, image, quality=job.quality, metadata=meta))
            if job.sidecar:
                landed(write_sidecar(out, meta))
        if plan.argmax is not None:
            dropped = [*keep.excluded, *keep.rejected] if keep is not None else []
            index = argmax_image(reducers[0], ranges[0], dropped)
            meta = {"software": f"vid2trail {__version__}",
                    "argmax_of": str(plan.stills[0]) if plan.stills else None}  # fmt: skip
            landed(write_still(plan.argmax, index, metadata=meta))
        if plan.keogram is not None:
            landed(_write_keogram(job, plan.keogram, reducers[0], info, clock))
    except Vid2TrailError as exc:
        if written:
            exc.args = (f"{exc.message()} ({_already(written)})",)
        raise
    except OSError as exc:
        if not written:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        raise WriteError(f"{where}{exc.strerror or exc} ({_already(written)})") from None
    return written


def _write_keogram(
    job: StackJob, path: Path, reducer: Reducer, info: SourceInfo, clock: Sequence[datetime] | None
) -> Path:
    """The keogram, ticked by each column's capture time where ``clock`` gives them."""
    assert isinstance(reducer, WithKeogram) and job.keogram is not None
    known = clock if clock is not None and len(clock) == reducer.keogram.count else None
    return write_keogram(path, reducer.keogram, info, known, width=job.keogram.width,
                         quality=job.quality)  # fmt: skip


def _already(written: Sequence[Path]) -> str:
    return "already written: " + ", ".join(str(p) for p in written)
