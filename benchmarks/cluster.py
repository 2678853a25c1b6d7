"""One clip on a Dask cluster against one process, and a batch against one input at a time.

Usage::

    python benchmarks/cluster.py [--frames 600] [--reps 3] [--workers 2] [--clips 8]

Side by side in one run, interleaved, medians of ``--reps``:

- the bundled ffmpeg decoding the clip to rgb24 (the decoder limit);
- ``vid2trail CLIP`` in one process, and with ``--scheduler`` on a ``LocalCluster`` of
  ``--workers`` worker processes (one thread each), for max and mean;
- ``vid2trail`` over ``--clips`` short clips one after another, against ``vid2trail batch``
  (local processes) over the same clips, where the batch command exists.

It also measures the cluster's costs: an empty task's round trip, a segment's start (open, seek,
one frame), one worker thread's rate, and sending a partial reducer's state between workers (a
1080p mean's float64 sum, 50 MB); and projects one clip's time on 8, 32 and 128 worker threads
from them: each thread does two segments, the tree combine takes log2(segments) steps, so
``T(n) = 2 * segment + frames / (n * rate) + log2(2n) * (transfer + task)``.
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


def cluster_costs(address: str, clip: Path, frames: int) -> dict[str, float]:
    """The cluster's costs, each a median of 3: an empty task's round trip; a segment's start
    (open, seek, one frame); one worker's decode-and-stack rate on one thread (frames/s); moving
    a 50 MB partial state (a 1080p mean's float64 sum) from one worker to another."""
    import numpy as np
    from distributed import Client

    from vid2trail.segments import reduce_segment
    from vid2trail.select import FrameRange
    from vid2trail.sources import open_source

    def median_of(run: object) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            run()  # type: ignore[operator]
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    with Client(address) as client, open_source(str(clip)) as source:
        source.frame_times()  # the listing travels with the source, as in a stack
        workers = list(client.scheduler_info()["workers"])
        client.submit(int, 0, pure=False).result()
        costs = {"task": median_of(lambda: client.submit(int, 0, pure=False).result())}
        middle = frames // 2
        costs["segment"] = median_of(lambda: client.submit(
            reduce_segment, source, FrameRange(middle, middle + 1), "max", {}, pure=False
        ).result())  # fmt: skip
        length = frames // 2
        whole = median_of(lambda: client.submit(
            reduce_segment, source, FrameRange(0, length), "max", {}, pure=False
        ).result())  # fmt: skip
        costs["rate"] = length / max(whole - costs["segment"], 1e-6)
        state = client.submit(np.zeros, (1080, 1920, 3), pure=False, workers=workers[:1])
        state.result()
        costs["transfer"] = median_of(lambda: client.submit(
            np.sum, state, pure=False, workers=workers[-1:]
        ).result())  # fmt: skip
    return costs


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
        costs = cluster_costs(address, clip, args.frames)
    limit = medians["ffmpeg decode to rgb24"]
    print(f"{args.frames} frames of 1080p H.264 (dark sky), medians of {args.reps}:")
    for name, seconds in medians.items():
        print(f"  {name:32} {seconds:7.2f} s  {seconds / limit:5.2f}x the decoder limit")
    for mode in ("max", "mean"):
        ratio = medians[f"{mode}: {args.workers}-worker cluster"] / medians[f"{mode}: one process"]
        print(f"  {mode}: cluster / one process = {ratio:.2f}")
    print(f"  costs: task round trip {costs['task'] * 1000:.0f} ms, segment start "
          f"{costs['segment'] * 1000:.0f} ms, one worker thread {costs['rate']:.0f} frames/s, "
          f"50 MB state moved {costs['transfer'] * 1000:.0f} ms")  # fmt: skip
    # Each worker thread gets two segments; the tree combines in log2(segments) steps.
    for n in (8, 32, 128):
        for total in (args.frames, 100 * args.frames):
            seconds = (2 * costs["segment"] + total / (n * costs["rate"])
                       + math.log2(2 * n) * (costs["transfer"] + costs["task"]))  # fmt: skip
            print(f"  projected, {n:3} worker threads, {total:6} frames: {seconds:7.2f} s "
                  f"({total / seconds:7,.0f} frames/s)")  # fmt: skip
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
