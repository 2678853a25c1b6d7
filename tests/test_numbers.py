"""Every number the commands take, fed NaN, infinities, 0, a negative and a huge value.

Each one is either refused cleanly (exit 2, one ``Error: --flag value: ...`` line, nothing
written, no traceback or numpy text) or accepted with its documented meaning (exit 0).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from vid2trail.color import srgb_to_linear
from vid2trail.errors import UsageError, Vid2TrailWarning, option
from vid2trail.median import (
    MedianReducer,
    check_memory,
    format_size,
    parse_size,
    physical_memory,
)

from conftest import invoke, make_frames, read_rgb

#: A whole number no option can mean: 10**30.
HUGE = "1" + "0" * 30
FLOATS = ("nan", "inf", "-inf", "0", "-1", "1e308")
WHOLE = ("nan", "inf", "-inf", "0", "-1", HUGE)
#: How a float option's value reads back in its message (the repr of the parsed float).
AS_FLOAT = {"0": "0.0", "-1": "-1.0", "1e308": "1e+308"}


def case(cmd: str, flag: str, value: str, *more: str, code: int, stdout: str = "",
         stderr: str | None = "", check: Callable[[Path], None] | None = None):  # fmt: skip
    """``vid2trail [cmd] CLIP {flag}={value} *more -q``: its exit code, stdout and stderr.

    ``stderr``, where ``{clip}`` stands for the input's path: for a run accepted, all of stderr
    (None: not checked); for a refusal, the text after ``Error: ``, or None where only its
    start, ``{flag} {value}: ``, is known yet (the cases not clean today).
    """
    return pytest.param((cmd, flag, value, *more), code, stdout, stderr, check,
                        id=f"{cmd} {flag}={value}")  # fmt: skip


def refused(flag: str, value: str, text: str | None, *more: str, cmd: str = "stack",
            code: int = 2):  # fmt: skip
    return case(cmd, flag, value, *more, code=code, stderr=text)


def accepted(flag: str, value: str, stdout: str, stderr: str | None = "", *more: str,
             cmd: str = "stack", check: Callable[[Path], None] | None = None):  # fmt: skip
    return case(cmd, flag, value, *more, code=0, stdout=stdout, stderr=stderr, check=check)


def six(flag: str, use: str, *more: str, cmd: str = "stack", floats: bool = False,
        special: dict | None = None) -> list:  # fmt: skip
    """The six cases of one option: refused with ``{flag} {value}: use {use}`` unless
    ``special`` says otherwise; a whole-number option does not parse NaN and the infinities."""
    cases = []
    for value in FLOATS if floats else WHOLE:
        if special and value in special:
            cases.append(special[value])
        elif not floats and value in ("nan", "inf", "-inf"):
            cases.append(refused(flag, value, f"{flag} '{value}': use a whole number", *more,
                                 cmd=cmd))  # fmt: skip
        else:
            shown = AS_FLOAT.get(value, value) if floats else value
            cases.append(refused(flag, value, f"{flag} {shown}: use {use}", *more, cmd=cmd))
    return cases


VIDEO = ("--video", "v.mp4")
CORES = os.cpu_count() or 1
MOST_WORKERS = max(8, 4 * CORES)
COMET = (*VIDEO, "--trail", "comet")
REJECT = "K must be a number above 0 (5 is a good start)"
WORKERS = "give a whole number of processes, 1 or more"


def _only_frame_0(folder: Path) -> None:
    # One frame of the window is left: the max of one frame is that frame, bit for bit.
    np.testing.assert_array_equal(read_rgb(folder / "dots-max.png"), make_frames(40)[0])


def _one_video_frame(folder: Path) -> None:
    import av

    with av.open(str(folder / "v.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 1  # the last frame: the still


def _too_much_memory(value: str):
    """More than this machine's memory: refused (where the system says how much it has)."""
    physical = physical_memory()
    if physical is None:  # pragma: no cover - no bound to check
        return accepted("--memory", value, "dots-median.png\n", "", "-m", "median")
    text = (
        f"--memory {format_size(parse_size(value))} is more than this machine's "
        f"{format_size(physical)} of memory: give at most that (frames beyond --memory wait in "
        "the temporary folder)"
    )
    return refused("--memory", value, text, "-m", "median")


SCANNED = """\
Scanned 40 frames at 64x48; brightness 0.075 to 0.094 (mean luma, 0 black, 1 white)
Night window: frames 0 to 40 (0:00 to 0:01.6), 40 frames; brightness stays within 0.018 of 0.076 \
(no twilight): all frames
Flashes in the window (brighter than the running median + 1e+308 x MAD): 0
Suggested: vid2trail {clip} --reject-above 1e+308
"""


def _reject_above(cmd: str) -> dict:
    """``--reject-above``: refused below 0, and 1e308 is documented: nothing is a flash."""
    special = {v: refused("--reject-above", v, f"--reject-above {AS_FLOAT.get(v, v)}: {REJECT}",
                          cmd=cmd) for v in FLOATS[:5]}  # fmt: skip
    if cmd == "scan":
        special["1e308"] = accepted("--reject-above", "1e308", "dots-scan.png\n", SCANNED,
                                    cmd="scan")  # fmt: skip
    else:
        special["1e308"] = accepted("--reject-above", "1e308", "dots-max.png\n", "Rejected 0 "
                                    "flash frames (brighter than the running median + 1e+308 x "
                                    "MAD)\n")  # fmt: skip
    return special


def _range(flag: str, values: tuple[str, ...], text: str, cmd: str = "stack") -> dict:
    """Out of the option's range: the library's message, ``{value}`` filled in."""
    return {v: refused(flag, v, text.format(value=v), cmd=cmd) for v in values}


def _position(flag: str) -> dict:
    """Not a frame number or a time: refused, the option and the value named."""
    text = ("cannot read {flag} '{value}': give a frame number (120), a time (90s, 4.5s, 2:00, "
            "1:02:03.5) or a clock time (T22:30, 2026-08-12T22:30)")  # fmt: skip
    return {v: refused(flag, v, text.format(flag=flag, value=v))
            for v in ("nan", "inf", "-inf", "-1")}  # fmt: skip


NOT_A_SIZE = "--memory {!r} is not a size: use a number with a unit, such as 2GB"
CASES = [
    *six(
        "--kappa",
        "a number of standard deviations above 0, at most 100",
        "-m",
        "sigma",
        floats=True,
    ),
    *six(
        "--iterations",
        "at most 20 (each one decodes the selection again; two already reject a plane's trail)",
        "-m",
        "sigma",
        special={
            v: refused(
                "--iterations", v, f"--iterations {v}: use a whole number, 1 or more", "-m", "sigma"
            )
            for v in ("0", "-1")
        },
    ),
    *six("--buffers", "a whole number from 1 to 256", "-m", "maxmean"),
    *[
        refused("--memory", v, NOT_A_SIZE.format(v), "-m", "median")
        for v in ("nan", "inf", "-inf", "-1")
    ],
    refused("--memory", "0", "--memory '0': the size must be above 0", "-m", "median"),
    _too_much_memory("1000000TB"),
    # Below one row of every frame: the median takes what one row needs, and says so.
    accepted(
        "--memory",
        "1",
        "dots-median.png\n",
        "Warning: --memory 1 B is less than one row "
        "of every frame needs (12.3 kB): the median uses that much\n",
        "-m",
        "median",
    ),
    *six("--gain", "a factor above 0, at most 1000000 (2 is one stop brighter)", floats=True),
    *six("--bit-depth", "8, 16 or 32"),
    *six("--quality", "1 to 100", "-o", "o.jpg"),
    # Every K-th frame: a K past the last frame keeps the window's first frame alone.
    *six(
        "--step",
        "",
        special=_range(
            "--step", ("0", "-1"), "--step {value} must be a whole number of frames, 1 or more"
        )  # fmt: skip
        | {
            HUGE: accepted(
                "--step",
                HUGE,
                "dots-max.png\n",
                f"Note: --step {HUGE} is longer than the window (frames 0-40): it keeps only "
                "frame 0\n",
                check=_only_frame_0,
            )
        },
    ),
    *six("--reject-above", "", floats=True, special=_reject_above("stack")),
    *six(
        "--workers",
        "",
        special={
            "0": refused("--workers", "0", f"--workers 0: {WORKERS}"),
            "-1": refused("--workers", "-1", f"--workers -1: {WORKERS}"),
            HUGE: refused(
                "--workers",
                HUGE,
                f"--workers {HUGE}: use at most {MOST_WORKERS} (this "
                f"machine has {CORES} core{'' if CORES == 1 else 's'}; each process "
                "decodes on its own)",
            ),  # fmt: skip
        },
    ),
    *six(
        "--stream",
        "",
        special={
            "0": accepted("--stream", "0", "dots-max.png\n"),
            "-1": refused("--stream", "-1", "--stream -1: video streams count from 0"),
            HUGE: refused(
                "--stream",
                HUGE,
                f"--stream {HUGE}: {{clip}}: there is no video stream "
                f"{HUGE}: the file has 1 (--stream 0 to 0)",
            ),
        },
    ),
    *six("--video-fps", "a frame rate above 0, at most 1000, e.g. 24 or 30", *VIDEO, floats=True),
    # Every K-th stacked frame and always the last: a huge K leaves the still alone.
    *six(
        "--video-step",
        "a whole number, 1 or more",
        *VIDEO,
        special={
            HUGE: accepted(
                "--video-step", HUGE, "dots-max.png\nv.mp4\n", "", *VIDEO, check=_one_video_frame
            )
        },
    ),
    *six(
        "--video-width",
        "a width of 2 pixels or more",
        *VIDEO,
        special={
            HUGE: refused(
                "--video-width",
                HUGE,
                f"--video-width {HUGE}: use a width of 2 to 16384 pixels (8K is 7680)",
                *VIDEO,
            ),  # fmt: skip
            **{
                v: refused(
                    "--video-width",
                    v,
                    f"--video-width {v}: use a width of 2 to 16384 pixels (8K is 7680)",
                    *VIDEO,
                )
                for v in ("0", "-1")
            },  # fmt: skip
        },
    ),
    *six(
        "--crf",
        "0 (lossless) to 51; 18 looks lossless",
        *VIDEO,
        special={"0": accepted("--crf", "0", "dots-max.png\nv.mp4\n", "", *VIDEO)},
    ),
    *six(
        "--trail-frames",
        "a whole number of frames, 1 or more",
        *COMET,
        special={
            **{
                v: refused(
                    "--trail-frames",
                    v,
                    f"--trail-frames {v}: use a whole number of frames, 1 to 1000000",
                    *COMET,
                )
                for v in (HUGE, "0", "-1")
            },  # fmt: skip
        },
    ),
    *six("--decay", "a factor between 0 and 1, e.g. 0.95", *COMET, floats=True),
    *six(
        "--start",
        "",
        special=_position("--start")
        | {
            "0": accepted("--start", "0", "dots-max.png\n"),
            # Past the end of this input, not a bad value: exit 1, an input problem (SourceError).
            HUGE: refused(
                "--start",
                HUGE,
                f"--start frame {HUGE} is past the last frame of {{clip}}: "
                "it has 40 frames (1.60 s); give a smaller --start",
                code=1,
            ),
        },
    ),
    *six(
        "--end",
        "",
        special=_position("--end")
        | {
            # The window is half-open and --start defaults to 0: the pair is at fault.
            "0": refused(
                "--end",
                "0",
                "--start 0 (frame 0) is not before --end 0 (frame 0): the "
                "window is half-open, start <= frame < end; give an end after the start",
            ),
            HUGE: accepted(
                "--end",
                HUGE,
                "dots-max.png\n",
                f"Note: --end {HUGE} (frame {HUGE}) is "
                "past the last frame of {clip} (40 frames (1.60 s)): stacking to the "
                "end\n",
            ),
        },
    ),
    *six("--reject-above", "", cmd="scan", floats=True, special=_reject_above("scan")),
    *six(
        "--scan-width",
        "",
        cmd="scan",
        special=_range(
            "--scan-width",
            ("0", "-1", HUGE),
            "--scan-width {value}: use 16 to 4096 pixels",
            cmd="scan",
        ),  # fmt: skip
    ),
    *[
        refused(
            "--size",
            f"{v}x800",
            f"--size '{v}x800': write WIDTHxHEIGHT in pixels, e.g. 1400x800",
            cmd="scan",
        )
        for v in ("nan", "inf", "-inf")
    ],
    *[
        refused("--size", s, f"--size {s}: each side must be 200 to 10000 pixels", cmd="scan")
        for s in ("0x800", "-1x800", "100000x100000")
    ],
]


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize(("args", "code", "stdout", "stderr", "check"), CASES)
def test_a_number_is_refused_cleanly_or_accepted_as_documented(
    in_tmp: Path, lossless_clip: Path, args: tuple[str, ...], code: int, stdout: str,
    stderr: str | None, check: Callable[[Path], None] | None,
) -> None:  # fmt: skip
    cmd, flag, value, *more = args
    before = listing(in_tmp)
    command = () if cmd == "stack" else (cmd,)
    result = invoke(*command, lossless_clip, f"{flag}={value}", *more, "-q")
    out, err = result.stdout, result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    if stderr is None or "Warning:" not in stderr:
        for word in ("Warning", "RuntimeWarning", "numpy", "overflow", "invalid value"):
            assert word not in err, err
    assert result.exit_code == code, (out, err)
    if code:
        if stderr is None:
            # Named as the messages that are done: "{flag} {value}: ..." (the value maybe quoted).
            line = rf"Error: {re.escape(flag)} '?{re.escape(value)}'?: [^\n]+\n"
            assert re.fullmatch(line, err), err
        else:
            assert err == f"Error: {stderr.format(clip=lossless_clip)}\n"
        assert out == ""
        assert listing(in_tmp) == before  # nothing written, not even a partial file
        return
    assert out == stdout
    if stderr is not None:
        assert err == stderr.format(clip=lossless_clip)
    assert listing(in_tmp) == sorted(before + stdout.split())
    if check is not None:
        check(in_tmp)


# -- the median's memory bounds, in the library ------------------------------------------------


def test_median_warns_at_the_end_when_the_count_was_not_known(tmp_path: Path) -> None:
    frames = make_frames(30)
    median = MedianReducer(memory_bytes=1, temp_dir=str(tmp_path))
    median.expect(None, frames.shape[1:], frames.dtype)
    for frame in frames:
        median.update(frame)
    with pytest.warns(Vid2TrailWarning, match=r"^memory 1 B is less than one row of every frame "
                      r"needs \(10.4 kB\): the median uses that much$"):  # fmt: skip
        result = median.result()
    assert np.array_equal(result, srgb_to_linear(np.median(frames, axis=0) / 255))
    assert median.bands == 48 and os.listdir(tmp_path) == []  # one row a band, never less


def test_check_memory_refuses_more_than_the_machine_has(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = {"SC_PHYS_PAGES": 4_000_000, "SC_PAGE_SIZE": 4096}  # 16.4 GB
    monkeypatch.setattr(os, "sysconf", lambda name: sizes[name])
    check_memory(16_384_000_000)
    with pytest.raises(UsageError) as caught:
        check_memory(17_384_000_000)
    assert caught.value.message() == (
        f"{option('memory')} 17.4 GB is more than this machine's 16.4 GB of memory: give at most "
        f"that (frames beyond {option('memory')} wait in the temporary folder)"
    )

    def unknown(name: str) -> int:
        raise ValueError(name)

    monkeypatch.setattr(os, "sysconf", unknown)
    check_memory(10**18)  # the system does not say: no check
