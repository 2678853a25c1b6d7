"""Time vid2trail against the decoder limit and today's alternatives, side by side in one run.

Usage::

    python benchmarks/run.py [CLIP_OR_FOLDER ...] [--reps 3] [--frames 1000] [--jpegs 200]

With no input it generates (once, cached in ``benchmarks/.cache``) a 1080p H.264 clip of
``--frames`` frames (a static star field with moving dots: light and fast to decode, where our
overhead shows most) and a folder of ``--jpegs`` 720p JPEGs. Every task runs as a whole process
(start-up included), ``--reps`` times, interleaved so that load from other programs spreads over
all tasks; it prints the median and min/max wall time, the ratio of the median to the decoder limit
(task 1 of each input), the CPU seconds (user + system) of the process and the children it
waited for (ffmpeg, worker processes), which is less disturbed by other programs than wall time
on a shared machine, and the peak resident memory (``ru_maxrss`` of ``wait4``: the largest single
process of the tree, e.g. Python or its ffmpeg).

The decoder limit is the bundled ffmpeg decoding the same frames and converting them to ``rgb24``
into ffmpeg's null muxer (``-pix_fmt rgb24 -f null -``): the conversion that vid2trail also needs,
without any copy through a pipe. It is the strictest fair limit.

``--workers-scaling`` instead times ``--workers 1`` against ``--workers 8`` on a long generated
clip (for a machine with many cores; see ``benchmarks/workers.sh``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
PY = sys.executable

PIL_LIGHTER = """
import glob, os, sys
from PIL import Image, ImageChops
files = sorted(glob.glob(os.path.join(sys.argv[1], "*.jpg")))
acc = Image.open(files[0]).convert("RGB")
for name in files[1:]:
    acc = ImageChops.lighter(acc, Image.open(name).convert("RGB"))
acc.save(sys.argv[2])
"""

GAMMA_MEAN = """
import glob, os, sys
import numpy as np
from PIL import Image
files = sorted(glob.glob(os.path.join(sys.argv[1], "*.jpg")))
acc = None
for name in files:
    light = np.asarray(Image.open(name).convert("RGB"), np.float32) ** 2.2
    acc = light if acc is None else acc + light
out = (acc / len(files)) ** (1 / 2.2)
Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8)).save(sys.argv[2])
"""


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def make_clip(
    path: Path, frames: int, width: int = 1920, height: int = 1080, noise: int = 0
) -> Path:
    """A star-field H.264 clip: faint static noise, 3000 stars drifting; a keyframe a second.

    ``noise`` adds fresh sensor noise of that amplitude to every frame, as in real night
    footage: inter frames grow, so keyframes weigh less against them.
    """
    import numpy as np

    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    sky = rng.integers(0, 25, (height, width, 3), dtype=np.uint8)
    stars = rng.integers(0, height * width, 3000)

    def drawn() -> Iterator[np.ndarray]:
        for k in range(frames):
            frame = sky.copy()
            if noise:
                frame += rng.integers(0, noise, (height, width // 8, 3),
                                      dtype=np.uint8).repeat(8, 1)  # fmt: skip
            frame[(stars // width + k // 4) % height, (stars % width + k) % width] = 230
            yield frame

    return encode_h264(path, drawn(), width, height, crf=23, gop=25)


def encode_h264(path: Path, frames: Iterable[Any], width: int, height: int, *, crf: int,
                gop: int) -> Path:  # fmt: skip
    """Encode RGB frames as a 25 fps H.264 clip (x264 veryfast, yuv420p), written atomically."""
    tmp = path.with_suffix(".part.mp4")
    cmd = [ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo",
           "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", "25", "-i", "-",
           "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p",
           "-g", str(gop), str(tmp)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for frame in frames:
        proc.stdin.write(frame.tobytes())
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit(f"ffmpeg could not encode {path}")
    tmp.replace(path)
    return path


def make_dark_clip(path: Path, frames: int, width: int = 1920, height: int = 1080) -> Path:
    """A dark, highly compressible star field, as real night footage is: a black sky with a
    faint gradient near the horizon, 600 faint stars turning slowly, a keyframe every 2 s.

    Such a clip decodes several times faster than a noisy one, so whatever vid2trail spends per
    frame beyond the decoder shows here most.
    """
    import numpy as np

    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    glow = np.linspace(0, 10, height, dtype=np.float32)[:, None, None] ** 1.5 / 4
    sky = np.broadcast_to(glow, (height, width, 3)).astype(np.uint8)
    ys, xs = rng.integers(0, height, 600), rng.integers(0, width, 600)
    level = rng.integers(60, 200, 600).astype(np.uint8)
    cy, cx = height * 0.9, width / 2

    def drawn() -> Iterator[np.ndarray]:
        for k in range(frames):
            frame = sky.copy()
            angle = k * 0.0004
            y = (cy + (ys - cy) * np.cos(angle) - (xs - cx) * np.sin(angle)).astype(int) % height
            x = (cx + (ys - cy) * np.sin(angle) + (xs - cx) * np.cos(angle)).astype(int) % width
            frame[y, x] = level[:, None]
            yield frame

    return encode_h264(path, drawn(), width, height, crf=20, gop=50)


def make_jpegs(folder: Path, count: int) -> Path:
    """``count`` 1280x720 JPEGs (quality 92) of a star field with moving dots."""
    import cv2
    import numpy as np

    if folder.is_dir() and len(list(folder.glob("*.jpg"))) == count:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2)
    sky = rng.integers(0, 25, (720, 1280, 3), dtype=np.uint8)
    stars = rng.integers(0, 720 * 1280, 1500)
    for k in range(count):
        frame = sky.copy()
        frame[(stars // 1280 + k // 4) % 720, (stars % 1280 + k) % 1280] = 230
        cv2.imwrite(str(folder / f"frame{k:05d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return folder


def byte_compile() -> None:
    """Compile vid2trail's modules to ``.pyc`` before timing, as pip does when it installs a wheel.

    An editable install run with ``PYTHONDONTWRITEBYTECODE=1`` (set on the machines these numbers
    come from) would otherwise compile its 8,000 lines again in every timed process, about 40 ms
    that no installed copy pays. ``__pycache__`` is ignored by git.
    """
    import compileall

    import vid2trail

    compileall.compile_dir(Path(vid2trail.__file__).parent, quiet=1)


def run_once(argv: list[str]) -> tuple[float, int, float]:
    """Wall seconds, peak RSS (KiB) and CPU seconds (user + system, the process and its reaped
    children such as ffmpeg) of one process; exits the script if it fails."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    # wait4's rusage covers the process and the children it waited for (ffmpeg, workers); its
    # ru_maxrss is the largest single process among them.
    cpu = usage.ru_utime + usage.ru_stime
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(argv)}\n{err[-2000:]}")
    return seconds, usage.ru_maxrss, cpu


def has_video_option() -> bool:
    out = subprocess.run([PY, "-m", "vid2trail", "stack", "--help"], capture_output=True, text=True)
    return "--video" in out.stdout


def video_tasks(clip: str, out: Path) -> list[tuple[str, list[str]]]:
    ff = ffmpeg()
    v2t = [PY, "-m", "vid2trail", clip, "-q", "-y"]
    tasks = [
        ("ffmpeg decode -> rgb24 (limit)",
         [ff, "-hide_banner", "-nostdin", "-i", clip, "-map", "0:v:0", "-pix_fmt", "rgb24",
          "-f", "null", "-"]),
        ("ffmpeg lagfun max",
         [ff, "-hide_banner", "-nostdin", "-i", clip, "-map", "0:v:0",
          "-vf", "format=gbrp,lagfun=decay=1", "-f", "null", "-"]),
        ("vid2trail max --workers 1", [*v2t, "-o", str(out / "max.png"), "--workers", "1"]),
        ("vid2trail max (default workers)", [*v2t, "-o", str(out / "maxd.png")]),
        ("vid2trail mean --workers 1",
         [*v2t, "-m", "mean", "-o", str(out / "mean.png"), "--workers", "1"]),
        ("vid2trail max --preview", [*v2t, "--preview", "-o", str(out / "prev.png")]),
    ]  # fmt: skip
    if has_video_option():
        tasks.append(
            ("vid2trail max + trail video",
             [*v2t, "-o", str(out / "maxv.png"), "--video", str(out / "trail.mp4")])
        )  # fmt: skip
    return tasks


def folder_tasks(folder: str, out: Path) -> list[tuple[str, list[str]]]:
    v2t = [PY, "-m", "vid2trail", folder, "-q", "-y"]
    pattern = os.path.join(folder, "*.jpg")
    return [
        ("ffmpeg decode -> rgb24 (limit)",
         [ffmpeg(), "-hide_banner", "-nostdin", "-pattern_type", "glob", "-i", pattern,
          "-pix_fmt", "rgb24", "-f", "null", "-"]),
        ("PIL ImageChops.lighter loop", [PY, "-c", PIL_LIGHTER, folder, str(out / "pil.png")]),
        ("float32 ** 2.2 gamma-mean loop", [PY, "-c", GAMMA_MEAN, folder, str(out / "gm.png")]),
        ("vid2trail max", [*v2t, "-o", str(out / "fmax.png")]),
        ("vid2trail mean", [*v2t, "-m", "mean", "-o", str(out / "fmean.png")]),
        ("vid2trail max --preview", [*v2t, "--preview", "-o", str(out / "fprev.png")]),
    ]  # fmt: skip


Result = tuple[float, int, float]


def measure(tasks: list[tuple[str, list[str]]], reps: int) -> dict[str, list[Result]]:
    results: dict[str, list[Result]] = {name: [] for name, _ in tasks}
    for _ in range(reps):
        for name, argv in tasks:
            results[name].append(run_once(argv))
    return results


def report(title: str, results: dict[str, list[Result]]) -> None:
    names = list(results)
    limit = statistics.median(t for t, _, _ in results[names[0]])
    limit_cpu = statistics.median(c for _, _, c in results[names[0]])
    print(f"\n## {title}\n")
    print("| task | median s | min-max s | x limit | CPU s | CPU x limit | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in names:
        times = [t for t, _, _ in results[name]]
        med = statistics.median(times)
        cpu = statistics.median(c for _, _, c in results[name])
        rss = max(r for _, r, _ in results[name]) / 1024
        print(f"| {name} | {med:.2f} | {min(times):.2f}-{max(times):.2f} | "
              f"{med / limit:.2f} | {cpu:.2f} | {cpu / limit_cpu:.2f} | {rss:.0f} |")  # fmt: skip
    sys.stdout.flush()


MEASURE_RSS = """
import resource, sys
from vid2trail.cli import app
try:
    app(sys.argv[2:], prog_name="vid2trail")
except SystemExit as exc:
    if exc.code:
        raise
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
with open(sys.argv[1], "w") as f:
    f.write(f"{own} {kids}")
"""


def memory_check(clip: str, out: Path, reps: int) -> None:
    """Peak RSS of a 100-frame and a 1000-frame max and mean stack (one process: PyAV decodes
    in it), the median of ``reps`` runs each, interleaved: a single run's peak moves by about
    10 MB with how many frames happen to be in flight."""
    print(f"\n## Memory: peak RSS of a short and a long stack (one process, median of {reps})\n")
    print("| mode | frames | peak RSS MiB | min-max MiB | ratio | children's peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|")
    for mode in ("max", "mean"):
        peaks: dict[str, list[tuple[int, int]]] = {"100": [], "1000": []}
        for _ in range(reps):
            for end in peaks:
                report_file = out / f"rss-{mode}-{end}.txt"
                still = str(out / f"mem-{mode}-{end}.png")
                argv = [PY, "-c", MEASURE_RSS, str(report_file), clip, "-q", "-y", "-m", mode,
                        "--workers", "1", "--end", end, "-o", still]  # fmt: skip
                run_once(argv)
                own, kids = (int(v) for v in report_file.read_text().split())
                peaks[end].append((own, kids))
        first = statistics.median(own for own, _ in peaks["100"])
        for end, runs in peaks.items():
            own = statistics.median(o for o, _ in runs)
            kids = statistics.median(k for _, k in runs)
            low, high = min(o for o, _ in runs) / 1024, max(o for o, _ in runs) / 1024
            print(f"| {mode} | {end} | {own / 1024:.0f} | {low:.0f}-{high:.0f} | "
                  f"{own / first:.3f} | {kids / 1024:.0f} |")  # fmt: skip
    sys.stdout.flush()


def resolution_check(frames: int, reps: int) -> None:
    """Peak RSS and time of max and mean on a generated 4K clip, beside ffmpeg decoding it."""
    clip = str(make_dark_clip(CACHE / f"dark2160-{frames}.mp4", frames, 3840, 2160))
    extra = {"vid2trail max": [], "vid2trail mean": ["-m", "mean"]}
    results = side_by_side(clip, extra, reps)
    report(f"{clip}: dark 4K H.264, {frames} frames ({reps} reps)", results)


def side_by_side(clip: str, runs: dict[str, list[str]], reps: int) -> dict[str, list[Result]]:
    """The decoder limit of ``clip`` and one vid2trail run per entry of ``runs`` (its extra
    options), each writing a still into a temporary folder, measured interleaved."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        v2t = [PY, "-m", "vid2trail", clip, "-q", "-y", "--workers", "1"]
        limit = [ffmpeg(), "-hide_banner", "-nostdin", "-i", clip, "-pix_fmt", "rgb24", "-f",
                 "null", "-"]  # fmt: skip
        tasks = [("ffmpeg decode -> rgb24 (limit)", limit)]
        tasks += [(name, [*v2t, *extra, "-o", str(out / f"{k}.png")])
                  for k, (name, extra) in enumerate(runs.items())]  # fmt: skip
        return measure(tasks, reps)


def machine() -> str:
    import cv2
    import numpy

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    version = subprocess.run([ffmpeg(), "-version"], capture_output=True, text=True).stdout
    import av

    return (
        f"{os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, numpy {numpy.__version__}, OpenCV {cv2.__version__}, "
        f"PyAV {av.__version__} (FFmpeg {av.ffmpeg_version_info}), "
        f"{version.splitlines()[0] if version else 'ffmpeg ?'}"
    )


def preview_check(frames: int, reps: int) -> None:
    """Full-size max against --preview on a clip with per-frame sensor noise."""
    clip = str(make_clip(CACHE / f"noisy1080-{frames}-g25.mp4", frames, noise=12))
    results = side_by_side(clip, {"vid2trail max": [], "vid2trail max --preview": ["--preview"]},
                           reps)  # fmt: skip
    report(f"{clip}: noisy 1080p H.264, {frames} frames ({reps} reps)", results)
    full = statistics.median(t for t, _, _ in results["vid2trail max"])
    prev = statistics.median(t for t, _, _ in results["vid2trail max --preview"])
    print(f"\n--preview is {full / prev:.2f}x faster than the full-size stack")


def workers_scaling(frames: int, reps: int, many: int) -> None:
    clip = str(make_clip(CACHE / f"clip1080-{frames}-g25.mp4", frames))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        v2t = [PY, "-m", "vid2trail", clip, "-q", "-y", "-o", str(out / "w.png")]
        tasks = [
            ("ffmpeg decode -> rgb24 (limit)",
             [ffmpeg(), "-hide_banner", "-nostdin", "-i", clip, "-pix_fmt", "rgb24", "-f",
              "null", "-"]),
            ("vid2trail max --workers 1", [*v2t, "--workers", "1"]),
            (f"vid2trail max --workers {many}", [*v2t, "--workers", str(many)]),
        ]  # fmt: skip
        results = measure(tasks, reps)
    report(f"--workers scaling, 1080p H.264, {frames} frames", results)
    one = statistics.median(t for t, _, _ in results["vid2trail max --workers 1"])
    par = statistics.median(t for t, _, _ in results[f"vid2trail max --workers {many}"])
    print(f"\n--workers {many} is {one / par:.2f}x faster than --workers 1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="*", help="videos or folders of .jpg files")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--frames", type=int, default=1000, help="frames of the generated clip")
    parser.add_argument("--jpegs", type=int, default=200, help="JPEGs in the generated folder")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory check")
    parser.add_argument("--noisy-frames", type=int, default=600,
                        help="frames of the generated noisy clip for the preview check "
                             "(0: skip it)")  # fmt: skip
    parser.add_argument("--generate", choices=("both", "video", "folder"), default="both",
                        help="with no input: which test inputs to generate and time")  # fmt: skip
    parser.add_argument(
        "--dark-frames",
        type=int,
        default=1000,
        help="frames of the generated dark star-field clip (0: skip it)",
    )
    parser.add_argument(
        "--uhd-frames",
        type=int,
        default=120,
        help="frames of the generated 4K clip for the memory check (0: skip it)",
    )
    parser.add_argument("--workers-scaling", type=int, metavar="N", default=0,
                        help="only time --workers 1 against --workers N")  # fmt: skip
    args = parser.parse_args()
    byte_compile()
    print(f"Machine: {machine()}")
    if args.workers_scaling:
        workers_scaling(args.frames, args.reps, args.workers_scaling)
        return
    inputs, given = list(args.inputs), bool(args.inputs)
    if not given and args.generate in ("both", "video"):
        inputs.append(str(make_clip(CACHE / f"clip1080-{args.frames}-g25.mp4", args.frames)))
        if args.dark_frames:
            dark = make_dark_clip(CACHE / f"dark1080-{args.dark_frames}.mp4", args.dark_frames)
            inputs.append(str(dark))
    if not given and args.generate in ("both", "folder"):
        inputs.append(str(make_jpegs(CACHE / f"jpeg720-{args.jpegs}", args.jpegs)))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for item in inputs:
            folder = os.path.isdir(item)
            tasks = folder_tasks(item, out) if folder else video_tasks(item, out)
            report(f"{item} ({args.reps} reps)", measure(tasks, args.reps))
            if not folder and not args.no_memory:
                memory_check(item, out, args.reps)
    if not given and args.generate in ("both", "video") and args.noisy_frames:
        preview_check(args.noisy_frames, args.reps)
    if not given and args.generate in ("both", "video") and args.uhd_frames:
        resolution_check(args.uhd_frames, args.reps)


if __name__ == "__main__":
    main()
