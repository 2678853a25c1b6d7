"""Real-world video: rotation, variable frame rate, 10-bit, colour matrices, HDR, several streams,
broken files and the common codecs, with small generated clips (and the shared real files where
present)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from vid2trail.errors import DecodeWarning, SourceError
from vid2trail.sources import open_source
from vid2trail.sources.media import default_matrix, is_variable_rate

from conftest import SHARED_DATA, encode, frame_index_of, make_frames
from conftest import invoke as cli

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
ROTATED = SHARED_DATA / "rotation-hevc" / "with_sound_90.mp4"
NASA = SHARED_DATA / "codec-samples" / "nasa_13013.mp4"
HEVC10 = SHARED_DATA / "codec-samples" / "h265_10bits.mp4"


def ffmpeg(*args: str | Path, data: bytes | None = None) -> None:
    cmd = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", *[str(a) for a in args]]
    subprocess.run(cmd, input=data, check=True)


def raw_input(width: int, height: int, fps: float = 25, pix_fmt: str = "rgb24") -> list[str]:
    return ["-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", f"{width}x{height}", "-r", str(fps),
            "-i", "-"]  # fmt: skip


def decode_all(path: Path, **kwargs: object) -> list[tuple[int, float | None, np.ndarray]]:
    with open_source(path, **kwargs) as src:  # type: ignore[arg-type]
        return [(f.index, f.time_s, f.pixels.copy()) for f in src]


pytestmark = pytest.mark.usefixtures("in_tmp")


# --- what PyAV says about a file, and the conversion it gets --------------------------------


@pytest.fixture(scope="module")
def many_streams(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two video streams, an audio track, and a cover picture (an attached JPEG)."""
    folder = tmp_path_factory.mktemp("streams")
    a = encode(make_frames(10), folder / "a.mp4", codec="h264")
    b = encode(make_frames(6, width=32, height=24, seed=1), folder / "b.mp4", codec="h264")
    cover = folder / "cover.jpg"
    cv2.imwrite(str(cover), make_frames(1, width=16, height=16)[0])
    out = folder / "many.mp4"
    ffmpeg("-i", a, "-i", b, "-f", "lavfi", "-i", "sine=d=0.4", "-i", cover,
           "-map", "0:v", "-map", "1:v", "-map", "2:a", "-map", "3:v", "-c:v:0", "copy",
           "-c:v:1", "copy", "-c:a", "aac", "-c:v:2", "mjpeg", "-disposition:v:2",
           "attached_pic", out)  # fmt: skip
    return out


def test_read_media_streams_and_attached_pictures(many_streams: Path) -> None:
    import av

    from vid2trail.sources.media import read_media

    with av.open(str(many_streams)) as container:
        media = read_media(container)
    assert media.container.startswith("mov,mp4") and media.duration_s
    assert [s.kind for s in media.streams] == ["video", "video", "audio", "video"]
    videos = media.video_streams()
    assert [s.index for s in videos] == [0, 1]  # the cover picture is not a video stream
    assert media.streams[3].attached_pic and media.streams[3].codec == "mjpeg"
    assert media.video_stream().index == 0 and media.video_stream(1).index == 1
    assert (videos[1].width, videos[1].height, videos[1].codec) == (32, 24, "h264")
    assert media.describe_streams() == "2 video (h264), 1 audio (aac), 1 attached picture (mjpeg)"
    with pytest.raises(Exception, match=r"no video stream 2: the file has 2 \(stream 0 to 1\)"):
        media.video_stream(2)


@pytest.mark.skipif(not NASA.is_file(), reason="../shared/data absent")
def test_read_media_tags_of_a_real_clip() -> None:
    with open_source(NASA) as src:
        stream = src.stream  # type: ignore[attr-defined]
        kinds = [s.kind for s in src.media.streams]  # type: ignore[attr-defined]
    assert kinds == ["video", "audio", "subtitle"] * 2
    assert (stream.codec, stream.profile, stream.pix_fmt) == ("h264", "High", "yuv420p")
    assert (stream.color_matrix, stream.color_transfer, stream.color_range) == (
        "bt709", "bt709", "tv")  # fmt: skip
    assert (stream.width, stream.height, stream.fps) == (320, 180, 25.0)


def test_conversion_for_hdr_dolby_vision_and_untagged_streams() -> None:
    from vid2trail.sources.media import StreamInfo
    from vid2trail.sources.pyav import plan_conversion

    hlg = StreamInfo(0, "video", "hevc", pix_fmt="yuv420p10le", width=1920, height=1080,
                     color_matrix="bt2020nc", color_primaries="bt2020",
                     color_transfer="arib-std-b67", rotation_deg=90,
                     display_filters=(("transpose", "cclock"),))  # fmt: skip
    assert hlg.hdr == "HLG" and hlg.display_size == (1080, 1920)
    conversion, note = plan_conversion(hlg)
    assert conversion.describe().startswith(
        "transpose=cclock,scale=in_color_matrix=bt2020:in_range=tv:out_range=pc:flags=bilinear:"
        "in_chroma_loc=left,format=gbrpf32le; then HLG tone-mapped (Hable"
    )
    assert note == "tone-mapped HLG BT.2020 to SDR BT.709 (Hable curve)"
    assert conversion.hdr.dtype == np.uint16
    kept, note = plan_conversion(hlg, hdr="keep")
    assert kept.hdr.dtype == np.float32
    assert note.startswith("kept the HLG light: linear float, BT.709 primaries, 1.0 = 203 cd/m2")
    profile5 = StreamInfo(0, "video", "hevc", pix_fmt="yuv420p10le", dolby_vision=True,
                          dolby_vision_profile=5)  # fmt: skip
    assert plan_conversion(profile5)[1].startswith("Dolby Vision profile 5 has no")
    full = StreamInfo(0, "video", "mjpeg", pix_fmt="yuvj420p", width=160, height=120)
    assert plan_conversion(full)[0].describe() == (
        "scale=in_color_matrix=bt601:in_range=pc:out_range=pc,format=rgb24")  # fmt: skip
    untagged_hd = StreamInfo(0, "video", "h264", pix_fmt="yuv420p", width=1280, height=720)
    assert default_matrix(untagged_hd) == "bt709"
    assert default_matrix(replace(untagged_hd, width=320, height=180)) == "bt601"
    assert plan_conversion(replace(untagged_hd, pix_fmt="gbrp"))[0].describe() == "format=rgb24"
    assert not is_variable_rate([k / 29.97 for k in range(100)])
    assert is_variable_rate([0, 0.033, 0.066, 0.1, 0.2])


# --- rotation -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rotated_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """A 64x48 H.264 clip with a +90 degree display matrix (a phone held upright)."""
    folder = tmp_path_factory.mktemp("rot")
    frames = make_frames(12)
    plain = encode(frames, folder / "plain.mp4", codec="h264")
    rotated = folder / "portrait.mp4"
    ffmpeg("-display_rotation", "90", "-i", plain, "-c", "copy", rotated)
    # Ground truth: the same coded frames, decoded without a display matrix.
    return rotated, np.stack([p for _, _, p in decode_all(plain)])


def test_rotation_is_applied(rotated_clip: tuple[Path, np.ndarray]) -> None:
    path, frames = rotated_clip
    got = decode_all(path)
    with open_source(path) as src:
        assert (src.info.width, src.info.height, src.info.rotation_deg) == (48, 64, 90)
    assert len(got) == 12
    for index, _, pixels in got:
        assert pixels.shape == (64, 48, 3)
        # +90 degrees is counter-clockwise, like np.rot90; the other way round is far off.
        assert np.abs(pixels.astype(int) - np.rot90(frames[index])).mean() < 0.5
        assert np.abs(pixels.astype(int) - np.rot90(frames[index], -1)).mean() > 5


def test_cli_rotated_clip_gives_a_portrait_still(rotated_clip: tuple[Path, np.ndarray]) -> None:
    path, frames = rotated_clip
    result = cli(path, "-o", "portrait.png", "-q")
    assert result.exit_code == 0, result.output
    still = cv2.imread("portrait.png")
    assert still.shape == (64, 48, 3)


@pytest.mark.skipif(not ROTATED.exists(), reason="../shared/data absent")
def test_shared_phone_clip_is_portrait() -> None:
    a = decode_all(ROTATED)
    assert len(a) == 50 and a[0][2].shape == (640, 360, 3)
    # The same pixels as the ffmpeg command's own autorotation (transpose=cclock).
    raw = subprocess.run(
        [
            FFMPEG,
            "-v",
            "error",
            "-i",
            ROTATED,
            "-frames:v",
            "11",
            "-vf",
            "scale=in_color_matrix=bt601:in_range=tv:out_range=pc,format=rgb24",
            "-f",
            "rawvideo",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    np.testing.assert_array_equal(np.frombuffer(raw, np.uint8).reshape(11, 640, 360, 3)[10],
                                  a[10][2])  # fmt: skip
    result = cli(ROTATED, "-o", "phone.png", "-q")
    assert result.exit_code == 0 and cv2.imread("phone.png").shape == (640, 360, 3)


# --- variable frame rate ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vfr_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, list[float]]:
    """41 lossless frames: 20 at 25 fps (0.04 s apart), then 21 at 12.5 fps (0.08 s apart)."""
    frames = make_frames(41)
    path = tmp_path_factory.mktemp("vfr") / "vfr.mkv"
    ffmpeg(*raw_input(64, 48), "-vf", "setpts='if(lt(N,20),N,20+(N-20)*2)/25/TB'",
           "-fps_mode", "passthrough", "-c:v", "ffv1", "-pix_fmt", "bgr0", path,
           data=frames.tobytes())  # fmt: skip
    times = [k * 0.04 if k < 20 else 0.8 + (k - 20) * 0.08 for k in range(41)]
    return path, frames, times


def test_vfr_times_are_real(vfr_clip: tuple[Path, np.ndarray, list[float]]) -> None:
    path, frames, times = vfr_clip
    with open_source(path) as src:
        real = src.frame_times()
        assert real is not None
        np.testing.assert_allclose(real[:39], times[:39], atol=1e-3)
        assert src.exact_info().variable_fps and src.exact_info().frame_count_exact
        got = [(f.index, f.time_s, frame_index_of(f.pixels)) for f in src.frames(22, 30, 3)]
    # The seek uses real times: frame 22 is at 0.96 s, not at 22 / fps.
    assert [(i, k) for i, _, k in got] == [(22, 22), (25, 25), (28, 28)]
    np.testing.assert_allclose([t for _, t, _ in got], [times[22], times[25], times[28]],
                               atol=1e-3)  # fmt: skip


def test_vfr_time_window_selects_the_frames_shown_then(
    vfr_clip: tuple[Path, np.ndarray, list[float]],
) -> None:
    path, frames, times = vfr_clip
    # 1.2 s .. 2.0 s holds frames 25 (1.20 s) .. 34 (1.92 s); a constant-rate guess from the
    # average rate would pick other frames.
    want = [k for k, t in enumerate(times) if 1.2 - 1e-6 <= t < 2.0 - 1e-6]
    assert want == list(range(25, 35))
    result = cli(path, "--start", "1.2s", "--end", "2s", "-o", "vfr.png", "-qy")
    assert result.exit_code == 0, result.output
    still = cv2.imread("vfr.png")[:, :, ::-1]
    np.testing.assert_array_equal(still, frames[want].max(axis=0))
    video = json.loads(cli("info", path, "--json").stdout)["video"]
    assert (video["variable_fps"], video["frame_count"], video["frame_count_exact"]) == (
        True, 41, True)  # fmt: skip


# --- bit depth ----------------------------------------------------------------------------------


def test_ten_bit_gradient_keeps_more_than_256_levels(tmp_path: Path) -> None:
    ramp = (np.arange(1024, dtype=np.uint16) * 64).reshape(16, 64)  # 16-bit ramp of 1024 levels
    frame = np.repeat(np.kron(ramp, np.ones((1, 1), np.uint16))[..., None], 3, axis=2)
    frames = np.repeat(frame[None], 3, axis=0)
    clip = tmp_path / "ramp10.mkv"
    ffmpeg(*raw_input(64, 16, pix_fmt="rgb48le"), "-c:v", "ffv1", "-pix_fmt", "yuv444p10le",
           clip, data=frames.astype("<u2").tobytes())  # fmt: skip
    with open_source(clip) as src:
        assert src.info.bits_per_sample == 10 and src.info.dtype == np.uint16
    result = cli(clip, "-o", "ramp.png", "--bit-depth", "16", "-q")
    assert result.exit_code == 0, result.output
    still = cv2.imread("ramp.png", cv2.IMREAD_UNCHANGED)
    assert still.dtype == np.uint16
    assert min(len(np.unique(still[:, :, c])) for c in range(3)) > 256


@pytest.mark.skipif(not HEVC10.exists(), reason="../shared/data absent")
def test_shared_ten_bit_hevc_to_sixteen_bit_png() -> None:
    result = cli(HEVC10, "-o", "hevc10.png", "--bit-depth", "16", "-q")
    assert result.exit_code == 0, result.output
    still = cv2.imread("hevc10.png", cv2.IMREAD_UNCHANGED)
    assert still.dtype == np.uint16 and still.shape == (200, 200, 3)
    assert min(len(np.unique(still[:, :, c])) for c in range(3)) > 256


# --- colour matrices ----------------------------------------------------------------------------

BARS = np.array([[191, 191, 191], [191, 191, 0], [0, 191, 191], [0, 191, 0], [191, 0, 191],
                 [191, 0, 0], [0, 0, 191], [16, 16, 16], [255, 255, 255], [0, 0, 0],
                 [200, 100, 50], [30, 160, 220]], np.uint8)  # fmt: skip


def bars_clip(path: Path, width: int, height: int, matrix: str, rng: str, tagged: bool) -> Path:
    """Colour bars encoded losslessly (x264 4:4:4, qp 0) with an explicit YUV matrix and range."""
    image = np.zeros((height, width, 3), np.uint8)
    step = width // len(BARS)
    for k, colour in enumerate(BARS):
        image[:, k * step : (k + 1) * step] = colour
    scale_matrix = {"bt709": "bt709", "bt601": "bt601", "bt2020": "bt2020"}[matrix]
    tag = {"bt709": "bt709", "bt601": "smpte170m", "bt2020": "bt2020nc"}[matrix]
    coded = path.with_suffix(".264.mp4")
    ffmpeg(*raw_input(width, height), "-frames:v", "2", "-vf",
           f"scale=out_color_matrix={scale_matrix}:out_range={rng},format=yuv444p,"
           f"setparams=colorspace={tag}:range={rng}",
           "-c:v", "libx264", "-qp", "0", "-preset", "ultrafast", coded,
           data=np.repeat(image[None], 2, 0).tobytes())  # fmt: skip
    # Strip or keep the colour tags in the bitstream itself (2 = unspecified).
    code = "2" if not tagged else {"bt709": "1", "bt601": "6", "bt2020": "9"}[matrix]
    ffmpeg("-i", coded, "-c", "copy", "-bsf:v",
           f"h264_metadata=matrix_coefficients={code}:video_full_range_flag="
           f"{1 if rng == 'pc' else 0}", path)  # fmt: skip
    return path


@pytest.mark.parametrize(
    ("width", "height", "matrix", "rng", "tagged"),
    [
        (1280, 720, "bt709", "tv", True),
        (1280, 720, "bt709", "tv", False),  # untagged HD: BT.709
        (240, 160, "bt601", "tv", False),  # untagged SD: BT.601
        (240, 160, "bt709", "pc", True),  # full range
        (240, 160, "bt2020", "tv", True),
    ],
)
def test_colour_bars_come_out_within_two_levels(tmp_path: Path, width: int, height: int,
                                                 matrix: str, rng: str,
                                                 tagged: bool) -> None:  # fmt: skip
    clip = bars_clip(tmp_path / "bars.mp4", width, height, matrix, rng, tagged)
    with open_source(clip) as src:
        frame = next(iter(src)).pixels
    step = width // len(BARS)
    got = np.array([frame[height // 2, k * step + step // 2] for k in range(len(BARS))])
    assert np.abs(got.astype(int) - BARS).max() <= 2


# --- HDR ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pq_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 10-bit PQ (HDR10) BT.2020 clip of a grey ramp, tagged as a phone or camera tags it."""
    ramp = np.repeat(np.linspace(0, 65535, 64).astype(np.uint16)[None, :], 16, axis=0)
    frames = np.repeat(np.repeat(ramp[..., None], 3, axis=2)[None], 2, axis=0)
    path = tmp_path_factory.mktemp("hdr") / "pq.mkv"
    ffmpeg(*raw_input(64, 16, pix_fmt="rgb48le"), "-vf",
           "scale=out_color_matrix=bt2020:out_range=tv,format=yuv444p10le,setparams="
           "color_primaries=bt2020:color_trc=smpte2084:colorspace=bt2020nc:range=tv",
           "-c:v", "ffv1", path, data=frames.astype("<u2").tobytes())  # fmt: skip
    return path


def test_hdr_is_tone_mapped_and_said_so(pq_clip: Path) -> None:
    with open_source(pq_clip) as src:
        assert src.info.notes == ("tone-mapped PQ (HDR10) BT.2020 to SDR BT.709 "
                                  "(Hable curve)",)  # fmt: skip
        mapped = next(iter(src)).pixels.astype(int)
        assert src.info.dtype == np.uint16  # 10-bit source: tone-mapped at 16 bits
    with open_source(pq_clip, hdr="keep") as src:
        assert src.info.notes[0].startswith("kept the PQ (HDR10) light: linear float")
        assert src.info.dtype == np.float32
        kept = next(iter(src)).pixels.copy()
    row_mapped, row_kept = mapped[8, :, 1] / 257, kept[8, :, 1]
    # Keep: linear light where 1.0 is 203 cd/m2, straight from the PQ curve (SMPTE ST 2084;
    # within 6%: one 10-bit code step near the top of the ramp is about 1.5% of the light):
    # the ramp's code values decode to these luminances, highlights far above 1.0 survive.
    # Tone-mapped: still ordered dark to bright; code 0.5 (about 100 nits, SDR white) lands in
    # the upper mid-tones and 1000 nits and up reach white.
    code = np.linspace(0, 1, 64) ** (1 / 78.84375)
    ratio = np.maximum(code - 0.8359375, 0) / (18.8515625 - 18.6875 * code)
    nits = 10000 * ratio ** (1 / 0.1593017578125)
    np.testing.assert_allclose(row_kept[8:], nits[8:] / 203, rtol=0.06)
    assert row_kept.max() > 40 and kept.min() >= 0
    assert np.all(np.diff(row_mapped) >= -1)
    assert row_mapped[0] < 1 and 130 < row_mapped[32] < 190 and row_mapped[48] > 250
    keep = cli(pq_clip, "--hdr", "keep", "-o", "hdr.tif", "--bit-depth", "32", "-q")
    assert keep.exit_code == 0, keep.output
    import tifffile

    linear = tifffile.imread("hdr.tif")
    with tifffile.TiffFile("hdr.tif") as tif:
        assert "1.0 = 203 cd/m2" in tif.pages[0].description
    fits = pytest.importorskip("astropy.io.fits")
    assert cli(pq_clip, "--hdr", "keep", "-o", "hdr.fits", "-q").exit_code == 0
    assert "1.0 = 203 cd/m2" in fits.getheader("hdr.fits")["DECODING"]
    assert linear.dtype == np.float32 and linear.max() > 40
    np.testing.assert_allclose(linear[8, 8:, 1], nits[8:] / 203, rtol=0.06)
    result = cli(pq_clip, "-o", "hdr.png", "-q")
    assert result.exit_code == 0, result.output
    assert result.stderr == (f"Note: {pq_clip}: tone-mapped PQ (HDR10) BT.2020 to SDR BT.709 "
                             "(Hable curve)\n")  # fmt: skip
    bad = cli(pq_clip, "--hdr", "bright")
    assert bad.exit_code == 2
    assert bad.stderr == "Error: --hdr 'bright': choose one of tonemap, keep\n"


# --- streams ------------------------------------------------------------------------------------


def test_stream_choice_with_a_generated_two_stream_clip(tmp_path: Path) -> None:
    a = encode(make_frames(10), tmp_path / "a.mkv")
    b = encode(make_frames(6, width=32, height=24, seed=1), tmp_path / "b.mkv")
    both = tmp_path / "both.mkv"
    ffmpeg("-i", a, "-i", b, "-f", "lavfi", "-i", "sine=d=0.5", "-map", "0:v", "-map", "2:a",
           "-map", "1:v", "-c:v", "copy", "-c:a", "flac", both)  # fmt: skip
    assert len(decode_all(both)) == 10
    second = decode_all(both, stream=1)
    assert len(second) == 6 and second[0][2].shape == (24, 32, 3)
    np.testing.assert_array_equal(second[3][2], make_frames(6, 32, 24, seed=1)[3])
    result = cli(both, "--stream", "2")
    assert result.exit_code == 2
    assert result.stderr == (f"Error: --stream 2: {both}: there is no video stream 2: the file "
                             "has 2 (--stream 0 to 1)\n")  # fmt: skip
    result = cli(both, "--stream", "1", "-o", "second.png", "-q")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(cv2.imread("second.png")[:, :, ::-1],
                                  make_frames(6, 32, 24, seed=1).max(axis=0))  # fmt: skip


def test_default_flag_on_the_second_video_stream_is_followed(tmp_path: Path) -> None:
    from vid2trail.sources.pyav import PyAVSource

    a = encode(make_frames(10), tmp_path / "a.mkv")
    b = encode(make_frames(6, width=32, height=24, seed=1), tmp_path / "b.mkv")
    both = tmp_path / "flagged.mkv"
    ffmpeg("-i", a, "-i", b, "-map", "0:v", "-map", "1:v", "-c:v", "copy",
           "-disposition:v:0", "0", "-disposition:v:1", "default", both)  # fmt: skip
    src = PyAVSource(str(both))
    assert src.stream.index == 1 and (src.info.width, src.info.height) == (32, 24)
    assert len(src.frame_times()) == 6 and src.keyframe_indices()[0] == 0
    frames = [f.pixels.copy() for f in src.frames(2, 5)]
    np.testing.assert_array_equal(np.array(frames), make_frames(6, 32, 24, seed=1)[2:5])


@pytest.mark.skipif(not NASA.exists(), reason="../shared/data absent")
def test_shared_two_video_streams() -> None:
    first = decode_all(NASA)
    assert first[0][2].shape == (180, 320, 3) and len(first) == 325
    with open_source(NASA, stream=1) as src:
        assert (src.info.width, src.info.height) == (480, 270)
        assert src.info.fps == pytest.approx(30000 / 1001)
        assert sum(1 for _ in src.frames(0, 20)) == 20
    facts = json.loads(cli("info", NASA, "--json").stdout)
    assert [s["type"] for s in facts["streams"]] == ["video", "audio", "subtitle"] * 2
    assert facts["video"]["frame_count"] == 325 and facts["video"]["frame_count_exact"]


# --- info ---------------------------------------------------------------------------------------


def test_info_human_and_json(rotated_clip: tuple[Path, np.ndarray]) -> None:
    path, _ = rotated_clip
    result = cli("info", path)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "coded size: 64x48" in lines and "size:       48x64 (rotation 90 degrees)" in lines
    assert "frames:     12 (exact)" in lines
    facts = json.loads(cli("info", path, "--json").stdout)
    video = facts["video"]
    assert (video["size"], video["coded_size"], video["rotation_deg"]) == ([48, 64], [64, 48], 90)
    assert (video["fps"], video["variable_fps"], video["frame_count"]) == (25.0, False, 12)
    assert (video["bit_depth"], video["pix_fmt"], video["color_matrix"]) == (8, "yuv420p", "bt709")
    assert video["hdr"] is None and facts["container"].startswith("mov,mp4")


def test_info_folder(tmp_path: Path) -> None:
    from conftest import write_folder

    write_folder(tmp_path / "shots", make_frames(3))
    result = cli("info", tmp_path / "shots", "--json")
    assert json.loads(result.stdout)["frame_count"] == 3


# --- broken input -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_mkv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return encode(make_frames(40), tmp_path_factory.mktemp("broken") / "good.mkv", codec="h264")


def test_truncated_file_stacks_what_decodes_and_warns(good_mkv: Path, tmp_path: Path) -> None:
    data = good_mkv.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) * 6 // 10])
    with pytest.warns(DecodeWarning, match=r"cut.mkv: decoding ended at frame \d+ .* of 40 "
                                           r"expected frames lost"):  # fmt: skip
        got = decode_all(cut)
    assert 5 < len(got) < 40
    assert [frame_index_of(p) for _, _, p in got] == list(range(len(got)))
    result = cli(cut, "-o", "cut.png", "-q")
    assert result.exit_code == 0 and result.stdout == "cut.png\n"
    [line] = result.stderr.splitlines()
    lost = 40 - len(got)
    assert line.startswith(f"Warning: {cut}: decoding ended at frame {len(got) - 1} (about ")
    assert f"about {lost} of 40 expected frames lost" in line


def test_corrupt_middle_still_stacks(good_mkv: Path, tmp_path: Path) -> None:
    data = bytearray(good_mkv.read_bytes())
    middle = len(data) // 3
    data[middle : middle + 3000] = bytes(3000)
    bad = tmp_path / "bad.mkv"
    bad.write_bytes(bytes(data))
    with pytest.warns(DecodeWarning, match=r"bad.mkv: .*the frames that decoded were used"):
        got = decode_all(bad)
    assert 0 < len(got) < 40


def test_nothing_decodable_is_an_error(good_mkv: Path, tmp_path: Path) -> None:
    mp4 = encode(make_frames(10), tmp_path / "phone.mp4", codec="h264")
    data = mp4.read_bytes()
    head = tmp_path / "head.mp4"  # the index (moov) is written last: a cut file has none
    head.write_bytes(data[: len(data) // 2])
    result = cli(head)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {head} is not a video FFmpeg can read (")
    assert result.stderr.endswith("check that the file is complete\n")


def test_refused_inputs_through_the_cli(tmp_path: Path) -> None:
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "folder.mp4").mkdir()
    cases = {
        "empty.mp4": (1, "Error: empty.mp4 is empty (0 bytes): the copy may have failed; copy it "
                         "again"),
        "folder.mp4": (1, f"Error: no images in folder {'folder.mp4'}"),
        "concat:a.mp4|b.mp4": (2, "Error: input 'concat:a.mp4|b.mp4' looks like a URL or an "
                                  "ffmpeg protocol; only local files and folders are read: "
                                  "download it first"),
        "pipe:0": (2, "Error: input 'pipe:0' looks like a URL or an ffmpeg protocol; only local "
                      "files and folders are read: download it first"),
        "/dev/zero": (2, "Error: input '/dev/zero' is a device, not a file: give a video file or "
                         "a folder"),
    }  # fmt: skip
    for path, (code, start) in cases.items():
        for command in ([path], ["info", path]):
            result = cli(*command)
            assert result.exit_code == code, (path, result.output)
            assert result.stderr.startswith(start), (path, result.stderr)
            assert len(result.stderr.splitlines()) == 1


# --- codecs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(  # fmt: skip
    ("codec", "ext", "extra"),
    [
        ("libx264", "mp4", ("-pix_fmt", "yuv420p", "-crf", "10")),
        (
            "libx265",
            "mp4",
            ("-pix_fmt", "yuv420p", "-crf", "10", "-x265-params", "log-level=error"),
        ),
        ("libvpx-vp9", "webm", ("-pix_fmt", "yuv420p", "-crf", "10", "-b:v", "0")),
        (
            "libsvtav1",
            "mkv",
            ("-pix_fmt", "yuv420p", "-crf", "20", "-svtav1-params", "log-level=0"),
        ),
        ("libaom-av1", "mkv", ("-pix_fmt", "yuv420p", "-crf", "10", "-cpu-used", "8")),
        ("mjpeg", "avi", ("-pix_fmt", "yuvj444p", "-q:v", "2")),
        ("prores_ks", "mov", ("-pix_fmt", "yuv422p10le", "-profile:v", "3")),
        ("ffv1", "mkv", ("-pix_fmt", "yuv420p10le")),
    ],
)
def test_codecs_decode_frame_accurately(tmp_path: Path, codec: str, ext: str,
                                        extra: tuple[str, ...]) -> None:  # fmt: skip
    frames = make_frames(10)
    clip = encode(frames, tmp_path / f"c.{ext}", codec=codec, extra=extra)
    got = decode_all(clip)
    assert [i for i, _, _ in got] == list(range(10))
    for index, _, pixels in got:
        scaled = pixels / 257.0 if pixels.dtype == np.uint16 else pixels
        assert frame_index_of(scaled) == index
        # Noise of 0..40 in 4:2:0 is hard for lossy codecs; the blocks are what must match.
        assert np.abs(scaled[:8, :8].astype(float) - frames[index][:8, :8]).mean() < 5
        assert np.abs(scaled.astype(float) - frames[index]).mean() < 12


def test_source_error_is_not_swallowed(tmp_path: Path) -> None:
    (tmp_path / "none").mkdir()
    with pytest.raises(SourceError):
        open_source(tmp_path / "none")


@pytest.mark.parametrize(("ext", "extra"), [("ts", ("-muxdelay", "2")),
                                            ("mkv", ("-output_ts_offset", "3"))])  # fmt: skip
def test_seek_when_the_container_starts_late(tmp_path: Path, ext: str,
                                             extra: tuple[str, ...]) -> None:  # fmt: skip
    """Broadcast (TS) and trimmed clips start at 3 or 4 s: seeks still land on the frame asked."""
    clip = encode(make_frames(40), tmp_path / f"late.{ext}", codec="h264", extra=extra)
    got = decode_all_range(clip, 17, 30, 4)
    assert [(i, frame_index_of(p)) for i, _, p in got] == [(k, k) for k in (17, 21, 25, 29)]
    np.testing.assert_allclose([t for _, t, _ in got], [0.68, 0.84, 1.0, 1.16], atol=1e-3)


def decode_all_range(path: Path, start: int, end: int, step: int) -> list:
    with open_source(path) as src:
        return [(f.index, f.time_s, f.pixels.copy()) for f in src.frames(start, end, step)]
