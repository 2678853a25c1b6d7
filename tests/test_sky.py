"""The sky's motion on generated clips with a known truth: a pinhole camera on a tripod."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from vid2trail.homography import normalized, power, rotation, turn_and_pole
from vid2trail.select import FrameRange
from vid2trail.sky import detect_stars, sky_motion
from vid2trail.sources import open_source

from conftest import encode

pytest.importorskip("sep")

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
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    ground = y > HEIGHT * 0.8 + 12 * np.sin(x / 40)
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


@pytest.fixture(scope="module")
def tripod(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frames = night_sky(40, pole=(420.0, -180.0), deg_per_frame=0.05)
    return encode(frames, tmp_path_factory.mktemp("sky") / "tripod.mkv")


def test_the_pole_and_the_rate_of_a_tripod_timelapse(tripod: Path) -> None:
    with open_source(tripod) as src:
        motion = sky_motion(src)
    assert motion.pole is not None
    assert math.hypot(motion.pole[0] - 420, motion.pole[1] + 180) < 2
    assert motion.deg_per_step == pytest.approx(0.05, rel=0.01)
    assert motion.steady and motion.breaks == ()
    # 25 fps video time: 0.05 degrees a frame is 4500 degrees an hour of the clip.
    assert motion.deg_per_hour == pytest.approx(0.05 * 25 * 3600, rel=0.01)
    assert motion.stars >= 100


def test_a_bumped_tripod_is_a_break(tmp_path: Path) -> None:
    frames = night_sky(30, pole=(420.0, -180.0), deg_per_frame=0.05, bump=17, seed=3)
    with open_source(encode(frames, tmp_path / "bumped.mkv")) as src:
        motion = sky_motion(src, FrameRange(0, 30), checked=29)
    assert not motion.steady
    assert 16 in motion.breaks


def test_too_few_stars(tmp_path: Path) -> None:
    fog = np.random.default_rng(1).normal(120, 2, (6, 96, 128, 3)).clip(0, 255).astype(np.uint8)
    clip = encode(fog, tmp_path / "fog.mkv")
    with open_source(clip) as src, pytest.raises(Exception) as caught:
        sky_motion(src)
    assert str(caught.value).startswith(f"{clip}: only 0 stars found in frame 0 (daylight, clouds")


def test_powers_and_the_pole_of_a_known_turn() -> None:
    axis = np.linalg.solve(K, np.array([100.0, -50.0, 1.0]))
    axis /= np.linalg.norm(axis)
    h = K @ rotation(axis, math.radians(0.3)) @ np.linalg.inv(K)
    degrees, pole = turn_and_pole(h)
    assert degrees == pytest.approx(0.3, rel=1e-9)
    assert pole == pytest.approx((100.0, -50.0), abs=1e-6)
    third = power(h, 1 / 3)
    np.testing.assert_allclose(third @ third @ third, normalized(h), atol=1e-12)


def test_stars_are_found_where_they_are() -> None:
    frames = night_sky(1, pole=(420.0, -180.0), deg_per_frame=0.0)
    stars = detect_stars(frames[0])
    assert len(stars) > 100
    # No detection on the ground but the three windows.
    assert (stars[:, 1] > HEIGHT * 0.85).sum() <= 3


def test_scan_reports_the_motion(tripod: Path, in_tmp: Path) -> None:
    pytest.importorskip("matplotlib")
    from conftest import invoke

    result = invoke("scan", tripod, "--motion", "--json", "-q")
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert (
        lines[-2].startswith("Sky motion: ")
        and "degrees a frame about the pole at (420." in lines[-2]
    )
    assert lines[-1].endswith("as a timelapse of the turning sky, a frame every 12.0 s")
    import json

    facts = json.loads(result.stdout)["sky_motion"]
    assert facts["steady"] and facts["deg_per_frame"] == pytest.approx(0.05, rel=0.01)


def test_scan_motion_without_stars_is_one_line(tmp_path: Path, in_tmp: Path) -> None:
    from conftest import invoke

    fog = np.random.default_rng(1).normal(120, 2, (6, 96, 128, 3)).clip(0, 255).astype(np.uint8)
    clip = encode(fog, tmp_path / "fog.mkv")
    result = invoke("scan", clip, "--motion", "--json", "-q")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: {clip}: only 0 stars found in frame 0 (daylight, clouds or fog?): the sky's "
        "motion cannot be measured there"
    )
