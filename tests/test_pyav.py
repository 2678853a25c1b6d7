"""The in-process PyAV source: the same pixels as the ffmpeg command, HDR tone mapping against
FFmpeg's zscale, GPU refusal, and names and files that are not what they seem."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from vid2trail.encoding import ffmpeg_exe
from vid2trail.errors import DecodeError
from vid2trail.frames import Frame, Planes
from vid2trail.pipeline import run_reducers
from vid2trail.reducers import make_reducer
from vid2trail.select import FrameRange
from vid2trail.sources import open_source

from conftest import SHARED_DATA, encode, invoke, make_frames, python_prints, read_rgb

FFMPEG = ffmpeg_exe()

pytestmark = pytest.mark.usefixtures("in_tmp")


def ffmpeg(*args: str | Path, data: bytes | None = None) -> bytes:
    cmd = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", *[str(a) for a in args]]
    return subprocess.run(cmd, input=data, capture_output=True, check=True).stdout


def cli_frames(path: Path, chain: str, shape: tuple[int, int, int], dtype: str) -> np.ndarray:
    """The frames the ffmpeg command gives with this filter chain (its own autorotation off:
    the chain turns the picture itself)."""
    pix_fmt = {"uint8": "rgb24", "uint16": "rgb48le"}[dtype]
    raw = ffmpeg("-noautorotate", "-i", path, "-map", "0:v:0", "-vf", chain,
                 "-pix_fmt", pix_fmt, "-f", "rawvideo", "-")  # fmt: skip
    return np.frombuffer(raw, np.dtype(dtype).newbyteorder("<")).reshape(-1, *shape)


def decoded(path: Path) -> tuple[np.ndarray, str, tuple[int, int, int], str]:
    with open_source(path) as src:
        frames = np.stack([f.pixels.copy() for f in src])
        return frames, src.filter_chain, src.info.shape, src.info.dtype.name  # type: ignore[attr-defined]


def ten_bit_clip(folder: Path) -> Path:
    ramp = np.linspace(0, 65535, 96 * 64 * 3).astype("<u2").reshape(64, 96, 3)
    frames = np.stack([ramp, ramp[::-1], ramp[:, ::-1]])
    out = folder / "ten.mkv"
    ffmpeg("-f", "rawvideo", "-pix_fmt", "rgb48le", "-s", "96x64", "-r", "25", "-i", "-",
           "-c:v", "libx265", "-x265-params", "log-level=none", "-pix_fmt", "yuv420p10le", out,
           data=frames.tobytes())  # fmt: skip
    return out


def test_frames_are_the_ffmpeg_commands_own(tmp_path: Path) -> None:
    h264 = encode(make_frames(12, 96, 64), tmp_path / "a.mp4", codec="h264")
    rotated = tmp_path / "portrait.mp4"
    ffmpeg("-display_rotation", "90", "-i", h264, "-c", "copy", rotated)
    flipped = tmp_path / "flipped.mp4"
    ffmpeg("-display_rotation", "180", "-display_hflip", "-i", h264, "-c", "copy", flipped)
    clips = [h264, rotated, flipped, ten_bit_clip(tmp_path)]
    clips += [p for p in sorted((SHARED_DATA / "codec-samples").glob("*"))[:3] if p.is_file()]
    for clip in clips:
        ours, chain, shape, dtype = decoded(clip)
        np.testing.assert_array_equal(ours, cli_frames(clip, chain, shape, dtype), err_msg=chain)
    assert decoded(rotated)[0].shape[1:] == (96, 64, 3)


@pytest.mark.skipif(not (SHARED_DATA / "rotation-hevc").is_dir(), reason="../shared/data absent")
def test_shared_phone_clips_are_the_ffmpeg_commands_own() -> None:
    for clip in sorted((SHARED_DATA / "rotation-hevc").glob("*.mp4")):
        ours, chain, shape, dtype = decoded(clip)
        np.testing.assert_array_equal(ours, cli_frames(clip, chain, shape, dtype))


def test_planes_hold_the_packed_frames_values_where_they_are_delivered(tmp_path: Path) -> None:
    """``planes=True`` gives Planes with the packed frames' values bit for bit, or packed
    frames: 8-bit YUV of any subsampling and range, shrunk for a preview or not, rotated or
    not, of widths where swscale's planar output goes wrong (98) or not (96). Deeper and RGB
    sources deliver packed frames."""
    frames = make_frames(6, 98, 66)
    frames[:, 20:40] = np.random.default_rng(5).integers(0, 256, (6, 20, 98, 3), dtype=np.uint8)
    h264 = encode(frames[:, :64, :96], tmp_path / "a.mp4", codec="h264")
    rotated = tmp_path / "portrait.mp4"
    ffmpeg("-display_rotation", "90", "-i", h264, "-c", "copy", rotated)
    clips = {
        h264: True,
        encode(frames, tmp_path / "98.mp4", codec="h264"): None,
        rotated: None,
        encode(frames, tmp_path / "444.mkv", "libx264", extra=("-pix_fmt", "yuv444p")): None,
        encode(frames, tmp_path / "422.mkv", "libx264", extra=("-pix_fmt", "yuv422p")): None,
        encode(frames, tmp_path / "full.mkv", "mjpeg", extra=("-pix_fmt", "yuvj420p")): None,
        encode(frames, tmp_path / "sd.mkv", "mpeg4", extra=("-pix_fmt", "yuv420p")): None,
        ten_bit_clip(tmp_path): False,
        encode(frames, tmp_path / "rgb.mkv"): False,
    }
    for clip, planar in clips.items():
        with open_source(clip) as src:
            for source in (src, src.downscaled_to_fit(48)):
                packed = np.stack([f.pixels.copy() for f in source])
                got = [f.pixels for f in source.configured(planes=True).frames()]
                if planar is not None:
                    assert [isinstance(p, Planes) for p in got] == [planar] * len(got), clip
                both = [p.packed() if isinstance(p, Planes) else p for p in got]
                np.testing.assert_array_equal(np.stack(both), packed, err_msg=str(clip))


def test_planes_that_would_differ_give_way_to_packed_frames(tmp_path: Path) -> None:
    import av

    clip = encode(make_frames(3, 96, 64), tmp_path / "a.mp4", codec="h264")
    with open_source(clip) as src:
        conversion = src.conversion
    with av.open(str(clip)) as container:
        frame = next(container.decode(video=0))
    planes = conversion.planar()(frame)[1]
    assert isinstance(planes, Planes)
    np.testing.assert_array_equal(planes.packed(), conversion(frame)[1])
    flipped = replace(conversion, filters=(("hflip", ""), *conversion.filters))
    differing = replace(conversion.planar(), packed=flipped)  # its planes are not its packed
    pixels = differing(frame)[1]
    assert isinstance(pixels, np.ndarray)
    np.testing.assert_array_equal(pixels, flipped(frame)[1])


def test_a_plain_extremum_takes_planes_and_anything_else_whole_frames(tmp_path: Path) -> None:
    frames = make_frames(8, 64, 48)
    clip = encode(frames, tmp_path / "a.mp4", codec="h264")
    with open_source(clip) as src:
        want = np.stack([f.pixels.copy() for f in src])
    seen: list[type] = []

    class Spy:  # a reducer that records what it is fed
        def __init__(self, mode: str, **params: object) -> None:
            self.inner = make_reducer(mode, **params)

        def __getattr__(self, name: str) -> object:
            return getattr(self.inner, name)

        def update(self, pixels: object) -> None:
            seen.append(type(pixels))
            self.inner.update(pixels)

    cases = [("max", None, Planes), ("min", None, Planes), ("mean", None, np.ndarray),
             ("max", lambda f: True, np.ndarray)]  # fmt: skip
    for mode, keep, kind in cases:
        seen.clear()
        with open_source(clip) as src:
            [done] = run_reducers(src, [FrameRange(0, None)], [Spy(mode)], keep=keep)
        assert set(seen) == {kind}, (mode, keep)
        if mode in ("max", "min"):
            np.testing.assert_array_equal(done.result(), getattr(want, mode)(axis=0))
    with open_source(clip) as src:
        seen.clear()
        run_reducers(src, [FrameRange(0, None)], [Spy("max", argmax=True)])
        assert set(seen) == {np.ndarray}


@pytest.mark.parametrize(
    ("codec", "b_frames", "skips"),
    [("libx264", "3", True), ("libx264", "0", False), ("libx265", "3", False)],
)
def test_a_step_skips_the_dropped_frames_nothing_refers_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, codec: str, b_frames: str, skips: bool
) -> None:
    """With H.264 B-frames that no frame refers to, a ``step`` lets the decoder skip the dropped
    ones: fewer frames decode, and the kept frames are the same, numbered the same. Without
    B-frames nothing is skipped, nor in HEVC, whose "non-reference" frames may be references of
    higher temporal layers."""
    import vid2trail.sources.pyav as pyav

    frames = make_frames(40, 64, 48)
    frames[:, 8:] = frames[0, 8:]  # a still sky below the moving dot: x264 then codes B-frames
    quiet = ("-x265-params", "log-level=none") if codec == "libx265" else ()
    clip = encode(frames, tmp_path / "b.mkv", codec,
                  extra=("-preset", "veryfast", "-g", "20", "-bf", b_frames, "-pix_fmt", "yuv420p",
                         *quiet))  # fmt: skip
    with open_source(clip) as src:
        every = {f.index: f.pixels.copy() for f in src}
    decoded = [0]
    real = pyav.decode

    def counted(*args: object, **kwargs: object) -> Iterator[object]:
        for frame in real(*args, **kwargs):
            decoded[0] += 1
            yield frame

    monkeypatch.setattr(pyav, "decode", counted)

    def decode(start: int, end: int | None, step: int) -> tuple[dict[int, np.ndarray], int]:
        decoded[0] = 0
        with open_source(clip) as src:
            got = {f.index: f.pixels for f in src.frames(start, end, step)}
        return got, decoded[0]

    for start, end, step in [(0, None, 4), (5, 33, 3), (0, 40, 2)]:
        got, count = decode(start, end, step)
        kept = range(start, 40 if end is None else end, step)
        assert sorted(got) == list(kept)
        for k in kept:
            np.testing.assert_array_equal(got[k], every[k])
        with monkeypatch.context() as plain:  # the same decode, told to skip nothing
            plain.setattr(pyav.PyAVSource, "_skips", lambda self, step: False)
            whole = decode(start, end, step)[1]
        assert (count < whole) if skips else (count == whole), (start, end, step, count, whole)


def smooth_hdr_clip(folder: Path, transfer: str) -> Path:
    """A 10-bit 4:2:0 BT.2020 clip of smooth colours (what a camera gives), PQ or HLG coded."""
    y, x = np.mgrid[0:64, 0:96]
    rgb = np.dstack([x / 96, y / 64, 0.5 + 0.5 * np.sin((x + y) / 30)]) * 65535
    frames = np.stack([rgb, rgb[:, ::-1]]).astype("<u2")
    out = folder / f"{transfer}.mkv"
    tags = f"color_primaries=bt2020:color_trc={transfer}:colorspace=bt2020nc:range=tv"
    ffmpeg("-f", "rawvideo", "-pix_fmt", "rgb48le", "-s", "96x64", "-r", "25", "-i", "-",
           "-vf", f"scale=out_color_matrix=bt2020:out_range=tv,format=yuv420p10le,setparams={tags}",
           "-c:v", "ffv1", out, data=frames.tobytes())  # fmt: skip
    return out


@pytest.mark.parametrize("transfer", ["smpte2084", "arib-std-b67"])
def test_hdr_tone_mapping_matches_zscale_and_tonemap_hable(tmp_path: Path, transfer: str) -> None:
    clip = smooth_hdr_clip(tmp_path, transfer)
    ours = decoded(clip)[0].astype(np.float64) / 257  # 8-bit levels
    chain = (f"zscale=min=2020_ncl:tin={transfer}:pin=bt2020:rin=limited:t=linear:npl=100,"
             "format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,"
             "zscale=t=bt709:m=bt709:r=full")  # fmt: skip
    theirs = cli_frames(clip, chain, (64, 96, 3), "uint16").astype(np.float64) / 257
    assert np.abs(ours - theirs).mean() <= 1.0  # within 1 level of an 8-bit output on average
    assert np.percentile(np.abs(ours - theirs), 50) <= 0.5


def test_hdr_keep_matches_zscale_linear_light(tmp_path: Path) -> None:
    clip = smooth_hdr_clip(tmp_path, "arib-std-b67")
    with open_source(clip, hdr="keep") as src:
        ours = np.stack([f.pixels.copy() for f in src])
    chain = ("zscale=min=2020_ncl:tin=arib-std-b67:pin=bt2020:rin=limited:t=linear:npl=203:"
             "p=bt709,format=gbrpf32le")  # fmt: skip
    raw = ffmpeg("-i", clip, "-vf", chain, "-f", "rawvideo", "-")
    theirs = np.frombuffer(raw, "<f4").reshape(2, 3, 64, 96)[:, [2, 0, 1]].transpose(0, 2, 3, 1)
    bright = theirs > 0.05
    assert np.median(np.abs(ours - theirs)[bright] / theirs[bright]) < 0.02


def test_hwaccel_cuda_without_a_gpu_is_one_line(tmp_path: Path) -> None:
    import av

    clip = encode(make_frames(6), tmp_path / "a.mp4", codec="h264")
    try:
        av.open(str(clip), hwaccel=av.codec.hwaccel.HWAccel("cuda")).close()
        pytest.skip("this machine has an NVIDIA GPU: the refusal cannot be shown here")
    except av.error.FFmpegError:
        pass
    result = invoke(clip, "--hwaccel", "cuda", "-o", "gpu.png")
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: --hwaccel cuda: ")
    assert line.endswith("; use --hwaccel auto or none")
    assert not Path("gpu.png").exists()
    auto = invoke(clip, "--hwaccel", "auto", "-o", "auto.png")
    assert auto.exit_code == 0, auto.output
    [note] = auto.stderr.splitlines()
    assert note.startswith(f"Note: {clip}: --hwaccel auto: ") and note.endswith(
        "; decoding in software")  # fmt: skip
    assert invoke(clip, "-o", "plain.png").exit_code == 0
    np.testing.assert_array_equal(read_rgb(Path("auto.png")), read_rgb(Path("plain.png")))
    bad = invoke(clip, "--hwaccel", "vulkan")
    assert (bad.exit_code, bad.stderr) == (2, "Error: --hwaccel 'vulkan': choose one of none, "
                                              "auto, cuda\n")  # fmt: skip


def test_a_file_name_with_colons_is_a_local_file(tmp_path: Path) -> None:
    frames = make_frames(8)
    clip = encode(frames, tmp_path / "x.mkv")
    name = "timelapse-2024-01-01T22:00:00.mkv"
    os.replace(clip, name)  # relative, in the working folder, as a camera names it
    result = invoke(name, "-o", "still.png", "-q")
    assert result.exit_code == 0, result.output
    info = invoke("info", name, "--json")
    assert info.exit_code == 0, info.output
    assert json.loads(info.stdout)["video"]["frame_count"] == 8


def test_a_name_that_is_not_utf8_opens(tmp_path: Path) -> None:
    frames = make_frames(8)
    clip = encode(frames, tmp_path / "x.mkv")
    odd = os.path.join(os.fsdecode(bytes(tmp_path)), os.fsdecode(b"nuit-\xe9t\xe9.mkv"))
    os.replace(clip, odd)
    with open_source(odd) as src:
        got = np.stack([f.pixels.copy() for f in src])
        assert src.frame_times()[-1] == pytest.approx(7 / 25)  # type: ignore[index]
    np.testing.assert_array_equal(got, frames)


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    with pytest.raises(DecodeError, match=r"pipe.mp4 is a named pipe \(FIFO\), not a file"):
        open_source(fifo)


def test_audio_only_input_says_what_it_holds(tmp_path: Path) -> None:
    song = tmp_path / "song.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=d=0.5", "-c:a", "aac", song)
    result = invoke(song)
    assert result.exit_code == 1
    assert result.stderr == (f"Error: {song} has no video stream (it holds 1 audio (aac)): "
                             "give a video file\n")  # fmt: skip


def test_importing_the_package_starts_no_process_and_loads_no_decoder() -> None:
    code = (
        "import subprocess, sys\n"
        "started = []\n"
        "real = subprocess.Popen.__init__\n"
        "subprocess.Popen.__init__ = lambda *a, **k: started.append(a) or real(*a, **k)\n"
        "import vid2trail\n"
        "vid2trail.__version__\n"
        "print(started, sorted(m for m in ('av', 'cv2', 'numpy') if m in sys.modules))\n"
    )
    assert python_prints(code).strip() == "[] []"


def test_a_vertical_flip_alone_is_applied_to_rgb_frames() -> None:
    import av

    from vid2trail.sources.convert import Conversion

    pixels = make_frames(1, 16, 8)[0]
    frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
    _, flipped = Conversion((("vflip", ""), ("format", "rgb24")), "rgb24")(frame)
    np.testing.assert_array_equal(flipped, pixels[::-1])


def test_no_false_damage_warning_for_trimmed_or_variable_rate_files(tmp_path: Path) -> None:
    import warnings

    whole = encode(make_frames(60), tmp_path / "whole.mp4", codec="h264", extra=("-g", "30"))
    trimmed = tmp_path / "trim.mp4"  # a stream copy: the edit list hides 17 frames before 0.7 s
    ffmpeg("-ss", "0.7", "-i", whole, "-c", "copy", trimmed)
    vfr = tmp_path / "vfr.mkv"
    ffmpeg("-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "64x48", "-r", "25", "-i", "-", "-vf",
           "setpts='if(lt(N,20),N,20+(N-20)*2)/25/TB'", "-fps_mode", "passthrough", "-c:v",
           "ffv1", vfr, data=make_frames(41).tobytes())  # fmt: skip
    for clip in (trimmed, vfr):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with open_source(clip) as src:
                count = sum(1 for _ in src)
                assert count == len(src.frame_times())  # type: ignore[arg-type]


def test_a_mean_with_a_black_percentile_stays_a_mean() -> None:
    from vid2trail.outputs import render
    from vid2trail.reducers import make_reducer

    frames = np.zeros((10, 32, 32, 3), np.float64)
    frames[0, 0, 0] = 0.05  # one faint pixel: the 99.5th percentile is black
    mean = make_reducer("mean")
    for frame in frames:
        mean.update(frame)
    got = render(mean, out_dtype=np.uint8, normalize="p99.5")
    from vid2trail.color import to_output

    want = to_output(frames.mean(axis=0), linear=True, out_dtype=np.uint8, normalize="p99.5")
    np.testing.assert_array_equal(got, want)
    assert got[0, 0].tolist() == [16, 16, 16]  # the mean's 0.005, not the sum's 0.05 (63)


def test_a_signal_the_parent_ignores_stays_ignored() -> None:
    import signal

    from vid2trail.cli import sigterm_cleans_up

    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as nohup starts a command
    try:
        with sigterm_cleans_up():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    finally:
        signal.signal(signal.SIGHUP, before)


@pytest.mark.parametrize("window", [(0, None, 1), (5, 30, 3), (12, 13, 1)])
def test_big_frames_decode_in_turn_to_the_same_pixels(
    h264_clip: Path, monkeypatch: pytest.MonkeyPatch, window: tuple[int, int | None, int]
) -> None:
    """Frames over BIG_FRAME are decoded in the caller's thread and converted on delivery (no
    producer thread, no pool): the same frames, numbers and times as through the pool."""
    import threading

    import vid2trail
    from vid2trail.sources import pyav, readahead

    def read(source: pyav.PyAVSource) -> list[tuple[int, float | None, np.ndarray]]:
        return [(f.index, f.time_s, f.pixels.copy()) for f in source.frames(*window)]

    with vid2trail.open_source(h264_clip) as source:
        assert isinstance(source, pyav.PyAVSource)
        pooled = read(source)
        monkeypatch.setattr(readahead, "BIG_FRAME", 1000)
        pixels = source.info.width * source.info.height
        cores = min(len(os.sched_getaffinity(0)), readahead.MAX_DECODER_THREADS)
        assert readahead.decoder_threads(pixels, None) == cores
        assert readahead.decoder_threads(pixels, 0) == 0  # asked for: FFmpeg's own choice
        before = threading.active_count()
        frames = source.frames(*window)
        first = next(frames)
        assert threading.active_count() == before  # no thread of ours decodes
        in_turn = [(first.index, first.time_s, first.pixels.copy()), *read_rest(frames)]
    assert [f[:2] for f in in_turn] == [f[:2] for f in pooled]
    for (_, _, a), (_, _, b) in zip(in_turn, pooled, strict=True):
        np.testing.assert_array_equal(a, b)


def read_rest(frames: Iterator[Frame]) -> list[tuple[int, float | None, np.ndarray]]:
    return [(f.index, f.time_s, f.pixels.copy()) for f in frames]


def test_a_break_from_big_frames_releases_the_decoder(
    h264_clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vid2trail
    from vid2trail.sources import readahead

    closed: list[bool] = []
    real = readahead._kept

    def kept(numbered: Iterator, window: tuple, reached: list[int]) -> Iterator:
        try:
            yield from real(numbered, window, reached)
        finally:
            closed.append(True)

    monkeypatch.setattr(readahead, "BIG_FRAME", 1000)
    monkeypatch.setattr(readahead, "_kept", kept)
    with vid2trail.open_source(h264_clip) as source:
        frames = source.frames(0)
        assert next(frames).index == 0
        frames.close()
    assert closed == [True]


def test_the_first_decode_goes_on_with_the_decoder_that_opened_the_file(
    h264_clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening decodes the first frame; a decode from frame 0 continues that decoder (the file
    is opened once), with the same frames, numbers, times and damage accounting as a fresh one."""
    from vid2trail.sources import pyav

    opened: list[str] = []
    real = pyav.open_file

    def counting(path: str, *args: object, **kwargs: object) -> object:
        opened.append(path)
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pyav, "open_file", counting)

    def read(frames: Iterator[Frame]) -> list[tuple[int, float | None, np.ndarray]]:
        return [(f.index, f.time_s, f.pixels.copy()) for f in frames]

    with open_source(h264_clip) as src:
        parked = src._park[0]  # type: ignore[attr-defined]
        went_on = read(src.frames())
        assert len(opened) == 1 and parked.container is None and not src._park  # type: ignore
        again = read(src.frames())  # the next decode opens the file again
        assert len(opened) == 2
    assert [f[:2] for f in went_on] == [f[:2] for f in again] and len(went_on) == 40
    for (_, _, a), (_, _, b) in zip(went_on, again, strict=True):
        np.testing.assert_array_equal(a, b)
    # A first decode that starts later, or with other decoder threads, closes the open decoder
    # and opens its own; so does close() when no decode came.
    for use in (lambda s: read(s.frames(5, 9)),
                lambda s: read(s.configured(decoder_threads=1).frames(0, 4)),
                lambda s: s.close()):  # fmt: skip
        src = open_source(h264_clip)
        parked = src._park[0]  # type: ignore[attr-defined]
        got = use(src)
        assert parked.container is None and not src._park  # type: ignore[attr-defined]
        if got:
            assert [f[:2] for f in got] == [f[:2] for f in again[got[0][0] : got[-1][0] + 1]]
        src.close()


def test_a_decoder_is_left_open_only_where_it_is_cheap_to_hold(
    h264_clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many frame threads (or 4K) hold much while idle: there the first frame decodes on one
    thread and the file closes; a stack cut between processes releases the open decoder first."""
    import vid2trail
    import vid2trail.pipeline
    import vid2trail.segments
    from vid2trail.sources import pyav

    with open_source(h264_clip) as src:
        every = [f.pixels.copy() for f in src.frames()]
    monkeypatch.setattr(pyav, "PARK_THREADS", 0)
    with open_source(h264_clip) as src:
        assert not src._park  # type: ignore[attr-defined]
        got = [f.pixels.copy() for f in src.frames()]
    np.testing.assert_array_equal(np.stack(got), np.stack(every))
    monkeypatch.undo()
    held: list[int] = []
    real = vid2trail.pipeline.reduce_segments

    def spy(part, *args, **kwargs):  # type: ignore[no-untyped-def]
        held.append(len(part._park))
        return real(part, *args, **kwargs)

    monkeypatch.setattr(vid2trail.pipeline, "reduce_segments", spy)
    monkeypatch.setattr(vid2trail.segments, "MIN_SEGMENT_FRAMES", 5)  # let 40 frames split
    out = vid2trail.stack(h264_clip, "max", workers=2)
    assert held == [0]  # released before the worker processes start
    np.testing.assert_array_equal(out, np.max(every, axis=0))
