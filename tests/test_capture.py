"""Capture times: EXIF times of photos, a video's creation time, and what is done with them."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

import vid2trail
from vid2trail.sources import open_source
from vid2trail.sources.capture import creation_clock, parse_exif_time, read_capture_time

from conftest import encode, invoke, make_frames, read_rgb, write_folder

Image = pytest.importorskip("PIL.Image")

NIGHT = datetime(2026, 8, 12, 23, 50)


def exif_jpeg(
    path: Path, pixels: np.ndarray, when: datetime | None, subsec: str = "", offset: str = ""
) -> Path:
    """A JPEG whose EXIF says it was taken ``when`` (none: no EXIF time), in zone ``offset``."""
    exif = Image.Exif()
    if when is not None:
        ifd = exif.get_ifd(0x8769)  # the EXIF sub-IFD
        ifd[0x9003] = when.strftime("%Y:%m:%d %H:%M:%S")  # DateTimeOriginal
        if subsec:
            ifd[0x9291] = subsec  # SubSecTimeOriginal
        if offset:
            ifd[0x9011] = offset  # OffsetTimeOriginal
    Image.fromarray(pixels).save(path, exif=exif, quality=95)
    return path


def night_folder(folder: Path, minutes: list[float], names: list[str] | None = None) -> Path:
    """Photos taken ``minutes`` after 23:50 (so a night crosses midnight)."""
    folder.mkdir(parents=True, exist_ok=True)
    frames = make_frames(len(minutes), 32, 24)
    for k, minute in enumerate(minutes):
        name = names[k] if names else f"IMG_{k:04d}.jpg"
        exif_jpeg(folder / name, frames[k], NIGHT + timedelta(minutes=minute))
    return folder


def test_exif_times_are_read(tmp_path: Path) -> None:
    path = exif_jpeg(tmp_path / "a.jpg", make_frames(1)[0], NIGHT, subsec="25")
    assert read_capture_time(str(path))[0] == NIGHT + timedelta(seconds=0.25)
    assert read_capture_time(str(exif_jpeg(tmp_path / "b.jpg", make_frames(1)[0], None)))[0] is None
    assert parse_exif_time("2026:02:30 10:00:00") is None
    with open_source(night_folder(tmp_path / "n", [0, 1, 2])) as src:
        assert src.clock_times() == [NIGHT + timedelta(minutes=m) for m in (0, 1, 2)]


def test_sort_by_time(tmp_path: Path, in_tmp: Path) -> None:
    folder = night_folder(tmp_path / "two", [0, 1, 2, 3], ["b1.jpg", "b2.jpg", "a1.jpg", "a2.jpg"])
    result = invoke(folder, "--sort", "time", "--keogram", "k.png", "-o", "s.png", "-q")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        f"Note: {folder}: sorted by capture time, which orders 4 files differently from their "
        f"names (first: {folder}/b1.jpg before {folder}/a1.jpg)"
    )
    # Column k of the keogram is the k-th photo taken.
    with open_source(folder, sort="time") as src:
        assert [Path(f).name for f in src.files] == ["b1.jpg", "b2.jpg", "a1.jpg", "a2.jpg"]
    by_name = invoke(folder, "-o", "n.png", "-q")
    assert by_name.exit_code == 0
    assert by_name.output.splitlines()[0] == (
        f"Note: {folder}: the capture times order the files differently from their names "
        "(b1.jpg was taken before a2.jpg): --sort time follows the clock"
    )


def test_sort_by_time_needs_every_time(tmp_path: Path, in_tmp: Path) -> None:
    folder = night_folder(tmp_path / "n", [0, 1])
    exif_jpeg(folder / "IMG_0005.jpg", make_frames(1, 32, 24)[0], None)
    result = invoke(folder, "--sort", "time")
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: {folder}/IMG_0005.jpg has no capture time (EXIF DateTimeOriginal, or a date and "
        "time in its name): --sort time "
        "needs one in every image; sort by name (the default), or move it out"
    )
    assert invoke(folder, "--sort", "clock").output.strip() == (
        "Error: --sort 'clock': choose one of name, time"
    )


@pytest.mark.parametrize(
    ("start", "end", "frames"),
    [
        ("23:52", "00:01", list(range(2, 11))),  # across midnight
        ("T23:52", "T00:01", list(range(2, 11))),
        ("2026-08-13T00:00", None, list(range(10, 14))),
        (None, "23:51:30", [0, 1]),
    ],
)
def test_clock_windows_on_photos(
    tmp_path: Path, start: str | None, end: str | None, frames: list[int]
) -> None:
    folder = night_folder(tmp_path / "n", list(range(14)))
    keogram = vid2trail.keogram(folder, start=start, end=end)
    all_columns = vid2trail.keogram(folder)
    np.testing.assert_array_equal(keogram, all_columns[:, frames])


def test_clock_exclusions_on_photos(tmp_path: Path) -> None:
    folder = night_folder(tmp_path / "n", list(range(14)))
    keogram = vid2trail.keogram(folder, exclude="23:55-23:57,00:02")
    kept = [k for k in range(14) if k not in (5, 6, 7, 12)]
    np.testing.assert_array_equal(keogram, vid2trail.keogram(folder)[:, kept])


def test_a_clock_time_needs_capture_times(tmp_path: Path, in_tmp: Path) -> None:
    folder = write_folder(tmp_path / "plain", make_frames(3), ".png")
    result = invoke(folder, "--start", "22:30")
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"Error: --start '22:30' is a clock time, but {folder}/f0.png (and 2 more) has no capture "
        "time (EXIF DateTimeOriginal, or a date and time in its name): give a frame number instead"
    )
    clip = encode(make_frames(10), tmp_path / "plain.mkv")
    result = invoke(clip, "--exclude", "T22:30-T22:31")
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"Error: --exclude 'T22:30-T22:31' is a clock time, but {clip} carries no creation time: "
        "give frame numbers instead"
    )


def test_the_capture_interval_jumps(tmp_path: Path, in_tmp: Path) -> None:
    folder = night_folder(tmp_path / "n", [0, 0.5, 1, 1.5, 2, 7, 7.5, 8, 8.5])
    result = invoke(folder, "-q")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        f"Warning: {folder}: the capture interval jumps from 30 s to 5 min between IMG_0004.jpg "
        "(2026-08-12 23:52:00) and IMG_0005.jpg (2026-08-12 23:57:00): the trails have a gap there"
    )
    # Outside the frames stacked, a jump does not matter.
    assert not invoke(folder, "-q", "--start", "5", "-o", "b.png").output.startswith("Warning")


def test_keogram_ticks_from_capture_times(tmp_path: Path, in_tmp: Path) -> None:
    folder = night_folder(tmp_path / "n", [10 * k for k in range(20)])  # 23:50 to 02:60
    assert invoke(folder, "-q", "--keogram", "k.png").exit_code == 0
    ticked = read_rgb("k.png")
    assert ticked.shape == (24 + 24, 20, 3)
    strip = ticked[24:]
    # The hour ticks: 00:00 lies 1 column in (10 minutes of 10), 01:00 at 7, 02:00 at 13.
    assert strip[:6, [1, 7, 13]].min() == 255 and strip[:6, [0, 3, 10]].max() == 0


@pytest.fixture()
def utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


def test_a_videos_creation_time(tmp_path: Path, utc: None) -> None:
    clip = encode(make_frames(50), tmp_path / "c.mov", extra=("-metadata",
                  "creation_time=2026-08-12T22:30:00.000000Z"))  # fmt: skip
    with open_source(clip) as src:
        clocks = src.clock_times()
        assert clocks is not None and clocks[0] == datetime(2026, 8, 12, 22, 30)
        assert clocks[25] == datetime(2026, 8, 12, 22, 30, 1)
    every = vid2trail.keogram(clip)
    np.testing.assert_array_equal(vid2trail.keogram(clip, start="T22:30:01"), every[:, 25:])
    np.testing.assert_array_equal(vid2trail.keogram(clip, end="2026-08-12T22:30:01.2"),
                                  every[:, :30])  # fmt: skip
    # A plain 0:01 is still a time into the video.
    np.testing.assert_array_equal(vid2trail.keogram(clip, start="0:01"), every[:, 25:])
    assert creation_clock({"creation_time": "1970-01-01T00:00:00Z"}) == (None, None)
    # A time with a zone, moved onto the clock (here UTC).
    np.testing.assert_array_equal(vid2trail.keogram(clip, start="2026-08-12T23:30:01+01:00"),
                                  every[:, 25:])  # fmt: skip


def test_the_scan_shows_capture_times(tmp_path: Path, in_tmp: Path) -> None:
    pytest.importorskip("matplotlib")
    from vid2trail.scan import measure

    folder = night_folder(tmp_path / "n", [10 * k for k in range(20)])
    with open_source(folder) as src:
        table = measure(src, thumbnails=0)
    assert table.clock == [NIGHT + timedelta(minutes=10 * k) for k in range(20)]
    result = invoke("scan", folder, "-q", "-o", "scan.png")
    assert result.exit_code == 0, result.output
    assert read_rgb("scan.png").shape[:2] == (800, 1400)


def test_info_tells_the_capture_times(tmp_path: Path, utc: None) -> None:
    folder = night_folder(tmp_path / "n", [0, 1, 2], ["b.jpg", "a.jpg", "c.jpg"])
    lines = invoke("info", folder).stdout.splitlines()
    assert "captured: 2026-08-12T23:50:00 to 2026-08-12T23:52:00 (not in the names' order: " \
           "--sort time follows the clock)" in lines  # fmt: skip
    clip = encode(make_frames(5), tmp_path / "c.mov", extra=("-metadata",
                  "creation_time=2026-08-12T22:30:00Z"))  # fmt: skip
    assert "created:    2026-08-12T22:30:00" in invoke("info", clip).stdout.splitlines()


def test_an_all_sky_cameras_names_give_the_times(tmp_path: Path) -> None:
    folder = tmp_path / "allsky"
    folder.mkdir()
    frames = make_frames(4, 32, 24)
    for k, stamp in enumerate(["20260812_235800", "20260812_235900", "20260813_000000",
                               "20260813_000100"]):  # fmt: skip
        exif_jpeg(folder / f"ccd1_{stamp}.jpg", frames[k], None)  # no EXIF time
    with open_source(folder) as src:
        assert src.clock_times() == [datetime(2026, 8, 12, 23, 58) + timedelta(minutes=m)
                                     for m in range(4)]  # fmt: skip
    every = vid2trail.keogram(folder)
    np.testing.assert_array_equal(vid2trail.keogram(folder, start="00:00"), every[:, 2:])


def test_a_clock_time_with_a_zone(tmp_path: Path, in_tmp: Path) -> None:
    folder = tmp_path / "zoned"
    folder.mkdir()
    frames = make_frames(4, 32, 24)
    for k in range(4):
        exif_jpeg(folder / f"IMG_{k}.jpg", frames[k], NIGHT + timedelta(minutes=k), offset="+02:00")
    every = vid2trail.keogram(folder)
    # 21:52 UTC is 23:52 on a camera two hours ahead.
    np.testing.assert_array_equal(
        vid2trail.keogram(folder, start="2026-08-12T21:52Z"), every[:, 2:]
    )
    plain = night_folder(tmp_path / "plain", [0, 1, 2])
    result = invoke(plain, "--start", "2026-08-12T21:52Z")
    assert result.exit_code == 2
    assert result.output.strip() == (
        "Error: clock time '2026-08-12T21:52Z' has a time zone, but the capture times carry none: "
        "give the camera's own clock time, without the zone"
    )


def test_clock_times_on_files_out_of_capture_order(tmp_path: Path, in_tmp: Path) -> None:
    # IMG_0005 was taken first (22:50); the others a minute apart from 23:50.
    minutes = [0, 1, 2, 3, 4, -60, 5, 6]
    folder = night_folder(tmp_path / "back", minutes)
    every = vid2trail.keogram(folder)
    # An exclusion by the clock drops what was captured then, wherever it sorts by name.
    np.testing.assert_array_equal(vid2trail.keogram(folder, exclude="23:52-23:53"),
                                  every[:, [0, 1, 4, 5, 6, 7]])  # fmt: skip
    result = invoke(folder, "--start", "23:55")
    assert result.exit_code == 2
    assert result.output.strip() == (
        "Error: --start '23:55' is a clock time, but the frames are not in the order they were "
        "taken: add --sort time"
    )


def test_a_wrong_camera_date_does_not_move_the_night(tmp_path: Path, in_tmp: Path) -> None:
    folder = night_folder(tmp_path / "y2", list(range(10)))
    exif_jpeg(folder / "IMG_0000.jpg", make_frames(1, 32, 24)[0], datetime(2000, 1, 1, 0, 0))
    keogram = vid2trail.keogram(folder, start="23:55")
    np.testing.assert_array_equal(keogram, vid2trail.keogram(folder)[:, 5:])
    # A clock set to the last day of 9999: no traceback, no ticks.
    exif_jpeg(folder / "IMG_0001.jpg", make_frames(1, 32, 24)[0], datetime(9999, 12, 31, 23, 59))
    result = invoke(folder, "-q", "--keogram", "k.png", "--exclude", "23:55-23:56")
    assert result.exit_code == 0, result.output
    assert read_rgb("k.png").shape == (24, 8, 3)  # 10 frames, 2 excluded, no tick strip


def test_a_start_after_the_capture(tmp_path: Path, in_tmp: Path) -> None:
    folder = night_folder(tmp_path / "n", [0, 1, 2])
    result = invoke(folder, "--start", "23:59")
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: --start '23:59' (2026-08-12 23:59:00) is after the last capture "
        "(2026-08-12 23:52:00): give an earlier time"
    )


def test_a_lone_clock_time_with_a_negative_zone(tmp_path: Path) -> None:
    folder = tmp_path / "zoned"
    folder.mkdir()
    for k, frame in enumerate(make_frames(6, 32, 24)):
        exif_jpeg(folder / f"IMG_{k}.jpg", frame, NIGHT + timedelta(minutes=k), offset="-02:00")
    # 01:52 UTC is 23:52 on a camera two hours behind: frame 2 alone.
    keogram = vid2trail.keogram(folder, exclude="2026-08-13T01:52+00:00")
    np.testing.assert_array_equal(keogram, vid2trail.keogram(folder)[:, [0, 1, 3, 4, 5]])
    lone = vid2trail.keogram(folder, exclude="2026-08-12T23:52-02:00")
    np.testing.assert_array_equal(lone, keogram)


def test_keogram_ticks_of_a_keyframes_only_preview(tmp_path: Path, in_tmp: Path, utc: None) -> None:
    clip = encode(make_frames(600, 32, 24), tmp_path / "long.mp4", codec="libx264", fps=1.0,
                  extra=("-g", "20", "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-metadata",
                         "creation_time=2026-08-12T22:00:00Z"))  # fmt: skip
    result = invoke(clip, "--preview", "-q", "--keogram", "k.png", "-o", "p.png")
    assert result.exit_code == 0, result.output
    strip = read_rgb("k.png")[-24:]
    ticks = np.flatnonzero(strip[:6].max(axis=(0, 2)) == 255)
    # The keyframes are 20 s apart, so each minute lies 3 columns further on: 10 ticks.
    assert len(ticks) == 10 and set(np.diff(ticks)) == {3}
