"""The progress bar: rich's, on stderr, with the frames done, the frames a second and the time left.

Imported only when a bar may be shown (:func:`vid2trail.cli.terminal.progress_bar`), so that a
``--quiet`` run never loads rich.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from ..pipeline import ProgressCallback

_stderr = Console(stderr=True)


class _FramesPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(
            f"{speed:,.0f} frames/s" if speed else "- frames/s", style="progress.data.speed"
        )


@contextmanager
def rich_bar(label: str) -> Iterator[ProgressCallback | None]:
    """A progress bar labelled ``label`` while the block runs, fed by the callback it yields;
    None (no bar) when stderr is not a terminal.

    Examples
    --------
    >>> with rich_bar("Stacking") as update:  # doctest: +SKIP
    ...     update(10, 100)
    """
    if not _stderr.is_terminal:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _FramesPerSecond(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=_stderr, transient=False) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        yield update
