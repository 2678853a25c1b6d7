"""Make ``dusk-to-dawn.mp4``: a synthetic all-night timelapse for trying ``vid2trail scan``.

720 frames (one a minute from sunset to sunrise, played at 24 fps), 480x270. The sun's altitude
runs from +5 degrees down to -45 and back; the sky's twilight glow falls by 0.3 magnitudes per
degree of depression (so it sinks into the night-sky glow at -18 degrees, astronomical twilight)
and the camera's exposure is fixed for the night, so the day frames are white. Stars turn a quarter
of a degree per frame about the pole, clouds lit from below drift over in the middle of the night
and hide the stars behind them, lightning lights the whole sky for one frame (frame 300) and a
car's headlights light the foreground for two (frames 451 and 452). Rendered in linear light like
``make_sample.py`` (whose star field and foreground it reuses), encoded with the sRGB curve, H.264.

Run ``python sample_clips/make_dusk_to_dawn.py [OUT.mp4]``; it prints the astronomical night
(sun below -18 degrees) and the flash frames, the truth to compare ``vid2trail scan`` with.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import make_sample as base  # noqa: E402

WIDTH, HEIGHT, FRAMES, FPS = 480, 270, 720, 24
ROTATION_PER_FRAME_DEG = 0.25
LIGHTNING, HEADLIGHTS = (300,), (451, 452)


def sun_altitude_deg(t: np.ndarray | int) -> np.ndarray:
    """+5 degrees at the first and last frame, -45 at the middle."""
    return 5.0 - 50.0 * np.sin(np.pi * np.asarray(t) / (FRAMES - 1))


def cloud_cover(t: int, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """Opacity 0..1 of two soft cloud banks drifting left to right, frames 360-420 and 500-530."""
    cover = np.zeros_like(xx, dtype=np.float64)
    for first, frames, size, peak in ((360, 60, 150.0, 0.9), (500, 30, 90.0, 0.7)):
        if first <= t < first + frames:
            cx = -size + (t - first) / frames * (WIDTH + 2 * size)
            cover += peak * np.exp(-((xx - cx) ** 2 / (2 * size**2) + (yy - 70) ** 2 / 6000))
    return np.clip(cover, 0, 1)


def render(seed: int = 7):
    """Yield the frames as uint8 RGB arrays."""
    base.WIDTH, base.HEIGHT = WIDTH, HEIGHT
    rng = np.random.default_rng(seed)
    pole = np.array([WIDTH * 0.62, HEIGHT * 0.18])
    stars = base.make_stars(rng, 1200, radius=1.25 * np.hypot(WIDTH, HEIGHT))
    mask = base.foreground_mask(rng)[:, :, None]
    rows = np.linspace(0, 1, HEIGHT)[:, None, None]
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    night_sky = np.array([0.004, 0.005, 0.009]) + rows**3 * np.array([0.020, 0.014, 0.008])
    twilight_rgb = np.array([0.75, 0.85, 1.0])
    ground = np.array([0.0012, 0.0011, 0.0010])
    step = np.deg2rad(ROTATION_PER_FRAME_DEG)
    for t in range(FRAMES):
        light = np.zeros((HEIGHT, WIDTH, 3))
        for sub in range(3):
            angle = stars["theta"] + step * (t + 0.9 * sub / 3)
            xs = pole[0] + stars["r"] * np.cos(angle)
            ys = pole[1] + stars["r"] * np.sin(angle)
            base.splat(light, xs, ys, stars["colour"] * stars["flux"][:, None] / 3, 0.9)
        glow = 0.8 * 10 ** (0.12 * min(float(sun_altitude_deg(t)), 0.0))
        sky = night_sky + glow * twilight_rgb * (0.6 + 0.4 * rows)
        cover = cloud_cover(t, xx, yy)[:, :, None]
        # Clouds hide the stars and glow orange with the town's light below them.
        sky_light = light * (1 - cover) + sky + cover * np.array([0.030, 0.020, 0.012])
        if t in LIGHTNING:
            sky_light = sky_light + 0.35
        foreground = ground + glow * 0.05 + (0.25 if t in HEADLIGHTS else 0.0)
        frame = sky_light * mask + (1 - mask) * foreground
        noise = rng.normal(0.0, 1.0, frame.shape) * (0.0006 + 0.02 * np.sqrt(frame * 0.05))
        yield np.round(base.srgb_encode(frame + noise) * 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).with_name("dusk-to-dawn.mp4")
    parser.add_argument("output", nargs="?", default=str(default))
    args = parser.parse_args()
    base.encode_h264(render(), args.output, (WIDTH, HEIGHT), FPS, 18, "medium")
    night = np.flatnonzero(sun_altitude_deg(np.arange(FRAMES)) < -18)
    print(args.output)
    print(f"astronomical night: frames {night[0]} to {night[-1]} inclusive; "
          f"flashes: {', '.join(map(str, LIGHTNING + HEADLIGHTS))}")  # fmt: skip


if __name__ == "__main__":
    main()
