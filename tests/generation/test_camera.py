from __future__ import annotations

import numpy as np
import pytest

from generation.camera import apply_camera, camera_path
from generation.values import Camera

W, H, FRAMES = 160, 90, 9


def camera(move: str) -> Camera:
    parsed = Camera.parse(move)
    assert parsed is not None
    return parsed


def marker_frames(x: int = W // 2, y: int = H // 2) -> np.ndarray:
    """A still clip: grey, with one bright 6x6 square at (x, y)."""
    frames = np.full((FRAMES, H, W, 3), 90, np.uint8)
    frames[:, y - 3 : y + 3, x - 3 : x + 3] = 255
    return frames


def centroid(frame: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(frame[..., 0] > 180)
    return float(xs.mean()), float(ys.mean())


def spread(frame: np.ndarray) -> int:
    return int((frame[..., 0] > 180).sum())


@pytest.mark.parametrize(
    ("move", "dx", "dy"),
    [
        ("pan left", -1, 0),
        ("pan right", 1, 0),
        ("pan up", 0, -1),
        ("pan down", 0, 1),
        ("pan up left", -1, -1),
    ],
)
def test_pan_window_travels_the_way_the_camera_moves(move: str, dx: int, dy: int) -> None:
    path = camera_path(camera(move), FRAMES, W, H, motion=2)
    first, last = path[0], path[-1]
    assert np.sign(round(last.cx - first.cx, 6)) == dx
    assert np.sign(round(last.cy - first.cy, 6)) == dy
    for window in path:  # never leaves the frame: no black borders
        assert window.scale / 2 <= window.cx <= 1 - window.scale / 2
        assert window.scale / 2 <= window.cy <= 1 - window.scale / 2


@pytest.mark.parametrize(
    ("move", "dx", "dy"),
    [("pan left", 1, 0), ("pan right", -1, 0), ("pan up", 0, 1), ("pan down", 0, -1), ("pan down right", -1, -1)],
)
def test_pan_moves_the_picture_against_the_camera(move: str, dx: int, dy: int) -> None:
    out = apply_camera(marker_frames(), camera(move), motion=3)
    (x0, y0), (x1, y1) = centroid(out[0]), centroid(out[-1])
    assert np.sign(round(x1 - x0)) == dx and np.sign(round(y1 - y0)) == dy


def test_zoom_in_grows_things_and_zoom_out_shrinks_them() -> None:
    zoom_in = apply_camera(marker_frames(), Camera(zoom=1), motion=4)
    zoom_out = apply_camera(marker_frames(), Camera(zoom=-1), motion=4)
    assert spread(zoom_in[-1]) > spread(zoom_in[0]) * 1.5
    assert spread(zoom_out[-1]) * 1.5 < spread(zoom_out[0])
    scales = [w.scale for w in camera_path(Camera(zoom=1), FRAMES, W, H)]
    assert scales == sorted(scales, reverse=True) and scales[0] == 1.0


@pytest.mark.parametrize(("move", "turn"), [("rotate cw", 1), ("rotate ccw", -1)])
def test_rotation_turns_the_picture_on_screen(move: str, turn: int) -> None:
    # A marker above the centre: turning clockwise carries it to the right.
    out = apply_camera(marker_frames(W // 2, H // 2 - 25), camera(move), motion=4)
    (x0, _), (x1, _) = centroid(out[0]), centroid(out[-1])
    assert np.sign(round(x1 - x0)) == turn
    angles = [w.angle for w in camera_path(camera(move), FRAMES, W, H, motion=4)]
    assert angles[0] == 0 and turn * angles[-1] > 0


@pytest.mark.parametrize("move", ["zoom in", "zoom out", "pan up left", "pan down", "rotate cw", "rotate ccw"])
def test_no_black_borders_on_any_move(move: str) -> None:
    bright = np.full((FRAMES, H, W, 3), 200, np.uint8)
    out = apply_camera(bright, camera(move), motion=4)
    assert out.shape == bright.shape
    assert out.min() > 150  # a border would be 0


def test_path_is_eased_slow_at_both_ends() -> None:
    cx = [w.cx for w in camera_path(Camera(pan_x=1), 11, W, H, motion=2)]
    steps = np.diff(cx)
    assert steps[0] < steps[5] and steps[-1] < steps[5]


def test_static_camera_leaves_frames_untouched() -> None:
    frames = marker_frames()
    assert apply_camera(frames, None) is frames
    assert apply_camera(frames, Camera()) is frames
