"""Gap filling, alignment, the sky mask and trails sized by the sky's motion, on a generated
tripod timelapse with a known truth (:mod:`skyclips`): a star field turning 0.1 degrees a frame
about a pole above the frame, a black silhouette with three lit windows, noise, and a plane in
frames 5 and 6."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from skyclips import HEIGHT, WIDTH, K, ground_mask, night_sky

import vid2trail
from vid2trail.gaps import FillGaps
from vid2trail.homography import apply, rotation
from vid2trail.select import FrameRange
from vid2trail.skymask import SkyMask, find_sky, read_sky_mask
from vid2trail.sources import open_source
from vid2trail.stars import detect_stars, match_stars

from conftest import encode, invoke, read_rgb

pytest.importorskip("sep")

FRAMES = 64
POLE = (420.0, -180.0)
DEG = 0.1
LIT = 40  # a trail pixel: well above the sky's 12


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return night_sky(FRAMES, pole=POLE, deg_per_frame=DEG)


@pytest.fixture(scope="module")
def tripod(tmp_path_factory: pytest.TempPathFactory, frames: np.ndarray) -> Path:
    return encode(frames, tmp_path_factory.mktemp("tripod") / "tripod.mkv")


def grown(lit: np.ndarray) -> np.ndarray:
    return cv2.dilate(lit.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)


def test_fill_gaps_makes_every_8th_frame_continuous(tripod: Path) -> None:
    ground = ground_mask()
    # The continuous trail: every frame of the same span (57 = 7 x 8 + 1), the plane left out.
    every = vid2trail.stack(tripod, "max", end=57, exclude="5-6")[..., 0]
    plain = vid2trail.stack(tripod, "max", step=8)
    filled = vid2trail.stack(tripod, "max", step=8, fill_gaps=True)
    trail = (every > LIT) & ~ground
    covered = (filled[..., 0] > LIT) & trail
    assert ((plain[..., 0] > LIT) & trail).sum() / trail.sum() < 0.5  # dotted
    assert covered.sum() / trail.sum() >= 0.95
    assert (grown(filled[..., 0] > LIT) & trail).sum() / trail.sum() >= 0.98
    # The silhouette and its windows are exactly the plain max's; nothing lights the dark sky.
    np.testing.assert_array_equal(filled[ground], plain[ground])
    new = (filled[..., 0] > LIT) & ~grown(every > LIT)
    assert new.mean() < 0.0005
    # Each filled pixel is a star's own value: never above the brightest the frames hold.
    assert filled.max() <= every.max()


def test_fill_gaps_across_excluded_frames(tripod: Path) -> None:
    every = vid2trail.stack(tripod, "max", start=8, end=41, exclude="5-6")[..., 0]
    filled = vid2trail.stack(tripod, "max", start=8, end=41, step=8, exclude="16-31",
                             fill_gaps=True)[..., 0]  # fmt: skip
    trail = (every > LIT) & ~ground_mask()
    # Frames 8, 32 and 40 are kept: the 24-frame gap is filled, since the sky kept turning.
    assert (grown(filled > LIT) & trail).sum() / trail.sum() >= 0.97


def test_a_bumped_tripod_is_not_filled_across(tmp_path: Path) -> None:
    bumped = night_sky(33, pole=POLE, deg_per_frame=DEG, bump=20, seed=3)
    clip = encode(bumped, tmp_path / "bumped.mkv")
    result = invoke("stack", clip, "--step", "4", "--fill-gaps", "-o", tmp_path / "b.png", "-q")
    assert result.exit_code == 0, result.output
    assert ("Note: --fill-gaps: 1 of 8 gaps left open (a break in the sky's motion, a pause, or "
            "clouds), after frames 16\n") in result.stderr  # fmt: skip


def test_no_fill_across_a_pause_in_the_capture() -> None:
    sky = np.ones((32, 32), bool)
    start = datetime(2026, 8, 12, 22, 0)
    clock = [start + timedelta(seconds=20 * k + (600 if k >= 3 else 0)) for k in range(6)]
    fill = FillGaps(np.array([[1, 0, 2.0], [0, 1, 0], [0, 0, 1]]), SkyMask(sky, ~sky, 1.0),
                    clock=clock)  # fmt: skip
    star = np.zeros((32, 32, 1), np.uint8)
    star[10, 4] = 200
    for k in range(5):
        fill(k, np.roll(star, 2 * k, axis=1))
    assert fill.skipped == [2] and fill.filled == 3


def test_the_sky_mask_found(tripod: Path) -> None:
    ground = ground_mask()
    with open_source(tripod) as src:
        motion = vid2trail.sky_motion(src)
        mask = find_sky(src, FrameRange(0, FRAMES), motion.unit)
    assert not (mask.sky & ground).any()
    assert (mask.sky & ~ground).sum() / (~ground).sum() >= 0.9
    # The windows are static lights.
    assert mask.static[int(HEIGHT * 0.9) + 1, 101]


def test_sky_mask_out_and_in(tripod: Path, tmp_path: Path, in_tmp: Path) -> None:
    result = invoke("stack", tripod, "--step", "8", "--fill-gaps", "--sky-mask-out", "sky.png",
                    "-o", "a.png")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[2].startswith("Sky: ")
    written = read_sky_mask("sky.png", WIDTH, HEIGHT)
    assert not (written & ground_mask()).any()
    # A mask drawn by hand: the top half only. Nothing below it is filled.
    top = np.zeros((HEIGHT, WIDTH), np.uint8)
    top[: HEIGHT // 2] = 255
    cv2.imwrite(str(tmp_path / "top.png"), top)
    result = invoke("stack", tripod, "--step", "8", "--fill-gaps", "--sky-mask",
                    tmp_path / "top.png", "-o", "b.png")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"Sky: 50% of the frame (from {tmp_path / 'top.png'})" in result.stderr
    plain = vid2trail.stack(tripod, "max", step=8)
    np.testing.assert_array_equal(read_rgb("b.png")[HEIGHT // 2 :], plain[HEIGHT // 2 :])
    assert not np.array_equal(read_rgb("b.png")[: HEIGHT // 2], plain[: HEIGHT // 2])


def test_align_mean_gives_pinpoint_stars(tripod: Path, frames: np.ndarray) -> None:
    plain = vid2trail.stack(tripod, "mean")
    aligned = vid2trail.stack(tripod, "mean", align=True)
    reference = frames[(FRAMES - 1) // 2]
    ground = ground_mask()
    stars = detect_stars(reference)
    # Stars the whole night kept in the frame and in the sky (away from edge and horizon).
    keep = ((stars[:, 0] > 60) & (stars[:, 0] < WIDTH - 60) & (stars[:, 1] > 40)
            & (stars[:, 1] < HEIGHT * 0.7))  # fmt: skip
    stars = stars[keep]
    found = detect_stars(aligned)
    i, j = match_stars(stars, found, stars[:, :2], 3.0)
    assert len(i) >= 0.9 * len(stars)
    error = np.hypot(*(stars[i, :2] - found[j, :2]).T)
    assert error.max() <= 0.5
    peaks = []
    for x, y, _ in stars[i]:
        iy, ix = round(y), round(x)
        single = float(reference[iy - 2 : iy + 3, ix - 2 : ix + 3, 0].max()) - 12
        if 40 < single < 200:  # not clipped at white
            peaks.append((float(aligned[iy - 2 : iy + 3, ix - 2 : ix + 3, 0].max()) - 12) / single)
    assert len(peaks) >= 10 and min(peaks) >= 0.85  # measured 0.89 (bilinear alone: 0.76)
    # Freeze ground: the foreground is the plain mean's.
    np.testing.assert_array_equal(aligned[ground], plain[ground])


def test_aligned_partial_stacks_combine_exactly(tripod: Path) -> None:
    one = vid2trail.stack(tripod, "mean", align=True, align_to=10, dtype=np.float64)
    two = vid2trail.stack(tripod, "mean", align=True, align_to=10, dtype=np.float64, workers=2)
    np.testing.assert_array_equal(one, two)


def test_align_median_and_sigma(tripod: Path) -> None:
    for mode in ("median", "sigma"):
        out = vid2trail.stack(tripod, mode, end=24, align=True)
        stars = detect_stars(out)
        assert len(stars) > 60  # points, not arcs: as many as in one frame


def test_too_few_stars_is_one_line(tmp_path: Path, in_tmp: Path) -> None:
    fog = np.random.default_rng(1).normal(120, 2, (6, 96, 128, 3)).clip(0, 255).astype(np.uint8)
    clip = encode(fog, tmp_path / "fog.mkv")
    result = invoke("stack", clip, "--fill-gaps")
    assert (result.exit_code, result.stderr) == (1, (
        f"Error: {clip}: only 0 stars found in frame 0 (daylight, clouds or fog?): the sky's "
        "motion cannot be measured there\n"))  # fmt: skip
    assert list(in_tmp.iterdir()) == [clip]
    result = invoke("stack", clip, "--video", "c.mp4", "--trail", "comet", "-q")
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        f"Note: --trail-frames auto: {clip}: only 0 stars found in frame 0 (daylight, clouds or "
        "fog?): the sky's motion cannot be measured there: comet trails of 30 frames\n"
    )


def test_comet_trails_sized_by_the_motion(tripod: Path, in_tmp: Path) -> None:
    # The true motion of a frame: K R K^-1, 0.1 degrees about the pole; its median over the frame.
    axis = np.linalg.solve(K, np.array([*POLE, 1.0]))
    truth = K @ rotation(axis / np.linalg.norm(axis), math.radians(DEG)) @ np.linalg.inv(K)
    xs, ys = np.meshgrid(np.linspace(0, WIDTH - 1, 17), np.linspace(0, HEIGHT - 1, 17))
    grid = np.column_stack([xs.ravel(), ys.ravel()])
    per_frame = float(np.median(np.hypot(*(apply(truth, grid) - grid).T)))
    length = 0.04 * math.hypot(WIDTH, HEIGHT)
    result = invoke("stack", tripod, "--video", "c.mp4", "--trail", "comet", "-q")
    assert result.exit_code == 0, result.output
    line = result.stderr.splitlines()[-1]
    assert line.startswith("Trail length: comet trails of ")
    frames = int(line.split()[5])
    assert abs(frames - length / per_frame) <= 2
    result = invoke("stack", tripod, "--video", "w.mp4", "--trail", "window", "--trail-frames",
                    "auto", "--trail-length", "80", "-q", "-y")  # fmt: skip
    assert result.exit_code == 0, result.output
    frames = int(result.stderr.splitlines()[-1].split()[5])
    assert abs(frames - 80 / per_frame) <= 3


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--fill-gaps", "-m", "mean"), "--fill-gaps fills the trails of --mode max, not of a mean "
         "stack: for a sharp mean of the sky, use --align"),
        (("--align",), "--align applies to --mode mean, sum, sigma, winsor, median, maxmean, min: "
         "a max stack's trails are the sky's motion; to close their gaps, use --fill-gaps"),
        (("--align", "--fill-gaps"), "give --fill-gaps or --align, not both: gaps are filled in "
         "the trails of a max stack, the sky is aligned for the other modes"),
        (("--align-to", "3", "-m", "mean"), "--align-to needs --align"),
        (("--sky-mask", "m.png"), "--sky-mask applies to --fill-gaps and --align: add one of them"),
        (("--fill-gaps", "--sky-mask-out", "m.jpg"), "--sky-mask-out m.jpg: write the mask as .png "
         "or .tif"),
        (("--video", "v.mp4", "--trail-length", "40"), "--trail-length applies to --trail comet "
         "and window; grow trails run the whole window"),
        (("--video", "v.mp4", "--trail", "comet", "--trail-length", "0"), "--trail-length 0.0: use "
         "1 to 1000000 pixels"),
        (("--video", "v.mp4", "--trail", "comet", "--trail-frames", "9", "--trail-length", "40"),
         "give --trail-frames or --trail-length, not both: the length in pixels sets the frames"),
        (("--trail-length", "40",), "--trail-length sets up the trail video: add --video PATH "
         "(e.g. trails.mp4)"),
    ],
)  # fmt: skip
def test_refused_before_decoding(flags: tuple[str, ...], message: str, in_tmp: Path) -> None:
    result = invoke("stack", "missing.mp4", *flags)
    assert (result.exit_code, result.stderr) == (2, f"Error: {message}\n")


def test_align_to_outside_the_window(tripod: Path, in_tmp: Path) -> None:
    result = invoke("stack", tripod, "-m", "mean", "--align", "--align-to", "70", "--end", "40")
    assert (result.exit_code, result.stderr) == (
        2, "Error: --align-to 70: the frames stacked are 0 to 39; give one of them\n")  # fmt: skip
    assert list(in_tmp.iterdir()) == []


def test_a_mask_of_the_wrong_size(tripod: Path, tmp_path: Path, in_tmp: Path) -> None:
    cv2.imwrite(str(tmp_path / "small.png"), np.full((10, 20), 255, np.uint8))
    result = invoke("stack", tripod, "--fill-gaps", "--sky-mask", tmp_path / "small.png")
    assert (result.exit_code, result.stderr) == (2, (
        f"Error: --sky-mask {tmp_path / 'small.png'}: it is 20x10, the frames are 640x480: draw "
        "it at the frames' size\n"))  # fmt: skip


def test_fill_gaps_in_a_grow_video(tripod: Path, in_tmp: Path) -> None:
    result = invoke("stack", tripod, "--step", "8", "--fill-gaps", "--video", "grow.mkv", "-o",
                    "still.png", "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    import av

    with av.open("grow.mkv") as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 8
    still = read_rgb("still.png")[..., 0]
    last = frames[-1][..., 0].astype(int)
    # The video's last frame is the filled still (within the codec's rounding).
    lit = still > LIT
    assert (last[lit] > LIT - 10).mean() > 0.9
    assert not ((last > LIT + 20) & ground_mask() & ~grown(lit)).any()


def test_a_missing_mask_is_one_line(tripod: Path, in_tmp: Path) -> None:
    result = invoke("stack", tripod, "--fill-gaps", "--sky-mask", "nope.png")
    assert (result.exit_code, result.stderr) == (2, (
        "Error: --sky-mask nope.png: no such file; draw the sky as a PNG, TIFF or JPEG at the "
        "frames' size (white = sky)\n"))  # fmt: skip
    assert list(in_tmp.iterdir()) == []


def test_a_streak_in_a_kept_frame_is_neither_moved_nor_a_break(
    tmp_path: Path, frames: np.ndarray
) -> None:
    # A plane's continuous red streak in frame 13, a kept frame: the gap after it is filled,
    # and the streak stays as it was (moved along the sky, it would smear into a red band).
    rgb = frames[:40].copy()
    cv2.line(rgb[13], (40, 80), (560, 200), (255, 0, 0), 2)
    clip = encode(rgb, tmp_path / "streak.mkv")
    plain = vid2trail.stack(clip, "max", start=13, step=8)
    filled = vid2trail.stack(clip, "max", start=13, step=8, fill_gaps=True)

    def red(image: np.ndarray) -> int:
        return int(((image[..., 0].astype(int) - image[..., 1]) > 100).sum())

    assert red(plain) > 500
    assert red(filled) <= red(plain) * 1.05
    result = invoke("stack", clip, "--start", "13", "--step", "8", "--fill-gaps", "-o",
                    tmp_path / "s.png")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "gaps left open" not in result.stderr


def test_a_bright_sky_is_said_to_be(tmp_path: Path, frames: np.ndarray, tripod: Path) -> None:
    # The same night under a sky as bright as daylight's (or a full Moon's): the stars still
    # turn, and the user hears that the sky is bright.
    bright = np.clip(frames[:24].astype(int) + 130, 0, 255).astype(np.uint8)
    clip = encode(bright, tmp_path / "bright.mkv")
    result = invoke("stack", clip, "--fill-gaps", "-o", tmp_path / "b.png")
    assert result.exit_code == 0, result.output
    assert ("Note: the sky is bright (its median is 56% of white): daylight, or a bright Moon? "
            "What turns with it may be the scene, not stars") in result.stderr  # fmt: skip
    night = invoke("stack", tripod, "--fill-gaps", "-o", tmp_path / "n.png")
    assert night.exit_code == 0, night.output
    assert "the sky is bright" not in night.stderr


def test_a_keyframes_preview_fills_its_gaps(
    frames: np.ndarray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sky's motion is measured between neighbouring frames, which a keyframes-only preview
    # does not decode: it is measured on every frame, and the keyframes' gaps are filled.
    import vid2trail.plan

    clip = encode(frames, tmp_path / "gop2.mp4", codec="h264", extra=("-g", "2", "-crf", "12"))
    monkeypatch.setattr(vid2trail.plan, "PREVIEW_FRAMES", 30)  # 64 frames, 32 keyframes
    every = vid2trail.stack(clip, "max", exclude="5-6")[..., 0]
    plain = vid2trail.stack(clip, "max", preview=True)[..., 0]
    filled = vid2trail.stack(clip, "max", preview=True, fill_gaps=True)[..., 0]
    trail = (every > LIT) & ~ground_mask()
    dotted = ((plain > LIT) & trail).sum() / trail.sum()
    covered = (grown(filled > LIT) & trail).sum() / trail.sum()
    assert covered >= 0.95 and covered > dotted + 0.1, (dotted, covered)


def test_a_preview_that_cannot_measure_the_sky_says_the_preview_may_be_why(
    h264_clip: Path,
) -> None:
    # Random frames hold no stars; with --preview the error adds that small frames fade them.
    plain = invoke(h264_clip, "--fill-gaps", "-q")
    result = invoke(h264_clip, "--preview", "--fill-gaps", "-q")
    assert plain.exit_code == result.exit_code == 1
    assert result.stderr == plain.stderr.rstrip("\n") + (
        " (with --preview the frames are at most 640 px, where faint stars fade: try it without"
        " --preview)\n"
    )
    assert plain.stderr.startswith(f"Error: {h264_clip}: only ") and "\n" not in plain.stderr[:-1]
