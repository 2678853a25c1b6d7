"""Make the README's before/after crops of ``--fill-gaps`` and ``--align``.

The night is the real-like 720p folder of ``benchmarks/folder.py`` (sensor noise, 1500 stars
turning at the sidereal rate about a pole above the frame, each a Gaussian of 0.8 px as in
``benchmarks/sky.py``, a black ridge with lit windows, a JPEG every 30 s with its EXIF time). Run
``python sample_clips/make_sky_crops.py`` (it needs Pillow, in the dev extra); it writes the night
to ``benchmarks/.cache`` once, then stacks it:

- ``sky-fill-gaps.jpg``: every 30th frame as a plain max, the same frames with ``--fill-gaps``,
  and every frame;
- ``sky-align.jpg``: a mean of every frame, plain and with ``--align``, at twice the size.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "benchmarks"))
from folder import make_night  # noqa: E402
from run import CACHE  # noqa: E402
from sky import PSF  # noqa: E402

FRAMES = 300
#: The crop (x, y, width, height): sky, the ridge and two lit windows.
FILL_CROP = (120, 380, 400, 260)
ALIGN_CROP = (560, 430, 200, 130)


def stack(folder: Path, out: Path, *flags: str) -> np.ndarray:
    subprocess.run([sys.executable, "-m", "vid2trail", str(folder), "-q", "-y", "-o", str(out),
                    *flags], check=True, stderr=subprocess.DEVNULL)  # fmt: skip
    return cv2.imread(str(out))


def crop(image: np.ndarray, box: tuple[int, int, int, int], scale: int = 1) -> np.ndarray:
    x, y, w, h = box
    part = image[y : y + h, x : x + w]
    return cv2.resize(part, (w * scale, h * scale), interpolation=cv2.INTER_NEAREST)


def labelled(images: list[np.ndarray], labels: list[str]) -> np.ndarray:
    panels = []
    for image, label in zip(images, labels, strict=True):
        panel = cv2.copyMakeBorder(image, 28, 0, 0, 4, cv2.BORDER_CONSTANT, value=(24, 24, 24))
        cv2.putText(panel, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (230, 230, 230), 1,
                    cv2.LINE_AA)  # fmt: skip
        panels.append(panel)
    return np.hstack(panels)


def main() -> None:
    night = make_night(CACHE / f"night720-psf-{FRAMES}", FRAMES, PSF)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        last = (FRAMES - 1) // 30 * 30 + 1
        plain = stack(night, out / "plain.png", "--step", "30")
        filled = stack(night, out / "filled.png", "--step", "30", "--fill-gaps")
        every = stack(night, out / "every.png", "--end", str(last))
        row = [crop(i, FILL_CROP) for i in (plain, filled, every)]
        image = labelled(row, ["every 30th frame", "... --fill-gaps", "every frame"])
        cv2.imwrite(str(HERE / "sky-fill-gaps.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        mean = stack(night, out / "mean.png", "-m", "mean", "--normalize", "p99.9")
        aligned = stack(night, out / "aligned.png", "-m", "mean", "--align", "--normalize",
                        "p99.9")  # fmt: skip
        row = [crop(i, ALIGN_CROP, 2) for i in (mean, aligned)]
        image = labelled(row, ["-m mean", "-m mean --align"])
        cv2.imwrite(str(HERE / "sky-align.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 92])


if __name__ == "__main__":
    main()
