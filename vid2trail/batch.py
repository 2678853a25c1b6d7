"""A whole archive: every night's video or photo folder stacked into one folder, resumably.

:func:`run_batch` carries out a :class:`BatchJob`. It finds the inputs (:func:`find_inputs`),
names each one's outputs in the output folder (``<name>-<mode>.png`` with its sidecar
``<name>-<mode>.png.json``, optionally the trail video ``<name>-<mode>.mp4`` and the scan picture
``<name>-scan.png``), skips the inputs whose outputs are up to date, and stacks the others, each as
one :class:`~vid2trail.job.StackJob` through :func:`vid2trail.orchestrator.run`: in this process,
in a pool of processes, or on a Dask cluster, through the one task function :func:`stack_input`
and one ``concurrent.futures`` loop. An input that fails is a row of the manifest
(``manifest.json`` and ``manifest.csv``), not the end of the batch.

Resuming: the sidecar of each still (the provenance the still embeds) gets a ``batch`` block,
written last: the input's path, bytes and modification time as they were before the stack (for
images, their total, the newest time and the count: :func:`source_stamp`), the digest of the
options, and the outputs. An input is up to date when the block matches the input as it is now and
the options, and every output is there.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

#: Files a folder of clips is searched for (any other file given by name is tried as a video too).
from .archive import InputRow, InputTask, find_inputs, input_stamp
from .batch_run import _runner, _Tally
from .errors import (
    OutputError,
    UsageError,
    Vid2TrailError,
    in_words,
    option,
)
from .job import StackJob, check_workers
from .orchestrator import Listener, Silent
from .outputs import bit_depth_of
from .parallel import default_workers
from .version import __version__
from .writers import atomic_path, check_output, sidecar_path

VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".mkv", ".avi", ".m4v", ".webm", ".mts", ".m2ts",
                              ".ts", ".mpg", ".mpeg", ".wmv", ".3gp"})  # fmt: skip
#: What became of an input, in the order the summary counts them.
STATUSES = ("stacked", "up to date", "failed", "interrupted")
#: The manifest's CSV columns (the JSON rows hold the same and the notes).
CSV_COLUMNS = ("input", "name", "status", "frames", "start", "end", "step", "seconds", "outputs",
               "error")  # fmt: skip
#: Seconds between two progress reports of one input, and between two looks at the results.


@dataclass(frozen=True)
class BatchJob:
    """A batch in library terms: what to read, where to write, and the stack to make of each.

    ``stack`` is the job every input gets: its mode, window, calibration and rendering; the
    suffixes of its ``still`` and ``video.path`` give the formats (its input, paths, workers and
    scheduler are the batch's to set). ``workers`` processes stack inputs at once (None:
    :func:`~vid2trail.parallel.default_workers`; 1: one after another, in this process);
    ``scheduler`` the address of a Dask scheduler to run them on instead.

    Examples
    --------
    >>> BatchJob(("nights/",), "stacks", StackJob("", mode="mean", still="x.tif")).validate()
    """

    inputs: tuple[str, ...]
    out_dir: str
    stack: StackJob = field(default_factory=lambda: StackJob("", still="stack.png"))
    scan: bool = False
    force: bool = False
    workers: int | None = None
    scheduler: str | None = None

    def validate(self) -> None:
        """Every check that needs no input; raises :class:`~vid2trail.errors.UsageError`."""
        if not self.inputs:
            raise UsageError("give at least one input: a video, a folder of images or a glob")
        self.stack.validate()
        if len(self.stack.windows) > 1 or self.stack.argmax is not None:
            raise UsageError(f"a batch writes one still per input: give one window, and no "
                             f"{option('argmax')}")  # fmt: skip
        check_workers(self.workers)
        if self.scheduler:
            from .cluster import require_distributed

            require_distributed()
        if self.scan:
            from .scanplot import require_matplotlib

            require_matplotlib()


@dataclass(frozen=True)
class BatchResult:
    """Every input's row, in input order, and the manifest's two files."""

    rows: tuple[InputRow, ...]
    manifest: tuple[Path, ...]

    @property
    def failed(self) -> list[InputRow]:
        return [row for row in self.rows if row.status == "failed"]

    def summary(self) -> list[str]:
        """``Batch: 5 inputs: 3 stacked, 1 up to date, 1 failed``, then one line per failure.

        Examples
        --------
        >>> rows = (InputRow("a.mp4", "a", "stacked"), InputRow("b.mp4", "b", "failed", error="x"))
        >>> BatchResult(rows, ()).summary()
        ['Batch: 2 inputs: 1 stacked, 1 failed', 'Failed: b.mp4: x']
        """
        counts = Counter(row.status for row in self.rows)
        told = ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])
        plural = "" if len(self.rows) == 1 else "s"
        return [f"Batch: {len(self.rows)} input{plural}: {told}",
                *(f"Failed: {row.input}: {row.error}" for row in self.failed)]  # fmt: skip


# -- the options ----------------------------------------------------------------------------------


def batch_options(batch: BatchJob) -> dict[str, Any]:
    """The options that shape every input's outputs, in library words (the manifest shows them;
    their digest decides, with the input, whether an output is up to date). How the work runs
    (workers, decoder, memory) is left out."""
    job = batch.stack
    video = job.video
    dark: Any = None
    if isinstance(job.dark, (str, os.PathLike)):
        dark = input_stamp(os.fspath(job.dark))
    elif job.dark is not None:
        dark = {"sha256": hashlib.sha256(memoryview(job.dark).tobytes()).hexdigest()}
    return {
        "mode": job.mode, "step": job.step, "kappa": job.kappa, "iterations": job.iterations,
        "buffers": job.buffers, "reject": job.reject, "exclude": list(job.exclude), "dark": dark,
        "hot_pixels": job.hot_pixels, "hdr": job.hdr, "stream": job.stream,
        "preview": job.preview, "normalize": job.normalize, "gain": job.gain,
        "bit_depth": job.bit_depth, "quality": job.quality, "format": _suffix(job.still),
        # As positions: "2:00" and "120s" are the same window.
        "windows": [{"start": _position(w.start), "end": _position(w.end), "auto": w.auto}
                    for w in job.windows],
        "video": None if video is None else {
            "format": _suffix(video.path), "trail": video.trail, "trail_frames": video.trail_frames,
            "decay": video.decay, "step": video.step, **asdict(video.encoding)},
        "keogram": None if job.keogram is None else {
            "angle": job.keogram.angle, "width": job.keogram.width},
        "sort": job.sort, "raw_half": job.raw_half,
        "scan": batch.scan, **_sky_options(job),
    }  # fmt: skip


def _sky_options(job: StackJob) -> dict[str, Any]:
    """The sky's options, where any is set (so the digests of earlier outputs stay the same)."""
    sky = job.sky
    out: dict[str, Any] = {}
    if sky.fill_gaps or sky.align or sky.mask is not None:
        mask = input_stamp(os.fspath(sky.mask)) if sky.mask is not None else None
        out["sky"] = {"fill_gaps": sky.fill_gaps, "align": sky.align, "mask": mask}
    if job.video is not None and job.video.trail_length is not None:
        out["trail_length"] = job.video.trail_length
    return out


def _position(position: Any) -> Any:
    if position is None:
        return None
    # A clock time is known by its text alone until a source's capture times resolve it.
    clock = position.text if position.clock else None
    return {"frame": position.frame, "time_s": position.time_s, "clock": clock}


def _suffix(path: str | None) -> str:
    return Path(path).suffix.lower() if path else ".png"


def options_digest(options: dict[str, Any]) -> str:
    """A short stable digest of :func:`batch_options`.

    Examples
    --------
    >>> options_digest({"mode": "max"}) == options_digest({"mode": "max"})
    True
    """
    text = json.dumps(options, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _task(index: int, path: str, name: str, batch: BatchJob, options: dict[str, Any],
          digest: str, workers: int) -> InputTask:  # fmt: skip
    """One input's task; on a cluster every path is absolute (workers have their own folders)."""
    where = os.path.abspath if batch.scheduler else os.fspath
    out = Path(where(batch.out_dir))
    job = batch.stack
    still = out / f"{name}-{job.mode}{_suffix(job.still)}"
    outputs = [still.name, sidecar_path(still).name]
    video = None
    if job.video is not None:
        video = replace(job.video, path=str(out / f"{name}-{job.mode}{_suffix(job.video.path)}"))
        outputs.append(Path(video.path).name)
    keogram = None
    if job.keogram is not None:
        keogram = replace(job.keogram, path=str(out / f"{name}-keogram.png"))
        outputs.append(Path(keogram.path or "").name)
    scan = str(out / f"{name}-scan.png") if batch.scan else None
    if scan is not None:
        outputs.append(Path(scan).name)
    dark = where(job.dark) if isinstance(job.dark, (str, os.PathLike)) else job.dark
    # Inputs run side by side: each decodes in one process, a folder with its share of the cores,
    # and never on a cluster of its own (a task that waited on the cluster's other workers, from
    # one of them, could wait for ever).
    threads = None if workers == 1 else max(1, (os.cpu_count() or 1) // workers)
    stack = replace(job, input=where(path), still=str(still), video=video, keogram=keogram,
                    dark=dark, workers=1,
                    threads=threads, scheduler=None, sidecar=True, overwrite=True,
                    window_names=False)  # fmt: skip
    return InputTask(index, path, name, stack, scan, tuple(outputs), options, digest)


def up_to_date(task: InputTask) -> InputRow | None:
    """The row of an input whose outputs are all there and whose sidecar's ``batch`` block
    matches the input as it is now and the options; None when it needs stacking."""
    try:
        meta = json.loads(sidecar_path(task.job.still or "").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    block = meta.get("batch") if isinstance(meta, dict) else None
    if (
        not isinstance(block, dict)
        or block.get("options_digest") != task.digest
        or block.get("outputs") != list(task.outputs)
        or block.get("source") != input_stamp(task.job.input)
        or not all(path.exists() for path in task.paths())
    ):
        return None
    return InputRow(task.input, task.name, "up to date", meta.get("frames_used"),
                    meta.get("start"), meta.get("end"), meta.get("step"), block.get("seconds"),
                    task.outputs)  # fmt: skip


# -- the batch ------------------------------------------------------------------------------------


def run_batch(
    batch: BatchJob, listener: Listener | None = None, *, render: Callable[[str], str] = in_words
) -> BatchResult:
    """Stack every input of ``batch`` that is not up to date and write the manifest.

    Parameters
    ----------
    batch : BatchJob
        What to do; checked first (:meth:`BatchJob.validate`).
    listener : Listener, optional
        Hears each input's notes (``<name>: ...``), the frames of all inputs together in one
        ``Stacking`` stage, and every path written as it lands; default: nobody.
    render : callable
        Renders the messages the manifest holds (options marked by
        :func:`~vid2trail.errors.option`); the command line passes its flags.

    Returns
    -------
    BatchResult
        One row per input, in input order; the summary says what failed.

    Examples
    --------
    >>> result = run_batch(BatchJob(("nights/",), "stacks"))  # doctest: +SKIP
    >>> result.summary()[0]  # doctest: +SKIP
    'Batch: 3 inputs: 2 stacked, 1 up to date'
    """
    listener = listener or Silent()
    began = time.perf_counter()
    batch.validate()
    found = find_inputs(batch.inputs, batch.out_dir)
    out = Path(batch.out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{option('out_dir')} {out} is a file: give a folder")
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    options = batch_options(batch)
    digest = options_digest(options)
    workers = batch.workers or default_workers()
    tasks = [_task(i, path, name, batch, options, digest, workers)
             for i, (path, name) in enumerate(found)]  # fmt: skip
    try:
        _check_destinations(tasks[0])
    except Vid2TrailError:
        if created:
            out.rmdir()
        raise
    rows: dict[int, InputRow] = {}
    for task in tasks:
        row = None if batch.force else up_to_date(task)
        if row is not None:
            rows[task.index] = row
    todo = [task for task in tasks if task.index not in rows]
    skipped = len(rows)
    try:
        with _runner(batch, todo, workers) as results, listener.stage("Stacking") as progress:
            for task, row in results(_Tally(len(todo), progress)):
                rows[task.index] = row
                for text in row.messages:
                    listener.message(f"{task.name}: {text}")
                for name in row.outputs:
                    listener.wrote(out / name)
    except BaseException:
        if len(rows) > skipped:  # the manifest of what is done; the rest: interrupted
            _finish(tasks, rows, out, options, digest, began, render)
        raise
    manifest = _finish(tasks, rows, out, options, digest, began, render)
    for path in manifest:
        listener.wrote(path)
    return BatchResult(tuple(rows[t.index] for t in tasks), manifest)


def _check_destinations(task: InputTask) -> None:
    """Formats and depths, before any work (the folder is the batch's: its files are replaced)."""
    still = Path(task.job.still or "")
    check_output(still, bit_depth=bit_depth_of(still, task.job.bit_depth), overwrite=True)
    if task.job.video is not None:
        from .encoding import check_video_output

        check_video_output(task.job.video.path, overwrite=True)


def _finish(tasks: list[InputTask], rows: dict[int, InputRow], out: Path,
            options: dict[str, Any], digest: str, began: float,
            render: Callable[[str], str]) -> tuple[Path, Path]:  # fmt: skip
    every = [rows.get(t.index) or InputRow(t.input, t.name, "interrupted") for t in tasks]
    return write_manifest(out, every, options, digest, time.perf_counter() - began, render)


def write_manifest(out_dir: Path, rows: Sequence[InputRow], options: dict[str, Any], digest: str,
                   seconds: float, render: Callable[[str], str]) -> tuple[Path, Path]:  # fmt: skip
    """Write ``manifest.json`` (the batch's options and one row per input) and ``manifest.csv``
    (the rows, outputs joined by ``;``) into ``out_dir``, atomically."""
    counts = Counter(row.status for row in rows)
    doc = {"software": f"vid2trail {__version__}",
           "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "out_dir": os.path.abspath(out_dir), "inputs": len(rows),
           "counts": {s: counts[s] for s in STATUSES if counts[s]}, "seconds": round(seconds, 3),
           "options": options, "options_digest": digest,
           "rows": [row.to_dict(render) for row in rows]}  # fmt: skip
    text = json.dumps(doc, indent=1, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a name that is not UTF-8: escaped, so it reads back the same
        text = json.dumps(doc, indent=1)
    paths = (out_dir / "manifest.json", out_dir / "manifest.csv")
    with atomic_path(paths[0]) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
    with atomic_path(paths[1]) as tmp, open(tmp, "w", newline="", encoding="utf-8",
                                            errors="surrogateescape") as handle:  # fmt: skip
        table = csv.writer(handle)
        table.writerow(CSV_COLUMNS)
        for row in rows:
            cells = row.to_dict(render)
            cells["outputs"] = ";".join(row.outputs)
            table.writerow(["" if cells[c] is None else cells[c] for c in CSV_COLUMNS])
    return paths
