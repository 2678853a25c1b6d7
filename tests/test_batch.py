"""``vid2trail batch``: an archive of clips and nights into one folder, resumable, here, in
processes and on a real Dask cluster on loopback; the exit code, the summary and the manifest."""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from vid2trail import cluster
from vid2trail.batch import BatchJob, run_batch

from conftest import encode, invoke, make_frames, read_rgb, write_folder

#: The archive: clips/a.mkv (30 frames), clips/broken.mp4, nights/2024-05-01 (20 PNGs),
#: nights/2024-05-02 (24 PNGs); the names their outputs take, and their frames.
FRAMES = {"a": make_frames(30, seed=1), "2024-05-01": make_frames(20, seed=2),
          "2024-05-02": make_frames(24, seed=3)}  # fmt: skip
INPUTS = {"a": "clips/a.mkv", "2024-05-01": "nights/2024-05-01", "2024-05-02": "nights/2024-05-02"}
BROKEN = ("is not a video FFmpeg can read (Invalid data found when processing input); check that "
          "the file is complete")  # fmt: skip


@pytest.fixture()
def archive(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The archive in the test's folder, with a temporary folder of its own to check."""
    encode(FRAMES["a"], _mkdir(in_tmp / "clips") / "a.mkv")
    (in_tmp / "clips" / "broken.mp4").write_bytes(b"\0not a video" * 400)
    for night in ("2024-05-01", "2024-05-02"):
        write_folder(in_tmp / "nights" / night, FRAMES[night])
    monkeypatch.setenv("TMPDIR", str(_mkdir(in_tmp / "tmp")))
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    return in_tmp


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A real Dask cluster on loopback: two worker processes of one thread each."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  host="127.0.0.1", dashboard_address=None) as local:  # fmt: skip
        yield local.scheduler_address


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _outputs(*names: str) -> list[str]:
    return [p for n in names for p in (f"out/{n}-max.png", f"out/{n}-max.png.json")]


MANIFEST = ["out/manifest.json", "out/manifest.csv"]


def _assert_whole(out: Path, tmp: Path) -> None:
    """Nothing half-written: no hidden temporary file in the output folder, nothing in TMPDIR."""
    assert [name for name in os.listdir(out) if name.startswith(".")] == []
    assert os.listdir(tmp) == []


def _assert_stacks(out: Path, *names: str) -> None:
    for name in names:
        np.testing.assert_array_equal(read_rgb(out / f"{name}-max.png"), FRAMES[name].max(axis=0))


def _files(out: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.iterdir()
            if not p.name.startswith("manifest.")}  # fmt: skip


def test_every_input_stacked_and_the_broken_one_named(archive: Path) -> None:
    result = invoke("batch", "clips", "nights", "--out-dir", "out", "-q")
    assert result.exit_code == 1, result.output
    assert result.stderr == ("Batch: 4 inputs: 3 stacked, 1 failed\n"
                             f"Failed: clips/broken.mp4: clips/broken.mp4 {BROKEN}\n")  # fmt: skip
    assert result.stdout.split() == _outputs("a", "2024-05-01", "2024-05-02") + MANIFEST
    for name, path in INPUTS.items():  # what `vid2trail stack` makes of the same input
        assert invoke(path, "-o", f"{name}-stack.png", "-q").exit_code == 0
        np.testing.assert_array_equal(read_rgb(f"out/{name}-max.png"),
                                      read_rgb(f"{name}-stack.png"))  # fmt: skip
    _assert_stacks(archive / "out", *FRAMES)
    manifest = json.loads((archive / "out" / "manifest.json").read_text())
    assert manifest["counts"] == {"stacked": 3, "failed": 1} and manifest["inputs"] == 4
    assert manifest["options"]["mode"] == "max"
    rows = [(r["input"], r["name"], r["status"], r["frames"], r["start"], r["outputs"])
            for r in manifest["rows"]]  # fmt: skip
    assert rows == [
        ("clips/a.mkv", "a", "stacked", 30, 0, ["a-max.png", "a-max.png.json"]),
        ("clips/broken.mp4", "broken", "failed", None, None, []),
        ("nights/2024-05-01", "2024-05-01", "stacked", 20, 0,
         ["2024-05-01-max.png", "2024-05-01-max.png.json"]),
        ("nights/2024-05-02", "2024-05-02", "stacked", 24, 0,
         ["2024-05-02-max.png", "2024-05-02-max.png.json"]),
    ]  # fmt: skip
    assert manifest["rows"][1]["error"] == f"clips/broken.mp4 {BROKEN}"
    with open(archive / "out" / "manifest.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [(r["input"], r["status"], r["frames"], r["outputs"]) for r in table] == [
        ("clips/a.mkv", "stacked", "30", "a-max.png;a-max.png.json"),
        ("clips/broken.mp4", "failed", "", ""),
        ("nights/2024-05-01", "stacked", "20", "2024-05-01-max.png;2024-05-01-max.png.json"),
        ("nights/2024-05-02", "stacked", "24", "2024-05-02-max.png;2024-05-02-max.png.json"),
    ]
    assert table[1]["error"] == f"clips/broken.mp4 {BROKEN}" and float(table[0]["seconds"]) > 0
    _assert_whole(archive / "out", archive / "tmp")


def test_a_rerun_does_only_what_is_new_or_changed(archive: Path) -> None:
    os.remove("clips/broken.mp4")
    args = ("batch", "clips", "nights", "-d", "out", "-q")
    first = invoke(*args)
    assert (first.exit_code, first.stderr) == (0, "Batch: 3 inputs: 3 stacked\n")
    before = _files(archive / "out")
    again = invoke(*args)
    assert (again.exit_code, again.stderr) == (0, "Batch: 3 inputs: 3 up to date\n")
    assert again.stdout.split() == MANIFEST
    assert _files(archive / "out") == before  # not one output rewritten
    rows = json.loads((archive / "out" / "manifest.json").read_text())["rows"]
    assert [(r["status"], r["frames"], r["start"]) for r in rows] == [
        ("up to date", 30, 0), ("up to date", 20, 0), ("up to date", 24, 0)]  # fmt: skip
    # A new clip, and a night that gained a frame: only they are stacked.
    clip = make_frames(12, seed=4)
    encode(clip, archive / "clips" / "c.mkv")
    more = make_frames(25, seed=3)
    write_folder(archive / "nights" / "2024-05-02", more[24:], pattern="g{}")
    new = invoke(*args)
    assert (new.exit_code, new.stderr) == (0, "Batch: 4 inputs: 2 stacked, 2 up to date\n")
    assert new.stdout.split() == _outputs("c", "2024-05-02") + MANIFEST
    _assert_stacks(archive / "out", "a", "2024-05-01")
    np.testing.assert_array_equal(read_rgb("out/c-max.png"), clip.max(axis=0))
    grown = np.concatenate([FRAMES["2024-05-02"], more[24:]])
    np.testing.assert_array_equal(read_rgb("out/2024-05-02-max.png"), grown.max(axis=0))
    # A clip copied over again (a new modification time) is stacked again.
    os.utime("clips/a.mkv", ns=(1_700_000_000_000_000_000,) * 2)
    touched = invoke(*args)
    assert touched.stderr == "Batch: 4 inputs: 1 stacked, 3 up to date\n"
    assert touched.stdout.split() == _outputs("a") + MANIFEST
    # Other options: every output is made again; --force does the same.
    gain = invoke(*args, "--gain", "2")
    assert gain.stderr == "Batch: 4 inputs: 4 stacked\n"
    assert invoke(*args, "--gain", "2").stderr == "Batch: 4 inputs: 4 up to date\n"
    forced = invoke(*args, "--gain", "2", "--force")
    assert (forced.exit_code, forced.stderr) == (0, "Batch: 4 inputs: 4 stacked\n")
    _assert_whole(archive / "out", archive / "tmp")


def test_names_stay_apart(in_tmp: Path) -> None:
    clip = make_frames(6)
    for folder in ("p", "q", "r/x", "s/x", "nights/2024-05-01", "nights/2024-05-02"):
        encode(clip, _mkdir(in_tmp / folder) / "clip.mkv")
    result = invoke("batch", "p/clip.mkv", "q/clip.mkv", "r/x/clip.mkv", "s/x/clip.mkv",
                    "nights", "-d", "out", "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    names = ["p-clip", "q-clip", "x-clip", "x-clip-2", "2024-05-01-clip", "2024-05-02-clip"]
    assert result.stdout.split() == _outputs(*names) + MANIFEST
    rows = json.loads((in_tmp / "out" / "manifest.json").read_text())["rows"]
    assert [r["input"] for r in rows][2:4] == ["r/x/clip.mkv", "s/x/clip.mkv"]
    # A glob names what it finds after its path below the folder it searches.
    globbed = invoke("batch", "nights/*/clip.mkv", "-d", "out2", "-q")
    assert globbed.stdout.split()[:2] == ["out2/2024-05-01-clip-max.png",
                                          "out2/2024-05-01-clip-max.png.json"]  # fmt: skip


def test_what_cannot_be_a_batch_input(in_tmp: Path) -> None:
    write_folder(in_tmp / "night", make_frames(2))
    one = invoke("batch", "night/f0.png", "-d", "out")
    assert (one.exit_code, one.stderr) == (2, "Error: night/f0.png is one image: give its folder "
                                              "(night) or a quoted glob ('night/*.png') to stack "
                                              "its night\n")  # fmt: skip
    _mkdir(in_tmp / "empty")
    (in_tmp / "empty" / "notes.txt").write_text("cloudy")
    none = invoke("batch", "empty", "-d", "out")
    assert (none.exit_code, none.stderr) == (1, "Error: no videos or folders of images in empty: "
                                                "give clips, nights (folders of images) or "
                                                "folders of them\n")  # fmt: skip
    into = invoke("batch", "night", "-d", "night")
    assert (into.exit_code, into.stderr) == (2, "Error: --out-dir night is an input: give the "
                                                "outputs a folder of their own\n")  # fmt: skip
    bad = {("--format", "gif"): "--format gif: use png, jpg, tif, fits, npy",
           ("--video", "trails.mp4"): "--video trails.mp4: give a format, mp4, mov, mkv, gif, "
                                      "webp (each input's video is named after it in the output "
                                      "folder)",
           ("--trail", "comet"): "--trail sets up the trail video: add --video FORMAT (e.g. mp4)",
           ("--format", "jpg", "--bit-depth", "16"):
               "--bit-depth 16 does not suit out/night-max.jpg (jpeg takes 8); use .png or .tif "
               "for 16-bit"}  # fmt: skip
    for flags, message in bad.items():
        result = invoke("batch", "night", "-d", "out", *flags)
        assert (result.exit_code, result.stderr) == (2, f"Error: {message}\n")
    assert not (in_tmp / "out").exists()


def test_video_scan_and_format(archive: Path) -> None:
    args = ("batch", "nights/2024-05-01", "-d", "out", "--video", "mp4", "--scan", "--format",
            "tif", "--bit-depth", "16", "--trail", "comet", "--trail-frames", "30",
            "-q")  # fmt: skip
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    names = ["2024-05-01-max.tif", "2024-05-01-max.tif.json", "2024-05-01-max.mp4",
             "2024-05-01-scan.png"]  # fmt: skip
    assert result.stdout.split() == [f"out/{n}" for n in names] + MANIFEST
    assert read_rgb("out/2024-05-01-max.tif").dtype == np.uint16
    assert all((archive / "out" / n).stat().st_size > 0 for n in names)
    assert invoke(*args).stderr == "Batch: 1 input: 1 up to date\n"
    os.remove("out/2024-05-01-scan.png")  # an output gone: stacked again
    assert invoke(*args).stderr == "Batch: 1 input: 1 stacked\n"
    _assert_whole(archive / "out", archive / "tmp")


def test_processes_make_the_same(archive: Path) -> None:
    result = invoke("batch", "clips", "nights", "-d", "out", "--workers", "2", "-q")
    assert result.exit_code == 1, result.output
    assert result.stderr == ("Batch: 4 inputs: 3 stacked, 1 failed\n"
                             f"Failed: clips/broken.mp4: clips/broken.mp4 {BROKEN}\n")  # fmt: skip
    assert sorted(result.stdout.split()) == sorted(_outputs(*FRAMES) + MANIFEST)
    _assert_stacks(archive / "out", *FRAMES)
    _assert_whole(archive / "out", archive / "tmp")


class _Recorder:
    """A listener that keeps the progress and the paths."""

    def __init__(self) -> None:
        self.progress: list[tuple[int, int | None]] = []
        self.paths: list[str] = []

    def message(self, text: str) -> None:
        pass

    def stage(self, label: str):  # noqa: ANN201
        from contextlib import nullcontext

        return nullcontext(lambda done, total: self.progress.append((done, total)))

    def wrote(self, path: Path) -> None:
        self.paths.append(str(path))


@pytest.mark.parametrize("where", ["processes", "dask"])
def test_one_progress_over_every_input(
    archive: Path, where: str, request: pytest.FixtureRequest
) -> None:
    address = request.getfixturevalue("scheduler") if where == "dask" else None
    heard = _Recorder()
    result = run_batch(BatchJob(("clips", "nights"), "out", workers=2, scheduler=address), heard)
    assert [row.status for row in result.rows] == ["stacked", "failed", "stacked", "stacked"]
    assert heard.progress[-1] == (74, 74)  # 30 + 20 + 24 frames, and none of the broken clip
    assert all(total is None or done <= total for done, total in heard.progress)


def test_on_a_dask_cluster(archive: Path, scheduler: str) -> None:
    result = invoke("batch", "clips", "nights", "-d", "out", "--scheduler", scheduler, "-q")
    assert result.exit_code == 1, result.output
    assert result.stderr == ("Batch: 4 inputs: 3 stacked, 1 failed\n"
                             f"Failed: clips/broken.mp4: clips/broken.mp4 {BROKEN}\n")  # fmt: skip
    assert sorted(result.stdout.split()) == sorted(_outputs(*FRAMES) + MANIFEST)
    _assert_stacks(archive / "out", *FRAMES)
    local = invoke("batch", "clips", "nights", "-d", "here", "-q")
    for name in FRAMES:
        np.testing.assert_array_equal(read_rgb(f"out/{name}-max.png"),
                                      read_rgb(f"here/{name}-max.png"))  # fmt: skip
    assert local.exit_code == 1
    # Resumed here what the cluster made: the same inputs, the same options.
    again = invoke("batch", "clips", "nights", "-d", "out", "--scheduler", scheduler, "-q")
    assert again.stderr.splitlines()[0] == "Batch: 4 inputs: 3 up to date, 1 failed"
    _assert_whole(archive / "out", archive / "tmp")


def test_a_scheduler_out_of_reach(archive: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("distributed")
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 1)
    for extra in (("--scheduler", "tcp://127.0.0.1:1"), ()):
        monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:1")
        result = invoke("batch", "clips", "nights", "-d", "out", *extra)
        assert result.exit_code == 1 and result.stdout == ""
        assert len(result.stderr.splitlines()) == 1
        assert result.stderr.startswith("Error: cannot reach the Dask scheduler at "
                                        "tcp://127.0.0.1:1 (")  # fmt: skip
        assert result.stderr.endswith("): start one with 'dask scheduler' and workers with "
                                      "'dask worker ADDRESS', or check the address\n")  # fmt: skip
        assert os.listdir("out") == []


def test_without_dask(archive: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # makes "import distributed" fail
    result = invoke("batch", "nights", "-d", "out", "--scheduler", "tcp://127.0.0.1:1")
    assert (result.exit_code, result.stderr) == (1, "Error: --scheduler runs on a Dask cluster, "
                                                    "which needs Dask: pip install "
                                                    "'vid2trail[dask]'\n")  # fmt: skip
    local = invoke("batch", "nights", "-d", "out", "-q")
    assert (local.exit_code, local.stderr) == (0, "Batch: 2 inputs: 2 stacked\n")


def test_provenance_names_the_source_bytes_and_time(archive: Path) -> None:
    assert invoke("clips/a.mkv", "--sidecar", "-q").exit_code == 0
    meta = json.loads(Path("a-max.png.json").read_text())
    stat = os.stat("clips/a.mkv")
    when = datetime.fromtimestamp(stat.st_mtime, timezone.utc).isoformat(timespec="microseconds")
    assert (meta["source_bytes"], meta["source_mtime"]) == (stat.st_size, when)
    assert invoke("nights/2024-05-01", "--sidecar", "-q").exit_code == 0
    meta = json.loads(Path("2024-05-01-max.png.json").read_text())
    images = sorted(Path("nights/2024-05-01").iterdir())
    total = sum(p.stat().st_size for p in images)
    assert (meta["source_files"], meta["source_bytes"]) == (20, total)


class _Crash:
    """Kills the process that unpickles it, as a decoder crash would."""

    def __reduce__(self):  # noqa: ANN204
        return (os._exit, (70,))


def test_a_process_that_dies_fails_its_input_alone(archive: Path) -> None:
    from vid2trail import batch, batch_run

    job = BatchJob(("clips/a.mkv", "nights"), "out", workers=2)
    found = batch.find_inputs(job.inputs, job.out_dir)
    Path("out").mkdir()
    options = batch.batch_options(job)
    tasks = [batch._task(i, path, name, job, options, "digest", 2)
             for i, (path, name) in enumerate(found)]  # fmt: skip
    tasks[1] = replace(tasks[1], options={"crash": _Crash()})
    tally = batch_run._Tally(len(tasks), None)
    rows = {t.name: row for t, row in batch_run._in_pool(tasks, 2, tally)}
    assert rows["2024-05-01"].error == "the process stacking it died (a crash in the decoder?)"
    assert [rows[name].status for name in ("a", "2024-05-02")] == ["stacked", "stacked"]
    _assert_stacks(archive / "out", "a", "2024-05-02")


def test_a_keogram_for_every_input(archive: Path) -> None:
    args = ("batch", "nights", "clips/a.mkv", "-d", "out", "--keogram", "-q")
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    for name in ("2024-05-01", "2024-05-02", "a"):
        keogram = read_rgb(archive / "out" / f"{name}-keogram.png")
        expected = np.stack([f[:, f.shape[1] // 2] for f in FRAMES[name]], axis=1)
        np.testing.assert_array_equal(keogram, expected)
    assert invoke(*args).stderr == "Batch: 3 inputs: 3 up to date\n"
    # Another angle is another keogram: stacked again.
    again = invoke(*args, "--keogram-angle", "90")
    assert again.stderr == "Batch: 3 inputs: 3 stacked\n"
    assert read_rgb(archive / "out" / "a-keogram.png").shape == (64, 30, 3)
    assert invoke("batch", "nights", "-d", "o2", "--keogram-width", "9").output.strip() == (
        "Error: --keogram-width sets up the keogram: add --keogram"
    )


def test_clock_windows_are_part_of_the_options() -> None:
    from vid2trail.batch import batch_options
    from vid2trail.job import StackJob
    from vid2trail.select import window_of

    def options(start: str) -> dict:
        job = StackJob("", still="s.png", windows=(window_of(start, None),))
        return batch_options(BatchJob(("x",), "o", job))

    assert options("T22:30")["windows"] != options("T23:30")["windows"]
