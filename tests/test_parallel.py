"""--workers and --preview: split stacks equal one pass; previews are small and right."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

import vid2trail.parallel
import vid2trail.pipeline
import vid2trail.plan
import vid2trail.segments
from vid2trail import stack
from vid2trail.cli import app
from vid2trail.color import decode_lut, srgb_to_linear
from vid2trail.errors import UsageError
from vid2trail.parallel import default_workers
from vid2trail.reducers import MeanReducer
from vid2trail.segments import split_range
from vid2trail.select import FrameRange, Window
from vid2trail.sources import open_source

from conftest import encode, make_frames, write_folder

runner = CliRunner()


@given(
    start=st.integers(0, 50),
    length=st.integers(0, 400),
    step=st.integers(1, 7),
    parts=st.integers(1, 9),
    open_end=st.booleans(),
)
def test_segments_cover_the_range_once_in_phase(
    start: int, length: int, step: int, parts: int, open_end: bool
) -> None:
    whole = FrameRange(start, start + length, step)
    total = whole.count() or 0
    segments = split_range(FrameRange(start, None, step) if open_end else whole, total, parts, 4)
    assert 1 <= len(segments) <= parts
    assert segments[-1].end == (None if open_end else whole.end)
    bounded = [FrameRange(s.start, whole.end if s.end is None else s.end, s.step) for s in segments]
    picked = [i for seg in bounded for i in seg.indices()]
    assert picked == list(whole.indices())


@pytest.fixture()
def small_segments(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Let 40-frame clips split (real runs need 60 frames per process); count the processes."""
    monkeypatch.setattr(vid2trail.segments, "MIN_SEGMENT_FRAMES", 5)
    started: list[int] = []
    real = vid2trail.pipeline.reduce_segments

    def spy(source: object, segments: list[FrameRange], *args: object, **kw: object) -> object:
        started.append(len(segments))
        return real(source, segments, *args, **kw)

    monkeypatch.setattr(vid2trail.pipeline, "reduce_segments", spy)
    return started


def test_workers_equal_one_process_on_h264(h264_clip: Path, small_segments: list[int]) -> None:
    # Segments start mid-GOP (keyframe every 12 frames): the seeks must still be exact.
    one = stack(h264_clip, "max", start=2, step=3, workers=1)
    seen: list[tuple[int, int | None]] = []
    three = stack(
        h264_clip, "max", start=2, step=3, workers=3, progress=lambda d, t: seen.append((d, t))
    )
    np.testing.assert_array_equal(three, one)
    # One progress count across the processes, reaching every selected frame (2, 5, ..., 38).
    assert seen[-1] == (13, 13) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    mean_one = stack(h264_clip, "mean", dtype=np.float64, workers=1)
    mean_three = stack(h264_clip, "mean", dtype=np.float64, workers=3)
    np.testing.assert_allclose(mean_three, mean_one, rtol=1e-9, atol=0)
    assert small_segments == [2, 3]


def test_workers_match_numpy_on_lossless(
    lossless_clip: Path, frames40: np.ndarray, small_segments: list[int]
) -> None:
    out = stack(lossless_clip, "min", start=1, end=37, step=2, workers=2)
    np.testing.assert_array_equal(out, frames40[1:37:2].min(axis=0))
    assert small_segments == [2]


def test_folder_threads_match_numpy(png_folder: Path, frames40: np.ndarray) -> None:
    np.testing.assert_array_equal(stack(png_folder, "max", workers=3), frames40.max(axis=0))
    mean = stack(png_folder, "mean", step=3, dtype=np.float64, workers=3)
    light = srgb_to_linear(frames40[::3] / 255.0).mean(axis=0)
    np.testing.assert_allclose(srgb_to_linear(mean), light, rtol=0, atol=1e-12)


def test_mean_lookup_matches_float64_take() -> None:
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, size=(5, 7, 9, 3), dtype=np.uint8)
    reducer = MeanReducer()
    for frame in frames:
        reducer.update(frame[:, ::-1])  # a non-contiguous view too
    expected = np.take(decode_lut("uint8"), frames[:, :, ::-1]).mean(axis=0)
    np.testing.assert_allclose(reducer.result(), expected, rtol=1e-15, atol=0)


def test_default_workers_leave_small_machines_single() -> None:
    assert default_workers(2) == 1
    assert default_workers(16) == 8


@pytest.fixture(scope="module")
def hd_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    frames = make_frames(6, width=1280, height=720)
    return encode(frames, tmp_path_factory.mktemp("hd") / "hd.mkv"), frames


def shrink(frame: np.ndarray) -> np.ndarray:
    return cv2.resize(frame, (640, 360), interpolation=cv2.INTER_AREA)


def test_preview_scales_inside_ffmpeg(hd_clip: tuple[Path, np.ndarray]) -> None:
    path, frames = hd_clip
    out = stack(path, "max", preview=True)
    assert out.shape == (360, 640, 3)
    # Each frame is scaled, then stacked (a max of averages, not an average of maxes).
    expected = np.max([shrink(frame) for frame in frames], axis=0)
    assert np.abs(out.astype(int) - expected.astype(int)).mean() < 1


def test_preview_of_a_jpeg_folder(hd_clip: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    path, frames = hd_clip
    folder = write_folder(tmp_path / "jpgs", frames, ext=".jpg")
    out = stack(folder, "max", preview=True)
    # 1280x720 JPEGs decode at half size in the DCT domain.
    assert out.shape == (360, 640, 3)
    expected = np.max([shrink(frame) for frame in frames], axis=0)
    # JPEG's reduced decode (and its quality 95 loss) against an exact area average.
    assert np.abs(out.astype(int) - expected.astype(int)).mean() < 3


def test_preview_picks_a_step(
    lossless_clip: Path, frames40: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vid2trail.plan, "PREVIEW_FRAMES", 10)
    out = stack(lossless_clip, "max", preview=True)
    np.testing.assert_array_equal(out, frames40[::4].max(axis=0))
    # A step the user gives wins.
    out = stack(lossless_clip, "max", preview=True, step=1)
    np.testing.assert_array_equal(out, frames40.max(axis=0))


def test_cli_preview_name_and_workers_errors(
    lossless_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, [str(lossless_clip), "--preview", "--workers", "2", "-q"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "dots-max-preview.png"
    result = runner.invoke(app, [str(lossless_clip), "--workers", "0"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: --workers 0: give a whole number of processes, 1 or more"
    )


def gop_clip(tmp_path: Path, seed: int, gop: int) -> tuple[Path, list[np.ndarray]]:
    """120 frames of H.264 with a keyframe every ``gop``, and every frame as it decodes."""
    clip = encode(make_frames(120, seed=seed), tmp_path / f"gop{gop}.mp4", codec="h264",
                  extra=("-g", str(gop)))  # fmt: skip
    with open_source(clip) as src:
        return clip, [f.pixels.copy() for f in src.frames()]


def test_preview_of_a_long_clip_stacks_its_keyframes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = make_frames(120, seed=4)
    clip = encode(frames, tmp_path / "gop.mp4", codec="h264", extra=("-g", "4"))
    monkeypatch.setattr(vid2trail.plan, "PREVIEW_FRAMES", 50)
    with open_source(clip, preview=True) as src:
        keys = src.keyframe_indices()
        assert len(keys) >= 30 and keys[:3] == [0, 4, 8]
        chosen = vid2trail.plan.select_frames(src, [Window.parse("4:116")], preview=True)
        assert chosen.keyframes_only and chosen.ranges == (FrameRange(4, 116),)
        assert not src.keyframes_only  # the source as opened is left as it was
        [window] = chosen.ranges
        keyframes = src.configured(keyframes_only=True)
        got = [(f.index, f.pixels.copy()) for f in keyframes.frames(window.start, window.end)]
    with open_source(clip) as src:
        every = [f.pixels.copy() for f in src.frames()]
    wanted = [k for k in keys if 4 <= k < 116]
    assert [index for index, _ in got] == wanted
    for index, pixels in got:
        np.testing.assert_array_equal(pixels, every[index])
    out = stack(clip, "max", start=4, end=116, preview=True)
    np.testing.assert_array_equal(out, np.max([every[k] for k in wanted], axis=0))


def test_preview_of_many_keyframes_stacks_every_few(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip, every = gop_clip(tmp_path, seed=7, gop=2)
    monkeypatch.setattr(vid2trail.plan, "PREVIEW_FRAMES", 25)
    keys = open_source(clip).keyframe_indices()
    assert keys == list(range(0, 120, 2))
    # 57 keyframes in the window, over 25: every third keyframe of the clip, from its first.
    wanted = [k for k in keys[::3] if 3 <= k < 117]
    with open_source(clip, preview=True) as src:
        chosen = vid2trail.plan.select_frames(src, [Window.parse("3:117")], preview=True)
        assert chosen.keyframes_only and chosen.keyframe_step == 3
        thin = src.configured(keyframes_only=True, keyframe_step=3)
        assert thin.keyframes_in(3, 117) == wanted and src.keyframes_in(3, 117) == keys[2:-1]
        got = [(f.index, f.pixels.copy()) for f in thin.frames(3, 117)]
    assert [index for index, _ in got] == wanted
    full = [every[k] for k in wanted]
    for (_, pixels), expected in zip(got, full, strict=True):
        np.testing.assert_array_equal(pixels, expected)
    for cores in (1, 3):  # one decoder, and the keyframes split between threads
        monkeypatch.setattr(vid2trail.pipeline.os, "cpu_count", lambda n=cores: n)
        out = stack(clip, "max", start=3, end=117, preview=True)
        np.testing.assert_array_equal(out, np.max(full, axis=0))
    with open_source(clip) as src, pytest.raises(UsageError, match=r"^keyframe_step=0: give 1 "):
        src.configured(keyframe_step=0)


def test_preview_keyframes_decode_in_parallel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip, every = gop_clip(tmp_path, seed=5, gop=4)
    monkeypatch.setattr(vid2trail.plan, "PREVIEW_FRAMES", 50)
    keys = open_source(clip, preview=True).keyframe_indices()
    wanted = [k for k in keys if 3 <= k < 117]
    split: list[list[FrameRange]] = []
    real = vid2trail.pipeline.reduce_in_threads

    def spy(source, segments, *args, **kwargs):  # type: ignore[no-untyped-def]
        split.append(segments)
        return real(source, segments, *args, **kwargs)

    monkeypatch.setattr(vid2trail.pipeline, "reduce_in_threads", spy)
    monkeypatch.setattr(vid2trail.pipeline.os, "cpu_count", lambda: 3)
    out = stack(clip, "max", start=3, end=117, preview=True)
    # Three parts, each starting on a keyframe; together exactly the keyframes of the window.
    [segments] = split
    assert len(segments) == 3 and all(seg.start in keys for seg in segments)
    assert segments[0].start == wanted[0] and segments[-1].end == 117
    np.testing.assert_array_equal(out, np.max([every[k] for k in wanted], axis=0))
    mean = stack(clip, "mean", start=3, end=117, preview=True, dtype=np.float64)
    monkeypatch.setattr(vid2trail.pipeline.os, "cpu_count", lambda: 1)
    alone = stack(clip, "mean", start=3, end=117, preview=True, dtype=np.float64)
    np.testing.assert_allclose(mean, alone, rtol=1e-12)
    assert len(split) == 2  # max and mean split; on one core nothing is split


def test_preview_without_enough_keyframes_uses_a_step(
    lossless_clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # FFV1 is all keyframes: skipping non-keyframes would save nothing.
    monkeypatch.setattr(vid2trail.plan, "PREVIEW_FRAMES", 10)
    with open_source(lossless_clip, preview=True) as src:
        chosen = vid2trail.plan.select_frames(src, [Window(None, None)], preview=True)
        assert chosen.ranges == (FrameRange(0, None, 4),) and not chosen.keyframes_only


def test_frame_times_and_keyframes_travel_to_workers(
    tmp_path: Path, small_segments: list[int]
) -> None:
    from vid2trail.sources.pyav import PyAVSource

    clip = encode(make_frames(90, seed=6), tmp_path / "gop.mp4", codec="h264", extra=("-g", "6"))
    plain = PyAVSource(str(clip))
    listed = PyAVSource(str(clip))
    assert listed.keyframe_indices() == list(range(0, 90, 6))
    twin = copy.copy(listed)  # a downscaled view or a segment shares the listing
    assert twin.keyframe_indices() == plain.keyframe_indices()
    assert listed.frame_times() == plain.frame_times()
    assert len(plain.frame_times()) == 90
    # A worker process gets the listing itself: it need not read the file again.
    moved = pickle.loads(pickle.dumps(listed))
    assert moved._listed == listed._listed and moved.frame_times() == plain.frame_times()
    every = np.max([f.pixels.copy() for f in plain.frames(13, 77)], axis=0)
    np.testing.assert_array_equal(stack(clip, "max", start=13, end=77, workers=2), every)
    assert small_segments == [2]
