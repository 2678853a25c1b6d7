"""Generated night skies with a known truth: a star field turning about a known pole through a
known pinhole camera, for the sky-motion tests."""

from __future__ import annotations

import math

import numpy as np

from vid2trail.homography import rotation

WIDTH, HEIGHT, FOCAL = 640, 480, 700.0
K = np.array([[FOCAL, 0, WIDTH / 2], [0, FOCAL, HEIGHT / 2], [0, 0, 1]])


def night_sky(
    frames: int, pole: tuple[float, float], deg_per_frame: float, *, seed: int = 0,
    bump: int | None = None, stars: int = 900,
) -> np.ndarray:  # fmt: skip
    """Frames of a star field turning about ``pole`` (image coordinates) through the pinhole
    camera ``K``, with sky noise, a black foreground with three lit windows, and a plane crossing
    in frames 5 and 6. ``bump``: the camera is knocked by 3 pixels from that frame on."""
    rng = np.random.default_rng(seed)
    axis = np.linalg.solve(K, np.array([*pole, 1.0]))
    axis /= np.linalg.norm(axis)
    # Stars on the sphere in front of the camera (a wide cone, so that the turn brings new ones).
    rays = np.column_stack([rng.uniform(-0.9, 0.9, stars), rng.uniform(-0.8, 0.8, stars),
                            np.ones(stars)])  # fmt: skip
    rays /= np.linalg.norm(rays, axis=1, keepdims=True)
    flux = rng.gamma(1.0, 400, stars).clip(100, 4000)
    ground = ground_mask()
    out = np.empty((frames, HEIGHT, WIDTH, 3), np.uint8)
    for k in range(frames):
        turned = rays @ rotation(axis, math.radians(deg_per_frame * k)).T
        seen = turned[:, 2] > 0.1
        p = turned[seen] @ K.T
        px, py = p[:, 0] / p[:, 2], p[:, 1] / p[:, 2]
        if bump is not None and k >= bump:
            px = px + 3.0
        image = rng.normal(12, 2.0, (HEIGHT, WIDTH))
        for sx, sy, f in zip(px, py, flux[seen], strict=True):
            if 2 <= sx < WIDTH - 3 and 2 <= sy < HEIGHT - 3:
                ix, iy = int(sx), int(sy)
                gy, gx = np.mgrid[iy - 2 : iy + 4, ix - 2 : ix + 4]
                image[iy - 2 : iy + 4, ix - 2 : ix + 4] += (
                    f
                    / (2 * math.pi * 1.1**2)
                    * np.exp(-((gx - sx) ** 2 + (gy - sy) ** 2) / (2 * 1.1**2))
                )
        image[ground] = rng.normal(3, 1, int(ground.sum()))
        for wx in (100, 300, 520):
            image[int(HEIGHT * 0.9) : int(HEIGHT * 0.9) + 3, wx : wx + 3] = 230
        if k in (5, 6):
            for t in np.linspace(0, 1, 200):
                image[int(60 + 100 * t + 20 * (k - 5)), int(50 + 400 * t)] = 250
        out[k] = np.clip(image, 0, 255).astype(np.uint8)[:, :, None]
    return out


def ground_mask() -> np.ndarray:
    """The true foreground of :func:`night_sky`: a wavy black silhouette along the bottom."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    return y > HEIGHT * 0.8 + 12 * np.sin(x / 40)
