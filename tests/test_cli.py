"""The command line through typer's CliRunner: outputs, exit codes and the exact Error: lines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from vid2trail import __version__
from vid2trail.color import linear_to_srgb, srgb_to_linear
from vid2trail.outputs import default_stem

from conftest import invoke, make_frames, python_prints, read_rgb, write_folder

pytestmark = pytest.mark.usefixtures("in_tmp")


def test_default_output_name_and_stdout(lossless_clip: Path, frames40: np.ndarray) -> None:
    result = invoke(lossless_clip, "--start", "5", "--end", "30", "-q")
    assert result.exit_code == 0, result.output
    assert result.stdout == "dots-max.png\n"
    np.testing.assert_array_equal(read_rgb(Path("dots-max.png")), frames40[5:30].max(axis=0))


def test_time_window_step_and_min(lossless_clip: Path, frames40: np.ndarray) -> None:
    # 0.2 s .. 1.2 s at 25 fps is frames 5 <= f < 30.
    result = invoke(lossless_clip, "--start", "0.2s", "--end", "0:01.2", "--step", "3",
                    "--mode", "min", "-o", "low.png")  # fmt: skip
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_rgb(Path("low.png")), frames40[5:30:3].min(axis=0))


def test_mean_sixteen_bit_within_one_level(png_folder: Path, frames40: np.ndarray) -> None:
    result = invoke(png_folder, "--mode", "mean", "-o", "mean.tif", "--bit-depth", "16")
    assert result.exit_code == 0, result.output
    got = read_rgb(Path("mean.tif"))
    assert got.dtype == np.uint16
    want = linear_to_srgb(srgb_to_linear(frames40 / 255.0).mean(axis=0))
    assert np.abs(got / 65535.0 - want).max() <= 1 / 65535


def test_sum_is_normalized_and_npy_keeps_floats(png_folder: Path) -> None:
    result = invoke(png_folder, "--mode", "sum", "-o", "sum.png")
    assert result.exit_code == 0, result.output
    image = read_rgb(Path("sum.png"))
    assert image.max() == 255 and 0 < (image == 255).mean() < 0.05
    assert invoke(png_folder, "--mode", "max", "-o", "max.npy").exit_code == 0
    assert np.load("max.npy").shape == (48, 64, 3)


def test_windows_in_one_pass(lossless_clip: Path, frames40: np.ndarray) -> None:
    result = invoke(lossless_clip, "--window", "0:10", "--window", "20:40", "-q")
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == ["dots-max-0-10.png", "dots-max-20-40.png"]
    np.testing.assert_array_equal(read_rgb(Path("dots-max-20-40.png")),
                                  frames40[20:40].max(axis=0))  # fmt: skip


def test_glob_jpeg_output_and_gain(tmp_path: Path) -> None:
    write_folder(tmp_path / "HighRes", make_frames(5), ".jpg")
    result = invoke(str(tmp_path / "HighRes" / "*.jpg"), "-o", "longexpo.jpg", "--quality", "90",
                    "--gain", "2")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert read_rgb(Path("longexpo.jpg")).shape == (48, 64, 3)
    assert default_stem(str(tmp_path / "HighRes" / "*.jpg")) == "HighRes"


def test_retired_opencv_backend_decodes_with_pyav_and_says_so(h264_clip: Path) -> None:
    a = invoke(h264_clip, "-o", "a.png")
    b = invoke(h264_clip, "-o", "b.png", "--backend", "opencv")
    c = invoke(h264_clip, "-o", "c.png", "--backend", "ffmpeg")
    assert a.exit_code == b.exit_code == c.exit_code == 0
    assert a.stderr == c.stderr == ""
    assert b.stderr == (f"Note: {h264_clip}: --backend opencv is retired: PyAV decodes "
                        "in-process, faster and with 10-bit, HDR, stream choice and exact frame "
                        "times; decoding with PyAV\n")  # fmt: skip
    np.testing.assert_array_equal(read_rgb(Path("a.png")), read_rgb(Path("b.png")))
    np.testing.assert_array_equal(read_rgb(Path("a.png")), read_rgb(Path("c.png")))


def test_help_and_version() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for option in ("--start", "--end", "--step", "--window", "--mode", "--normalize", "--gain",
                   "--bit-depth", "--quality", "--backend", "--overwrite", "--quiet"):  # fmt: skip
        assert option in text
    assert "half-open: start <= frame < end" in text
    assert invoke("--version").stdout == f"vid2trail {__version__}\n"


def errors_of(result) -> list[str]:
    return [line for line in result.output.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["{clip}", "--start", "30", "--end", "10"],
            2,
            "Error: --start 30 (frame 30) is not before --end 10 (frame 10): the window is "
            "half-open, start <= frame < end; give an end after the start",
        ),
        (
            ["{clip}", "--start", "soon"],
            2,
            "Error: cannot read --start 'soon': give a frame number (120), a time (90s, 4.5s, "
            "2:00, 1:02:03.5) or a clock time (T22:30, 2026-08-12T22:30)",
        ),
        (
            ["{clip}", "--mode", "brightest"],
            2,
            "Error: unknown --mode 'brightest': choose one of max, min, mean, sum, sigma, "
            "winsor, median, maxmean",
        ),
        (
            ["{clip}", "-o", "out.gif"],
            2,
            "Error: cannot write out.gif: unsupported extension '.gif'; use .fit, .fits, .fts, "
            ".jpeg, .jpg, .npy, .png, .tif or .tiff",
        ),
        (
            ["{clip}", "-o", "missing/out.png"],
            2,
            "Error: cannot write missing/out.png: the folder missing does not exist; create it "
            "first",
        ),
        (
            ["{clip}", "-o", "out.jpg", "--bit-depth", "16"],
            2,
            "Error: --bit-depth 16 does not suit out.jpg (jpeg takes 8); use .png or .tif for "
            "16-bit",
        ),
        (
            ["{clip}", "--normalize", "brightest"],
            2,
            "Error: --normalize 'brightest' is not understood: use none, max, or a percentile "
            "such as p99.5",
        ),
        (
            ["{clip}", "--backend", "vlc"],
            2,
            "Error: unknown --backend 'vlc': choose one of auto, pyav, ffmpeg",
        ),
        (
            ["{clip}", "--start", "100"],
            1,
            "Error: --start frame 100 is past the last frame of {clip}: it has 40 frames "
            "(1.60 s); give a smaller --start",
        ),
        (
            ["{clip}", "--start", "1:00"],
            1,
            "Error: --start frame 1500 is past the last frame of {clip}: it has 40 frames "
            "(1.60 s); give a smaller --start",
        ),
        (
            ["nothing.mp4"],
            1,
            "Error: nothing.mp4 does not exist: check the path (a folder, or a quoted glob such "
            "as 'frames/*.jpg', also works)",
        ),
        (
            ["http://example.com/iss.mp4"],
            2,
            "Error: input 'http://example.com/iss.mp4' looks like a URL or an ffmpeg protocol; "
            "only local files and folders are read: download it first",
        ),
    ],
)
def test_errors_are_one_line(lossless_clip: Path, args: list[str], code: int,
                             message: str) -> None:  # fmt: skip
    result = invoke(*[a.format(clip=lossless_clip) for a in args])
    assert result.exit_code == code
    assert errors_of(result) == [message.format(clip=lossless_clip)]
    assert "Traceback" not in result.output


def test_not_a_video_is_one_line(tmp_path: Path) -> None:
    fake = tmp_path / "renamed.mp4"
    fake.write_text("hello\n")
    result = invoke(fake)
    assert result.exit_code == 1
    [line] = errors_of(result)
    assert line == (
        f"Error: {fake} is not a video FFmpeg can read (Invalid data found when "
        "processing input); check that the file is complete"
    )


def test_folder_errors_through_cli(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = invoke(tmp_path / "empty")
    assert result.exit_code == 1
    assert errors_of(result) == [
        f"Error: no images in folder {tmp_path / 'empty'}: vid2trail reads .jpeg, .jpg, .png, "
        ".tif, .tiff and RAW (.arw, .cr2, .cr3, .dng, .nef, .orf, .pef, .raf, .rw2) files"
    ]
    folder = write_folder(tmp_path / "mixed", make_frames(3))
    cv2.imwrite(str(folder / "f10.png"), np.zeros((8, 8, 3), np.uint8))
    result = invoke(folder, "-o", "mixed.png")
    assert result.exit_code == 1
    assert errors_of(result) == [
        f"Error: {folder / 'f10.png'} is 8x8 but {folder / 'f0.png'} is 64x48: every image must "
        "have the same size; move it out or select the others with a glob"
    ]
    assert not Path("mixed.png").exists()


def test_existing_output_needs_overwrite(lossless_clip: Path) -> None:
    Path("keep.png").write_bytes(b"precious")
    result = invoke(lossless_clip, "-o", "keep.png")
    assert result.exit_code == 2
    assert errors_of(result) == [
        "Error: keep.png already exists: pass --overwrite (-y) to replace it"
    ]
    assert Path("keep.png").read_bytes() == b"precious"
    assert invoke(lossless_clip, "-o", "keep.png", "-y").exit_code == 0
    assert Path("keep.png").read_bytes() != b"precious"


def test_output_may_not_be_the_input(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "shots", make_frames(3))
    before = (folder / "f1.png").read_bytes()
    result = invoke(folder, "-o", folder / "f1.png", "-y")
    assert result.exit_code == 2
    assert errors_of(result) == [f"Error: output {folder / 'f1.png'} is the input: choose another "
                                 "output name"]  # fmt: skip
    assert (folder / "f1.png").read_bytes() == before


def test_interrupt_leaves_no_file(lossless_clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import vid2trail.writers as writers

    def boom(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(writers.np, "save", boom)
    result = invoke(lossless_clip, "-o", "partial.npy")
    assert result.exit_code == 130
    assert "Interrupted: no half-written file was left behind." in result.output
    assert os.listdir(".") == []


def test_interrupt_while_decoding(lossless_clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import vid2trail.pipeline as pipeline

    real = pipeline.make_reducer

    from vid2trail.reducer import ReducerBase

    class Stop(ReducerBase):
        def __init__(self, mode: str, **params: object) -> None:
            self.inner = real(mode, **params)
            self.name, self.linear, self.count = self.inner.name, self.inner.linear, 0

        def update(self, pixels: np.ndarray) -> None:
            if self.inner.count == 3:
                raise KeyboardInterrupt
            self.inner.update(pixels)

    monkeypatch.setattr(pipeline, "make_reducer", Stop)
    result = invoke(lossless_clip, "-o", "never.png")
    assert result.exit_code == 130
    assert os.listdir(".") == []


def test_python_dash_m(lossless_clip: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "vid2trail", "--help"], capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert done.returncode == 0 and "--start" in done.stdout


def test_sigterm_cleans_up_like_ctrl_c(
    lossless_clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `kill`, `timeout` or a scheduler stopping the run: before, the default action killed the
    # process on the spot and left the hidden temporary video (and a median's scratch file).
    import signal

    from vid2trail.reducers import MaxReducer

    real = MaxReducer.update

    def update(self: MaxReducer, pixels: np.ndarray) -> None:
        if self.count == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        real(self, pixels)

    monkeypatch.setattr(MaxReducer, "update", update)
    before = signal.getsignal(signal.SIGTERM)
    result = invoke(lossless_clip, "-o", "never.png", "--video", "never.mp4")
    assert result.exit_code == 143
    assert "Terminated: no half-written file was left behind." in result.output
    assert os.listdir(".") == []
    assert signal.getsignal(signal.SIGTERM) == before  # the handler lives only while a command runs


def test_the_command_runs_openblas_on_one_thread_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # numpy's OpenBLAS starts a thread a core that spins as it starts (0.15 CPU s a process on
    # two cores); the command's linear algebra is 3x3 matrices. A user's own setting stands.
    code = "import vid2trail.cli, os\nprint(os.environ['OPENBLAS_NUM_THREADS'])"
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    assert python_prints(code) == "1\n"
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    assert python_prints(code) == "3\n"


def test_a_quiet_run_loads_no_progress_bar_and_no_exif_reader(
    lossless_clip: Path, tmp_path: Path
) -> None:
    # rich (the bar) and exifread (photos' times) are loaded where they are used: a quiet stack
    # of a video, the common scripted run, starts without them.
    out = tmp_path / "quiet.png"
    code = (
        "import sys\n"
        "import vid2trail.cli\n"
        f"sys.argv = ['vid2trail', {str(lossless_clip)!r}, '-q', '-o', {str(out)!r}]\n"
        "try:\n"
        "    vid2trail.cli.run()\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'rich', 'exifread'}))\n"
    )
    assert python_prints(code).splitlines() == [str(out), "[]"]
    assert read_rgb(out).shape[:2] == (48, 64)
