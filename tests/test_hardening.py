"""Awkward inputs and outputs, through the command line: names that are not UTF-8 or hold colons,
paths too long or looping, recursive globs, a full disk, and options that cannot apply. Each test
checks the exit code, the exact message, that nothing is left behind (the output folder and the
temporary folder are listed) and that the inputs are untouched."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from vid2trail.embed import read_png_text

from conftest import encode, invoke, read_rgb, write_folder

#: A name a camera script writes (colons) on a stick formatted long ago (Latin-1 bytes).
ODD = os.fsdecode(b"caf\xe9 2024-01-01T22:00:00")


@pytest.fixture()
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run in ``tmp_path/work`` with ``TMPDIR`` at ``tmp_path/tmp``, which must end empty."""
    work, temp = tmp_path / "work", tmp_path / "tmp"
    work.mkdir()
    temp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("TMPDIR", str(temp))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    yield work
    assert os.listdir(temp) == []


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def listing(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


def test_every_command_with_a_name_that_is_not_utf8_and_holds_colons(
    scratch: Path, lossless_clip: Path, frames40: np.ndarray
) -> None:
    clip = scratch / f"{ODD}.mkv"
    shutil.copy(lossless_clip, clip)
    before = digest(clip)
    result = invoke(clip.name, "-q", "--sidecar", "--end", "10")
    assert result.exit_code == 0, result.output
    still = f"{ODD}-max.png"
    assert result.stdout_bytes == os.fsencode(f"{still}\n{still}.json\n")
    np.testing.assert_array_equal(read_rgb(still), frames40[:10].max(axis=0))
    # The provenance names the very file, in the sidecar and inside the PNG.
    assert json.loads(Path(f"{still}.json").read_text())["source"] == clip.name
    text = read_png_text(Path(still).read_bytes())["vid2trail"]
    assert json.loads(text)["source_absolute"] == str(clip)
    result = invoke(clip.name, "-q", "-o", f"{ODD}.npy", "--dark", clip.name, "--end", "4")
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == os.fsencode(f"{ODD}.npy\n")
    info = invoke("info", clip.name)
    assert info.exit_code == 0 and os.fsencode(f"path:       {clip.name}") in info.stdout_bytes
    assert invoke("info", clip.name, "--json").exit_code == 0
    scan = invoke("scan", clip.name, "-q")
    assert scan.exit_code == 0, scan.output
    assert scan.stdout_bytes == os.fsencode(f"{ODD}-scan.png\n")
    missing = invoke(f"{ODD}-gone.mkv", "-q")
    assert missing.exit_code == 1
    assert missing.stderr_bytes.startswith(os.fsencode(f"Error: {ODD}-gone.mkv does not exist"))
    assert digest(clip) == before
    assert listing(scratch) == sorted(
        [clip.name, still, f"{still}.json", f"{ODD}.npy", f"{ODD}-scan.png"]
    )


def test_a_path_too_long_for_the_system_is_not_called_missing(scratch: Path) -> None:
    long_name = "a" * 300 + ".mp4"
    result = invoke(long_name, "-q")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: cannot read {long_name}: the path is longer than this system allows (at most "
        f"{os.pathconf('/', 'PC_PATH_MAX')} bytes, {os.pathconf('/', 'PC_NAME_MAX')} a name): "
        "move it to a shorter folder or rename it\n"
    )
    assert listing(scratch) == []


def test_links_that_lead_nowhere(scratch: Path) -> None:
    Path("dangling.mp4").symlink_to("nowhere.mp4")
    result = invoke("dangling.mp4", "-q")
    assert result.exit_code == 1
    assert result.output == (
        "Error: dangling.mp4 is a link to nowhere.mp4, which does not exist: fix the link\n"
    )
    Path("a.mp4").symlink_to("b.mp4")
    Path("b.mp4").symlink_to("a.mp4")
    result = invoke("a.mp4", "-q")
    assert result.exit_code == 1
    assert (
        result.output == "Error: cannot read a.mp4: its links lead round in a loop: fix the links\n"
    )
    assert listing(scratch) == ["a.mp4", "b.mp4", "dangling.mp4"]


def test_a_recursive_glob_stacks_every_folder_and_is_named_after_its_root(
    scratch: Path, frames40: np.ndarray
) -> None:
    write_folder(scratch / "nights" / "one", frames40[:3])
    write_folder(scratch / "nights" / "two", frames40[3:6], pattern="g{}")
    result = invoke("nights/**/*.png", "-q")
    assert result.exit_code == 0, result.output
    assert result.stdout == "nights-max.png\n"
    np.testing.assert_array_equal(read_rgb("nights-max.png"), frames40[:6].max(axis=0))
    result = invoke("**/f1.png", "-q")
    assert result.exit_code == 0, result.output
    assert result.stdout == "work-max.png\n"
    np.testing.assert_array_equal(read_rgb("work-max.png"), frames40[1])


@contextlib.contextmanager
def tiny_disk(folder: Path, size: str = "64k") -> Iterator[Path]:
    """A real filesystem of ``size`` bytes (tmpfs), where the machine allows mounting one."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip("mounting a small tmpfs needs privileges this machine does not give")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@pytest.mark.skipif(shutil.which("mount") is None, reason="no mount command")
@pytest.mark.parametrize("ext", [".png", ".tif", ".npy", ".jpg"])
def test_a_full_disk_names_the_output_and_the_free_space_once(
    scratch: Path, tmp_path: Path, lossless_clip: Path, ext: str
) -> None:
    big = noise_clip(tmp_path / "big.mkv")
    with tiny_disk(tmp_path / "disk") as disk:
        out = disk / f"out{ext}"
        result = invoke(big, "-q", "-o", out)
        assert result.exit_code == 1
        [line] = result.stderr.splitlines()
        assert line.startswith(f"Error: cannot write {out}: the disk is full (")
        assert "needed): free some space or write it elsewhere" in line
        assert result.stdout == "" and os.listdir(disk) == []


@pytest.mark.skipif(shutil.which("mount") is None, reason="no mount command")
def test_when_one_output_fails_the_message_says_which_were_written(
    scratch: Path, tmp_path: Path
) -> None:
    big = noise_clip(tmp_path / "big.mkv")
    with tiny_disk(tmp_path / "disk", "1m") as disk:
        still, frames = disk / "still.png", disk / "frames.npy"
        result = invoke(big, "-q", "-o", still, "--argmax", frames)
        assert result.exit_code == 1
        assert result.stdout == f"{still}\n"
        [line] = result.stderr.splitlines()
        assert line.startswith(f"Error: cannot write {frames}: the disk is full (")
        assert line.endswith(f"(already written: {still})")
        assert os.listdir(disk) == ["still.png"]


def noise_clip(path: Path) -> Path:
    """Three frames of 640x480 noise: no format compresses them below the small disk."""
    frames = np.random.default_rng(7).integers(0, 256, (3, 480, 640, 3), dtype=np.uint8)
    return encode(frames, path)


@pytest.mark.parametrize(
    ("args", "note"),
    [
        (["--end", "900"], "Note: --end 900 (frame 900) is past the last frame of {clip} "
                           "(40 frames (1.60 s)): stacking to the end"),
        (["--step", "50"], "Note: --step 50 is longer than the window (frames 0-40): it keeps "
                           "only frame 0"),
        (["--exclude", "100-120"], "Note: --exclude 100-120 names no frame that was to be "
                                   "stacked: nothing was excluded"),
        (["--memory", "1GB"], "Note: --memory applies to --mode median (and to a dark made from "
                              "several frames); a max stack does not use it"),
        (["--kappa", "2"], "Note: --kappa applies to --mode sigma and winsor; a max stack does "
                           "not use it"),
        (["--buffers", "2"], "Note: --buffers applies to --mode maxmean; a max stack does not "
                             "use it"),
        (["--quality", "50"], "Note: --quality applies to JPEG stills; out.png is not one"),
    ],
)  # fmt: skip
def test_options_that_cannot_apply_get_a_note(
    scratch: Path, lossless_clip: Path, args: list[str], note: str
) -> None:
    result = invoke(lossless_clip, "-q", "-o", "out.png", *args)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [note.format(clip=lossless_clip)]
    assert listing(scratch) == ["out.png"]


def test_video_options_on_a_folder_get_a_note(scratch: Path, frames40: np.ndarray) -> None:
    write_folder(scratch / "night", frames40[:3])
    result = invoke("night", "-q", "--stream", "1", "--hdr", "keep")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "Note: --stream applies to video; night is images: ignored",
        "Note: --hdr applies to video; night is images: ignored",
    ]


def test_hwaccel_cuda_on_a_codec_nvdec_cannot_decode_is_one_line(
    scratch: Path, lossless_clip: Path
) -> None:
    result = invoke(lossless_clip, "-q", "--hwaccel", "cuda")  # FFV1: no NVDEC decoder
    assert (
        result.exit_code == 2
        and result.exception is None
        or isinstance(result.exception, SystemExit)
    )
    [line] = result.output.splitlines()
    assert line.startswith("Error: --hwaccel cuda: ") and line.endswith(
        "; use --hwaccel auto or none"
    )
    assert listing(scratch) == []


def test_a_folder_given_as_the_still_and_a_missing_dark_say_so(
    scratch: Path, lossless_clip: Path
) -> None:
    Path("stills").mkdir()
    result = invoke(lossless_clip, "-q", "-o", "stills")
    assert (result.exit_code, result.output) == (
        2, "Error: cannot write stills: it is a folder; give a file name in it, e.g. "
        "stills/result.png\n",
    )  # fmt: skip
    result = invoke(lossless_clip, "-q", "--dark", "nodark.png")
    assert result.exit_code == 1
    assert result.output == (
        "Error: --dark nodark.png does not exist: check the path (a folder, or a quoted glob "
        "such as 'frames/*.jpg', also works)\n"
    )
    assert listing(scratch) == ["stills"]
