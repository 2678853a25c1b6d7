"""HDR video to what vid2trail stacks: PQ and HLG light, BT.2020 to BT.709, Hable tone mapping.

FFmpeg turns the YUV into float non-linear BT.2020 RGB; :class:`HdrToSdr` does the rest in
vectorized numpy, the way FFmpeg's ``zscale`` + ``tonemap=hable`` chain does (PyAV's FFmpeg has no
``zscale``): the transfer curves are SMPTE ST 2084 and ARIB STD-B67, the primaries matrix comes
from the chromaticities, and the SDR signal is BT.1886-encoded display light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .sources.media import StreamInfo

from .errors import option

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
    def for_stream(cls, stream: StreamInfo, *, keep: bool, deep: bool = True) -> HdrToSdr:
        """The step for a :class:`~vid2trail.sources.media.StreamInfo` of an HDR stream; ``deep``:
        the source has more than 8 bits, so tone-mapped frames are 16-bit."""
        return cls(
            stream.color_transfer,
            keep=keep,
            peak_nits=stream.peak_nits,
            dtype=np.uint16 if deep else np.uint8,
            label=stream.hdr,
        )

    def note(self) -> str:
        """The sentence ``info`` and the CLI show about this step."""
        if self.keep:
            return (
                f"kept the {self.label} light: linear float, BT.709 primaries, 1.0 = "
                f"{HDR_REFERENCE_WHITE_NITS} cd/m2 reference white; highlights above 1.0 survive "
                f"only in {option('bit_depth')} 32 outputs (.tif, .fits, .npy)"
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
