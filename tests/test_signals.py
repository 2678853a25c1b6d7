"""Stopping signals clean up as Ctrl-C does: SIGHUP (a closed terminal, a dropped ssh session)
and SIGQUIT leave no partial output and no median scratch file; SIGKILL, which no program can
catch, still leaves no scratch file, because the cache has no name once it is open."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from conftest import invoke

pytestmark = pytest.mark.usefixtures("in_tmp")

RUNS = {
    "median": ["-m", "median", "--memory", "100KB", "-o", "never.png"],
    "video": ["-o", "never.png", "--video", "never.mp4"],
}


@pytest.mark.parametrize("run", sorted(RUNS))
@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGQUIT], ids=["SIGHUP", "SIGQUIT"])
def test_hangup_and_quit_clean_up_like_ctrl_c(
    lossless_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: str, signum: int
) -> None:
    from vid2trail.median import MedianReducer
    from vid2trail.reducers import MaxReducer

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    reducer = MedianReducer if run == "median" else MaxReducer
    real = reducer.update

    def update(self: object, pixels: np.ndarray) -> None:
        if self.count == 12:  # type: ignore[attr-defined]  # the median has spilled by now
            os.kill(os.getpid(), signum)
        real(self, pixels)  # type: ignore[arg-type]

    monkeypatch.setattr(reducer, "update", update)
    before = signal.getsignal(signum)
    result = invoke(lossless_clip, *RUNS[run])
    assert result.exit_code == 128 + signum
    word = {signal.SIGHUP: "Hung up (SIGHUP)", signal.SIGQUIT: "Quit (SIGQUIT)"}[signum]
    assert result.stderr == f"{word}: no half-written file was left behind.\n"
    assert sorted(os.listdir(".")) == ["scratch"] and os.listdir(scratch) == []
    assert signal.getsignal(signum) == before


KILLED = """
import os, signal, sys, tempfile
tempfile.tempdir = sys.argv[1]
from vid2trail.median import MedianReducer
from vid2trail.reducers import MaxReducer
target = MedianReducer if sys.argv[2] == "median" else MaxReducer
real = target.update
def update(self, pixels):
    if self.count == 12:
        os.kill(os.getpid(), signal.SIGKILL)
    real(self, pixels)
target.update = update
from vid2trail.cli import app
app(sys.argv[3:], prog_name="vid2trail")
"""


@pytest.mark.parametrize("run", sorted(RUNS))
def test_sigkill_leaves_no_scratch_file(lossless_clip: Path, tmp_path: Path, run: str) -> None:
    """SIGKILL cannot be caught: the median's cache goes with the process (it was unlinked as
    soon as it was opened). A trail video's hidden partial file (``.never.mp4.*.part.mp4``) is
    left where the video would have gone: ffmpeg writes it by name, and nothing can rename or
    remove it after a SIGKILL; no ``never.mp4`` and no still appear."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", KILLED, str(scratch), run, str(lossless_clip), *RUNS[run]],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == -signal.SIGKILL
    assert os.listdir(scratch) == []
    left = sorted(os.listdir("."))
    assert "never.png" not in left and "never.mp4" not in left
    if run == "median":
        assert left == ["scratch"]
    else:
        assert all(name == "scratch" or name.startswith(".") for name in left), left
