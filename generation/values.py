"""The typed values of a request (torch-free): a camera move and a clip's aspect.

Each is written once here, with one conversion each way: to and from the plain values that travel in
Redis and the ledger (`to_dict` / `from_dict`, the enum's value), and to and from the words users type
(`str(camera)` / `Camera.parse`).
"""

from __future__ import annotations

import enum
import math
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["CAMERA_HELP", "CAMERA_MOVES", "Aspect", "Camera", "camera_prefix"]

CAMERA_HELP = (
    "zoom in|out, pan left|right|up|down (two may combine: pan up left), rotate cw|ccw, lock, orbit left|right"
)


class Aspect(enum.StrEnum):
    WIDE = "16:9"
    TALL = "9:16"
    SQUARE = "1:1"
    PORTRAIT = "4:5"
    LANDSCAPE = "5:4"
    CLASSIC = "4:3"
    CLASSIC_TALL = "3:4"
    PHOTO = "3:2"
    PHOTO_TALL = "2:3"

    @property
    def ratio(self) -> tuple[int, int]:
        width, height = self.value.split(":")
        return int(width), int(height)

    def size(self, area: int, multiple: int) -> tuple[int, int]:
        """Width and height with about `area` pixels, both multiples of `multiple`."""
        w_ratio, h_ratio = self.ratio
        width = math.sqrt(area * w_ratio / h_ratio)
        height = width * h_ratio / w_ratio
        return (
            max(multiple, round(width / multiple) * multiple),
            max(multiple, round(height / multiple) * multiple),
        )

    @classmethod
    def nearest(cls, width: int, height: int) -> Aspect:
        """The aspect closest to width:height (compared in log space)."""
        ratio = math.log(width / height)
        return min(cls, key=lambda aspect: abs(math.log(aspect.ratio[0] / aspect.ratio[1]) - ratio))


@dataclass(frozen=True)
class Camera:
    """A camera move. zoom: +1 in / -1 out; pan_x: -1 left / +1 right; pan_y: -1 up / +1 down;
    rotate: +1 clockwise / -1 counter-clockwise; lock: the camera must not move; orbit: -1 left / +1 right
    around the subject. All zero means no move asked for. Zoom, pan and rotate are moves of the frame (a
    virtual camera can make them); lock and orbit are asked of the model (`framed` is False)."""

    zoom: int = 0
    pan_x: int = 0
    pan_y: int = 0
    rotate: int = 0
    lock: bool = False
    orbit: int = 0

    def __post_init__(self) -> None:
        values = (self.zoom, self.pan_x, self.pan_y, self.rotate, self.orbit)
        if any(type(v) is not int or v not in (-1, 0, 1) for v in values) or type(self.lock) is not bool:
            raise ValueError(f"not a camera move: {(*values, self.lock)}")
        if sum(map(bool, values)) > 2:
            raise ValueError(f"not a camera move: {values}")
        if (self.zoom or self.rotate or self.orbit or self.lock) and sum(map(bool, (*values, self.lock))) > 1:
            raise ValueError("zoom, rotate, orbit and lock do not combine with other moves")

    def __bool__(self) -> bool:
        return any((self.zoom, self.pan_x, self.pan_y, self.rotate, self.lock, self.orbit))

    @property
    def framed(self) -> bool:
        """A move of the frame (zoom, pan, rotate), which a virtual camera can make over finished frames."""
        return any((self.zoom, self.pan_x, self.pan_y, self.rotate))

    def __str__(self) -> str:
        if self.lock:
            return "lock"
        if self.orbit:
            return "orbit left" if self.orbit < 0 else "orbit right"
        if self.zoom:
            return "zoom in" if self.zoom > 0 else "zoom out"
        if self.rotate:
            return "rotate cw" if self.rotate > 0 else "rotate ccw"
        if self.pan_x or self.pan_y:
            words = [{-1: "up", 1: "down"}.get(self.pan_y, ""), {-1: "left", 1: "right"}.get(self.pan_x, "")]
            return "pan " + " ".join(word for word in words if word)
        return "none"

    def to_dict(self) -> dict[str, int]:
        """The wire form; lock and orbit only when set (a frame move reads as it did before they existed)."""
        data = asdict(self)
        return {key: value for key, value in data.items() if key not in ("lock", "orbit") or value}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Camera:
        """The wire form back; ValueError for anything that is not a camera move."""
        unknown = set(data) - {"zoom", "pan_x", "pan_y", "rotate", "lock", "orbit"}
        if unknown:
            raise ValueError(f"unknown camera fields: {sorted(map(str, unknown))}")
        return cls(**data)

    @classmethod
    def parse(cls, text: str) -> Camera | None:
        """A whole camera value in words ("pan up left", "rotate ccw", "zoom-in"); None if it is not one."""
        words = text.replace("-", " ").replace("_", " ").split()
        camera, used = camera_prefix(words)
        return camera if camera is not None and used == len(words) else None


_DIRECTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
_CLOCKWISE = {"clockwise", "cw"}
_COUNTER = {"counterclockwise", "ccw", "anticlockwise", "acw", "counter-clockwise", "anti-clockwise"}


def camera_prefix(words: list[str]) -> tuple[Camera | None, int]:
    """Read one camera move from the start of `words`; return it and how many words it used."""
    w = [word.lower() for word in words[:3]]
    if not w:
        return None, 0
    if w[0] == "none":
        return Camera(), 1
    if w[0] in ("lock", "locked", "static", "still", "tripod"):
        return Camera(lock=True), 1
    if w[0] in ("orbit", "arc") and len(w) > 1 and w[1] in ("left", "right"):
        return Camera(orbit=-1 if w[1] == "left" else 1), 2
    if w[0] == "zoom" and len(w) > 1 and w[1] in ("in", "out"):
        return Camera(zoom=1 if w[1] == "in" else -1), 2
    if w[0] in ("rotate", "rotation", "roll", "rolling") and len(w) > 1:
        if w[1] in _CLOCKWISE | _COUNTER:
            return Camera(rotate=1 if w[1] in _CLOCKWISE else -1), 2
        if len(w) > 2 and w[1] in ("counter", "anti") and w[2] == "clockwise":
            return Camera(rotate=-1), 3
    if w[0] in ("pan", "tilt") and len(w) > 1 and w[1] in _DIRECTIONS:
        x, y = _DIRECTIONS[w[1]]
        if len(w) > 2 and w[2] in _DIRECTIONS:
            x2, y2 = _DIRECTIONS[w[2]]
            if (x and x2) or (y and y2):  # left+right or up+down cannot combine
                return None, 0
            return Camera(pan_x=x + x2, pan_y=y + y2), 3
        return Camera(pan_x=x, pan_y=y), 2
    return None, 0


# Every move there is, in the words the slash command offers.
CAMERA_MOVES = tuple(
    str(camera)
    for camera in (
        Camera(zoom=1),
        Camera(zoom=-1),
        *(Camera(pan_x=x, pan_y=y) for x, y in ((-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (1, -1), (-1, 1), (1, 1))),
        Camera(rotate=1),
        Camera(rotate=-1),
        Camera(lock=True),
        Camera(orbit=-1),
        Camera(orbit=1),
    )
)
