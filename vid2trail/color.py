"""Colour maths: the sRGB transfer curve, lookup tables, normalization and output quantization.

Averaging or adding light must happen in linear light: the mean of two sRGB code values is not the
code value of the mean light (a star at 255 averaged with black sky gives 128, which is 22% of the
light, not 50%). We decode with the exact IEC 61966-2-1 piecewise curve, not a 2.2 power law, and
encode back the same way, so a mean of identical frames returns those frames exactly.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from .errors import UsageError

#: The sRGB curve's linear toe: code values up to this decode as ``v / 12.92``.
SRGB_DECODE_KNEE = 0.04045
#: The same knee in linear units.
SRGB_ENCODE_KNEE = 0.0031308


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    """Decode sRGB values in ``[0, 1]`` to linear light (IEC 61966-2-1).

    Examples
    --------
    >>> float(srgb_to_linear(np.array(1.0)))
    1.0
    >>> round(float(srgb_to_linear(np.array(0.5))), 4)
    0.214
    """
    v = np.asarray(values, dtype=np.float64)
    return np.where(v <= SRGB_DECODE_KNEE, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(values: np.ndarray) -> np.ndarray:
    """Encode linear light in ``[0, 1]`` as sRGB values in ``[0, 1]`` (IEC 61966-2-1).

    Examples
    --------
    >>> round(float(linear_to_srgb(np.array(0.214041))), 4)
    0.5
    """
    v = np.clip(np.asarray(values, dtype=np.float64), 0.0, None)
    return np.where(v <= SRGB_ENCODE_KNEE, v * 12.92, 1.055 * np.power(v, 1.0 / 2.4) - 0.055)


@lru_cache(maxsize=4)
def decode_lut(dtype_name: str) -> np.ndarray:
    """Linear-light value of every code value of an integer dtype, as a read-only float64 table.

    Examples
    --------
    >>> lut = decode_lut("uint8")
    >>> lut.shape, float(lut[255])
    ((256,), 1.0)
    """
    top = int(np.iinfo(np.dtype(dtype_name)).max)
    table = srgb_to_linear(np.arange(top + 1, dtype=np.float64) / top)
    table.setflags(write=False)
    return table


def to_linear(pixels: np.ndarray) -> np.ndarray:
    """Decode integer sRGB pixels to linear float64 through the lookup table.

    Examples
    --------
    >>> to_linear(np.array([0, 255], np.uint8)).tolist()
    [0.0, 1.0]
    """
    return decode_lut(pixels.dtype.name)[pixels]


_PERCENTILE_RE = re.compile(r"^p(\d{1,2}(?:\.\d+)?|100)$")

#: ``--normalize`` default for each mode: what maps to white before ``--gain``.
DEFAULT_NORMALIZE = {
    "max": "none",
    "min": "none",
    "mean": "none",
    "sum": "p99.5",
    "sigma": "none",
    "winsor": "none",
    "median": "none",
    "maxmean": "none",
}


def parse_normalize(text: str) -> str:
    """Check a ``--normalize`` value: ``none``, ``max`` or ``pNN`` (a percentile such as p99.5).

    Examples
    --------
    >>> parse_normalize("P99.5")
    'p99.5'
    """
    value = str(text).strip().lower()
    if value in ("none", "max") or _PERCENTILE_RE.match(value):
        return value
    raise UsageError(
        f"--normalize {text!r} is not understood: use none, max, or a percentile such as p99.5"
    )


def normalization_scale(linear: np.ndarray, normalize: str) -> float:
    """The factor that maps the chosen statistic of a linear image to white (1.0).

    ``none`` leaves the image as it is; ``max`` maps the brightest sample to white; ``pNN`` maps
    the NN-th percentile of all samples (all channels pooled) to white, clipping the brightest
    (100 - NN)% of samples. An all-black image is left alone.

    Examples
    --------
    >>> normalization_scale(np.array([0.0, 0.25, 0.5]), "max")
    2.0
    """
    mode = parse_normalize(normalize)
    if mode == "none":
        return 1.0
    if mode == "max":
        level = float(linear.max(initial=0.0))
    else:
        level = float(np.percentile(linear, float(mode[1:])))
    return 1.0 / level if level > 0 else 1.0


def to_output(
    result: np.ndarray,
    *,
    linear: bool,
    out_dtype: np.dtype | type,
    normalize: str = "none",
    gain: float = 1.0,
    transfer: str = "srgb",
) -> np.ndarray:
    """Turn a reducer's result into an image of ``out_dtype`` (uint8, uint16, float32 or float64).

    Parameters
    ----------
    result : numpy.ndarray
        Either integer sRGB code values (``linear=False``: max and min stacks) or float linear
        light where 1.0 is white (``linear=True``: mean and sum).
    linear : bool
        Which of the two ``result`` holds.
    out_dtype : dtype
        Integer outputs are sRGB code values; float outputs are sRGB-encoded values in ``[0, 1]``.
    normalize : str
        ``none``, ``max`` or ``pNN`` (see :func:`normalization_scale`).
    gain : float
        Multiplies the linear light after normalization (2.0 is one stop brighter).
    transfer : {"srgb", "linear"}
        ``linear`` (float ``out_dtype`` only) returns the normalized linear light itself, not
        clipped to ``[0, 1]`` and not sRGB-encoded: what ``--bit-depth 32`` and FITS hold.

    Returns
    -------
    numpy.ndarray

    Notes
    -----
    An integer result with no normalization and no gain is rescaled exactly (8 to 16 bit by
    x257), never through floats, so a max stack written at the source's depth is bit-exact.

    Examples
    --------
    >>> to_output(np.array([0, 255], np.uint8), linear=False, out_dtype=np.uint16).tolist()
    [0, 65535]
    >>> to_output(np.array([0.21586]), linear=True, out_dtype=np.uint8).tolist()
    [128]
    >>> to_output(np.array([255], np.uint8), linear=False, out_dtype=np.float32,
    ...           transfer="linear", gain=2.0).tolist()
    [2.0]
    """
    out = np.dtype(out_dtype)
    if gain <= 0:
        raise UsageError(f"--gain {gain}: the gain must be above 0")
    if transfer not in ("srgb", "linear"):
        raise UsageError(f"transfer {transfer!r}: use srgb or linear")
    if transfer == "linear":
        if out.kind != "f":
            raise UsageError(f"linear output needs a float dtype, not {out}")
        light = to_linear(result) if not linear else np.asarray(result, dtype=np.float64)
        factor = normalization_scale(light, normalize) * gain
        return (light * factor if factor != 1.0 else light).astype(out)
    if not linear and parse_normalize(normalize) == "none" and gain == 1.0:
        return _rescale_codes(result, out)
    light = to_linear(result) if not linear else np.asarray(result, dtype=np.float64)
    factor = normalization_scale(light, normalize) * gain
    return _encode_rows(light, factor, out)


#: Rows encoded at once by :func:`to_output`: its float64 temporaries stay a few MB, not
#: several full-size copies of a 4K or 8K result.
_ENCODE_ROWS = 64


def _encode_rows(light: np.ndarray, factor: float, out: np.dtype) -> np.ndarray:
    """``light`` x ``factor``, clipped to [0, 1], sRGB-encoded into ``out``, a band of rows at a
    time (integer outputs rounded to the nearest code)."""
    encoded = np.empty(light.shape, out)
    top = np.iinfo(out).max if out.kind != "f" else None
    rows = light.reshape(light.shape[0], -1) if light.ndim > 1 else light.reshape(1, -1)
    dest = encoded.reshape(rows.shape)
    for y in range(0, rows.shape[0], _ENCODE_ROWS):
        band = rows[y : y + _ENCODE_ROWS] * factor if factor != 1.0 else rows[y : y + _ENCODE_ROWS]
        values = linear_to_srgb(np.clip(band, 0.0, 1.0))
        if top is None:
            dest[y : y + _ENCODE_ROWS] = values
        else:
            dest[y : y + _ENCODE_ROWS] = np.rint(values * top)
    return encoded


def _rescale_codes(codes: np.ndarray, out: np.dtype) -> np.ndarray:
    """Exact change of bit depth for integer code values (x257 up, rounded /257 down)."""
    if codes.dtype == out:
        return codes
    src_top = np.iinfo(codes.dtype).max
    if out.kind == "f":
        return (codes.astype(np.float64) / src_top).astype(out)
    out_top = np.iinfo(out).max
    if out_top % src_top == 0:
        return codes.astype(out) * (out_top // src_top)
    return np.rint(codes.astype(np.float64) * (out_top / src_top)).astype(out)


# --- HDR video: PQ and HLG to SDR BT.709, or to linear light ------------------------------------

#: ``--hdr keep``: linear light where 1.0 is this many cd/m2 (ITU-R BT.2408 HDR reference white).
HDR_REFERENCE_WHITE_NITS = 203
#: The nominal peak that tone mapping measures light against (what FFmpeg's zscale calls npl).
SDR_NOMINAL_PEAK_NITS = 100
#: HLG's nominal display peak (ITU-R BT.2100), which sets the OOTF's system gamma of 1.2.
HLG_DISPLAY_PEAK_NITS = 1000

# SMPTE ST 2084 (PQ) constants.
_PQ_M1, _PQ_M2 = 2610 / 16384, 2523 / 4096 * 128
_PQ_C1, _PQ_C2, _PQ_C3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
# ARIB STD-B67 (HLG) constants.
_HLG_A = 0.17883277
_HLG_B = 1 - 4 * _HLG_A
_HLG_C = 0.5 - _HLG_A * np.log(4 * _HLG_A)


def pq_eotf(code: np.ndarray) -> np.ndarray:
    """SMPTE ST 2084 (PQ): non-linear signal in ``[0, 1]`` to display light in cd/m2.

    Examples
    --------
    >>> [round(float(v)) for v in pq_eotf(np.array([0.0, 0.508, 1.0]))]
    [0, 100, 10000]
    """
    e = np.power(np.clip(np.asarray(code, np.float32), 0, 1), np.float32(1 / _PQ_M2))
    ratio = np.maximum(e - np.float32(_PQ_C1), 0) / (np.float32(_PQ_C2) - np.float32(_PQ_C3) * e)
    return np.float32(10000) * np.power(ratio, np.float32(1 / _PQ_M1))


def hlg_inverse_oetf(code: np.ndarray) -> np.ndarray:
    """ARIB STD-B67 (HLG): non-linear signal in ``[0, 1]`` to relative scene light in ``[0, 1]``.

    Examples
    --------
    >>> [round(float(v), 4) for v in hlg_inverse_oetf(np.array([0.0, 0.5, 1.0]))]
    [0.0, 0.0833, 1.0]
    """
    e = np.clip(np.asarray(code, np.float32), 0, 1)
    low = e * e / np.float32(3)
    high = (np.exp((e - np.float32(_HLG_C)) / np.float32(_HLG_A)) + np.float32(_HLG_B)) / 12
    return np.where(e <= 0.5, low, high).astype(np.float32)


def hlg_eotf(rgb: np.ndarray, peak_nits: float = HLG_DISPLAY_PEAK_NITS) -> np.ndarray:
    """HLG signal (BT.2020) to display light in cd/m2: the inverse OETF, then the system gamma
    of BT.2100 (1.2 for a 1000 cd/m2 display) applied to each channel, as FFmpeg's ``zscale``
    (zimg) applies it; BT.2100's own OOTF scales by the scene luminance instead, which shifts
    saturated colours.

    Examples
    --------
    >>> round(float(hlg_eotf(np.ones((1, 1, 3), np.float32))[0, 0, 0]))
    1000
    """
    scene = hlg_inverse_oetf(rgb)
    gamma = 1.2 + 0.42 * np.log10(peak_nits / 1000)
    return np.float32(peak_nits) * np.power(scene, np.float32(gamma))


def rgb_to_xyz_matrix(primaries: tuple[tuple[float, float], ...]) -> np.ndarray:
    """The linear RGB to CIE XYZ matrix of three primaries and a white point (x, y each)."""
    xy = np.array(primaries, np.float64)
    xyz = np.column_stack([xy[:, 0] / xy[:, 1], np.ones(4), (1 - xy.sum(axis=1)) / xy[:, 1]])
    scale = np.linalg.solve(xyz[:3].T, xyz[3])
    return xyz[:3].T * scale


_D65 = (0.3127, 0.3290)
_BT709_PRIMARIES = ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060), _D65)
_BT2020_PRIMARIES = ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046), _D65)
#: Linear BT.2020 RGB to linear BT.709 RGB (same D65 white), from the primaries.
BT2020_TO_BT709 = (
    np.linalg.inv(rgb_to_xyz_matrix(_BT709_PRIMARIES)) @ rgb_to_xyz_matrix(_BT2020_PRIMARIES)
).astype(np.float32)


def hable(x: np.ndarray) -> np.ndarray:
    """John Hable's filmic curve (Uncharted 2), the one FFmpeg's ``tonemap=hable`` uses.

    Examples
    --------
    >>> round(float(hable(np.array(1.0))), 4)
    0.2207
    """
    a, b, c, d, e, f = 0.15, 0.50, 0.10, 0.20, 0.02, 0.30
    x = np.asarray(x, np.float32)
    return (x * (x * a + b * c) + d * e) / (x * (x * a + b) + d * f) - e / f


def bt1886_encode(linear: np.ndarray) -> np.ndarray:
    """Display light in ``[0, 1]`` to the BT.709 video signal, by inverting the BT.1886 display
    EOTF (a pure 2.4 power): what FFmpeg's ``zscale t=bt709`` writes for display-referred light.

    Examples
    --------
    >>> [round(float(v), 4) for v in bt1886_encode(np.array([0.0, 0.18, 1.0]))]
    [0.0, 0.4894, 1.0]
    """
    v = np.clip(np.asarray(linear, np.float32), 0, 1)
    return np.power(v, np.float32(1 / 2.4))


class HdrToSdr:
    """One frame of HDR video (float non-linear BT.2020 RGB) to what vid2trail stacks.

    ``keep=False`` tone-maps as FFmpeg's ``zscale`` + ``tonemap=hable:desat=0`` chain does:
    light relative to 100 cd/m2, BT.2020 to BT.709 primaries, the brightest channel of each
    pixel through Hable's curve against the signal peak (the stream's MaxCLL or mastering peak,
    else 1000 cd/m2), the other channels scaled with it, then BT.1886 encoding, quantized to
    ``dtype``. ``keep=True`` stops after the primaries, with 1.0 = the 203 cd/m2 reference white:
    float32 linear light whose highlights stay above 1.0.

    Parameters
    ----------
    transfer : {"smpte2084", "arib-std-b67"}
        PQ or HLG.
    keep : bool
        Keep linear light instead of tone-mapping.
    peak_nits : float, optional
        The signal peak for tone mapping.
    dtype : numpy dtype
        uint8 or uint16 for tone-mapped output.

    Examples
    --------
    >>> step = HdrToSdr("smpte2084", keep=False, dtype=np.uint16)
    >>> step(np.full((1, 1, 3), 0.75, np.float32)).dtype
    dtype('uint16')
    """

    def __init__(
        self,
        transfer: str,
        *,
        keep: bool,
        peak_nits: float | None = None,
        dtype: np.dtype | type = np.uint16,
        label: str = "",
    ) -> None:
        self.transfer = transfer
        self.keep = keep
        self.peak_nits = float(peak_nits) if peak_nits else float(HLG_DISPLAY_PEAK_NITS)
        self.dtype = np.dtype(np.float32 if keep else dtype)
        self.label = label or {"smpte2084": "PQ (HDR10)", "arib-std-b67": "HLG"}.get(transfer, "")

    @classmethod
    def for_stream(cls, stream: object, *, keep: bool) -> HdrToSdr:
        """The step for a :class:`~vid2trail.sources.media.StreamInfo` of an HDR stream."""
        from .sources.media import bits_per_sample

        pix_fmt = str(getattr(stream, "pix_fmt", ""))
        return cls(
            str(getattr(stream, "color_transfer", "")),
            keep=keep,
            peak_nits=getattr(stream, "peak_nits", None),
            dtype=np.uint16 if bits_per_sample(pix_fmt) > 8 else np.uint8,
            label=str(getattr(stream, "hdr", "")),
        )

    def note(self) -> str:
        """The sentence ``info`` and the CLI show about this step."""
        if self.keep:
            return (
                f"kept the {self.label} light: linear float, BT.709 primaries, 1.0 = "
                f"{HDR_REFERENCE_WHITE_NITS} cd/m2 reference white; highlights above 1.0 survive "
                "only in --bit-depth 32 outputs (.tif, .fits, .npy)"
            )
        return f"tone-mapped {self.label} BT.2020 to SDR BT.709 (Hable curve)"

    def describe(self) -> str:
        """What the step does, for ``vid2trail info``'s conversion line."""
        if self.keep:
            return f"{self.label} to linear light, BT.709 primaries, 1.0 = 203 cd/m2"
        return f"{self.label} tone-mapped (Hable, peak {self.peak_nits:g} cd/m2) to BT.709"

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        if self.transfer == "smpte2084":
            nits = pq_eotf(signal)
        else:
            nits = hlg_eotf(signal)
        white = HDR_REFERENCE_WHITE_NITS if self.keep else SDR_NOMINAL_PEAK_NITS
        light = (nits @ (BT2020_TO_BT709.T / np.float32(white))).astype(np.float32, copy=False)
        if self.keep:
            return np.maximum(light, 0, out=light)
        peak = np.float32(self.peak_nits / SDR_NOMINAL_PEAK_NITS)
        sig = np.maximum(light.max(axis=2, keepdims=True), np.float32(1e-6))
        light *= hable(sig) / hable(peak) / sig
        top = np.iinfo(self.dtype).max
        return np.rint(bt1886_encode(light) * top).astype(self.dtype)
