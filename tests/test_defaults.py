"""The command line and :func:`vid2trail.stack` share one source of defaults: every mode gives the
same pixels and records the same parameters either way (``--mode winsor`` once ran one rejection
pass from the command line and two from the library)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vid2trail import stack
from vid2trail.reducers import REDUCERS, make_reducer

from conftest import invoke

pytestmark = pytest.mark.usefixtures("in_tmp")

#: The parameters whose defaults depend on the mode, as the provenance records them.
PARAMETERS = ("kappa", "iterations", "memory_bytes", "buffers")


@pytest.mark.parametrize("mode", sorted(REDUCERS))
def test_cli_and_stack_agree_on_every_mode_default(lossless_clip: Path, mode: str) -> None:
    result = invoke(lossless_clip, "--mode", mode, "-o", "cli.npy", "--sidecar", "-q")
    assert result.exit_code == 0, result.output
    library = stack(lossless_clip, mode=mode)
    np.testing.assert_array_equal(np.load("cli.npy"), library)
    recorded = json.loads(Path("cli.npy.json").read_text())
    defaults = make_reducer(mode)
    want = {name: getattr(defaults, name) for name in PARAMETERS if hasattr(defaults, name)}
    assert {name: recorded[name] for name in PARAMETERS if name in recorded} == want
    assert recorded["mode"] == mode and recorded["frames_used"] == 40


def test_winsor_runs_two_rejection_passes_from_the_command_line(lossless_clip: Path) -> None:
    assert invoke(lossless_clip, "-m", "winsor", "-o", "w.npy", "--sidecar", "-q").exit_code == 0
    assert json.loads(Path("w.npy.json").read_text())["iterations"] == 2
    assert invoke(lossless_clip, "-m", "sigma", "-o", "s.npy", "--sidecar", "-q").exit_code == 0
    assert json.loads(Path("s.npy.json").read_text())["iterations"] == 1
    both = invoke(lossless_clip, "-m", "winsor", "--iterations", "1", "-o", "w1.npy", "-q")
    assert both.exit_code == 0
    np.testing.assert_array_equal(
        np.load("w1.npy"), stack(lossless_clip, mode="winsor", iterations=1)
    )


FLOAT_OPTIONS = {
    "--gain": ([], "a factor above 0, at most 1000000 (2 is one stop brighter)"),
    "--kappa": (["-m", "sigma"], "a number of standard deviations above 0, at most 100"),
    "--video-fps": (["--video", "v.mp4"], "a frame rate above 0, at most 1000, e.g. 24 or 30"),
}


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-1", "1e300"])
@pytest.mark.parametrize("flag", sorted(FLOAT_OPTIONS))
def test_non_finite_and_absurd_numbers_are_refused(lossless_clip: Path, flag: str,
                                                   value: str) -> None:  # fmt: skip
    extra, use = FLOAT_OPTIONS[flag]
    result = invoke(lossless_clip, *extra, f"{flag}={value}", "-o", "out.png")
    assert result.exit_code == 2
    assert result.stderr == f"Error: {flag} {float(value)}: use {use}\n"
    assert not Path("out.png").exists() and not Path("v.mp4").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "winsor", "--iterations", "0"], "--iterations 0: use a whole number, 1 or more"),
        (["-m", "winsor", "--iterations", "1000000"], "--iterations 1000000: use at most 20 "
         "(each one decodes the selection again; two already reject a plane's trail)"),
        (["-m", "maxmean", "--buffers", "-1"], "--buffers -1: use a whole number from 1 to 256"),
        (["-m", "maxmean", "--buffers", "100000"],
         "--buffers 100000: use a whole number from 1 to 256"),
    ],
)  # fmt: skip
def test_whole_numbers_out_of_range_are_refused(lossless_clip: Path, args: list[str],
                                                message: str) -> None:  # fmt: skip
    result = invoke(lossless_clip, *args, "-o", "out.png")
    assert (result.exit_code, result.stderr) == (2, f"Error: {message}\n")
    assert not Path("out.png").exists()


@pytest.mark.parametrize("value", ["nan", "inf", "1e300"])
def test_a_whole_number_option_given_a_float_is_a_usage_error(lossless_clip: Path,
                                                              value: str) -> None:  # fmt: skip
    result = invoke(lossless_clip, "-m", "winsor", "--iterations", value, "-o", "out.png")
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "Warning" not in result.output
    assert not Path("out.png").exists()


def test_the_library_refuses_the_same_numbers(lossless_clip: Path) -> None:
    from vid2trail.errors import UsageError

    for kwargs in ({"gain": float("nan")}, {"mode": "sigma", "kappa": float("inf")},
                   {"mode": "winsor", "iterations": 10**6}):  # fmt: skip
        with pytest.raises(UsageError):
            stack(lossless_clip, **kwargs)  # type: ignore[arg-type]


def test_the_command_takes_its_defaults_from_the_job() -> None:
    import inspect

    from vid2trail.cli import stack_command
    from vid2trail.cli.options import DEFAULT_MEMORY
    from vid2trail.job import StackJob
    from vid2trail.median import parse_size

    job = StackJob("")
    flags = inspect.signature(stack_command).parameters
    for name in ("mode", "kappa", "buffers", "gain", "quality", "backend", "hdr", "hwaccel"):
        assert flags[name].default == getattr(job, name), name
    assert parse_size(DEFAULT_MEMORY) == job.memory
