"""The trail video end to end: written by the CLI or the API, decoded back with the bundled ffmpeg.

Tolerances are for H.264 at CRF 18 on 4:2:0: a noisy 64x48 sky with a one-pixel dot is close to
the worst case (noise is what codecs keep least well), so per-pixel bounds are loose and mean
errors tight.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from vid2trail import open_source
from vid2trail.color import srgb_to_linear
from vid2trail.encode import VideoWriter
from vid2trail.encoding import VideoOptions, ffmpeg_exe
from vid2trail.errors import EncodeError
from vid2trail.frames import Frame
from vid2trail.job import StackJob, TrailVideoJob
from vid2trail.orchestrator import Silent, run

from conftest import FakeSource, encode, invoke, make_frames, read_rgb, write_folder

pytestmark = pytest.mark.usefixtures("in_tmp")


def read_video(path: Path) -> np.ndarray:
    if path.suffix == ".webp":
        # PyAV's FFmpeg has no animated WebP decoder; the bundled ffmpeg command does.
        return _read_with_ffmpeg(path)
    with open_source(path) as source:
        return np.stack([frame.pixels.copy() for frame in source.frames()])


def _read_with_ffmpeg(path: Path) -> np.ndarray:
    """Every frame of ``path`` as RGB, decoded by the bundled ffmpeg command."""
    line = stream_line(path)
    width, height = (int(v) for v in re.search(r", (\d+)x(\d+)", line).groups())  # type: ignore[union-attr]
    raw = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def stream_line(path: Path) -> str:
    probe = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True)
    return next(line for line in probe.stderr.decode().splitlines() if "Video:" in line)


def block_frames(count: int, lit: range, size: int = 64) -> np.ndarray:
    """Black frames with a white 16x16 block (big enough for 4:2:0 and the codec) when lit."""
    frames = np.zeros((count, size, size, 3), np.uint8)
    for k in lit:
        frames[k, 24:40, 24:40] = 255
    return frames


def block_level(frame: np.ndarray) -> float:
    return float(frame[28:36, 28:36].mean()) / 255


def test_grow_video_frames_step_monotone_and_ending_on_the_still(
    lossless_clip: Path, frames40: np.ndarray
) -> None:
    result = invoke(lossless_clip, "--video", "grow.mp4", "--video-step", "3", "-q")
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == ["dots-max.png", "grow.mp4"]
    video = read_video(Path("grow.mp4"))
    assert video.shape == (math.ceil(40 / 3), 48, 64, 3)
    # Frame j stacks source frames 0 .. 3j+2 (and the last frame all 40).
    ends = [*range(3, 40, 3), 40]
    truth = np.stack([frames40[:end].max(axis=0) for end in ends]).astype(int)
    assert np.abs(video.astype(int) - truth).mean() < 3
    steps = np.diff(video.astype(int), axis=0)
    assert steps.min() >= -12 and (steps < -4).mean() < 0.01
    still = read_rgb(Path("dots-max.png")).astype(int)
    np.testing.assert_array_equal(still, frames40.max(axis=0))
    error = np.abs(video[-1].astype(int) - still)
    assert error.mean() < 2 and np.percentile(error, 99) <= 8


def test_video_is_h264_yuv420p_bt709_with_faststart(lossless_clip: Path) -> None:
    assert invoke(lossless_clip, "--video", "v.mp4", "-q").exit_code == 0
    line = stream_line(Path("v.mp4"))
    assert "h264" in line and "yuv420p(tv, bt709, progressive)" in line
    data = Path("v.mp4").read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # +faststart: the index comes first


def test_colours_survive_the_bt709_round_trip(tmp_path: Path) -> None:
    frames = np.zeros((3, 64, 64, 3), np.uint8)
    frames[:, :, :16] = (255, 0, 0)
    frames[:, :, 16:32] = (0, 255, 0)
    frames[:, :, 32:48] = (0, 0, 255)
    frames[:, :, 48:] = (200, 120, 40)
    encode(frames, tmp_path / "colours.mkv")
    assert invoke(tmp_path / "colours.mkv", "--video", "c.mp4", "-q").exit_code == 0
    got = read_video(Path("c.mp4"))[-1].astype(int)
    for x0 in (0, 16, 32, 48):
        patch = got[8:56, x0 + 4 : x0 + 12].reshape(-1, 3).mean(axis=0)
        assert np.abs(patch - frames[0, 0, x0]).max() <= 6, (x0, patch)


def test_comet_fades_by_d_per_frame_through_the_codec(tmp_path: Path) -> None:
    encode(block_frames(12, range(0, 1)), tmp_path / "block.mkv")
    result = invoke(tmp_path / "block.mkv", "--video", "comet.mp4", "--trail", "comet",
                    "--decay", "0.7", "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    video = read_video(Path("comet.mp4"))
    assert len(video) == 12
    light = [float(srgb_to_linear(np.array(block_level(f)))) for f in video]
    for k in range(8):  # down to 0.7**8 = 6% of white, well above the codec's noise
        assert light[k] == pytest.approx(0.7**k, rel=0.08), k
    assert video[0][:16, :16].max() < 8  # the black around stays black


def test_window_drops_the_block_exactly_l_frames_after_it_was_last_seen(tmp_path: Path) -> None:
    encode(block_frames(16, range(2, 5)), tmp_path / "block.mkv")
    result = invoke(tmp_path / "block.mkv", "--video", "w.mp4", "--trail", "window",
                    "--trail-frames", "6", "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    lit = [block_level(f) > 0.5 for f in read_video(Path("w.mp4"))]
    assert lit == [2 <= k < 4 + 6 for k in range(16)]


def gif_loops_forever(data: bytes) -> bool:
    # The NETSCAPE2.0 application extension: sub-block 1 holds the loop count, 0 = forever.
    found = re.search(rb"NETSCAPE2\.0\x03\x01(..)\x00", data, re.DOTALL)
    return found is not None and found.group(1) == b"\x00\x00"


def webp_loops_forever(data: bytes) -> bool:
    # RIFF/WEBP with an ANIM chunk: background colour (4 bytes), then the loop count (0 = forever).
    at = data.find(b"ANIM")
    return data[:4] == b"RIFF" and at > 0 and data[at + 12 : at + 14] == b"\x00\x00"


@pytest.mark.parametrize(("name", "loops"), [("t.gif", gif_loops_forever),
                                             ("t.webp", webp_loops_forever)])  # fmt: skip
def test_gif_and_webp_open_and_loop(
    lossless_clip: Path, frames40: np.ndarray, name: str, loops
) -> None:
    result = invoke(lossless_clip, "--end", "10", "--video", name, "--video-fps", "10", "-q")
    assert result.exit_code == 0, result.output
    assert loops(Path(name).read_bytes())
    video = read_video(Path(name))
    assert video.shape == (10, 48, 64, 3)
    assert np.abs(video[-1].astype(int) - frames40[:10].max(axis=0)).mean() < 4


def test_gif_uses_a_palette_that_fits_the_picture(lossless_clip: Path, frames40) -> None:
    assert invoke(lossless_clip, "--video", "p.gif", "-q").exit_code == 0
    last = read_video(Path("p.gif"))[-1].astype(int)
    # A fixed web palette would move dark sky values by tens of levels.
    assert np.abs(last - frames40.max(axis=0)).mean() < 3


def test_width_scaling_and_odd_sizes(tmp_path: Path) -> None:
    encode(make_frames(4, 65, 49), tmp_path / "odd.mkv")
    assert invoke(tmp_path / "odd.mkv", "--video", "crop.mp4", "-q").exit_code == 0
    assert read_video(Path("crop.mp4")).shape == (4, 48, 64, 3)  # last column and row cropped
    assert invoke(tmp_path / "odd.mkv", "--video", "s.mp4", "--video-width", "33", "-q",
                  "-o", "s.png").exit_code == 0  # fmt: skip
    assert read_video(Path("s.mp4")).shape == (4, 24, 32, 3)


def test_one_pixel_wide_frames_are_refused_before_decoding(tmp_path: Path) -> None:
    # Cropping 1 column to an even width leaves none: ffmpeg used to fail once frames arrived.
    folder = write_folder(tmp_path / "strip", make_frames(4, 1, 40))
    result = invoke(folder, "--video", "v.mp4", "-q")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: 1x40 frames are too small for 4:2:0 video (at least 2x2 pixels): scale them "
        "with --video-width, or write a .gif"
    )
    assert os.listdir(".") == ["strip"]  # nothing written
    assert invoke(folder, "--video", "v.gif", "-q").exit_code == 0
    assert read_video(Path("v.gif")).shape[1:3] == (40, 1)
    assert (
        invoke(folder, "--video", "w.mp4", "--video-width", "4", "-q", "-o", "w.png").exit_code == 0
    )
    assert read_video(Path("w.mp4")).shape[1:3] == (160, 4)


def test_folder_defaults_to_24_fps_and_video_fps_sets_it(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "pngs", make_frames(6))
    assert invoke(folder, "--video", "a.mp4", "-q").exit_code == 0
    assert invoke(folder, "--video", "b.mp4", "--video-fps", "12.5", "-q", "-y").exit_code == 0
    with open_source(Path("a.mp4")) as a, open_source(Path("b.mp4")) as b:
        assert (a.info.fps, b.info.fps) == (24.0, 12.5)


def test_grayscale_and_sixteen_bit_folders(tmp_path: Path) -> None:
    gray = make_frames(5)[..., :1]
    write_folder(tmp_path / "gray", gray)
    result = invoke(tmp_path / "gray", "--video", "g.mp4", "-q")
    assert result.exit_code == 0, result.output
    video = read_video(Path("g.mp4"))
    assert np.abs(video[-1, ..., 0].astype(int) - gray.max(axis=0)[..., 0]).mean() < 3
    assert np.median(video[-1, :8, :8, 0]) == 24  # no level shift (gray read as video range)
    deep = make_frames(5).astype(np.uint16) * 257
    write_folder(tmp_path / "deep", deep)
    result = invoke(tmp_path / "deep", "--video", "d.mp4", "--trail", "comet", "-q")
    assert result.exit_code == 0, result.output
    assert read_video(Path("d.mp4")).shape == (5, 48, 64, 3)


@pytest.mark.parametrize("mode", ["mean", "sum"])
def test_last_frame_is_the_still_for_linear_modes(png_folder: Path, mode: str) -> None:
    result = invoke(png_folder, "--mode", mode, "--video", "v.mp4", "-q")
    assert result.exit_code == 0, result.output
    still = read_rgb(Path(f"pngs-{mode}.png")).astype(int)
    # sum normalizes the noise up to mid-grey, where the codec's error is larger.
    assert np.abs(read_video(Path("v.mp4"))[-1].astype(int) - still).mean() < 4


@pytest.mark.parametrize(("codec", "name"), [("hevc", "hevc"), ("av1", "av1")])
def test_other_codecs(tmp_path: Path, codec: str, name: str) -> None:
    encode(block_frames(3, range(0, 3)), tmp_path / "block.mkv")
    result = invoke(tmp_path / "block.mkv", "--video", "c.mkv", "--codec", codec,
                    "--preset", "ultrafast", "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"Video: {name}" in stream_line(Path("c.mkv"))
    assert block_level(read_video(Path("c.mkv"))[-1]) > 0.95


def test_progress_covers_decoding_and_encoding(lossless_clip: Path) -> None:
    calls: list[tuple[int, int | None]] = []
    job = StackJob(str(lossless_clip), video=TrailVideoJob("p.mp4"))
    run(job, Silent(lambda done, total: calls.append((done, total))))
    done = [d for d, _ in calls]
    assert done == sorted(done) and calls[-1] == (40, 40)


class InterruptedSource(FakeSource):
    """Delivers 20 frames, then Ctrl-C arrives."""

    def frames(self, start: int = 0, end: int | None = None, step: int = 1) -> Iterator[Frame]:
        for frame in super().frames(start, end, step):
            if frame.index == 20:
                raise KeyboardInterrupt
            yield frame


def test_interrupt_and_encoder_failure_leave_nothing_behind(
    lossless_clip: Path, frames40: np.ndarray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    source = InterruptedSource(frames40)
    with pytest.raises(KeyboardInterrupt):
        run(StackJob("fake", video=TrailVideoJob(str(out / "v.mp4"))), Silent(print), source=source)
    assert os.listdir(out) == []

    import vid2trail.encode as video_module

    real = video_module.encoder_command

    def broken(*args: object) -> list[str]:
        cmd = real(*args)  # type: ignore[arg-type]
        return [*cmd[:-3], "-nosuchoption", "1", *cmd[-3:]]

    monkeypatch.setattr(video_module, "encoder_command", broken)
    result = invoke(lossless_clip, "--video", out / "v.mp4", "-o", out / "still.png")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: ffmpeg could not encode {out / 'v.mp4'} (")
    assert os.listdir(out) == []


def test_writer_api_and_frame_size_check() -> None:
    with VideoWriter("ramp.webp", fps=5) as writer:
        for level in (0, 128, 255):
            writer.write(np.full((16, 16, 3), level, np.uint8))
    assert read_video(Path("ramp.webp")).shape == (3, 16, 16, 3)
    writer = VideoWriter("bad.mp4", fps=5, options=VideoOptions(crf=30))
    writer.write(np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(ValueError, match="differs from the first frame's"):
        writer.write(np.zeros((8, 8, 3), np.uint8))
    writer.abort()
    assert not any(p.name.startswith(".bad") or p.name == "bad.mp4" for p in Path().iterdir())
    with pytest.raises(EncodeError, match="no frames to encode"):
        VideoWriter("none.mp4", fps=5).close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trail", "comet"], "Error: --trail sets up the trail video: add --video PATH "
         "(e.g. trails.mp4)"),
        (["--video-fps", "30"], "Error: --video-fps sets up the trail video: add --video PATH "
         "(e.g. trails.mp4)"),
        (["--video", "t.avi"], "Error: cannot write t.avi: unsupported video extension '.avi'; "
         "use .mp4, .mov, .mkv, .gif, .webp"),
        (["--video", "t.mp4", "--trail", "streak"], "Error: unknown --trail 'streak': choose one "
         "of grow, comet, window"),
        (["--video", "t.mp4", "--trail", "comet", "--decay", "1.5"], "Error: --decay 1.5: use a "
         "factor between 0 and 1, e.g. 0.95"),
        (["--video", "t.mp4", "--trail-frames", "9"], "Error: --trail-frames and --decay apply "
         "to --trail comet or window"),
        (["--video", "t.mp4", "--codec", "vp8"], "Error: unknown --codec 'vp8': choose one of "
         "h264, hevc, av1"),
        (["--video", "t.mp4", "--crf", "60"], "Error: --crf 60: use 0 (lossless) to 51; 18 "
         "looks lossless"),
        (["--video", "t.mp4", "--video-step", "0"], "Error: --video-step 0: use a whole number, "
         "1 or more"),
        (["--video", "t.gif", "--codec", "hevc"], "Error: --codec applies to .mp4, .mov and "
         ".mkv videos, not t.gif"),
        (["--video", "t.mp4", "--window", "0:5", "--window", "5:9"], "Error: --video takes one "
         "window: use --start/--end or a single --window"),
        (["--video", "dots-max.png"], "Error: --video dots-max.png is the still's path: give "
         "the video its own name"),
    ],
)  # fmt: skip
def test_video_option_errors(lossless_clip: Path, args: list[str], message: str) -> None:
    result = invoke(lossless_clip, *args)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == message
    assert not [p for p in Path().iterdir() if p.suffix != ".mkv"]


def test_existing_video_needs_overwrite(lossless_clip: Path) -> None:
    Path("t.mp4").write_bytes(b"keep")
    result = invoke(lossless_clip, "--video", "t.mp4", "-q")
    assert result.exit_code == 2
    assert (
        result.output.strip() == "Error: t.mp4 already exists: pass --overwrite (-y) to replace it"
    )
    assert Path("t.mp4").read_bytes() == b"keep"
    assert invoke(lossless_clip, "--video", "t.mp4", "-q", "-y").exit_code == 0
    assert len(read_video(Path("t.mp4"))) == 40


def test_video_is_never_the_input(lossless_clip: Path) -> None:
    result = invoke(lossless_clip, "--video", lossless_clip, "-y")
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"Error: output {lossless_clip} is the input: choose another output name"
    )


def test_multi_pass_modes_need_a_comet_or_window_trail(
    lossless_clip: Path, frames40: np.ndarray
) -> None:
    result = invoke(lossless_clip, "--mode", "median", "--video", "v.mp4")
    assert result.exit_code == 2
    assert result.output.strip() == (
        "Error: --trail grow shows the running stack, and a median stack is only known at the "
        "end: use --mode max, min, mean, sum, or --trail comet or window"
    )
    result = invoke(lossless_clip, "--mode", "median", "--video", "v.mp4", "--trail", "window",
                    "--trail-frames", "3", "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(read_video(Path("v.mp4"))) == 40  # the video comes from the first pass only
    assert Path("dots-median.png").exists()


def test_excluded_frames_stay_out_of_the_video(lossless_clip: Path, frames40: np.ndarray) -> None:
    result = invoke(lossless_clip, "--exclude", "10-19", "--video", "v.mp4", "-q")
    assert result.exit_code == 0, result.output
    video = read_video(Path("v.mp4"))
    assert len(video) == 30
    kept = np.concatenate([frames40[:10], frames40[20:]])
    assert np.abs(video[-1].astype(int) - kept.max(axis=0)).mean() < 2


def test_calibrated_frames_feed_the_video(lossless_clip: Path, frames40: np.ndarray) -> None:
    np.save("dark.npy", np.full((48, 64, 3), 10, np.uint8))
    for trail in ("grow", "comet", "window"):
        result = invoke(lossless_clip, "--dark", "dark.npy", "--video", f"{trail}.mp4",
                        "--trail", trail, "-q", "-y")  # fmt: skip
        assert result.exit_code == 0, result.output
        video = read_video(Path(f"{trail}.mp4"))
        assert len(video) == 40
        # A dark of code 10 takes light away from the whole sky.
        sky = np.s_[10:40, 10:60]
        assert video[-1][sky].mean() < frames40.max(axis=0)[sky].mean() - 2
    still = read_rgb(Path("dots-max.png")).astype(int)
    assert np.abs(read_video(Path("grow.mp4"))[-1].astype(int) - still).mean() < 2


def test_every_video_option_is_in_help_and_readme() -> None:
    text = " ".join(invoke("--help").output.split())
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for option in ("--video", "--trail", "--trail-frames", "--decay", "--video-fps",
                   "--video-step", "--video-width", "--codec", "--crf", "--preset"):  # fmt: skip
        assert option in text
        assert f"| `{option} " in readme
    assert "0.01 ** (1/L)" in text and "6 MB each at" in text


def test_progress_is_monotone_with_a_video_step_and_several_passes(
    lossless_clip: Path, frames40: np.ndarray
) -> None:
    calls: list[tuple[int, int | None]] = []
    job = StackJob(str(lossless_clip), "sigma", video=TrailVideoJob("p.mp4", "comet", step=3))
    run(job, Silent(lambda d, t: calls.append((d, t))))
    done = [d for d, _ in calls]
    assert done == sorted(done)
    assert calls[-1][0] == calls[-1][1] and calls[-1][0] >= 80  # two passes or more over 40
