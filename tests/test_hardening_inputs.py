"""Inputs that must not fool a run: vid2trail's own earlier result in the input folder, and a
master dark whose channels are not the frames' own."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest

import vid2trail
from vid2trail.errors import SourceError
from vid2trail.sources import open_source
from vid2trail.sources import own as own_module
from vid2trail.sources.own import SIGNATURE_BYTES, leave_out_own, wrote_it
from vid2trail.writers import write_still

from conftest import invoke, make_frames, read_rgb, write_folder

FRAMES = ["f0.png", "f1.png", "f2.png", "f3.png", "f4.png"]
NAME_IT = "name it alone to stack it"


@pytest.fixture()
def tmpdir_env(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty TMPDIR for the test, so that anything left in it shows."""
    folder = in_tmp / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
    return folder


def hashes(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` and the SHA-256 of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def skipped(where: str, *names: str) -> str:
    """The note a folder's source gives for the images vid2trail wrote itself."""
    if len(names) == 1:
        return f"Note: {where}: skipped 1 image vid2trail wrote itself ({names[0]}): {NAME_IT}\n"
    return (f"Note: {where}: skipped {len(names)} images vid2trail wrote itself "
            f"({', '.join(names)}): name one alone to stack it\n")  # fmt: skip


# --- an earlier result in the input folder ------------------------------------------------------


@pytest.mark.parametrize("ext", [".png", ".tif", ".jpg"])
def test_a_second_run_leaves_out_the_first_runs_still(tmpdir_env: Path, ext: str) -> None:
    write_folder(Path("night"), make_frames(5))
    inputs = hashes(Path("night"))
    out = f"night/trails{ext}"
    first = invoke("night", "-o", out)
    assert first.exit_code == 0, first.output
    assert (first.stdout, first.stderr) == (f"{out}\n", "")
    assert wrote_it(out)
    pixels = read_rgb(out)
    second = invoke("night", "-o", out, "-y")
    assert second.exit_code == 0, second.output
    assert second.stdout == f"{out}\n"
    assert second.stderr == skipped("night", out)
    np.testing.assert_array_equal(read_rgb(out), pixels)
    # A third run under another name sees the same five frames.
    third = invoke("night", "-o", f"night/again{ext}")
    assert third.exit_code == 0, third.output
    assert third.stderr == skipped("night", out)
    np.testing.assert_array_equal(read_rgb(f"night/again{ext}"), pixels)
    assert sorted(os.listdir("night")) == sorted([*FRAMES, f"again{ext}", f"trails{ext}"])
    assert {k: v for k, v in hashes(Path("night")).items() if k in FRAMES} == inputs
    assert os.listdir(tmpdir_env) == []
    assert sorted(os.listdir(".")) == ["night", "tmp"]


def test_several_earlier_results_are_counted_and_the_first_named(tmpdir_env: Path) -> None:
    write_folder(Path("night"), make_frames(5))
    for name in ("trails.png", "trails.tif", "trails.jpg", "trails2.png"):
        assert invoke("night", "-o", f"night/{name}").exit_code == 0
    inputs = hashes(Path("night"))
    result = invoke("night", "-o", "all.png")
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "Note: night: skipped 4 images vid2trail wrote itself (night/trails2.png, "
        "night/trails.jpg, night/trails.png and 1 more): name one alone to stack it\n"
    )
    np.testing.assert_array_equal(read_rgb("all.png"), read_rgb("night/trails.png"))
    assert hashes(Path("night")) == inputs
    assert os.listdir(tmpdir_env) == []


def test_a_glob_leaves_them_out_too_and_an_image_named_alone_is_stacked(tmpdir_env: Path) -> None:
    write_folder(Path("night"), make_frames(5))
    assert invoke("night", "-o", "night/trails.png").exit_code == 0
    inputs = hashes(Path("night"))
    result = invoke("night/*.png", "-o", "glob.png")
    assert result.exit_code == 0, result.output
    assert result.stderr == skipped("night/*.png", "night/trails.png")
    np.testing.assert_array_equal(read_rgb("glob.png"), read_rgb("night/trails.png"))
    alone = invoke("night/trails.png", "-o", "alone.png")
    assert alone.exit_code == 0, alone.output
    assert alone.stderr == ""
    np.testing.assert_array_equal(read_rgb("alone.png"), read_rgb("night/trails.png"))
    assert hashes(Path("night")) == inputs
    assert sorted(os.listdir(".")) == ["alone.png", "glob.png", "night", "tmp"]
    assert os.listdir(tmpdir_env) == []


@pytest.mark.parametrize(
    ("path", "where"), [("results", "folder results"), ("results/*.png", "pattern results/*.png")]
)
def test_a_folder_of_only_its_own_results_says_so(tmpdir_env: Path, path: str, where: str) -> None:
    write_folder(Path("night"), make_frames(3))
    Path("results").mkdir()
    assert invoke("night", "-o", "results/trails.png").exit_code == 0
    inputs = hashes(Path("results"))
    result = invoke(path, "-o", "x.png")
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        f"Error: no images in {where} but 1 image vid2trail wrote itself (results/trails.png): "
        f"{NAME_IT}\n"
    )
    assert hashes(Path("results")) == inputs
    assert sorted(os.listdir(".")) == ["night", "results", "tmp"]
    assert os.listdir(tmpdir_env) == []


def test_the_library_source_notes_what_it_left_out(in_tmp: Path) -> None:
    write_folder(Path("night"), make_frames(4))
    write_still("night/mine.png", make_frames(1)[0], metadata={"software": "vid2trail 9"})
    with open_source("night") as source:
        assert source.files == tuple(f"night/f{k}.png" for k in range(4))
        assert source.info.frame_count == 4
        assert source.info.notes == (
            f"skipped 1 image vid2trail wrote itself (night/mine.png): {NAME_IT}",
        )
    with open_source("night/mine.png") as source:
        assert source.files == ("night/mine.png",) and source.info.notes == ()
    with pytest.raises(SourceError):
        open_source("night/mine*.png")


def big_noise(size: int = 800) -> np.ndarray:
    return np.random.default_rng(5).integers(0, 256, (size, size, 3), dtype=np.uint8)


def test_only_vid2trails_own_signature_counts(in_tmp: Path) -> None:
    pixels = big_noise()
    meta = {"software": "vid2trail 9", "mode": "max"}
    for name in ("own.png", "own.jpg", "own.tif"):
        write_still(name, pixels, metadata=meta)
    for name in ("plain.png", "plain.jpg", "plain.tif"):
        cv2.imwrite(name, pixels)
    write_still("nometa.png", pixels)
    # Another program's comment, and a TIFF whose description merely mentions vid2trail.
    jpeg = Path("plain.jpg").read_bytes()
    text = b"made with a camera, not vid2trail"
    comment = b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text
    Path("other.jpg").write_bytes(jpeg[:2] + comment + jpeg[2:])
    import tifffile

    tifffile.imwrite("other.tif", pixels, description="stacked later by vid2trail")
    Path("broken.png").write_bytes(b"")
    Path("broken.jpg").write_bytes(b"\xff\xd8\xff")
    Path("broken.tif").write_bytes(b"II*\x00garbage")
    assert Path("own.png").stat().st_size > 2 * SIGNATURE_BYTES  # the chunk is near the end
    names = sorted(os.listdir("."))
    kept, own = leave_out_own(names)
    assert own == ["own.jpg", "own.png", "own.tif"]
    assert set(kept) == set(names) - set(own)


def test_each_file_costs_one_open_and_one_small_read(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pixels = big_noise(1200)
    for ext in (".png", ".jpg"):
        write_still(f"own{ext}", pixels, metadata={"software": "vid2trail 9"})
        cv2.imwrite(f"plain{ext}", pixels)
    read: list[tuple[str, int]] = []

    class Counting:
        def __init__(self, path: str, mode: str) -> None:
            self.handle = open(path, mode)  # noqa: SIM115
            self.path = path

        def __enter__(self) -> Counting:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def seek(self, *args: int) -> int:
            return self.handle.seek(*args)

        def read(self, size: int = -1) -> bytes:
            data = self.handle.read(size)
            read.append((self.path, len(data)))
            return data

    monkeypatch.setattr(own_module, "open", Counting, raising=False)
    names = ["own.png", "own.jpg", "plain.png", "plain.jpg"]
    assert all(Path(n).stat().st_size > 10 * SIGNATURE_BYTES for n in names)
    assert leave_out_own(names) == (["plain.png", "plain.jpg"], ["own.png", "own.jpg"])
    assert [name for name, _ in read] == names
    assert all(size == SIGNATURE_BYTES for _, size in read)


def test_a_dark_folder_leaves_out_its_master_and_says_so(tmpdir_env: Path) -> None:
    write_folder(Path("lights"), make_frames(4))
    darks = np.random.default_rng(2).integers(0, 8, (3, 48, 64, 3), dtype=np.uint8)
    write_folder(Path("darks"), darks)
    assert invoke("darks", "-m", "median", "-o", "plain.npy", "--bit-depth", "32").exit_code == 0
    made = invoke("darks", "-m", "median", "-o", "darks/master.png")
    assert made.exit_code == 0, made.output
    inputs = hashes(Path("darks"))
    with_master = invoke("lights", "--dark", "darks", "-o", "a.npy", "--bit-depth", "32")
    assert with_master.exit_code == 0, with_master.output
    assert with_master.stderr == (
        "Warning: the dark darks: skipped 1 image vid2trail wrote itself (darks/master.png): "
        f"{NAME_IT}\n"
    )
    without = invoke("lights", "--dark", "plain.npy", "-o", "b.npy", "--bit-depth", "32")
    assert without.exit_code == 0 and without.stderr == ""
    np.testing.assert_array_equal(np.load("a.npy"), np.load("b.npy"))
    assert hashes(Path("darks")) == inputs
    assert os.listdir(tmpdir_env) == []


# --- a master dark must have the frames' own channels -------------------------------------------


def grey_frames(count: int = 4) -> np.ndarray:
    return make_frames(count)[:, :, :, :1]


@pytest.mark.parametrize(
    ("frames", "dark", "message"),
    [
        (make_frames(4), grey_frames(3),
         "the dark darks is grey (1 channel) but the frames are colour (3 channels)"),
        (grey_frames(), make_frames(3),
         "the dark darks is colour (3 channels) but the frames are grey (1 channel)"),
    ],
)  # fmt: skip
def test_a_dark_with_other_channels_is_refused_both_ways(
    tmpdir_env: Path, frames: np.ndarray, dark: np.ndarray, message: str
) -> None:
    write_folder(Path("lights"), frames)
    write_folder(Path("darks"), dark)
    inputs = hashes(Path("."))
    result = invoke("lights", "--dark", "darks", "-o", "x.png")
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        f"Error: {message}: a dark must have the frames' own channels; use darks taken with the "
        "same camera and settings\n"
    )
    assert hashes(Path(".")) == inputs
    assert sorted(os.listdir(".")) == ["darks", "lights", "tmp"]
    assert os.listdir(tmpdir_env) == []


@pytest.mark.parametrize("master", ["dark.png", "dark.tif", "dark.npy"])
def test_a_master_dark_file_with_other_channels_is_refused(tmpdir_env: Path, master: str) -> None:
    write_folder(Path("lights"), grey_frames())
    colour = np.full((48, 64, 3), 3, np.uint8)
    if master.endswith(".npy"):
        np.save(master, colour)
    else:
        cv2.imwrite(master, colour)
    inputs = hashes(Path("."))
    result = invoke("lights", "--dark", master, "-o", "x.png")
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        f"Error: the dark {master} is colour (3 channels) but the frames are grey (1 channel): a "
        "dark must have the frames' own channels; use darks taken with the same camera and "
        "settings\n"
    )
    assert hashes(Path(".")) == inputs and not Path("x.png").exists()
    assert os.listdir(tmpdir_env) == []


def test_the_size_message_is_unchanged_and_matching_darks_work(tmpdir_env: Path) -> None:
    write_folder(Path("lights"), grey_frames())
    write_folder(Path("small"), grey_frames(2)[:, :6, :8])
    result = invoke("lights", "--dark", "small", "-o", "x.png")
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        "Error: the dark small is 8x6 with 1 channel(s) but the frames are 64x48 with 1: use "
        "darks taken with the same camera, resolution and orientation\n"
    )
    write_folder(Path("darks"), grey_frames(3))
    result = invoke("lights", "--dark", "darks", "-o", "x.png")
    assert result.exit_code == 0, result.output
    assert result.stderr == "" and read_rgb("x.png").shape == (48, 64)
    assert os.listdir(tmpdir_env) == []


def test_the_library_refuses_a_grey_array_dark_for_colour_frames(in_tmp: Path) -> None:
    write_folder(Path("lights"), make_frames(3))
    with pytest.raises(SourceError) as caught:
        vid2trail.stack("lights", dark=np.zeros((48, 64), np.float32))
    assert str(caught.value) == (
        "the dark is grey (1 channel) but the frames are colour (3 channels): a dark must have "
        "the frames' own channels; use darks taken with the same camera and settings"
    )
