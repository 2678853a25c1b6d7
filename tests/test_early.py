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


def test_the_wrong_guess_is_stopped_when_the_input_opens(clip: Path, tmp_path: Path) -> None:
    decoy = encode(make_frames(5), tmp_path / "decoy.mkv")
    early.start([str(decoy), str(clip), "--preview"])
    assert {key[1] for key in early._started} == {os.path.realpath(decoy)}  # a wrong guess
    procs = list(early._started.values())
    FFmpegSource(str(clip))  # probes by itself, and stops the runs on the decoy at once
    assert early._started == {} and all(p.returncode is not None for p in procs)


def test_option_values_are_not_guessed(clip: Path, tmp_path: Path) -> None:
    old = encode(make_frames(5), tmp_path / "old.mp4")
    args = ["--video", str(old), "-o=" + str(old), "--dark", str(old), str(clip), "--end", "9"]
    assert early.guess_input(args) == str(clip)
    early.start(args)
    assert [key[:2] for key in early._started] == [("probe", os.path.realpath(clip))]


@pytest.mark.parametrize(
    ("args", "listing"),
    [
        (["--end", "500"], False),
        (["--exclude=3-5,9"], False),
        (["--start", "0"], False),
        (["--end", "1:30"], True),
        (["--start=120"], True),
        (["--exclude", "2s-3s"], True),
        (["--window", "0:100"], True),
        (["--preview"], True),
    ],
)
def test_the_listing_starts_only_when_the_selection_needs_times(
    clip: Path, args: list[str], listing: bool
) -> None:
    early.start([str(clip), *args])
    assert ("listing" in {key[0] for key in early._started}) is listing


def test_the_package_loads_its_names_on_first_use() -> None:
    import subprocess
    import sys

    code = (
        "import sys, vid2trail; heavy = {'numpy', 'cv2', 'typer'} & set(sys.modules); "
        "names = [getattr(vid2trail, n) for n in vid2trail.__all__]; "
        "print(sorted(heavy), len(names), vid2trail.pipeline.stack is vid2trail.stack)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]", str(len(__import__("vid2trail").__all__)), "True"]
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        __import__("vid2trail").nope  # noqa: B018
