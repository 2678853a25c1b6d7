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
