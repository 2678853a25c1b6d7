"""The sky's motion: ``--fill-gaps`` against a plain max, ``--align`` against a plain mean.

Usage::

    python benchmarks/sky.py [--frames 600] [--reps 3] [--no-video] [--cross]

Inputs (cached under ``benchmarks/.cache``), both of a fixed camera under a sky turning at the
sidereal rate about a pole above the frame (the real-like night of ``folder.py``: sensor noise,
1500 stars, a black ridge with lit windows; each star a Gaussian of :data:`PSF` pixels at its
exact position, or with ``--cross`` the one-pixel cross at a whole pixel of ``folder.py``):

- a folder of ``--frames`` 1280x720 JPEGs, 30 s apart with EXIF capture times;
- a 1920x1080 H.264 video of the same night (one frame a photo, CRF 18, a keyframe a second).

Every task is a whole process (start-up included), interleaved, ``--reps`` times; the table gives
the ratios to the first task of each group, and the quality of the filled trails:

- *coverage*: the share of the trail that every frame gives (up to the last kept frame) that
  every 30th frame with ``--fill-gaps`` lights, a pixel of error in a trail's path allowed;
- *new light*: the share of the frame lit that the all-frames stack leaves dark (the ground and
  the sky between the trails).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from folder import make_night, night_frames, ratio  # noqa: E402
from run import CACHE, PY, byte_compile, encode_h264, measure, report  # noqa: E402

#: Trails count where they are this many levels above the sky's local median.
LIT = 25


#: Stars are Gaussians of this sigma (pixels) at their exact positions, as a lens and a
#: demosaic leave them (``--cross``: one-pixel crosses at whole pixels, as in ``folder.py``).
PSF = 0.8


def make_night_video(path: Path, frames: int, psf: float = PSF) -> Path:
    """The real-like night as a 1080p H.264 clip (cached)."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    return encode_h264(path, night_frames(frames, 1920, 1080, psf), 1920, 1080, crf=18, gop=25)


def tasks(source: Path, out: Path, frames: int) -> list[tuple[str, list[str]]]:
    v2t = [PY, "-m", "vid2trail", str(source), "-q", "-y"]
    last = (frames - 1) // 30 * 30 + 1
    return [
        ("max", [*v2t, "-o", str(out / "max.png")]),
        ("max --fill-gaps", [*v2t, "--fill-gaps", "-o", str(out / "fill.png")]),
        ("max --step 30", [*v2t, "--step", "30", "-o", str(out / "max30.png")]),
        ("max --step 30 --fill-gaps", [*v2t, "--step", "30", "--fill-gaps",
                                       "-o", str(out / "fill30.png")]),
        ("mean", [*v2t, "-m", "mean", "-o", str(out / "mean.png")]),
        ("mean --align", [*v2t, "-m", "mean", "--align", "-o", str(out / "align.png")]),
        ("(truth: max to the last kept frame)", [*v2t, "--end", str(last),
                                                 "-o", str(out / "truth.png")]),
    ]  # fmt: skip


def quality(out: Path) -> tuple[float, float, float]:
    """Coverage of every 30th frame, plain and filled, and the filled stack's new light."""
    import cv2

    def read(name: str) -> np.ndarray:
        return cv2.imread(str(out / name), cv2.IMREAD_GRAYSCALE).astype(np.int16)

    truth, plain, filled = read("truth.png"), read("max30.png"), read("fill30.png")
    sky = cv2.medianBlur(truth.astype(np.uint8), 31).astype(np.int16)

    def lit(image: np.ndarray) -> np.ndarray:
        return (image - sky) > LIT

    def near(mask: np.ndarray) -> np.ndarray:
        return cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)

    trail = lit(truth)
    covered = (near(lit(filled)) & trail).sum() / trail.sum()
    dotted = (near(lit(plain)) & trail).sum() / trail.sum()
    new = float((lit(filled) & ~near(trail)).mean())
    return float(dotted), float(covered), new


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--no-video", action="store_true", help="skip the 1080p video")
    cross = "stars as one-pixel crosses at whole pixels (the earlier inputs)"
    parser.add_argument("--cross", action="store_true", help=cross)
    args = parser.parse_args()
    byte_compile()
    psf, tag = (0.0, "") if args.cross else (PSF, "psf-")
    folder = make_night(CACHE / f"night720-{tag}{args.frames}", args.frames, psf)
    inputs = [("1280x720 JPEGs", folder)]
    if not args.no_video:
        video = make_night_video(CACHE / f"night1080-{tag}{args.frames}.mp4", args.frames, psf)
        inputs.append(("1920x1080 H.264 video", video))
    for title, source in inputs:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            results = measure(tasks(source, out, args.frames), args.reps)
            report(f"{args.frames} real-like {title}, {args.reps} reps", results)
            dotted, covered, new = quality(out)
            print(
                f"\n--fill-gaps / max: {ratio(results, 'max --fill-gaps', 'max'):.2f}x; "
                f"every 30th: {ratio(results, 'max --step 30 --fill-gaps', 'max --step 30'):.2f}x"
                f"; --align mean / mean: {ratio(results, 'mean --align', 'mean'):.2f}x"
            )
            print(
                f"every 30th frame covers {dotted:.1%} of the trails plain, {covered:.1%} with "
                f"--fill-gaps (a pixel allowed); new light {new:.3%} of the frame"
            )


if __name__ == "__main__":
    main()
