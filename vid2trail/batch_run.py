"""Where each input of a batch is stacked: here, in a process pool, or on a Dask cluster; the
one picklable task all three run (:func:`stack_input`), and the progress over all inputs.
"""

from __future__ import annotations

import glob
import json
import multiprocessing
import os
import queue
import signal
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .archive import InputRow, InputTask, input_stamp
from .errors import Vid2TrailError, Vid2TrailWarning, option
from .orchestrator import run
from .writers import sidecar_path, write_sidecar

if TYPE_CHECKING:
    from .batch import BatchJob

#: Seconds between two progress reports of a task.
_REPORT_S = 0.2
#: Seconds between two looks at a pool's tasks.
_POLL_S = 0.1

# -- one input ------------------------------------------------------------------------------------


def stack_input(task: InputTask) -> InputRow:
    """Stack one input of a batch, wherever it runs (this process, a pool's, a Dask worker):
    its still and sidecar, trail video and scan picture, then the sidecar's ``batch`` block.
    A failure is the row's error; notes and warnings are its messages."""
    began = time.perf_counter()
    if task.report is not None:
        task.report(("start", task.index, os.getpid()))
    stamp = input_stamp(task.job.input)  # before the stack: a folder may still be filling up
    heard = _Collector(task)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            for path in task.paths():
                _remove_leftovers(path)
            result = run(task.job, heard)
            if task.scan is not None:
                _draw_scan(task)
            seconds = round(time.perf_counter() - began, 3)
            _sign_sidecar(task, stamp, seconds)
        except Exception as exc:  # one input failing does not stop the batch
            error = _error_text(exc)
            result = None
    messages = heard.messages + [f"Warning: {_warning_text(r.message)}" for r in caught]
    messages = list(dict.fromkeys(messages))  # multi-pass modes decode again: say it once
    if result is None:
        seconds = round(time.perf_counter() - began, 3)
        return InputRow(task.input, task.name, "failed", seconds=seconds, error=error,
                        messages=tuple(messages))  # fmt: skip
    window = result.ranges[0]
    return InputRow(task.input, task.name, "stacked", result.reducers[0].count, window.start,
                    window.end, window.step, seconds, task.outputs, None,
                    tuple(messages))  # fmt: skip


class _Collector:
    """The listener of one input's run: keeps its lines, reports its frames now and then."""

    def __init__(self, task: InputTask) -> None:
        self.task = task
        self.messages: list[str] = []
        self._last = 0.0

    def message(self, text: str) -> None:
        self.messages.append(text)

    @contextmanager
    def stage(self, label: str) -> Iterator[Callable[[int, int | None], None] | None]:
        yield self._frames if label == "Stacking" and self.task.report is not None else None

    def _frames(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if self.task.report is not None and now - self._last >= _REPORT_S:
            self._last = now
            self.task.report(("frames", self.task.index, done, total))

    def wrote(self, path: Path) -> None:
        """The row lists the outputs."""


def _remove_leftovers(path: Path) -> None:
    """Delete the hidden temporary files a killed process left while writing ``path``
    (:func:`~vid2trail.writers.atomic_path` names them ``.<stem>.<random>.part<suffix>``)."""
    pattern = f".{glob.escape(path.stem)}.*.part{glob.escape(path.suffix)}"
    for leftover in path.parent.glob(pattern):
        leftover.unlink(missing_ok=True)


def _draw_scan(task: InputTask) -> None:
    from .choose import DEFAULT_REJECT_K
    from .scan import THUMBNAILS, scan
    from .scanplot import draw_scan

    result = scan(task.job.input, reject_k=task.job.reject or DEFAULT_REJECT_K,
                  thumbnails=THUMBNAILS, stream=task.job.stream)  # fmt: skip
    draw_scan(result, task.scan or "", title=task.name)


def _sign_sidecar(task: InputTask, stamp: dict[str, Any], seconds: float) -> None:
    """Add the ``batch`` block to the still's sidecar, last: the mark that the input is done."""
    still = task.job.still or ""
    meta = json.loads(sidecar_path(still).read_text(encoding="utf-8"))
    meta["batch"] = {"input": task.input, "name": task.name, "source": stamp,
                     "options_digest": task.digest, "options": task.options,
                     "outputs": list(task.outputs), "seconds": seconds}  # fmt: skip
    write_sidecar(still, meta)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, Vid2TrailError):
        return exc.message()
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"


def _warning_text(warning: Warning) -> str:
    return warning.message() if isinstance(warning, Vid2TrailWarning) else str(warning)


class _Tally:
    """Frames done over all inputs, and the total expected: the totals known so far, and their
    average for each input not started yet."""

    def __init__(self, inputs: int, progress: Callable[[int, int | None], None] | None) -> None:
        self.inputs = inputs
        self.progress = progress
        self.started: dict[int, int] = {}
        self._done: dict[int, int] = {}
        self._total: dict[int, int] = {}

    def event(self, event: Sequence[Any]) -> None:
        kind, index, *rest = event
        if kind == "start":
            self.started[index] = rest[0]
        elif kind == "frames":
            done, total = rest
            self._done[index] = done
            if total is not None:
                self._total[index] = max(total, done)
            self._tell()

    def finish(self, index: int, row: InputRow) -> None:
        frames = row.frames if row.frames is not None else self._done.get(index, 0)
        self._done[index] = self._total[index] = frames
        self._tell()

    def estimate(self) -> tuple[int, int | None]:
        """``(frames done, frames expected)``; None expected until some input's total is known.

        Examples
        --------
        >>> tally = _Tally(4, None)
        >>> tally.event(("frames", 0, 10, 100)); tally.event(("frames", 1, 30, 300))
        >>> tally.estimate()
        (40, 800)
        """
        done = sum(self._done.values())
        if not self._total:
            return done, None
        known = sum(self._total.values())
        rest = self.inputs - len(self._total)
        return done, max(done, round(known + rest * known / len(self._total)))

    def _tell(self) -> None:
        if self.progress is not None:
            self.progress(*self.estimate())


Done = tuple[InputTask, InputRow]
Results = Callable[[_Tally], Iterator[Done]]


@contextmanager
def _runner(batch: BatchJob, tasks: list[InputTask], workers: int) -> Iterator[Results]:
    """Where the tasks run: on the Dask cluster, in a pool of processes, or here."""
    if batch.scheduler and tasks:
        from .cluster import check_readable, connect

        with connect(batch.scheduler) as client:
            needed = {t.job.input for t in tasks} | {os.path.abspath(batch.out_dir)}
            if isinstance(batch.stack.dark, (str, os.PathLike)):
                needed.add(os.path.abspath(batch.stack.dark))
            for path in sorted(needed):
                check_readable(client, path)
            yield lambda tally: _on_dask(client, tasks, tally, Path(batch.out_dir))
    elif workers > 1 and len(tasks) > 1:
        yield lambda tally: _in_pool(tasks, min(workers, len(tasks)), tally)
    else:
        yield lambda tally: _here(tasks, tally)


def _here(tasks: list[InputTask], tally: _Tally) -> Iterator[Done]:
    for task in tasks:
        report = tally.event if tally.progress is not None else None
        row = stack_input(replace(task, report=report))
        tally.finish(task.index, row)
        yield task, row


#: In a pool's process: where its tasks report (set by :func:`_pool_worker`).
_EVENTS: Any = None


def _pool_worker(events: Any) -> None:
    """Start a pool's process: report to ``events``; Ctrl-C is the parent's to handle, and the
    parent's SIGTERM stops the task the way Ctrl-C would (its temporary files are deleted)."""
    global _EVENTS
    _EVENTS = events
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop)


def _stop(signum: int, frame: object) -> None:
    # Once: a pool that breaks terminates its other processes again, which must not cut short
    # the clean-up the first signal started.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise SystemExit(128 + signum)


def _to_pool(event: tuple[Any, ...]) -> None:
    _EVENTS.put(event)


def _in_worker(task: InputTask) -> InputRow:
    """A pool's task: :func:`stack_input`; stopped by the parent, leave once cleaned up."""
    try:
        return stack_input(task)
    except SystemExit as stop:
        os._exit(stop.code if isinstance(stop.code, int) else 1)


def _in_pool(tasks: list[InputTask], workers: int, tally: _Tally) -> Iterator[Done]:
    """Run the tasks in processes. A process that dies (a decoder crash) breaks the pool: the
    tasks it was not running go to a fresh pool; those that had started run alone after, so a
    second death names its input."""
    ctx = multiprocessing.get_context("spawn")
    events = ctx.Queue()
    pending, suspects, tries = list(tasks), [], Counter[int]()
    while pending or suspects:
        size = workers if pending else 1
        group, pending = (pending, []) if pending else ([suspects.pop(0)], pending)
        with ProcessPoolExecutor(min(size, len(group)), mp_context=ctx,
                                 initializer=_pool_worker, initargs=(events,)) as pool:  # fmt: skip
            futures = {pool.submit(_in_worker, replace(t, report=_to_pool)): t for t in group}
            try:
                for task, outcome in _gather(futures, events, tally):
                    if not isinstance(outcome, BrokenProcessPool):
                        yield task, _row(task, outcome, tally)
                    elif size == 1:
                        yield task, _row(task, "the process stacking it died (a crash in the "
                                         "decoder?)", tally)  # fmt: skip
                    else:
                        tries[task.index] += 1
                        started = task.index in tally.started or tries[task.index] > 1
                        (suspects if started else pending).append(task)
                        tally.started.pop(task.index, None)
            except BaseException:
                _stop_pool(futures, tally)
                raise


def _stop_pool(futures: dict[Future[Any], InputTask], tally: _Tally) -> None:
    running = {task.index for future, task in futures.items() if not future.done()}
    for future in futures:
        future.cancel()
    for index, pid in tally.started.items():
        if index in running:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


def _on_dask(client: Any, tasks: list[InputTask], tally: _Tally, out: Path) -> Iterator[Done]:
    """Run the tasks on a Dask cluster, one task per input (the scheduler reruns the task of a
    worker that dies, up to its ``allowed-failures``); workers report frames as events."""
    events: queue.Queue[Any] = queue.Queue()
    topic = None
    if tally.progress is not None:
        topic = f"vid2trail-batch-{uuid.uuid4().hex}"
        client.subscribe_topic(topic, lambda event: events.put(event[1]))
    executor = client.get_executor(pure=False)
    report = _Topic(topic) if topic else None
    futures = {executor.submit(stack_input, replace(t, report=report)): t for t in tasks}
    try:
        for task, outcome in _gather(futures, events, tally):
            if isinstance(outcome, BaseException):
                outcome = f"the Dask cluster lost it ({type(outcome).__name__}: {outcome})"
            else:
                outcome = _as_given(task, outcome)
                gone = [name for name in outcome.outputs if not (out / name).exists()]
                if gone:
                    outcome = (f"a Dask worker wrote {gone[0]}, which is not in {out} here: "
                               f"{option('out_dir')} must be on a filesystem every worker "
                               "mounts, at the same path")  # fmt: skip
            yield task, _row(task, outcome, tally)
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    finally:
        if topic is not None:
            client.unsubscribe_topic(topic)


def _as_given(task: InputTask, row: InputRow) -> InputRow:
    """The row with the input named as it was given, not by the full path workers read."""
    full = task.job.input

    def given(text: str) -> str:
        return text.replace(full, task.input)

    return replace(row, error=given(row.error) if row.error is not None else None,
                   messages=tuple(given(text) for text in row.messages))  # fmt: skip


@dataclass(frozen=True)
class _Topic:
    """Report to the client through a Dask event topic, from the worker running the task."""

    name: str

    def __call__(self, event: tuple[Any, ...]) -> None:
        from distributed import get_worker

        try:
            get_worker().log_event(self.name, list(event))
        except (ValueError, TypeError):  # not on a worker: progress is a nicety, the row is not
            pass


def _gather(
    futures: dict[Future[Any], InputTask], events: Any, tally: _Tally
) -> Iterator[tuple[InputTask, Any]]:
    """Each task with its row, or the exception that stopped it, as they finish; the events
    that arrive meanwhile go to ``tally``."""
    waiting = set(futures)
    while waiting:
        done, waiting = wait(waiting, timeout=_POLL_S, return_when=FIRST_COMPLETED)
        while True:
            try:
                tally.event(events.get_nowait())
            except queue.Empty:
                break
        for future in sorted(done, key=lambda f: futures[f].index):
            if future.cancelled():
                yield futures[future], RuntimeError("cancelled")
            else:
                error = future.exception()
                yield futures[future], error if error is not None else future.result()


def _row(task: InputTask, outcome: InputRow | BaseException | str, tally: _Tally) -> InputRow:
    """The row of a finished task: its own, or a failure in the words of what stopped it."""
    if isinstance(outcome, BaseException):
        outcome = f"{type(outcome).__name__}: {outcome}"
    if not isinstance(outcome, InputRow):
        outcome = InputRow(task.input, task.name, "failed", error=outcome)
    row = outcome
    tally.finish(task.index, row)
    return row
