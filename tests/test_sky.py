"""The sky's motion on generated clips with a known truth: a pinhole camera on a tripod."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from skyclips import HEIGHT, K, night_sky

from vid2trail.homography import normalized, power, rotation, turn_and_pole
from vid2trail.select import FrameRange
from vid2trail.sky import sky_motion
from vid2trail.sources import open_source
from vid2trail.stars import detect_stars, match_stars

from conftest import encode

pytest.importorskip("sep")


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


@pytest.mark.parametrize("size", [(640, 480), (2400, 1600)])  # found at full size, and binned
def test_star_centroids_are_exact(size: tuple[int, int]) -> None:
    width, height = size
    rng = np.random.default_rng(3)
    truth = rng.uniform([20, 20], [width - 20, height - 20], (150, 2))
    ys, xs = np.mgrid[0:height, 0:width]
    sky = rng.normal(20, 2, (height, width))
    for x, y in truth:
        y0, x0 = int(y) - 6, int(x) - 6
        patch = np.exp(-((xs[y0 : y0 + 13, x0 : x0 + 13] - x) ** 2
                         + (ys[y0 : y0 + 13, x0 : x0 + 13] - y) ** 2) / (2 * 1.0**2))  # fmt: skip
        sky[y0 : y0 + 13, x0 : x0 + 13] += 120 * patch
    stars = detect_stars(np.clip(sky, 0, 255).astype(np.float32))
    i, j = match_stars(truth, stars, truth, 1.0)
    assert len(i) >= 140
    error = np.hypot(*(truth[i] - stars[j, :2]).T)
    apart = np.hypot(*(truth[:, None] - truth[None]).transpose(2, 0, 1)) + 99 * np.eye(len(truth))
    alone = apart.min(axis=1)[i] > 8  # two stars closer than that pull on each other's centroid
    assert np.median(error) < 0.03 and error[alone].max() < 0.1


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


def test_the_masks_sides_follow_the_nearer_evidence() -> None:
    from vid2trail.skymask import _nearer_side

    height, width = 120, 160
    sky_seen = np.zeros((height, width), bool)
    sky_seen[10:80:6, 4:156:6] = True  # stars seen to move, in the upper part
    sky_seen[:10, 60:90] = False  # none near the top edge there: they left the frame
    ground_seen = np.zeros((height, width), bool)
    ground_seen[95, :] = True  # the horizon's edge
    sky = _nearer_side(sky_seen, ground_seen)
    assert sky[:10, 60:90].all()  # a small notch at the edge without evidence is sky
    assert not sky[96:].any()  # below the horizon is ground
    # A large part of the edge without evidence stays ground (featureless ground, perhaps).
    sky_seen[:, 100:] = False
    sky = _nearer_side(sky_seen, ground_seen)
    assert not sky[:, 130:].any()


def test_a_zoom_is_no_turn_of_the_sky(tmp_path: Path, in_tmp: Path) -> None:
    from conftest import invoke

    rng = np.random.default_rng(5)
    field = rng.normal(12, 2, (240, 320)).clip(0, 255).astype(np.float32)
    for x, y in rng.uniform([10, 10], [310, 230], (150, 2)).astype(int):
        field[y - 1 : y + 2, x - 1 : x + 2] += 150
    centre = np.array([[1.0, 0, -160], [0, 1, -120], [0, 0, 1]])
    frames = []
    for k in range(30):  # the view grows 0.3% a frame about the centre
        zoom = np.linalg.inv(centre) @ np.diag([1.003**k, 1.003**k, 1]) @ centre
        frame = cv2.warpAffine(field, zoom[:2], (320, 240), flags=cv2.INTER_LINEAR)
        frames.append(np.repeat(frame.clip(0, 255).astype(np.uint8)[:, :, None], 3, axis=2))
    clip = encode(np.stack(frames), tmp_path / "zoom.mkv")
    result = invoke("stack", clip, "--fill-gaps", "-o", "zoom.png")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: {clip}: what moves in the frames grows or shrinks 0.30% a frame, which a turning "
        "sky never does (a zoom, or no sky in view): the sky's motion cannot be measured"
    )
    assert not (in_tmp / "zoom.png").exists()
