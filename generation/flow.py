"""Smooth on the GPU: in-between frames from optical flow.

RAFT (torchvision's `raft_large` or `raft_small`, `MOTIONBOT_SMOOTH_FLOW`) estimates the motion both ways
between each pair of neighbouring frames, at a reduced size (longest side `FLOW_SIDE`). For a frame at
time t between frames 0 and 1, each of the two pushes its pixels along its flow to where they are at t
(forward splatting), weighted by how near t is to it and by trust: where the flows there and back
disagree, the pixel is hidden in the other frame, so it yields to one seen in both (what is in front stays
in front). A pixel nothing lands on takes both frames pulled back along the flow. Output frames that fall
on a source frame are that frame, unchanged, so a clip starts and ends as it did. All of it runs on the
device at full size; the uint8 frames come back once.

`interpolate.py` keeps FFmpeg's `minterpolate` as the CPU path; the engine falls back to it whenever this
one is off, cannot load or fails.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from generation.interpolate import FlowSource

__all__ = [
    "FLOW_SIDE",
    "FlowSmoother",
    "between",
    "fetch_published",
    "load_smoother",
    "optical_flow",
    "raft",
    "raft_flow",
    "splat",
    "warp",
    "write_flow",
]

FLOW_SIDE = 512  # flows are estimated with the longest side at about this size, then scaled to the frame
MIN_SIDE = 128  # RAFT's correlation pyramid needs feature maps of 16 px: inputs of 128 px at least
UPDATES = 12  # RAFT's refinement iterations (torchvision's default)
PAIRS = 8  # frame pairs per RAFT batch (each is estimated both ways)

Flow = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (N,3,H,W) in 0..1 twice -> (N,2,H,W) pixels


def optical_flow() -> ModuleType:
    """torchvision's optical-flow models (imported on first use: a worker without Smooth by flow never
    loads torchvision; `generation/__init__.py` lets it import beside a CPU-only torch)."""
    from torchvision.models import optical_flow as module

    return module


def _state_dict(path: str) -> dict[str, torch.Tensor]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path)
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} holds no state dict")
    return loaded


def _architecture(model: str) -> tuple[Callable[[], torch.nn.Module], Any]:
    """The model's builder (random weights) and torchvision's published weights for it."""
    module = optical_flow()
    known = {
        "raft_large": (module.raft_large, module.Raft_Large_Weights.DEFAULT),
        "raft_small": (module.raft_small, module.Raft_Small_Weights.DEFAULT),
    }
    if model not in known:
        raise ValueError(f"unknown flow model {model!r} (raft_large or raft_small)")
    return known[model]


def fetch_published(model: str) -> None:
    """Download torchvision's published weights for `model` into torch's cache (TORCH_HOME), checking their
    hash, so a worker's first Smooth does not wait for them (`python -m generation download`)."""
    from generation.download import DownloadError

    try:
        _architecture(model)[1].get_state_dict(progress=True, check_hash=True)
    except (OSError, RuntimeError) as exc:
        raise DownloadError(f"could not download the {model} flow weights: {str(exc).splitlines()[0]}") from None


def raft(source: FlowSource) -> torch.nn.Module:
    """The RAFT model with its weights (raises OSError / ValueError when they do not load)."""
    build, published = _architecture(source.model)
    state = _state_dict(source.weights) if source.weights else published.get_state_dict(progress=False)
    model = build()
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:  # the file holds another model's weights
        raise ValueError(str(exc).splitlines()[0]) from None
    return model.eval()


def raft_flow(model: torch.nn.Module, updates: int = UPDATES, side: int = FLOW_SIDE) -> Flow:
    """A Flow from a RAFT model: frames scaled down so the longest side is about `side` (sides in multiples
    of 8, at least 128), the flow scaled back to the frames' size."""

    def estimate(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        height, width = first.shape[-2:]
        scale = min(1.0, side / max(height, width))
        size = [max(MIN_SIDE, round(n * scale / 8) * 8) for n in (height, width)]
        pair = [
            F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=scale < 1) * 2 - 1
            for x in (first, second)
        ]
        flow = model(pair[0], pair[1], num_flow_updates=updates)[-1]
        flow = F.interpolate(flow, size=(height, width), mode="bilinear", align_corners=False)
        return flow * torch.tensor([width / size[1], height / size[0]], device=flow.device).view(1, 2, 1, 1)

    return estimate


def _landing(flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x and y (N,H,W) of where each pixel lands when it moves along `flow` (N,2,H,W), in pixels."""
    height, width = flow.shape[-2:]
    ys, xs = torch.meshgrid(
        torch.arange(height, device=flow.device, dtype=flow.dtype),
        torch.arange(width, device=flow.device, dtype=flow.dtype),
        indexing="ij",
    )
    return xs + flow[:, 0], ys + flow[:, 1]


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """`image` (N,C,H,W) sampled at x + flow(x) (flow (N,2,H,W) in pixels, x then y); edges clamp."""
    height, width = image.shape[-2:]
    x, y = _landing(flow)
    x = x * (2 / max(width - 1, 1)) - 1
    y = y * (2 / max(height - 1, 1)) - 1
    grid = torch.stack((x, y), dim=-1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


def splat(values: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """`values` (N,C,H,W) pushed forward along `flow` (pixel x lands on x + flow(x)), each spread over the
    four pixels around where it lands (bilinear) and summed there."""
    n, channels, height, width = values.shape
    x, y = _landing(flow)
    left, top = x.floor(), y.floor()
    out = torch.zeros((n, channels, height * width), device=values.device, dtype=values.dtype)
    for column in (left, left + 1):
        for row in (top, top + 1):
            share = (1 - (x - column).abs()) * (1 - (y - row).abs())
            inside = (column >= 0) & (column < width) & (row >= 0) & (row < height)
            index = (row.clamp(0, height - 1) * width + column.clamp(0, width - 1)).long().view(n, 1, -1)
            weighted = values * (share * inside).unsqueeze(1)
            out.scatter_add_(2, index.expand(n, channels, -1), weighted.view(n, channels, -1))
    return out.view(n, channels, height, width)


def _trust(forward: torch.Tensor, backward: torch.Tensor) -> torch.Tensor:
    """(N,1,H,W): 1 where a pixel of frame 0 is seen in frame 1 (the flow there and back returns to it),
    falling steeply (but never to 0) where it is hidden there: the usual forward-backward check."""
    back = warp(backward, forward)
    error = (forward + back).square().sum(1, keepdim=True)
    allowed = 0.01 * (forward.square().sum(1, keepdim=True) + back.square().sum(1, keepdim=True)) + 0.5
    return torch.exp(-(error / allowed).clamp(max=30))


def between(
    first: torch.Tensor, second: torch.Tensor, forward: torch.Tensor, backward: torch.Tensor, t: torch.Tensor
) -> torch.Tensor:
    """Frames at times t (N,1,1,1) in (0,1) between `first` and `second` (N,3,H,W), from the flows between
    them (forward: first -> second, backward: second -> first).

    Each frame's pixels move along their flow to where they are at time t (forward splatting), weighted
    by nearness in time and by trust: a pixel that something covers by the other frame weighs next to
    nothing where a pixel seen in both lands too, so what is in front stays in front. A pixel nothing
    lands on (rare: where the motion stretches) takes both frames pulled back along the flow."""
    weight_first = (1 - t) * _trust(forward, backward)
    weight_second = t * _trust(backward, forward)
    landed = splat(torch.cat((first * weight_first, weight_first), 1), t * forward)
    landed += splat(torch.cat((second * weight_second, weight_second), 1), (1 - t) * backward)
    color, weight = landed[:, :3], landed[:, 3:]
    pulled = (1 - t) * warp(first, -t * forward) + t * warp(second, -(1 - t) * backward)
    return torch.where(weight > 1e-12, color / weight.clamp_min(1e-12), pulled)


class FlowSmoother:
    """Interpolates uint8 clips on `device` with `flow` (RAFT in the product, a known motion in tests)."""

    def __init__(self, flow: Flow, device: torch.device, pairs: int = PAIRS):
        self.flow, self.device, self.pairs = flow, device, pairs

    @torch.no_grad()
    def __call__(self, frames: np.ndarray, fps: int, target_fps: int) -> np.ndarray:
        """`frames` (F,H,W,3) uint8 from `fps` to `target_fps`, as `interpolate.interpolate` does it: same
        first and last frame, (F - 1) * target_fps / fps + 1 frames."""
        if target_fps <= fps or len(frames) < 2:
            return frames
        last = (len(frames) - 1) * target_fps // fps
        # Output frame n shows source time n * fps / target_fps: pair i = its whole part, t = the rest.
        wanted = [divmod(n * fps, target_fps) for n in range(last + 1)]
        clip = torch.from_numpy(np.ascontiguousarray(frames)).to(self.device)
        out = torch.empty((last + 1, *clip.shape[1:]), dtype=torch.uint8, device=self.device)
        for n, (pair, rest) in enumerate(wanted):
            if rest == 0:
                out[n] = clip[pair]
        for start in range(0, len(frames) - 1, self.pairs):
            stop = min(start + self.pairs, len(frames) - 1)
            todo = [
                (n, pair - start, rest / target_fps)
                for n, (pair, rest) in enumerate(wanted)
                if rest and start <= pair < stop
            ]
            if not todo:
                continue
            pictures = clip[start : stop + 1].permute(0, 3, 1, 2).float() / 255
            ahead, behind = pictures[:-1], pictures[1:]
            flows = self.flow(torch.cat((ahead, behind)), torch.cat((behind, ahead)))
            forward, backward = flows[: len(ahead)], flows[len(ahead) :]
            index = torch.tensor([i for _, i, _ in todo], device=self.device)
            t = torch.tensor([t for _, _, t in todo], device=self.device).view(-1, 1, 1, 1)
            made = between(ahead[index], behind[index], forward[index], backward[index], t)
            out[[n for n, _, _ in todo]] = (made.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(0, 2, 3, 1)
        return out.cpu().numpy()


def write_flow(folder: Path, model: str = "raft_small", seed: int = 0) -> None:
    """Random weights for `model` (torchvision's architecture) as `folder/<model>.safetensors`: what the
    tests and `python -m generation random-models` point MOTIONBOT_SMOOTH_WEIGHTS at."""
    from safetensors.torch import save_file

    build, _ = _architecture(model)
    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(build().state_dict(), folder / f"{model}.safetensors")


def load_smoother(source: FlowSource) -> FlowSmoother:
    """RAFT on the source's device, ready to interpolate (raises when its weights do not load)."""
    device = torch.device(source.device)
    model: Any = raft(source).to(device)
    return FlowSmoother(raft_flow(model), device)
