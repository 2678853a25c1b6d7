"""One clip on a Dask cluster against one process, and a batch against one input at a time.

Usage::

    python benchmarks/cluster.py [--frames 600] [--reps 3] [--workers 2] [--clips 8]

Side by side in one run, interleaved, medians of ``--reps``:

- the bundled ffmpeg decoding the clip to rgb24 (the decoder limit);
- ``vid2trail CLIP`` in one process, and with ``--scheduler`` on a ``LocalCluster`` of
  ``--workers`` worker processes (one thread each), for max and mean;
- ``vid2trail`` over ``--clips`` short clips one after another, against ``vid2trail batch``
  (local processes) over the same clips, where the batch command exists.

It also measures the cluster's costs per segment: an empty task's round trip (scheduling), and
sending a partial reducer's state between workers (a 1080p mean's float64 sum, 50 MB), and
projects the time of one clip on 8, 32 and 128 workers from those costs and the decode rate one
worker reaches: ``T(n) = frames / (n * rate) + segments * task + log2(n) * transfer``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
sys.path.insert(0, str(HERE))

from run import ffmpeg, make_dark_clip  # noqa: E402


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - start


def side_by_side(runs: dict[str, list[str]], reps: int) -> dict[str, float]:
    """Median wall seconds of each command line, the runs interleaved."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(reps):
        for name, argv in runs.items():
            times[name].append(timed(argv))
    return {name: statistics.median(values) for name, values in times.items()}


def cluster_costs(address: str) -> tuple[float, float]:
    """Seconds of an empty task's round trip, and of moving a 50 MB state between workers."""
    import numpy as np
    from distributed import Client

    with Client(address) as client:
        workers = list(client.scheduler_info()["workers"])
        client.submit(int, 0, pure=False).result()  # warm
        start = time.perf_counter()
        for _ in range(20):
            client.submit(int, 0, pure=False).result()
        task = (time.perf_counter() - start) / 20
        state = client.submit(np.zeros, (1080, 1920, 3), pure=False, workers=workers[:1])
        state.result()
        start = time.perf_counter()
        client.submit(np.sum, state, pure=False, workers=workers[-1:]).result()
        transfer = time.perf_counter() - start
    return task, transfer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clips", type=int, default=8)
    args = parser.parse_args()
    CACHE.mkdir(exist_ok=True)
    clip = make_dark_clip(CACHE / f"dark-{args.frames}.mp4", args.frames)
    out = CACHE / "cluster-out"
    out.mkdir(exist_ok=True)
    from distributed import LocalCluster

    vid = [sys.executable, "-m", "vid2trail"]
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=":0") as local:  # fmt: skip
        address = local.scheduler_address
        runs = {
            "ffmpeg decode to rgb24": [
                ffmpeg(),
                "-v",
                "error",
                "-threads",
                "0",
                "-i",
                str(clip),
                "-pix_fmt",
                "rgb24",
                "-f",
                "null",
                "-",
            ]
        }
        for mode in ("max", "mean"):
            common = [*vid, str(clip), "-m", mode, "-q", "-y", "--workers", "1"]
            runs[f"{mode}: one process"] = [*common, "-o", str(out / f"{mode}-1.png")]
            runs[f"{mode}: {args.workers}-worker cluster"] = [
                *common, "-o", str(out / f"{mode}-c.png"), "--scheduler", address
            ]  # fmt: skip
        medians = side_by_side(runs, args.reps)
        task, transfer = cluster_costs(address)
    limit = medians["ffmpeg decode to rgb24"]
    print(f"{args.frames} frames of 1080p H.264 (dark sky), medians of {args.reps}:")
    for name, seconds in medians.items():
        print(f"  {name:32} {seconds:7.2f} s  {seconds / limit:5.2f}x the decoder limit")
    for mode in ("max", "mean"):
        ratio = medians[f"{mode}: {args.workers}-worker cluster"] / medians[f"{mode}: one process"]
        print(f"  {mode}: cluster / one process = {ratio:.2f}")
    print(f"  per segment: task round trip {task * 1000:.1f} ms, a 50 MB state moved "
          f"{transfer * 1000:.0f} ms")  # fmt: skip
    rate = args.frames / medians["max: one process"]  # one worker's frames per second
    for n in (8, 32, 128):
        segments = 2 * n
        seconds = args.frames / (n * rate) + segments * task + math.log2(n) * transfer
        print(f"  projected, {n:3} workers: {seconds:6.2f} s for these frames "
              f"({args.frames / seconds:,.0f} frames/s)")  # fmt: skip
    batch_benchmark(args, vid, out)


def batch_benchmark(args: argparse.Namespace, vid: list[str], out: Path) -> None:
    """``--clips`` short clips one after another against one ``vid2trail batch``."""
    probe = subprocess.run([*vid, "batch", "--help"], capture_output=True)
    if probe.returncode != 0:
        print("  (no batch command here: batch not measured)")
        return
    clips = [make_dark_clip(CACHE / f"night-{k}.mp4", 120) for k in range(args.clips)]
    sequential = [sys.executable, "-c",
                  "import subprocess, sys\n"
                  "for clip in sys.argv[2:]:\n"
                  "    subprocess.run([sys.executable, '-m', 'vid2trail', clip, '-q', '-y', "
                  "'--workers', '1', '-o', sys.argv[1] + '/' + clip.rsplit('/', 1)[-1] + "
                  "'.png'], check=True)",
                  str(out), *map(str, clips)]  # fmt: skip
    runs = {"one input at a time": sequential,
            "batch": [*vid, "batch", *map(str, clips), "--out-dir", str(out / "batch"), "-q",
                      "--force"]}  # fmt: skip
    medians = side_by_side(runs, args.reps)
    print(f"{args.clips} clips of 120 frames:")
    for name, seconds in medians.items():
        print(f"  {name:32} {seconds:7.2f} s")
    print(f"  batch / one at a time = {medians['batch'] / medians['one input at a time']:.2f}")


if __name__ == "__main__":
    main()
