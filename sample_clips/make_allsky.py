"""Make an all-sky night: a folder of fisheye JPEGs, one every 2 minutes from 20:30 to 05:00.

An all-sky camera looks straight up through a fisheye lens: the sky is a disc, the horizon its
rim, and the stars turn about the pole (here above the centre, as at a mid-northern site). The
night holds what a keogram is for: dusk at the start, a bank of clouds drifting over from 23:00 to
00:40, an aurora low in the north from 01:50 to 03:10, the moon rising in the east at 02:20, and
dawn at the end. Each JPEG carries its capture time in EXIF, as a camera writes it, so
vid2trail's keogram gets clock ticks and ``--start 22:00`` means ten at night.

Run ``python sample_clips/make_allsky.py night/`` (it needs Pillow, in the dev extra), then::

    vid2trail night/ --keogram night-keogram.png --video night.mp4 --trail window \
        --trail-frames 1 -o night-trails.jpg

The README's pictures are this night's keogram and star trails. The seed is fixed.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

SIZE, RADIUS = 480, 228
START, END, EVERY = datetime(2026, 8, 12, 20, 30), datetime(2026, 8, 13, 5, 0), timedelta(minutes=2)
POLE = (240.0, 150.0)  # image coordinates of the celestial pole (north is up)


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """Linear light to sRGB code values in [0, 1] (IEC 61966-2-1)."""
    v = np.clip(linear, 0.0, 1.0)
    return np.where(v <= 0.0031308, 12.92 * v, 1.055 * np.power(v, 1 / 2.4) - 0.055)


def smooth_noise(rng: np.random.Generator, size: int, scale: int) -> np.ndarray:
    """A soft random field in [0, 1]: coarse noise blown up with bilinear interpolation."""
    import cv2

    coarse = rng.random((size // scale + 2, size // scale + 2)).astype(np.float32)
    field = cv2.resize(coarse, (size + 2 * scale, size + 2 * scale), interpolation=cv2.INTER_CUBIC)
    return np.clip(field[scale : scale + size, scale : scale + size], 0, 1)


def hours_after(moment: datetime, hour: float) -> float:
    """Hours from ``hour`` o'clock of the night (20 = 20:00 on the first day) to ``moment``."""
    base = datetime.combine(START.date(), datetime.min.time()) + timedelta(hours=hour)
    return (moment - base).total_seconds() / 3600


def render(
    moment: datetime, stars: np.ndarray, clouds: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """One frame in linear light: sky glow, stars, clouds, aurora, moon, the horizon's trees."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    r = np.hypot(x - SIZE / 2, y - SIZE / 2) / RADIUS  # 0 at the zenith, 1 at the horizon
    inside = r < 1
    dusk = 0.35 * np.exp(-max(hours_after(moment, 20.5), 0) / 0.35)
    dawn = 0.35 * np.exp(min(hours_after(moment, 29.0), 0) / 0.4)
    sky = (0.004 + dusk + dawn) * (0.6 + 0.8 * r**2)
    image = np.repeat(sky[:, :, None], 3, axis=2) * np.array([0.55, 0.7, 1.0], np.float32)
    # Stars: 15 degrees an hour about the pole, counter-clockwise as seen looking up.
    turn = np.radians(15.04 * hours_after(moment, 20.5))
    c, s = np.cos(turn), np.sin(turn)
    dx, dy = stars[:, 0] - POLE[0], stars[:, 1] - POLE[1]
    sx, sy = POLE[0] + c * dx + s * dy, POLE[1] - s * dx + c * dy
    keep = np.hypot(sx - SIZE / 2, sy - SIZE / 2) < RADIUS * 0.97
    ix, iy = sx[keep].astype(int), sy[keep].astype(int)
    image[iy, ix] += stars[keep, 2:3] * np.array([1.0, 0.95, 0.9], np.float32)
    # Clouds drift over from the west between 23:00 and 00:40, lit from below by towns.
    cover = np.clip(1 - abs(hours_after(moment, 23.8)) / 0.85, 0, 1)
    if cover > 0:
        field = np.roll(clouds, int(160 * hours_after(moment, 23.0)), axis=1)
        thick = np.clip((field - 1 + 0.9 * cover) * 4, 0, 1)[:, :, None]
        image = image * (1 - thick) + thick * np.array([0.03, 0.03, 0.034], np.float32)
    # An aurora: green curtains low in the north (the top of the disc), 01:50 to 03:10.
    glow = np.clip(1 - abs(hours_after(moment, 26.5)) / 0.67, 0, 1)
    if glow > 0:
        north = np.clip(1 - np.hypot(x - SIZE / 2, y - 30) / 170, 0, 1)
        ripple = 0.6 + 0.4 * np.sin(x / 9 + 6 * hours_after(moment, 26))
        image += (glow * 0.12 * north * ripple)[:, :, None] * np.array([0.15, 1.0, 0.35])
    # The moon rises in the east (right) at 02:20 and climbs.
    climb = hours_after(moment, 26.33)
    if climb > 0:
        mx, my = SIZE / 2 + RADIUS * (0.98 - 0.18 * climb), SIZE / 2 + 20 * climb
        halo = np.exp(-np.hypot(x - mx, y - my) / 60) * min(1.0, 0.3 + 0.4 * climb)
        image += (0.5 * halo)[:, :, None] * np.array([1.0, 0.97, 0.9])
        image[np.hypot(x - mx, y - my) < 3.5] = 1.0
    # Trees along the rim, and the lens's dark surround.
    angle = np.arctan2(y - SIZE / 2, x - SIZE / 2)
    crowns = np.abs(np.sin(23 * angle)) ** 3 * (np.sin(5 * angle + 1) > 0.1)
    trees = r > 0.96 - 0.07 * crowns
    image[trees | ~inside] = 0.002
    image += rng.normal(0, 0.004, image.shape).astype(np.float32)
    image[~inside] = 0
    return image


def main() -> None:
    from PIL import Image

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    count = 1800
    xs, ys = rng.uniform(-300, SIZE + 300, count), rng.uniform(-400, SIZE + 200, count)
    stars = np.column_stack([xs, ys, rng.gamma(0.8, 0.12, count).clip(0.02, 1.0)])
    clouds = 0.6 * smooth_noise(rng, SIZE, 64) + 0.4 * smooth_noise(rng, SIZE, 12)
    moment, k = START, 0
    while moment <= END:
        pixels = (srgb_encode(render(moment, stars, clouds, rng)) * 255 + 0.5).astype(np.uint8)
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9003] = moment.strftime("%Y:%m:%d %H:%M:%S")  # DateTimeOriginal
        Image.fromarray(pixels).save(args.folder / f"allsky_{k:04d}.jpg", quality=92, exif=exif)
        moment, k = moment + EVERY, k + 1
    print(f"{k} frames in {args.folder}")


if __name__ == "__main__":
    main()
