"""Make ``startrails.mp4``: a short synthetic star-field timelapse for the README and for trying.

Stars turn about a celestial pole, with a realistic spread of brightness (many faint stars, few
bright ones, magnitudes 0 to 6.5) and colour; each frame integrates the motion during its exposure,
so a max stack draws unbroken arcs. There is sky glow towards the horizon, sensor noise, a dark
foreground of hills and trees, and a plane crossing with a steady light and a blinking red beacon.
Everything is rendered in linear light and encoded with the sRGB curve, then compressed with the
ffmpeg that imageio-ffmpeg bundles (H.264, yuv420p, BT.709 tags).

Run ``python sample_clips/make_sample.py`` to rebuild it; the seed is fixed, so the frames are the
same each time (the encoder's output may differ slightly between ffmpeg builds).
"""

from __future__ import annotations

import argparse
import subprocess
from collections.abc import Iterable
from pathlib import Path

import imageio_ffmpeg
import numpy as np

WIDTH, HEIGHT, FRAMES, FPS = 960, 540, 240, 24
ROTATION_PER_FRAME_DEG = 0.22
SUBSTEPS = 5  # positions integrated per exposure


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """Linear light to sRGB code values in [0, 1] (IEC 61966-2-1)."""
    v = np.clip(linear, 0.0, 1.0)
    return np.where(v <= 0.0031308, 12.92 * v, 1.055 * np.power(v, 1 / 2.4) - 0.055)


def make_stars(rng: np.random.Generator, count: int, radius: float) -> dict[str, np.ndarray]:
    """Stars in polar coordinates about the pole, with magnitudes and colours."""
    # Star counts grow about 3x per magnitude: density proportional to 10 ** (0.48 m).
    u = rng.random(count)
    lo, hi, k = 0.0, 6.5, 0.48 * np.log(10)
    mag = np.log(np.exp(k * lo) + u * (np.exp(k * hi) - np.exp(k * lo))) / k
    flux = 14.0 * 10 ** (-0.4 * mag)
    temp = rng.uniform(0, 1, count)  # 0 = orange K/M star, 1 = blue B/A star
    colour = np.stack([1.0 - 0.35 * temp, 0.9 + 0.05 * temp, 0.6 + 0.45 * temp], axis=1)
    colour /= colour.mean(axis=1, keepdims=True)
    return {
        "r": np.sqrt(rng.random(count)) * radius,
        "theta": rng.uniform(0, 2 * np.pi, count),
        "flux": flux,
        "colour": colour,
    }


def foreground_mask(rng: np.random.Generator) -> np.ndarray:
    """1 where the sky is visible, 0 under the hills and trees."""
    x = np.arange(WIDTH)
    ridge = (
        HEIGHT * 0.80
        + 22 * np.sin(x / 97.0)
        + 13 * np.sin(x / 31.0 + 1.3)
        + 6 * np.sin(x / 11.0 + 0.4)
    )
    for centre in rng.uniform(0, WIDTH, 9):  # pointed conifer silhouettes
        height = rng.uniform(40, 95)
        half = height * 0.22
        ridge = np.minimum(ridge, np.where(np.abs(x - centre) < half,
                                           ridge - height * (1 - np.abs(x - centre) / half),
                                           ridge))  # fmt: skip
    rows = np.arange(HEIGHT)[:, None]
    return (rows < ridge[None, :]).astype(np.float32)


def splat(image: np.ndarray, xs: np.ndarray, ys: np.ndarray, rgb: np.ndarray, sigma: float) -> None:
    """Add Gaussian points of total light ``rgb`` at sub-pixel positions (in place)."""
    keep = (xs > -3) & (xs < WIDTH + 3) & (ys > -3) & (ys < HEIGHT + 3)
    xs, ys, rgb = xs[keep], ys[keep], rgb[keep]
    ix, iy = np.floor(xs).astype(int), np.floor(ys).astype(int)
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            px, py = ix + dx, iy + dy
            weight = np.exp(-((px + 0.5 - xs) ** 2 + (py + 0.5 - ys) ** 2) / (2 * sigma**2))
            weight /= 2 * np.pi * sigma**2
            ok = (px >= 0) & (px < WIDTH) & (py >= 0) & (py < HEIGHT)
            np.add.at(image, (py[ok], px[ok]), rgb[ok] * weight[ok, None])


def render(seed: int = 2026) -> np.ndarray:
    """Yield the frames as uint8 RGB arrays."""
    rng = np.random.default_rng(seed)
    pole = np.array([WIDTH * 0.62, HEIGHT * 0.18])
    stars = make_stars(rng, 2600, radius=1.25 * np.hypot(WIDTH, HEIGHT))
    mask = foreground_mask(rng)[:, :, None]
    rows = np.linspace(0, 1, HEIGHT)[:, None, None]
    sky = np.array([0.004, 0.005, 0.009]) + rows**3 * np.array([0.020, 0.014, 0.008])
    ground = np.array([0.0012, 0.0011, 0.0010])
    step = np.deg2rad(ROTATION_PER_FRAME_DEG)
    for t in range(FRAMES):
        light = np.zeros((HEIGHT, WIDTH, 3))
        for sub in range(SUBSTEPS):
            angle = stars["theta"] + step * (t + 0.9 * sub / SUBSTEPS)
            xs = pole[0] + stars["r"] * np.cos(angle)
            ys = pole[1] + stars["r"] * np.sin(angle)
            splat(light, xs, ys, stars["colour"] * stars["flux"][:, None] / SUBSTEPS, 0.9)
        # A plane from left to right between frames 70 and 150, steady white light plus a red
        # beacon that flashes every third frame.
        if 70 <= t < 150:
            p = (t - 70) / 80
            x0, y0 = -20 + p * (WIDTH + 40), HEIGHT * (0.55 - 0.25 * p)
            dx = (WIDTH + 40) / 80 / SUBSTEPS
            for sub in range(SUBSTEPS):
                px = np.array([x0 + sub * dx])
                py = np.array([y0 - 0.25 * HEIGHT / 80 / SUBSTEPS * sub])
                splat(light, px, py, np.array([[2.5, 2.5, 2.4]]) / SUBSTEPS, 1.0)
                if t % 3 == 0:
                    splat(light, px + 4, py + 1, np.array([[9.0, 0.4, 0.3]]) / SUBSTEPS, 1.1)
        light = light * mask + sky + (1 - mask) * (ground - sky)
        noise = rng.normal(0.0, 1.0, light.shape) * (0.0006 + 0.02 * np.sqrt(light * 0.05))
        code = srgb_encode(light + noise)
        yield np.round(code * 255).astype(np.uint8)


def encode_h264(
    frames: Iterable[np.ndarray],
    output: str,
    size: tuple[int, int],
    fps: float,
    crf: int,
    preset: str,
) -> None:
    """Encode uint8 RGB frames with the bundled ffmpeg: H.264, yuv420p, BT.709 tags, faststart."""
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{size[0]}x{size[1]}", "-r", str(fps),
        "-i", "-", "-c:v", "libx264", "-preset", preset, "-crf", str(crf),
        "-pix_fmt", "yuv420p", "-colorspace", "bt709", "-color_primaries", "bt709",
        "-color_trc", "bt709", "-color_range", "tv", "-movflags", "+faststart", output,
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    if proc.stdin is None:
        raise SystemExit("could not start ffmpeg")
    for frame in frames:
        proc.stdin.write(frame.tobytes())
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit(f"ffmpeg failed to encode {output}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).with_name("startrails.mp4")
    parser.add_argument("output", nargs="?", default=str(default))
    parser.add_argument("--crf", type=int, default=20)
    args = parser.parse_args()
    encode_h264(render(), args.output, (WIDTH, HEIGHT), FPS, args.crf, "slow")
    print(args.output)


if __name__ == "__main__":
    main()
