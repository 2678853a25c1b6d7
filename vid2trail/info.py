"""``vid2trail info``: what an input holds and how vid2trail will read it.

:func:`describe` gathers the facts as plain data (for ``--json``); :func:`format_report` lays them
out for people. For a video, the container and every stream come from ffmpeg's report, the frame
count from one demux pass (exact, no decoding), and the size after rotation from decoding the
first frame.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, cast

from .errors import in_words
from .sources import is_image_collection, open_source

if TYPE_CHECKING:
    from .sources.media import MediaInfo
    from .sources.pyav import PyAVSource


def describe(path: str | os.PathLike[str], stream: int | None = None) -> dict[str, Any]:
    """Facts about a video, folder or glob, as JSON-ready data.

    Parameters
    ----------
    path : str or PathLike
        The input, as for :func:`vid2trail.open_source`.
    stream : int, optional
        Which video stream to describe in detail (counting video streams from 0).

    Returns
    -------
    dict
        ``path``, ``kind`` (``"video"`` or ``"images"``), the frame facts, and for a video
        ``container``, ``streams`` and ``video`` (the chosen stream in detail). Notes name
        options in library words.

    Examples
    --------
    >>> facts = describe("sample_clips/startrails.mp4")  # doctest: +SKIP
    >>> facts["video"]["frame_count"], facts["video"]["frame_count_exact"]  # doctest: +SKIP
    (240, True)
    """
    text = os.fspath(path)
    with open_source(text, backend="ffmpeg", stream=stream) as source:
        if is_image_collection(text):
            info = source.info
            clocks = source.clock_times()
            return {
                "path": text,
                "kind": "images",
                "frame_count": info.frame_count,
                "width": info.width,
                "height": info.height,
                "channels": info.channels,
                "bit_depth": info.bits_per_sample,
                "raw": info.codec == "raw",
                "first_capture": min(clocks).isoformat() if clocks else None,
                "last_capture": max(clocks).isoformat() if clocks else None,
                "capture_order": None if not clocks else
                "names" if all(a <= b for a, b in zip(clocks, clocks[1:], strict=False))
                else "differs from the names",
                "notes": [in_words(note) for note in info.notes],
            }  # fmt: skip
        video = cast("PyAVSource", source)  # what open_source opens a video with
        media = video.media
        return {
            "path": text,
            "kind": "video",
            "size_bytes": os.path.getsize(text),
            "container": media.container,
            "duration_s": media.duration_s,
            "bitrate_kbps": media.bitrate_kbps,
            "created": media.created.isoformat() if media.created else None,
            "streams": _streams(media),
            "video": _video(video),
        }


def _streams(media: MediaInfo) -> list[dict[str, Any]]:
    """Every stream of the file, in brief; video streams with the number ``stream`` takes."""
    videos = media.video_streams()
    return [
        {
            "index": s.index,
            "type": s.kind if not s.attached_pic else "attached picture",
            "codec": s.codec,
            "language": s.language,
            "default": s.default,
            **({"video_number": videos.index(s)} if s.is_video else {}),
        }
        for s in media.streams
    ]


def _video(source: PyAVSource) -> dict[str, Any]:
    """The chosen video stream in detail, with its exact frame count (one demux pass)."""
    times = source.frame_times()
    info = source.exact_info()
    chosen = source.stream
    frame_duration = (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else None
    return {
        "stream": info.stream,
        "stream_index": chosen.index,
        "codec": chosen.codec,
        "profile": chosen.profile,
        "coded_size": [chosen.width, chosen.height],
        "size": [info.width, info.height],
        "rotation_deg": info.rotation_deg,
        "fps": info.fps,
        "mean_fps": round(1 / frame_duration, 3) if frame_duration else None,
        "variable_fps": info.variable_fps,
        "duration_s": info.duration_s,
        "frame_count": info.frame_count,
        "frame_count_exact": info.frame_count_exact,
        "pix_fmt": info.pix_fmt,
        "bit_depth": info.bits_per_sample,
        "decoded_as": f"{info.dtype} RGB",
        "color_range": chosen.color_range or None,
        "color_matrix": chosen.color_matrix or None,
        "color_primaries": chosen.color_primaries or None,
        "color_transfer": chosen.color_transfer or None,
        "hdr": chosen.hdr or None,
        "dolby_vision": chosen.dolby_vision,
        "conversion": source.filter_chain,
        "notes": [in_words(note) for note in info.notes],
    }


def _or(value: Any, missing: str = "not tagged") -> str:
    return missing if value in (None, "") else str(value)


def format_report(facts: dict[str, Any]) -> str:
    """Lay out :func:`describe`'s facts as aligned ``name: value`` lines.

    Examples
    --------
    >>> print(format_report({"path": "f/", "kind": "images", "frame_count": 3, "width": 4,
    ...                      "height": 2, "channels": 3, "bit_depth": 8}))
    path:   f/
    kind:   images
    frames: 3
    size:   4x2, 3 channels, 8-bit
    """
    if facts["kind"] == "images":
        rows = [
            ("path", facts["path"]),
            ("kind", "images"),
            ("frames", facts["frame_count"]),
            ("size", f"{facts['width']}x{facts['height']}, {facts['channels']} channels, "
                     f"{facts['bit_depth']}-bit" + (", RAW (linear, sRGB-encoded)"
                                                    if facts.get("raw") else "")),
        ]  # fmt: skip
        if facts.get("first_capture"):
            order = ("in the names' order" if facts["capture_order"] == "names" else
                     "not in the names' order: --sort time follows the clock")  # fmt: skip
            span = f"{facts['first_capture']} to {facts['last_capture']}"
            rows.append(("captured", f"{span} ({order})"))
        elif "first_capture" in facts:
            rows.append(("captured", "not known (not every image has a capture time)"))
        rows += [("note", note) for note in facts.get("notes", [])]
    else:
        v = facts["video"]
        streams = "; ".join(
            f"#{s['index']} {s['type']} {s['codec']}"
            + (f" (--stream {s['video_number']})" if "video_number" in s else "")
            + (" default" if s["default"] else "")
            for s in facts["streams"]
        )
        fps = f"{v['fps']:g}" if v["fps"] else "unknown"
        variable = {True: "variable", False: "constant", None: "not checked"}[v["variable_fps"]]
        count = f"{v['frame_count']} ({'exact' if v['frame_count_exact'] else 'estimated'})"
        duration = f"{v['duration_s']:.3f} s" if v["duration_s"] is not None else "unknown"
        rows = [
            ("path", facts["path"]),
            ("container", f"{facts['container']}, {facts['size_bytes']:,} bytes"),
            ("created", _or(facts.get("created"), "not tagged")),
            ("streams", streams),
            ("video", f"stream {v['stream']}: {v['codec']} {v['profile']}".rstrip()),
            ("coded size", f"{v['coded_size'][0]}x{v['coded_size'][1]}"),
            ("size", f"{v['size'][0]}x{v['size'][1]} (rotation {v['rotation_deg']} degrees)"),
            ("fps", f"{fps} ({variable}; mean {_or(v['mean_fps'], 'unknown')})"),
            ("duration", duration),
            ("frames", count),
            ("pixels", f"{v['pix_fmt']}, {v['bit_depth']}-bit, decoded as {v['decoded_as']}"),
            ("range", _or(v["color_range"])),
            ("matrix", _or(v["color_matrix"])),
            ("primaries", _or(v["color_primaries"])),
            ("transfer", _or(v["color_transfer"])),
            ("hdr", (v["hdr"] or "no") + (", Dolby Vision" if v["dolby_vision"] else "")),
            ("conversion", v["conversion"]),
        ]
        rows += [("note", note) for note in v["notes"]]
    width = max(len(name) for name, _ in rows) + 2
    return "\n".join(f"{name + ':':<{width}}{value}" for name, value in rows)


__all__ = ["describe", "format_report"]
