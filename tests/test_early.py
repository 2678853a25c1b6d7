"""The command line starts ffmpeg on the input before the slow imports; the source collects it."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import vid2trail._early as early
from vid2trail.sources.ffmpeg import FFmpegSource

from conftest import encode, make_frames


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return encode(make_frames(30), tmp_path / "night.mp4", codec="h264", extra=("-g", "5"))


@pytest.fixture(autouse=True)
def nothing_left() -> object:
    yield
    early._reap()


def test_early_runs_are_collected_and_give_the_same_source(clip: Path) -> None:
    plain = FFmpegSource(str(clip), prefetch=True)
    early.start([str(clip), "--start", "3", "-o", "x.png"])
    assert {key[0] for key in early._started} == {"probe", "listing"}
    started = dict(early._started)
    fast = FFmpegSource(str(clip), prefetch=True)
    assert early._started == {}  # both collected, none run twice
    assert fast.info == plain.info
    assert replace(fast.probe, stderr="") == replace(plain.probe, stderr="")  # stderr has timings
    assert fast.frame_times() == plain.frame_times()
    assert fast.keyframe_indices() == [0, 5, 10, 15, 20, 25]
    assert all(proc.returncode == 0 for proc in started.values())  # ran to the end, were read
    np.testing.assert_array_equal(next(fast.frames(7, 8)).pixels, next(plain.frames(7, 8)).pixels)


def test_only_the_probe_without_a_time_selection(clip: Path) -> None:
    early.start(["stack", str(clip), "-q"])
    assert [key[0] for key in early._started] == ["probe"]


@pytest.mark.parametrize(
    "args",
    [["--stream", "1"], ["--stream=1"], ["--backend", "opencv"], ["--help"], []],
)
def test_no_guess_when_unsure(clip: Path, args: list[str]) -> None:
    early.start([str(clip), *args] if args else ["photos/", "-o", "a.png"])
    assert early._started == {}


def test_a_changed_file_is_not_served_a_stale_report(clip: Path) -> None:
    early.start([str(clip)])
    [proc] = early._started.values()
    os.utime(clip, ns=(0, 0))  # the file changed after the early start
    assert early.take("probe", str(clip), early.DEFAULT_GUESS) is None
    early._reap()
    assert proc.returncode is not None  # killed or finished, and waited for


def test_the_wrong_guess_is_reaped(clip: Path, tmp_path: Path) -> None:
    decoy = encode(make_frames(5), tmp_path / "decoy.mkv")
    early.start(["--dark", str(decoy), str(clip)])
    [key] = early._started
    assert key[1] == os.path.realpath(decoy)  # the first video named: a wrong guess here
    FFmpegSource(str(clip))  # probes by itself
    procs = list(early._started.values())
    early._reap()
    assert early._started == {} and all(p.returncode is not None for p in procs)
