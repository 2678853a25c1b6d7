"""The stack job: its checks speak library words, the command line shows the same as flags, and
one orchestrator serves the command, ``stack()`` and the trail video."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vid2trail
from vid2trail.encoding import VideoOptions
from vid2trail.errors import UsageError, as_flags, in_words, option
from vid2trail.job import StackJob, TrailVideoJob
from vid2trail.orchestrator import run
from vid2trail.select import Window, window_of

from conftest import invoke

pytestmark = pytest.mark.usefixtures("in_tmp")


@pytest.mark.parametrize(
    ("job", "message"),
    [
        (StackJob("a.mp4", gain=float("nan")),
         "gain nan: use a factor above 0, at most 1000000 (2 is one stop brighter)"),
        (StackJob("a.mp4", bit_depth=12), "bit_depth 12: use 8, 16 or 32"),
        (StackJob("a.mp4", step=0), "step 0 must be a whole number of frames, 1 or more"),
        (StackJob("a.mp4", workers=0), "workers 0: give a whole number of processes, 1 or more"),
        (StackJob("a.mp4", mode="mean", argmax="f.png"), "argmax needs mode max, not mode mean"),
        (StackJob("a.mp4", argmax="f.jpg"),
         "argmax f.jpg: write the frame numbers as .png, .tif or .npy"),
        (StackJob("a.mp4", argmax="f.png", windows=(Window(), Window())),
         "argmax takes one window: give windows once, or start/end"),
        (StackJob("a.mp4", video=TrailVideoJob("v.mp4"), windows=(Window(), Window())),
         "video takes one window: use start/end or a single windows"),
        (StackJob("a.mp4", mode="sigma", video=TrailVideoJob("v.mp4")),
         "trail grow shows the running stack, and a sigma stack is only known at the end: use "
         "mode max, min, mean, sum, or trail comet or window"),
        (StackJob("a.mp4", video=TrailVideoJob("v.mp4", step=0)),
         "TrailVideoJob.step 0: use a whole number, 1 or more"),
        (StackJob("a.mp4", video=TrailVideoJob("v.gif", encoding=VideoOptions(codec="hevc"))),
         "codec applies to .mp4, .mov and .mkv videos, not v.gif"),
        (StackJob("a.mp4", mode="nope"),
         "unknown mode 'nope': choose one of max, min, mean, sum, sigma, winsor, median, maxmean"),
        (StackJob("a.mp4", windows=()), "give at least one window"),
    ],
)  # fmt: skip
def test_validate_speaks_library_words(job: StackJob, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        job.validate()
    assert str(caught.value) == message
    assert "--" not in str(caught.value)


def test_validate_accepts_a_sound_job() -> None:
    job = StackJob("a.mp4", mode="winsor", kappa=2.5, video=TrailVideoJob("v.mp4", "comet"))
    job.validate()
    assert job.reducer_params()["kappa"] == 2.5


def test_the_command_line_shows_the_same_message_with_its_flags(lossless_clip: Path) -> None:
    result = invoke(lossless_clip, "--bit-depth", "12")
    assert result.exit_code == 2
    assert result.output.strip() == "Error: --bit-depth 12: use 8, 16 or 32"
    result = invoke(lossless_clip, "-m", "sigma", "--video", "v.mp4")
    assert result.exit_code == 2
    assert result.output.strip() == (
        "Error: --trail grow shows the running stack, and a sigma stack is only known at the "
        "end: use --mode max, min, mean, sum, or --trail comet or window"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": "5x"}, "cannot read start '5x': give a frame number (120), a time "
                          "(90s, 4.5s, 2:00, 1:02:03.5) or a clock time (T22:30, "
                          "2026-08-12T22:30)"),
        ({"start": 30, "end": 10}, "start 30 (frame 30) is not before end 10 (frame 10): the "
                                   "window is half-open, start <= frame < end; give an end after "
                                   "the start"),
        ({"start": 500}, None),
        ({"workers": 0}, "workers 0: give a whole number of processes, 1 or more"),
        ({"reject": 0}, None),
        ({"kappa": float("inf")}, None),
        ({"memory": "lots"}, None),
        ({"stream": -1}, None),
        ({"hdr": "loud"}, None),
        ({"backend": "vlc"}, None),
    ],
)  # fmt: skip
def test_stack_errors_name_its_keywords_not_flags(
    lossless_clip: Path, kwargs: dict[str, Any], message: str | None
) -> None:
    with pytest.raises(vid2trail.Vid2TrailError) as caught:
        vid2trail.stack(lossless_clip, **kwargs)
    text = str(caught.value)
    assert "--" not in text, text
    if message is not None:
        assert text == message
    else:
        assert next(iter(kwargs)) in text, text


def test_marks_render_both_ways() -> None:
    text = f"pass {option('overwrite')} or lower {option('reject_above')}"
    assert in_words(text) == "pass overwrite=True or lower reject"
    assert as_flags(text) == "pass --overwrite or lower --reject-above"


def test_window_of_keeps_given_ends_and_marks_auto() -> None:
    window = window_of("2:00", "auto")
    assert window.start is not None and window.start.time_s == 120.0
    assert window.end is None and window.auto
    assert Window.parse("auto") == Window(auto=True)
    assert not window_of(None, None).auto


class Recorder:
    """A listener that keeps everything it hears."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.stages: list[str] = []
        self.paths: list[Path] = []

    def message(self, text: str) -> None:
        self.lines.append(text)

    @contextmanager
    def stage(self, label: str) -> Iterator[None]:
        self.stages.append(label)
        yield None

    def wrote(self, path: Path) -> None:
        self.paths.append(path)


def test_one_run_writes_the_still_sidecar_and_video_and_reports_them(
    lossless_clip: Path, frames40: np.ndarray
) -> None:
    job = StackJob(str(lossless_clip), still="s.png", sidecar=True, reject=5.0,
                   video=TrailVideoJob("v.mp4"), windows=(window_of(2, 30),))  # fmt: skip
    heard = Recorder()
    result = run(job, heard)
    assert [p.name for p in result.written] == ["s.png", "s.png.json", "v.mp4"]
    assert heard.paths == list(result.written) and heard.stages == ["Stacking"]
    assert result.ranges[0].start == 2 and result.reducers[0].count == 28
    assert any("flash" in line.lower() or "reject" in line.lower() for line in heard.lines)
    image = vid2trail.render(result.reducers[0], out_dtype=np.uint8)
    np.testing.assert_array_equal(image, frames40[2:30].max(axis=0))


def test_run_reads_a_source_it_is_given(frames40: np.ndarray) -> None:
    from conftest import FakeSource

    source = FakeSource(frames40)
    result = run(StackJob("fake", mode="min"), source=source)
    np.testing.assert_array_equal(result.reducers[0].result(), frames40.min(axis=0))
    assert result.written == ()


def test_usage_line_has_no_hidden_subcommand(lossless_clip: Path) -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    usage = result.output.splitlines()[0]  # the runner calls the program "root"
    assert usage.startswith("Usage: ") and usage.endswith(" [OPTIONS] INPUT"), usage
    assert "stack" not in usage
    for panel in ("Input and selection:", "Stacking:", "Calibration:", "Outputs:",
                  "Trail video:", "Performance:", "Examples:"):  # fmt: skip
        assert panel in result.output
    result = invoke(lossless_clip, "--no-such-flag")
    assert result.exit_code == 2 and "vid2trail stack" not in result.output


def test_version_after_an_input(lossless_clip: Path) -> None:
    result = invoke(lossless_clip, "--version")
    assert result.exit_code == 0 and result.output.startswith("vid2trail ")
    assert not Path("dots-max.png").exists()


@pytest.mark.parametrize("name", ["scan", "info"])
def test_a_folder_named_like_a_command_is_an_input(
    name: str, frames40: np.ndarray, tmp_path: Path
) -> None:
    from conftest import write_folder

    write_folder(tmp_path / name, frames40[:5])
    result = invoke(name, "-q")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"{name}-max.png"
    assert invoke("info", name).exit_code == 0  # the command, given an input


def test_a_command_word_that_is_also_a_folder(frames40: np.ndarray, tmp_path: Path) -> None:
    from conftest import write_folder

    write_folder(tmp_path / "scan", frames40[:4])
    result = invoke("scan", "-m", "mean", "-q")  # nothing else to scan: the folder is stacked
    assert result.exit_code == 0 and result.stdout == "scan-mean.png\n", result.output
    assert invoke("scan", "--start", "1", "-q", "-y", "-o", "s.png").stdout == "s.png\n"
    result = invoke("scan", "scan", "-q")  # another word names an input: the command
    assert result.exit_code == 0 and result.stdout == "scan-scan.png\n", result.output
    assert invoke("scan", "--help").output.startswith("Usage: ")
    assert "--scan-width" in invoke("scan", "--help").output


def test_checks_that_need_no_decoding_come_before_it(lossless_clip: Path) -> None:
    result = invoke(lossless_clip, "--quality", "0", "-o", "q.jpg")
    assert (result.exit_code, result.output) == (2, "Error: --quality 0: use 1 to 100\n")
    result = invoke(lossless_clip, "--window", "abc")
    assert result.exit_code == 2
    assert result.output.startswith("Error: cannot read --window 'abc': write START:END")
    Path("dots-max.png.json").write_text("{}")
    result = invoke(lossless_clip, "--start", "auto", "--sidecar", "-q")
    # Refused before the night scan decodes anything: no scan summary was printed.
    assert result.exit_code == 2
    assert (
        result.output
        == "Error: dots-max.png.json already exists: pass --overwrite (-y) to replace it\n"
    )
    assert sorted(os.listdir(".")) == ["dots-max.png.json"]


def test_encoder_settings_a_palette_video_ignores_get_a_note(lossless_clip: Path) -> None:
    result = invoke(lossless_clip, "-q", "--video", "v.gif", "--crf", "30", "--end", "3")
    assert result.exit_code == 0, result.output
    assert result.stderr == "Note: --crf applies to .mp4, .mov and .mkv videos; v.gif is not one\n"


def test_a_scheduler_without_dask_installed_names_the_extra(
    lossless_clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed: ImportError
    result = invoke(lossless_clip, "-q", "--scheduler", "tcp://127.0.0.1:8786")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: --scheduler runs on a Dask cluster, which needs Dask: pip install "
        "'vid2trail[dask]'\n"
    )
    assert os.listdir(".") == []
