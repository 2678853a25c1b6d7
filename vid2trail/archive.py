"""The inputs of an archive: what counts as one input, its stable name, and the stamp that tells
whether it changed (bytes and modification times), for :mod:`vid2trail.batch`.
"""

from __future__ import annotations

import glob
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import (
    SourceError,
    UsageError,
    option,
)
from .job import StackJob
from .outputs import default_stem
from .sources import check_local_path, expand_glob
from .sources.base import IMAGE_EXTENSIONS
from .sources.images import list_images, natural_key, source_stamp
from .sources.own import wrote_it

#: Files a folder of clips is searched for (any other file given by name is tried as a video too).
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".mkv", ".avi", ".m4v", ".webm", ".mts", ".m2ts",
                              ".ts", ".mpg", ".mpeg", ".wmv", ".3gp"})  # fmt: skip


@dataclass(frozen=True)
class InputRow:
    """What became of one input: a row of the manifest. ``error`` and ``messages`` name options
    as :func:`vid2trail.errors.option` marks them; ``outputs`` are names in the output folder."""

    input: str
    name: str
    status: str
    frames: int | None = None
    start: int | None = None
    end: int | None = None
    step: int | None = None
    seconds: float | None = None
    outputs: tuple[str, ...] = ()
    error: str | None = None
    messages: tuple[str, ...] = ()

    def to_dict(self, render: Callable[[str], str]) -> dict[str, Any]:
        """The row as the manifest holds it, messages through ``render``."""
        row = asdict(self)
        row["outputs"] = list(self.outputs)
        row["error"] = render(self.error) if self.error is not None else None
        row["messages"] = [render(text) for text in self.messages]
        return row


@dataclass(frozen=True)
class InputTask:
    """One input's work, picklable for a process or a Dask worker: the job (its paths in the
    output folder), the scan picture, and what the sidecar's ``batch`` block records."""

    index: int
    input: str
    name: str
    job: StackJob
    scan: str | None
    outputs: tuple[str, ...]
    options: dict[str, Any]
    digest: str
    #: Called with ``("start", index, pid)`` and ``("frames", index, done, total)``.
    report: Callable[[tuple[Any, ...]], None] | None = None

    def paths(self) -> list[Path]:
        folder = Path(self.job.still or "").parent
        return [folder / name for name in self.outputs]


# -- the inputs -----------------------------------------------------------------------------------


def find_inputs(paths: Sequence[str], out_dir: str | None = None) -> list[tuple[str, str]]:
    """Each input as ``(path, name)``: a video, or a folder or glob of images (one night).

    A folder that holds images is one input; any other folder (of clips, of nights, of years of
    nights) gives one input per video and per folder of images below it, named after its path
    below the folder (``nights/2024-05-01/clip.mp4``: ``2024-05-01-clip``); a glob likewise. A
    video or an image folder given by name is named as ``vid2trail stack`` names it
    (:func:`~vid2trail.outputs.default_stem`). Names that two inputs share take the name of the
    folder they were found in (or their parent folder) in front, then ``-2``, ``-3``. Hidden
    files, the output folder and folders of vid2trail's own stills are left out.

    Examples
    --------
    >>> find_inputs(["nights/"])  # doctest: +SKIP
    [('nights/2024-05-01', '2024-05-01'), ('nights/2024-05-02/clip.mp4', '2024-05-02-clip')]
    """
    skip = os.path.realpath(out_dir) if out_dir is not None else None
    found: list[tuple[str, str, str]] = []  # path, name, the folder it was found in
    for text in paths:
        before = len(found)
        _find(text, found, skip)
        if len(found) == before:
            raise SourceError(
                f"no videos or folders of images in {text}: give clips, nights (folders of "
                "images) or folders of them"
            )
    once: dict[str, tuple[str, str, str]] = {}
    for item in found:  # an input given twice (a folder and a glob over it) is one input
        once.setdefault(os.path.realpath(item[0]), item)
    return _unique_names(list(once.values()))


def _find(text: str, found: list[tuple[str, str, str]], skip: str | None) -> None:
    check_local_path(text)
    here = os.path.basename(os.path.dirname(os.path.abspath(text)))
    if os.path.isdir(text):
        if _holds_images(text):
            if os.path.realpath(text) == skip:
                raise UsageError(f"{option('out_dir')} {text} is an input: give the outputs a "
                                 "folder of their own")  # fmt: skip
            found.append((text, default_stem(text), here))
        else:
            _walk(text, text, found, skip)
    elif os.path.exists(text):
        if os.path.splitext(text)[1].lower() in IMAGE_EXTENSIONS:
            folder = os.path.dirname(text) or "."
            raise UsageError(
                f"{text} is one image: give its folder ({folder}) or a quoted glob "
                f"('{os.path.join(folder, '*' + os.path.splitext(text)[1])}') to stack its night"
            )
        found.append((text, default_stem(text), here))
    else:  # a glob that matches (check_local_path says so otherwise)
        matches = sorted(expand_glob(text), key=natural_key)
        if any(os.path.splitext(m)[1].lower() in IMAGE_EXTENSIONS for m in matches):
            found.append((text, default_stem(text), here))
        root = _glob_root(text)
        for match in matches:
            if os.path.splitext(match)[1].lower() not in IMAGE_EXTENSIONS:
                _entry(match, root, found, skip)


def _entry(path: str, root: str, found: list[tuple[str, str, str]], skip: str | None) -> None:
    if os.path.realpath(path) == skip:
        return
    relative = Path(os.path.relpath(path, root))
    if os.path.isdir(path):
        if _holds_images(path):
            found.append((path, "-".join(relative.parts), os.path.basename(os.path.abspath(root))))
        else:
            _walk(path, root, found, skip)
    elif relative.suffix.lower() in VIDEO_EXTENSIONS:
        name = "-".join((*relative.parts[:-1], relative.stem))
        found.append((path, name, os.path.basename(os.path.abspath(root))))


def _walk(folder: str, root: str, found: list[tuple[str, str, str]], skip: str | None) -> None:
    for name in sorted(os.listdir(folder), key=natural_key):
        if not name.startswith("."):
            _entry(os.path.join(folder, name), root, found, skip)


def _holds_images(folder: str) -> bool:
    """Whether a folder holds images of its own (not only stills vid2trail wrote)."""
    return any(not wrote_it(image) for image in list_images(folder))


def _glob_root(pattern: str) -> str:
    """The folder a glob searches: its parts before the first with a wildcard."""
    parts = Path(pattern).parts
    literal = parts[: next((i for i, p in enumerate(parts) if glob.has_magic(p)), len(parts))]
    return os.path.join(*literal) if literal else "."


def _unique_names(found: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    shared = Counter(name for _, name, _ in found)
    named = [(p, f"{q}-{n}" if shared[n] > 1 and q else n) for p, n, q in found]
    taken: set[str] = set()
    result = []
    for path, name in named:
        number, unique = 1, name
        while unique in taken:
            number += 1
            unique = f"{name}-{number}"
        taken.add(unique)
        result.append((path, unique))
    return result


def input_stamp(path: str) -> dict[str, Any]:
    """The input as the ``batch`` block records it: absolute path and :func:`source_stamp`."""
    return {"path": os.path.abspath(path), **source_stamp(path)}
