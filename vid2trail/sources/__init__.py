"""Frame sources: one module per decoder, chosen by :func:`open_source`.

A source is anything that satisfies :class:`Source`: it knows its :class:`~vid2trail.SourceInfo`
before decoding and yields :class:`~vid2trail.Frame` objects for a frame range, seeking where the
container allows. Iteration is a generator whose cleanup closes the decoder, so breaking out of the
loop releases it.
"""

from __future__ import annotations

import errno
import os
import re

from ..errors import SourceError, SourceNotFoundError, UsageError, option
from .base import HDR_MODES, HWACCEL_MODES, IMAGE_EXTENSIONS, Source, SourceBase, expand_glob

#: Video decoders; the first is the default. ``ffmpeg`` names the same decoder (FFmpeg's
#: libraries, in-process through PyAV), as it did when frames came from an ffmpeg process.
VIDEO_BACKENDS = ("pyav", "ffmpeg")
#: Backends that are gone, and the sentence that says what decodes instead.
RETIRED_BACKENDS = {
    "opencv": f"{option('backend')} opencv is retired: PyAV decodes in-process, faster and with "
    "10-bit, HDR, stream choice and exact frame times; decoding with PyAV",
}

_GLOB_CHARS = re.compile(r"[*?\[]")
# "concat:", "http:", "pipe:" ... ffmpeg would open these as protocols, not files. A Windows drive
# letter ("C:") is one character and so does not match.
_PROTOCOL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+:")


def is_image_collection(path: str) -> bool:
    """True when ``path`` names a folder, a glob, or a single still image.

    Examples
    --------
    >>> is_image_collection("frames/*.jpg"), is_image_collection("clip.mp4")
    (True, False)
    """
    if os.path.isdir(path) or (_GLOB_CHARS.search(path) and not os.path.exists(path)):
        return True
    return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS


def check_local_path(path: str) -> None:
    """Refuse anything but a local file, folder or glob: no protocols, devices or pipes.

    Raises
    ------
    UsageError
        For ``http:``, ``concat:``, ``pipe:``, ``-`` and paths under ``/dev``.
    SourceNotFoundError
        When nothing exists at ``path`` and it is not a glob.
    """
    text = str(path)
    if text in ("", "-"):
        raise UsageError(f"input {text!r} is not a file: give a video file, a folder or a glob")
    if _PROTOCOL_RE.match(text) and not os.path.exists(text):
        raise UsageError(
            f"input {text!r} looks like a URL or an ffmpeg protocol; only local files and "
            "folders are read: download it first"
        )
    real = os.path.realpath(text)
    if real == "/dev" or real.startswith(("/dev/", "/proc/")):
        raise UsageError(f"input {text!r} is a device, not a file: give a video file or a folder")
    if not _exists(text) and not (_GLOB_CHARS.search(text) and expand_glob(text)):
        if _GLOB_CHARS.search(text):
            raise SourceNotFoundError(
                f"no files match {text!r}: check the pattern, and quote it so the shell "
                "does not expand it"
            )
        raise SourceNotFoundError(
            f"{text} does not exist: check the path (a folder, or a quoted glob such as "
            "'frames/*.jpg', also works)"
        )


def _exists(text: str) -> bool:
    """Whether ``text`` names something, telling apart the reasons it cannot be reached: a name
    longer than the system allows, a loop of links, a folder that may not be read."""
    try:
        os.stat(text)
    except FileNotFoundError:
        if os.path.islink(text):
            raise SourceNotFoundError(
                f"{text} is a link to {os.readlink(text)}, which does not exist: fix the link"
            ) from None
        return False
    except OSError as exc:
        reasons = {
            errno.ENAMETOOLONG: "the path is longer than this system allows (at most "
            f"{_limit('PC_PATH_MAX', 4096)} bytes, {_limit('PC_NAME_MAX', 255)} a name): "
            "move it to a shorter folder or rename it",
            errno.ELOOP: "its links lead round in a loop: fix the links",
            errno.EACCES: "permission denied: check the folders' permissions",
            errno.ENOTDIR: "a part of the path is a file, not a folder: check the path",
        }
        reason = reasons.get(exc.errno or 0, exc.strerror or str(exc))
        raise SourceError(f"cannot read {text}: {reason}") from None
    return True


def _limit(name: str, fallback: int) -> int:
    try:
        return int(os.pathconf("/", name))
    except (OSError, ValueError):
        return fallback


#: ``--preview``: the longer side of preview frames, in pixels.
PREVIEW_SIDE = 640


def open_source(
    path: str | os.PathLike[str],
    backend: str = "auto",
    *,
    stream: int | None = None,
    hdr: str = "tonemap",
    preview: bool = False,
    threads: int = 1,
    hwaccel: str = "none",
    sort: str = "name",
    raw_half: bool = False,
) -> SourceBase:
    """Open a video file, a folder of images, or a glob of images.

    Parameters
    ----------
    path : str or PathLike
        A video (mp4, mov, mkv, webm, ...), a folder, a glob such as ``"frames/*.jpg"``, or one
        image.
    backend : {"auto", "pyav", "ffmpeg"}
        Video decoder: FFmpeg's libraries through PyAV, in-process (``ffmpeg`` is another name
        for it). Ignored for images.
    stream : int, optional
        Which video stream, counting video streams from 0; default: the file's default one.
    hdr : {"tonemap", "keep"}
        HDR (PQ, HLG) video: tone-map to SDR BT.709, or keep it as float linear light.
    preview : bool
        Deliver small frames (longer side at most :data:`PREVIEW_SIDE`): FFmpeg shrinks them as
        it converts, JPEGs decode at 1/2, 1/4 or 1/8 size in the DCT domain.
    threads : int
        For folders: images decoded at once by a thread pool.
    hwaccel : {"none", "auto", "cuda"}
        Decode video on an NVIDIA GPU (NVDEC): ``cuda`` insists, ``auto`` falls back to software.
    sort : {"name", "time"}
        For folders: natural name order, or the images' EXIF capture times.
    raw_half : bool
        For RAW files: demosaic at half size (``--preview`` does too).

    Returns
    -------
    Source

    Examples
    --------
    >>> with open_source("sample_clips/startrails.mp4") as src:  # doctest: +SKIP
    ...     print(src.info.width, src.info.height)
    960 540
    """
    text = os.fspath(path)
    check_local_path(text)
    check_decoding(backend, stream, hdr, hwaccel)
    if is_image_collection(text):
        from .images import ImageFolderSource

        return ImageFolderSource(text, PREVIEW_SIDE if preview else None, threads=threads,
                                 sort=sort, raw_half=raw_half)  # fmt: skip
    retired = RETIRED_BACKENDS.get(backend)
    from .pyav import PyAVSource

    notes = (retired,) if retired is not None else ()
    video = PyAVSource(text, stream=stream, hdr=hdr, hwaccel=hwaccel, notes=notes)
    return video.downscaled_to_fit(PREVIEW_SIDE) if preview else video


def check_decoding(
    backend: str = "auto", stream: int | None = None, hdr: str = "tonemap", hwaccel: str = "none"
) -> None:
    """Refuse decoding options that no input could use, before anything is opened.

    Examples
    --------
    >>> check_decoding("pyav", 0, "keep", "auto")
    >>> check_decoding(hdr="loud")
    Traceback (most recent call last):
    ...
    vid2trail.errors.UsageError: hdr 'loud': choose one of tonemap, keep
    """
    if stream is not None and (isinstance(stream, bool) or stream < 0):
        raise UsageError(f"{option('stream')} {stream}: video streams count from 0")
    if backend not in ("auto", *VIDEO_BACKENDS) and backend not in RETIRED_BACKENDS:
        raise UsageError(
            f"unknown {option('backend')} {backend!r}: choose one of auto, "
            f"{', '.join(VIDEO_BACKENDS)}"
        )
    if hdr not in HDR_MODES:
        raise UsageError(f"{option('hdr')} {hdr!r}: choose one of {', '.join(HDR_MODES)}")
    if hwaccel not in HWACCEL_MODES:
        raise UsageError(
            f"{option('hwaccel')} {hwaccel!r}: choose one of {', '.join(HWACCEL_MODES)}"
        )


__all__ = [
    "IMAGE_EXTENSIONS",
    "PREVIEW_SIDE",
    "RETIRED_BACKENDS",
    "Source",
    "SourceBase",
    "VIDEO_BACKENDS",
    "check_local_path",
    "expand_glob",
    "is_image_collection",
    "open_source",
]
