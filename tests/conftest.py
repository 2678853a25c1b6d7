"""Shared fixtures: small clips and image folders generated in ``tmp_path``, and a fake source.

Lossless clips (FFV1 in MKV, RGB planes) give bit-exact answers; H.264 clips exercise the real
codec path where tolerances apply. Frames come from :func:`make_frames`, which every test can
recompute to get the ground truth.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from vid2trail.frames import Frame, SourceInfo
from vid2trail.sources import SourceBase

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def make_frames(count: int, width: int = 64, height: int = 48, seed: int = 0) -> np.ndarray:
    """``count`` RGB uint8 frames: noisy dark sky with a bright dot moving one pixel per frame.

    Frame ``k`` also carries its index as the grey level ``6 * k`` of the top-left 8x8 block (grey,
    so chroma subsampling leaves it alone), so a decoded frame, even from a lossy codec, says which
    frame it is (``frame_index_of``; up to 42 distinct frames).
    """
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 40, size=(count, height, width, 3), dtype=np.uint8)
    for k in range(count):
        y, x = (k // width) % height, k % width
        frames[k, y, x] = (250, 240, 230)
        frames[k, :8, :8, :] = (6 * k) % 256
    return frames


def frame_index_of(pixels: np.ndarray) -> int:
    """Read back the index written by :func:`make_frames` (exact on lossless clips)."""
    return int(round(float(pixels[2:6, 2:6].mean()) / 6))


def encode(frames: np.ndarray, path: Path, codec: str = "ffv1", fps: float = 25.0,
           extra: tuple[str, ...] = ()) -> Path:  # fmt: skip
    """Encode RGB frames with the bundled ffmpeg. ``ffv1`` keeps RGB losslessly."""
    height, width = frames.shape[1:3]
    if codec == "ffv1":
        out_args = ["-c:v", "ffv1", "-pix_fmt", "bgr0"]
    elif codec == "h264":
        out_args = ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "12", "-pix_fmt", "yuv420p",
                    "-g", "12", "-colorspace", "bt709", "-color_primaries", "bt709",
                    "-color_trc", "bt709"]  # fmt: skip
    else:
        out_args = ["-c:v", codec]
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps),
        "-i", "-", *out_args, *extra, str(path),
    ]  # fmt: skip
    subprocess.run(cmd, input=frames.tobytes(), check=True)
    return path


def invoke(*args: str | Path):
    """Run the ``vid2trail`` CLI in-process (typer's CliRunner) with every argument as text."""
    from typer.testing import CliRunner

    from vid2trail.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def python_prints(code: str) -> str:
    """What ``code`` prints when run by a fresh interpreter (the imports it makes are its own)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)  # fmt: skip
    return done.stdout


def read_rgb(path: str | Path) -> np.ndarray:
    """Read an image as written (any depth), colour as RGB, grayscale as H x W."""
    # Through bytes: OpenCV's own file functions crash on names that are not UTF-8.
    image = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    return image[:, :, ::-1] if image.ndim == 3 else image


@pytest.fixture()
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test inside its own temporary folder (CLI outputs land there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def frames40() -> np.ndarray:
    """40 frames of 64x48 (the ground truth for ``lossless_clip``)."""
    return make_frames(40)


@pytest.fixture(scope="session")
def lossless_clip(tmp_path_factory: pytest.TempPathFactory, frames40: np.ndarray) -> Path:
    """40 frames, 64x48, 25 fps, FFV1 RGB in MKV: decodes bit-exactly to ``frames40``."""
    return encode(frames40, tmp_path_factory.mktemp("clips") / "dots.mkv")


@pytest.fixture(scope="session")
def h264_clip(tmp_path_factory: pytest.TempPathFactory, frames40: np.ndarray) -> Path:
    """The same 40 frames as H.264 yuv420p with a keyframe every 12 frames."""
    return encode(frames40, tmp_path_factory.mktemp("clips") / "dots.mp4", codec="h264")


def write_folder(folder: Path, frames: np.ndarray, ext: str = ".png", pattern: str = "f{}") -> Path:
    """Write frames as ``f0.png, f1.png, ...`` (RGB in, BGR on disk as OpenCV expects)."""
    folder.mkdir(parents=True, exist_ok=True)
    for k, frame in enumerate(frames):
        image = frame if frame.ndim == 2 or frame.shape[2] == 1 else frame[:, :, ::-1]
        cv2.imwrite(str(folder / (pattern.format(k) + ext)), image)
    return folder


@pytest.fixture()
def png_folder(tmp_path: Path, frames40: np.ndarray) -> Path:
    """``frames40`` as 40 PNG files named f0.png .. f39.png."""
    return write_folder(tmp_path / "pngs", frames40)


class FakeSource(SourceBase):
    """An in-memory source: frames from an array, no decoder (tests reducers and selection)."""

    def __init__(self, frames: np.ndarray, fps: float | None = 25.0) -> None:
        self.array = frames
        count, height, width, channels = frames.shape
        self.info = SourceInfo(
            "fake", width, height, channels, frames.dtype, fps,
            count / fps if fps else None, count, True, "fake", "fake",
        )  # fmt: skip

    def frames(self, start: int = 0, end: int | None = None, step: int = 1) -> Iterator[Frame]:
        stop = len(self.array) if end is None else min(end, len(self.array))
        for k in range(start, stop, step):
            yield Frame(k, k / self.info.fps if self.info.fps else None, self.array[k])
