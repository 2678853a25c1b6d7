"""One window on a real Dask cluster (``distributed.LocalCluster``: 2 worker processes on
loopback): the same result as one process, mode by mode, with calibration too; a lost worker
loses nothing; a scheduler that cannot be reached is one line."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import vid2trail
from vid2trail.cluster import ClusterError, check_readable, connect
from vid2trail.errors import SourceError
from vid2trail.segments import FAULT_ENV

from conftest import encode, invoke, make_frames

distributed = pytest.importorskip("distributed")


def start_cluster() -> distributed.LocalCluster:
    return distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                    host="127.0.0.1", dashboard_address=":0")  # fmt: skip


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with start_cluster() as local:
        yield local.scheduler_address


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """240 lossless frames: enough for four segments of the 60 frames a segment needs at least."""
    frames = np.concatenate([make_frames(60, seed=s) for s in range(4)])
    return encode(frames, tmp_path_factory.mktemp("cluster") / "long.mkv")


@pytest.mark.parametrize("mode", ["max", "min", "mean", "sum", "sigma", "winsor", "maxmean"])
def test_a_cluster_gives_what_one_process_gives(cluster: str, clip: Path, mode: str) -> None:
    here = vid2trail.stack(clip, mode, start=7, dtype=np.float64)
    there = vid2trail.stack(clip, mode, start=7, dtype=np.float64, scheduler=cluster)
    if mode in ("max", "min", "maxmean"):
        np.testing.assert_array_equal(there, here)
    else:
        np.testing.assert_allclose(there, here, rtol=1e-12, atol=1e-15)


def test_calibration_travels_with_the_segments(cluster: str, clip: Path) -> None:
    dark = np.full((48, 64, 3), 0.01, np.float32)
    for mode in ("max", "mean"):
        here = vid2trail.stack(clip, mode, dark=dark, hot_pixels=True, dtype=np.float64)
        there = vid2trail.stack(clip, mode, dark=dark, hot_pixels=True, dtype=np.float64,
                                scheduler=cluster)  # fmt: skip
        np.testing.assert_allclose(there, here, rtol=1e-12, atol=1e-15)


def test_the_command_line_on_a_cluster(cluster: str, clip: Path, in_tmp: Path) -> None:
    assert invoke(clip, "-q", "-o", "here.npy").exit_code == 0
    result = invoke(clip, "-q", "-o", "there.npy", "--scheduler", cluster)
    assert result.exit_code == 0, result.output
    assert result.stdout == "there.npy\n" and result.stderr == ""
    np.testing.assert_array_equal(np.load("there.npy"), np.load("here.npy"))
    result = invoke(clip, "-q", "-o", "m.npy", "-m", "median", "--scheduler", cluster)
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "Note: --scheduler: a median's partial states are its frames: stacking here\n"
    )


def test_the_address_comes_from_the_environment_too(
    cluster: str, clip: Path, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:1")
    result = invoke(clip, "-q")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: cannot reach the Dask scheduler at tcp://127.0.0.1:1 (")
    assert result.stderr.endswith(
        "): start one with 'dask scheduler' and workers with 'dask worker ADDRESS', or check "
        "the address\n"
    )
    assert len(result.stderr.splitlines()) == 1 and os.listdir(in_tmp) == []


def test_a_worker_that_cannot_read_the_input_is_named(cluster: str, tmp_path: Path) -> None:
    with connect(cluster) as client, pytest.raises(SourceError) as caught:
        check_readable(client, str(tmp_path / "gone.mkv"))
    text = str(caught.value)
    assert text.startswith("the Dask worker tcp://127.0.0.1:")
    assert text.endswith(
        f"cannot read {tmp_path / 'gone.mkv'} (No such file or directory): inputs must be on a "
        "filesystem every worker mounts, at the same path"
    )


def test_a_worker_killed_mid_segment_loses_nothing(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first attempt of segment 0 kills its worker process; Dask runs the segment again on
    the other (or the restarted) worker, and the result is still exact."""
    marker = tmp_path / "killed-once"
    monkeypatch.setenv(FAULT_ENV, str(marker))  # the workers start with it
    here = vid2trail.stack(clip, "max")
    with start_cluster() as local:
        there = vid2trail.stack(clip, "max", scheduler=local.scheduler_address)
    assert marker.exists()  # the fault did happen
    np.testing.assert_array_equal(there, here)


def test_no_scheduler_there() -> None:
    with pytest.raises(
        ClusterError, match=r"^cannot reach the Dask scheduler at tcp://127\.0\.0\.1:1 "
    ):
        with connect("tcp://127.0.0.1:1"):
            pass


def test_a_keogram_splits_across_the_cluster(cluster: str, clip: Path) -> None:
    here = vid2trail.keogram(clip, start=7)
    there = vid2trail.keogram(clip, start=7, scheduler=cluster)
    np.testing.assert_array_equal(there, here)
    assert there.shape == (48, 233, 3)


def test_an_aligned_sky_splits_across_the_cluster(cluster: str, tmp_path: Path) -> None:
    pytest.importorskip("sep")
    from skyclips import night_sky

    # 120 frames: two segments of at least 60, each warped onto the same reference frame.
    clip = encode(night_sky(120, pole=(420.0, -180.0), deg_per_frame=0.05), tmp_path / "sky.mkv")
    here = vid2trail.stack(clip, "mean", align=True, dtype=np.float64)
    there = vid2trail.stack(clip, "mean", align=True, dtype=np.float64, scheduler=cluster)
    np.testing.assert_allclose(there, here, rtol=1e-12, atol=1e-15)
