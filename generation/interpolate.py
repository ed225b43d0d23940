"""Frame interpolation for Smooth: optical flow on the GPU (`generation/flow.py`, RAFT) where the worker
has it, else FFmpeg's motion-compensated `minterpolate` via PyAV's filter graph, also whenever the flow
path cannot load or fails (a Smooth never fails for it)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import av
import numpy as np

from generation.settings import GenerationSettings, SmoothEngine

if TYPE_CHECKING:
    from generation.flow import FlowSmoother

__all__ = ["FlowSource", "Smoother", "flow_source", "interpolate", "smooth_fps"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FlowSource:
    model: str  # "raft_large" or "raft_small"
    weights: str = ""  # a local state-dict file; "": torchvision's published weights for the model
    device: str = "cuda"


def flow_source(settings: GenerationSettings, device: str) -> FlowSource | None:
    """What Smooth uses for flow on a worker whose pipelines run on `device`; None: minterpolate."""
    if settings.smooth is SmoothEngine.MINTERPOLATE:
        return None
    if settings.smooth is SmoothEngine.AUTO and not device.startswith("cuda"):
        return None
    return FlowSource(settings.smooth_flow.value, settings.smooth_weights, device)


class Smoother:
    """Smooth's frames in between. The flow model loads on the first Smooth; if it cannot load, that is
    logged once and minterpolate does every Smooth after; if one clip fails on it (out of memory), that
    clip is logged and made with minterpolate."""

    def __init__(self, flow: FlowSource | None = None):
        self.flow = flow
        self._model: FlowSmoother | None = None
        self._lock = threading.Lock()

    def load(self) -> FlowSmoother | None:
        """The flow model, loaded on first use (the worker's `--preload` loads it at start); None: minterpolate."""
        with self._lock:
            if self._model is None and self.flow is not None:
                from generation.flow import load_smoother

                try:
                    self._model = load_smoother(self.flow)
                except Exception:
                    log.exception("Smooth: the %s flow model did not load; Smooth uses minterpolate", self.flow.model)
                    self.flow = None
            return self._model

    def __call__(self, frames: np.ndarray, fps: int, target_fps: int, job_id: str = "") -> np.ndarray:
        model = self.load() if target_fps > fps and len(frames) > 1 else None
        if model is not None:
            try:
                return model(frames, fps, target_fps)
            except Exception:
                log.exception("job %s: Smooth by flow failed; minterpolate makes it", job_id, extra={"job_id": job_id})
        return interpolate(frames, fps, target_fps)


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
