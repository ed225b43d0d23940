"""Encode frames to a clip Discord plays inline, inside a byte budget.

MP4: H.264 (libx264 from PyAV's bundled FFmpeg), yuv420p, even dimensions, constant fps, +faststart
(the index sits before the data, so Discord starts playing before the download ends). WebM: VP9.
GIF: Pillow. If the first encode is over budget we re-encode at a bitrate computed from the budget, and
when that bitrate would smear the picture, at a smaller size. A clip over budget is never returned.
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from generation.jobs import OutputFormat
from generation.progress import FinalError

__all__ = ["MIME", "EncodeError", "Encoded", "decode_frames", "encode"]

MIME = {OutputFormat.MP4: "video/mp4", OutputFormat.WEBM: "video/webm", OutputFormat.GIF: "image/gif"}
_MIN_BITS_PER_PIXEL = 0.04  # below this H.264 / VP9 turn to mush: shrink the picture instead
_MIN_SIDE = 32


class EncodeError(FinalError, RuntimeError):
    """The clip cannot be made to fit its byte budget."""


@dataclass(frozen=True)
class Encoded:
    data: bytes
    mime: str
    width: int
    height: int
    frames: int
    fps: int


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def _encode_video(frames: np.ndarray, fps: int, size: tuple[int, int], fmt: OutputFormat, bitrate: int | None) -> bytes:
    width, height = size
    if fmt is OutputFormat.MP4:
        codec, container_options = "libx264", {"movflags": "+faststart"}
        options = {"preset": "medium", "profile": "high"}
        options |= {"crf": "18"} if bitrate is None else {"maxrate": str(bitrate), "bufsize": str(bitrate * 2)}
    else:
        codec, container_options = "libvpx-vp9", {}
        options = {"deadline": "good", "cpu-used": "4", "row-mt": "1"}
        options |= {"crf": "32", "b": "0"} if bitrate is None else {"maxrate": str(bitrate)}
    # faststart rewrites the file in a second pass, which needs a real file rather than a memory buffer.
    with tempfile.TemporaryDirectory(prefix="motionbot-enc-") as tmp:
        path = Path(tmp) / f"clip.{fmt.value}"
        with av.open(str(path), mode="w", options=container_options) as container:
            stream = container.add_stream(codec, rate=fps, options=options)
            assert isinstance(stream, av.VideoStream)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            if bitrate is not None:
                stream.bit_rate = bitrate
            for index, array in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")
                frame = frame.reformat(width=width, height=height, format="yuv420p", interpolation="LANCZOS")
                frame.pts, frame.time_base = index, Fraction(1, fps)
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
        return path.read_bytes()


def _encode_gif(frames: np.ndarray, fps: int, size: tuple[int, int]) -> bytes:
    images = [Image.fromarray(frame).resize(size, Image.Resampling.LANCZOS) for frame in frames]
    out = io.BytesIO()
    images[0].save(
        out,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=round(1000 / fps),
        loop=0,
        optimize=True,
    )
    return out.getvalue()


def encode(frames: np.ndarray, fps: int, fmt: OutputFormat, byte_budget: int) -> Encoded:
    """Encode uint8 frames (F, H, W, 3) to `fmt`, at most `byte_budget` bytes."""
    count, height, width = frames.shape[:3]
    duration = count / fps
    scale = 1.0
    while True:
        size = (_even(width * scale), _even(height * scale))
        if min(size) < _MIN_SIDE and scale < 1.0:
            raise EncodeError(f"cannot fit a {count}-frame clip into {byte_budget} bytes")
        if fmt is OutputFormat.GIF:
            data = _encode_gif(frames, fps, size)
        else:
            data = _encode_video(frames, fps, size, fmt, bitrate=None)
            for margin in (0.9, 0.7):  # container overhead and rate-control overshoot
                if len(data) <= byte_budget:
                    break
                bitrate = int(byte_budget * 8 * margin / duration)
                if bitrate < _MIN_BITS_PER_PIXEL * size[0] * size[1] * fps:
                    break  # the picture would smear: shrink it instead
                data = _encode_video(frames, fps, size, fmt, bitrate)
        if len(data) <= byte_budget:
            return Encoded(data, MIME[fmt], size[0], size[1], count, fps)
        scale *= 0.75


def decode_frames(data: bytes) -> tuple[np.ndarray, int]:
    """Decode a clip back to uint8 frames (F, H, W, 3) and its frame rate."""
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        fps = round(float(stream.average_rate or stream.guessed_rate or 24))
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    if not frames:
        raise ValueError("the clip has no frames")
    return np.stack(frames), fps
