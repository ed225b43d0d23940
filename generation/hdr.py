"""A user's HDR or wide-gamut video (a phone's: an iPhone records HLG in BT.2020, many Android phones PQ),
mapped to the SDR BT.709 colours the models saw in training and the clip is encoded in (torch-free: the bot
runs this, from `video_input.normalise`).

Read as if it were SDR, such a video looks flat and washed out. FFmpeg's own colour management (the
`dst_color_trc` / `dst_color_primaries` of a reformat: tone mapping and gamut mapping) does it right, but
takes about a second a call whatever the size. So it is run once per kind of source, on a frame that holds
every point of a 65x65x65 grid of signal values, and the result kept as a lookup table; each frame is then
scaled by FFmpeg to the working size (the YUV matrix applied, in 16 bits) and looked up: a few milliseconds.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # PyAV and numpy load with the first video, not when the bot starts
    import av
    import numpy as np

__all__ = ["needs_mapping", "to_sdr"]

log = logging.getLogger(__name__)
_PQ, _HLG = 16, 18  # FFmpeg's AVColorTransferCharacteristic: SMPTE ST 2084, ARIB STD-B67
_WIDE = {9, 11, 12}  # AVColorPrimaries: BT.2020, DCI-P3, Display P3
_BT709 = 1
_GRID = 65  # points a side of the lookup table (its nearest point is within 1/128 of a signal's range)


def needs_mapping(frame: av.VideoFrame) -> bool:
    """Whether `frame` is HDR or wide-gamut: shown as SDR BT.709 only after mapping."""
    return frame.color_trc in (_PQ, _HLG) or frame.color_primaries in _WIDE


def to_sdr(frame: av.VideoFrame, width: int, height: int) -> np.ndarray | None:
    """`frame` scaled to width x height, in SDR BT.709 RGB (uint8); None where FFmpeg cannot map its colours
    (then it is read as it is)."""
    table = _table(frame.color_trc, frame.color_primaries)
    if table is None:
        return None
    signal = frame.reformat(width=width, height=height, format="rgb48le").to_ndarray().astype("uint32")
    index = (signal * (_GRID - 1) + 32767) // 65535  # the nearest grid point of each channel
    return table[(index[..., 0] * _GRID + index[..., 1]) * _GRID + index[..., 2]]


@functools.lru_cache(maxsize=8)
def _table(transfer: int, primaries: int) -> np.ndarray | None:
    """The SDR BT.709 colour (uint8 RGB) of each point of the grid of signal values a source with this
    transfer and these primaries holds, as FFmpeg maps it."""
    import av
    import numpy as np

    steps = np.linspace(0, 65535, _GRID).round().astype(np.uint16)
    red, green, blue = np.meshgrid(steps, steps, steps, indexing="ij")
    grid = np.ascontiguousarray(np.stack([red, green, blue], -1).reshape(_GRID * _GRID, _GRID, 3))
    source = av.VideoFrame.from_ndarray(grid, format="rgb48le")
    source.color_trc, source.color_primaries, source.colorspace = transfer, primaries, 0  # RGB: no YUV matrix
    try:
        mapped = source.reformat(format="rgb24", dst_color_trc=_BT709, dst_color_primaries=_BT709)
    except (av.FFmpegError, ValueError, OSError) as exc:  # a transfer or primaries FFmpeg cannot map
        log.warning("cannot map colours (transfer %s, primaries %s) to SDR: %s", transfer, primaries, exc)
        return None
    return mapped.to_ndarray().reshape(_GRID**3, 3)
