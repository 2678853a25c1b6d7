"""The scan pass, its picture and JSON, and stacking with --start auto / --reject / --exclude.

The clip fades from day to night and back (ramps of 40 frames), has a cloud drifting over part of
the night sky and two whole-frame flashes: the night is frames 65 to 135 inclusive and the flashes
are frames 80 and 121.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import vid2trail
from vid2trail.scan import decide, measure, scan, small_frames
from vid2trail.sources import open_source

from conftest import SHARED_DATA, encode, invoke, read_rgb, write_folder

NIGHT = (65, 136)
FLASHES = [80, 121]
pytest.importorskip("matplotlib")


def dusk_to_dawn(count: int = 200, width: int = 96, height: int = 54, seed: int = 1) -> np.ndarray:
    """RGB frames: sky level 200 -> 20 -> 200, noise, 40 moving stars, a cloud, two flashes."""
    rng = np.random.default_rng(seed)
    t = np.arange(count)
    level = np.interp(t, [0, 25, 65, 135, 175, count - 1], [200, 200, 20, 20, 200, 200])
    frames = np.empty((count, height, width, 3), np.float64)
    frames[:] = level[:, None, None, None]
    yy, xx = np.mgrid[0:height, 0:width]
    for k in range(85, 115):  # the cloud: a soft blob, up to +40 levels, crossing the frame
        cx = (k - 85) / 30 * width * 1.4 - 0.2 * width
        blob = np.exp(-((xx - cx) ** 2 / (2 * 18.0**2) + (yy - 20) ** 2 / (2 * 14.0**2)))
        frames[k] += 40 * np.sin(np.pi * (k - 85) / 30) * blob[:, :, None]
    frames += rng.normal(0, 3, frames.shape)
    stars = rng.integers(0, [height, width], size=(40, 2))
    for k in range(count):
        frames[k, stars[:, 0], (stars[:, 1] + k // 4) % width] = 255
    frames[FLASHES] += 150
    return np.clip(frames, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def night_frames() -> np.ndarray:
    return dusk_to_dawn()


@pytest.fixture(scope="module")
def night_clip(tmp_path_factory: pytest.TempPathFactory, night_frames: np.ndarray) -> Path:
    return encode(night_frames, tmp_path_factory.mktemp("night") / "night.mkv")


@pytest.fixture(scope="module")
def night_h264(tmp_path_factory: pytest.TempPathFactory, night_frames: np.ndarray) -> Path:
    return encode(night_frames, tmp_path_factory.mktemp("night") / "night.mp4", codec="h264")


pytestmark = pytest.mark.usefixtures("in_tmp")


def near(got: tuple[int, int], want: tuple[int, int], frames: int = 3) -> bool:
    return abs(got[0] - want[0]) <= frames and abs(got[1] - want[1]) <= frames


@pytest.mark.parametrize("clip", ["night_clip", "night_h264"])
def test_scan_finds_the_night_and_both_flashes(clip: str, request: pytest.FixtureRequest) -> None:
    result = scan(str(request.getfixturevalue(clip)))
    assert len(result.table) == 200
    assert near((result.start, result.end), NIGHT)
    assert result.rejected_frames == FLASHES
    assert result.suggested_command("night.mkv") == (
        f"vid2trail night.mkv --start {result.start} --end {result.end} --reject auto"
    )


def test_scan_columns_against_numpy(night_clip: Path, night_frames: np.ndarray) -> None:
    with open_source(night_clip) as src:
        table = measure(src, thumbnails=4)
    y = night_frames.astype(np.float64) @ [0.2126, 0.7152, 0.0722] / 255
    np.testing.assert_allclose(table.mean, y.mean(axis=(1, 2)), atol=1e-6)
    np.testing.assert_allclose(table.median, np.median(y, axis=(1, 2)), atol=1e-6)
    np.testing.assert_allclose(table.white, (y >= 0.95).mean(axis=(1, 2)), atol=1e-6)
    np.testing.assert_allclose(table.change[1:], np.abs(np.diff(y, axis=0)).mean(axis=(1, 2)),
                               atol=1e-6)  # fmt: skip
    assert np.isnan(table.change[0])
    np.testing.assert_allclose(table.time_s, np.arange(200) / 25.0)
    assert [i for i, _ in table.thumbnails] == [0, 50, 125, 175]
    np.testing.assert_array_equal(table.thumbnails[1][1], night_frames[50])


def test_downscaled_scan_agrees(night_clip: Path, night_frames: np.ndarray) -> None:
    with open_source(night_clip) as src:
        small = next(small_frames(src, 48))
        assert small.pixels.shape == (27, 48, 3)
        table = measure(src, width=48, thumbnails=0)
    full = night_frames.astype(np.float64) @ [0.2126, 0.7152, 0.0722] / 255
    assert np.abs(table.mean - full.mean(axis=(1, 2))).max() < 0.01
    result = decide(table)
    assert near((result.start, result.end), NIGHT) and result.rejected_frames == FLASHES


def test_folder_scan_shrinks_with_opencv(tmp_path: Path, night_frames: np.ndarray) -> None:
    folder = write_folder(tmp_path / "pngs", night_frames[40:160])
    result = scan(str(folder), width=32)
    assert len(result.table) == 120 and np.isnan(result.table.time_s).all()
    assert result.table.thumbnails[0][1].shape == (18, 32, 3)
    assert near((result.start + 40, result.end + 40), NIGHT)
    assert [40 + f for f in result.rejected_frames] == FLASHES


def test_cli_scan_picture_size_and_summary(night_clip: Path) -> None:
    result = invoke("scan", night_clip, "-q")
    assert result.exit_code == 0, result.output
    assert result.stdout == "night-scan.png\n"
    assert read_rgb("night-scan.png").shape[:2] == (800, 1400)
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Scanned 200 frames at 96x54; brightness 0.08")
    assert (
        lines[2] == "Flashes in the window (brighter than the running median + 5 x MAD): 2: 80, 121"
    )
    assert lines[3].startswith("Suggested: vid2trail ") and lines[3].endswith(" --reject auto")
    again = invoke("scan", night_clip, "-o", "small.jpg", "--size", "900x500", "-q")
    assert again.exit_code == 0, again.output
    assert read_rgb("small.jpg").shape == (500, 900, 3)


def test_cli_scan_json_matches_the_decisions(night_clip: Path) -> None:
    result = invoke("scan", night_clip, "--json", "--reject-above", "6", "-q")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert not Path("night-scan.png").exists()  # --json alone writes no picture
    window, rows = data["window"], data["table"]
    assert near((window["start"], window["end"]), NIGHT)
    assert window["frames"] == window["end"] - window["start"]
    assert window["start_s"] == pytest.approx(window["start"] / 25)
    assert data["reject"] == {"k": 6.0, "history": 15, "frames": FLASHES}
    assert data["scan_size"] == [96, 54]
    assert len(rows) == data["frames"] == 200
    assert [r["frame"] for r in rows if r["rejected"]] == FLASHES
    assert [r["frame"] for r in rows if r["in_window"]] == list(range(window["start"],
                                                                      window["end"]))  # fmt: skip
    assert rows[0]["change"] is None and rows[1]["time_s"] == 0.04
    assert data["command"] == (
        f"vid2trail {night_clip} --start {window['start']} --end {window['end']} --reject-above 6"
    )
    with_picture = invoke("scan", night_clip, "--json", "-o", "s.png", "-q")
    assert with_picture.exit_code == 0 and json.loads(with_picture.stdout)["frames"] == 200
    assert read_rgb("s.png").shape[:2] == (800, 1400)


def test_suggested_command_reproduces_the_scan(night_clip: Path, night_frames: np.ndarray) -> None:
    data = json.loads(invoke("scan", night_clip, "--json", "-q").stdout)
    args = data["command"].split()[1:]
    result = invoke(*args, "-o", "max.png", "-q")
    assert result.exit_code == 0, result.output
    start, end = data["window"]["start"], data["window"]["end"]
    kept = [k for k in range(start, end) if k not in FLASHES]
    np.testing.assert_array_equal(read_rgb("max.png"), night_frames[kept].max(axis=0))
    assert "Rejected 2 flash frames (brighter than the running median + 5 x MAD): 80, 121" in (
        result.stderr
    )


def test_start_auto_reject_auto_stacks_the_night(
    night_clip: Path, night_frames: np.ndarray
) -> None:
    result = invoke(night_clip, "--start", "auto", "--reject", "auto", "-o", "night.png", "-q")
    assert result.exit_code == 0, result.output
    assert result.stdout == "night.png\n"
    first = result.stderr.splitlines()[0]
    assert first.startswith("Night window: frames ")
    start, end = (int(v) for v in first.split("frames ")[1].split(" (")[0].split(" to "))
    assert near((start, end), NIGHT)
    kept = [k for k in range(start, end) if k not in FLASHES]
    np.testing.assert_array_equal(read_rgb("night.png"), night_frames[kept].max(axis=0))
    # An explicit end wins over the automatic one; --window auto names the still by its frames.
    result = invoke(night_clip, "--start", "auto", "--end", "100", "-o", "half.png", "-q")
    np.testing.assert_array_equal(read_rgb("half.png"), night_frames[start:100].max(axis=0))
    result = invoke(night_clip, "--window", "auto", "--window", "0:10", "-q")
    assert result.stdout.split() == [f"night-max-{start}-{end}.png", "night-max-0-10.png"]


def test_exclude_removes_exactly_the_frames_named(
    night_clip: Path, night_frames: np.ndarray
) -> None:
    result = invoke(night_clip, "--start", "60", "--end", "140", "--exclude", "70-72,100",
                    "--exclude", "3.6s-3.68s", "-m", "mean", "-o", "mean.npy", "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    dropped = {70, 71, 72, 100, 90, 91, 92}  # 3.6 s to 3.68 s at 25 fps: frames 90, 91, 92
    kept = [k for k in range(60, 140) if k not in dropped]
    assert result.stderr == "Excluded 7 frames by hand: 70-72, 90-92, 100\n"
    got = np.load("mean.npy")
    with open_source(night_clip) as src:
        from vid2trail.outputs import render
        from vid2trail.pipeline import run_reducers
        from vid2trail.select import FrameRange

        [reducer] = run_reducers(src, [FrameRange(0, 200)], "mean",
                                 keep=lambda f: f.index in kept)  # fmt: skip
        np.testing.assert_array_equal(got, render(reducer, out_dtype=np.uint8))
    maxed = invoke(night_clip, "--start", "60", "--end", "140", "--exclude", "70-72,100,90-92",
                   "--exclude", "80,121", "-o", "max.png", "-q")  # fmt: skip
    assert maxed.exit_code == 0, maxed.output
    kept = [k for k in kept if k not in FLASHES]
    np.testing.assert_array_equal(read_rgb("max.png"), night_frames[kept].max(axis=0))


def test_python_api(night_clip: Path, night_frames: np.ndarray) -> None:
    image = vid2trail.stack(night_clip, start=NIGHT[0], end=NIGHT[1], reject="auto",
                            exclude="66-67")  # fmt: skip
    kept = [k for k in range(*NIGHT) if k not in (*FLASHES, 66, 67)]
    np.testing.assert_array_equal(image, night_frames[kept].max(axis=0))
    auto = vid2trail.stack(night_clip, start="auto", reject=5)
    assert auto.shape == (54, 96, 3) and auto.mean() < 100


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["{clip}", "--reject", "maybe"], 2, "Error: --reject 'maybe': use auto or none "
                                             "(or --reject-above K)"),
        (["{clip}", "--reject-above", "0"], 2, "Error: --reject-above 0.0: K must be a number "
                                               "above 0 (5 is a good start)"),
        (["{clip}", "--exclude", "9-4"], 2, "Error: --exclude '9-4': the range ends (frame 4) "
                                            "before it starts (frame 9); write FIRST-LAST, e.g. "
                                            "300-320"),
        (["{clip}", "--exclude", "0-199", "--reject", "auto"], 2,
         "Error: every selected frame (0-end) was excluded or rejected as a flash: exclude "
         "fewer frames, or raise --reject-above"),
        (["scan", "{clip}", "-o", "scan.gif"], 2, "Error: cannot write scan.gif: the picture can "
                                                  "be .jpeg, .jpg, .pdf, .png, .svg"),
        (["scan", "{clip}", "--size", "big"], 2, "Error: --size 'big': write WIDTHxHEIGHT in "
                                                 "pixels, e.g. 1400x800"),
        (["scan", "no-such.mp4"], 1, "Error: no-such.mp4 does not exist: check the path (a "
                                     "folder, or a quoted glob such as 'frames/*.jpg', also "
                                     "works)"),
    ],
)  # fmt: skip
def test_errors(args: list[str], code: int, message: str, night_clip: Path) -> None:
    result = invoke(*[a.replace("{clip}", str(night_clip)) for a in args])
    assert result.exit_code == code, result.output
    assert result.output.strip().splitlines()[-1] == message


def test_existing_picture_is_kept(night_clip: Path) -> None:
    Path("night-scan.png").write_bytes(b"mine")
    result = invoke("scan", night_clip)
    assert result.exit_code == 2
    assert result.output.strip() == (
        "Error: night-scan.png already exists: pass --overwrite (-y) to replace it"
    )
    assert Path("night-scan.png").read_bytes() == b"mine"


@pytest.mark.parametrize("target", ["night", "night/f1.png", "night/*.png"])
def test_scan_picture_never_overwrites_an_input_photo(target: str) -> None:
    write_folder(Path("night"), np.full((3, 8, 8, 3), 9, np.uint8))
    before = Path("night/f1.png").read_bytes()
    result = invoke("scan", target, "-o", "night/f1.png", "-y", "-q")
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        "Error: output night/f1.png is the input: choose another output name"
    )
    assert Path("night/f1.png").read_bytes() == before


def test_missing_matplotlib_is_one_error_line(night_clip: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = invoke("scan", night_clip)
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: the scan picture needs matplotlib: pip install 'vid2trail[scan]' (or use --json "
        "alone for the numbers)"
    )
    assert invoke("scan", night_clip, "--json", "-q").exit_code == 0


def test_help_lists_the_new_options() -> None:
    text = " ".join(invoke("stack", "--help").output.split())
    for option in ("--reject", "--reject-above", "--exclude", "or auto"):
        assert option in text
    text = " ".join(invoke("scan", "--help").output.split())
    for option in ("--output", "--json", "--reject-above", "--scan-width", "--size", "--stream"):
        assert option in text


@pytest.mark.skipif(not (SHARED_DATA / "night-sky-grayscale").is_dir(), reason="no shared data")
def test_real_night_sky_folder() -> None:
    result = invoke("scan", SHARED_DATA / "night-sky-grayscale", "-o", "sky.png", "--json", "-q")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["frames"] == 22 and data["fps"] is None
    assert read_rgb("sky.png").shape[:2] == (800, 1400)
