"""Frame interpolation for Smooth: FFmpeg's motion-compensated `minterpolate` via PyAV's filter graph."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

__all__ = ["interpolate", "smooth_fps"]


def smooth_fps(fps: int) -> int:
    """The frame rate Smooth raises a clip to: 24, or 48 for a clip that already plays at 24."""
    return 24 if fps < 24 else 48


def interpolate(frames: np.ndarray, fps: int, target_fps: int) -> np.ndarray:
    """Motion-interpolate uint8 frames (F, H, W, 3) from `fps` to `target_fps`: same first and last frame,
    (F - 1) * target_fps / fps + 1 frames, none repeated at the end."""
    if target_fps <= fps or len(frames) < 2:
        return frames
    height, width = frames.shape[1:3]
    graph = av.filter.Graph()
    source = graph.add_buffer(width=width, height=height, format=av.VideoFormat("rgb24"), time_base=Fraction(1, fps))
    # Motion-compensated interpolation with overlapped blocks and bidirectional motion estimation.
    interp = graph.add("minterpolate", f"fps={target_fps}:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1")
    sink = graph.add("buffersink")
    source.link_to(interp)
    interp.link_to(sink)
    graph.configure()

    # Output frame n shows time n / target_fps; the clip ends on the source's last frame, shown once.
    last = (len(frames) - 1) * target_fps // fps
    out: list[np.ndarray] = []

    def drain() -> None:
        while True:
            try:
                frame = sink.pull()
            except (av.BlockingIOError, av.EOFError):
                return
            assert isinstance(frame, av.VideoFrame)
            if frame.pts is not None and frame.pts <= last:
                out.append(frame.to_ndarray(format="rgb24"))

    # The filter holds back its last few frames until it sees later input: feed the last frame again
    # (what it makes past the clip's end is dropped above).
    for index, array in enumerate([*frames, *[frames[-1]] * 3]):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")
        frame.pts, frame.time_base = index, Fraction(1, fps)
        source.push(frame)
        drain()
    source.push(None)
    drain()
    if len(out) < last + 1:
        out.append(frames[-1])
    return np.stack(out[: last + 1])
