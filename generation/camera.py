"""The virtual camera: a zoom / pan / rotate path over finished frames, for models with no camera input.

Each output frame is a crop window of its source frame, resampled back to full size, so there are never
black borders: the window always lies inside the frame. The path is eased (slow start, slow end).

Directions are the camera's: "pan left" moves the camera left, so the picture slides right on screen;
"zoom in" makes things bigger; "rotate cw" turns the picture clockwise on screen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from generation.values import Camera

__all__ = ["Window", "apply_camera", "camera_path"]

# Strength per motion level 0..4.
_ZOOM = (0.10, 0.18, 0.26, 0.34, 0.42)  # how much bigger things get by the last frame
_PAN_SCALE = (0.90, 0.85, 0.80, 0.75, 0.70)  # crop window size while panning; travel = the rest
_ROTATE_DEG = (3.0, 5.0, 8.0, 11.0, 14.0)


@dataclass(frozen=True)
class Window:
    """Where a frame's crop window sits: centre as fractions of the frame, size as a fraction of it,
    and how far the picture turns clockwise (degrees)."""

    cx: float
    cy: float
    scale: float
    angle: float = 0.0


def _ease(t: float) -> float:
    return t * t * (3 - 2 * t)


def camera_path(camera: Camera, frames: int, width: int, height: int, motion: int = 1) -> list[Window]:
    """The crop window of each of `frames` frames for this camera move."""
    level = min(max(motion, 0), 4)
    steps = [_ease(i / (frames - 1)) if frames > 1 else 1.0 for i in range(frames)]
    if camera.zoom:
        small = 1 / (1 + _ZOOM[level])
        scales = [1 + (small - 1) * t for t in steps]
        if camera.zoom < 0:
            scales.reverse()
        return [Window(0.5, 0.5, s) for s in scales]
    if camera.rotate:
        max_angle = _ROTATE_DEG[level]
        rad = math.radians(max_angle)
        ratio = max(width / height, height / width)
        # The largest window of the frame's shape that stays inside the frame at the final angle.
        scale = 1 / (math.cos(rad) + ratio * math.sin(rad))
        return [Window(0.5, 0.5, scale, camera.rotate * max_angle * t) for t in steps]
    if camera.pan_x or camera.pan_y:
        scale = _PAN_SCALE[level]
        low, high = scale / 2, 1 - scale / 2

        def travel(direction: int, t: float) -> float:
            # The window moves the way the camera moves: left pan -> window goes from right to left.
            start, end = (high, low) if direction < 0 else (low, high)
            return 0.5 if direction == 0 else start + (end - start) * t

        return [Window(travel(camera.pan_x, t), travel(camera.pan_y, t), scale) for t in steps]
    return [Window(0.5, 0.5, 1.0) for _ in steps]


def _render(frame: Image.Image, window: Window) -> Image.Image:
    width, height = frame.size
    s = window.scale
    if not window.angle:  # zoom and pan: a box resize (separable, several times faster than an affine warp)
        left, top = window.cx * width - s * width / 2, window.cy * height - s * height / 2
        box = (left, top, left + s * width, top + s * height)
        return frame.resize((width, height), Image.Resampling.BICUBIC, box=box, reducing_gap=None)
    cos, sin = math.cos(math.radians(window.angle)), math.sin(math.radians(window.angle))
    # Output pixel (x, y) samples the source at centre + s * R(-angle) * (x - W/2, y - H/2).
    a, b, d, e = s * cos, s * sin, -s * sin, s * cos
    c = window.cx * width - (a * width / 2 + b * height / 2)
    f = window.cy * height - (d * width / 2 + e * height / 2)
    return frame.transform((width, height), Image.Transform.AFFINE, (a, b, c, d, e, f), Image.Resampling.BICUBIC)


def apply_camera(frames: np.ndarray, camera: Camera | None, motion: int = 1) -> np.ndarray:
    """Apply a camera move to uint8 frames of shape (F, H, W, 3)."""
    if camera is None or not camera.framed:  # lock and orbit are the model's to make (or refused)
        return frames
    count, height, width = frames.shape[:3]
    path = camera_path(camera, count, width, height, motion)
    return np.stack(
        [np.asarray(_render(Image.fromarray(frame), window)) for frame, window in zip(frames, path, strict=True)]
    )
