from __future__ import annotations

import io

import av
import numpy as np
import pytest
from PIL import Image

from generation.encode import EncodeError, decode_frames, encode
from generation.interpolate import interpolate, smooth_fps
from generation.jobs import OutputFormat


def moving_frames(count: int = 12, height: int = 90, width: int = 160) -> np.ndarray:
    x = np.arange(width)[None, :, None]
    frames = [np.broadcast_to(((x + 8 * i) % width) * 255 // width, (height, width, 1)) for i in range(count)]
    return np.repeat(np.stack(frames), 3, axis=-1).astype(np.uint8)


def probe(data: bytes) -> dict:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return {
            "codec": stream.codec_context.name, "pix_fmt": stream.codec_context.pix_fmt,
            "width": stream.codec_context.width, "height": stream.codec_context.height,
            "fps": float(stream.average_rate), "frames": frames, "format": container.format.name,
        }  # fmt: skip


def test_mp4_is_h264_yuv420p_constant_fps_and_faststart() -> None:
    out = encode(moving_frames(12), 12, OutputFormat.MP4, 10 << 20)
    info = probe(out.data)
    assert info | {"format": None} == {"codec": "h264", "pix_fmt": "yuv420p", "width": 160, "height": 90,
                                       "fps": 12.0, "frames": 12, "format": None}  # fmt: skip
    assert "mp4" in info["format"]
    assert out.data.index(b"moov") < out.data.index(b"mdat"), "moov atom must come first (+faststart)"
    assert out.mime == "video/mp4"


def test_odd_dimensions_are_made_even() -> None:
    out = encode(moving_frames(4, 91, 161), 8, OutputFormat.MP4, 10 << 20)
    assert (out.width, out.height) == (160, 90)
    assert probe(out.data)["width"] == 160


def test_webm_is_vp9() -> None:
    out = encode(moving_frames(6), 8, OutputFormat.WEBM, 10 << 20)
    info = probe(out.data)
    assert (info["codec"], info["pix_fmt"], info["frames"], out.mime) == ("vp9", "yuv420p", 6, "video/webm")


def test_gif_is_an_animated_loop() -> None:
    out = encode(moving_frames(6), 10, OutputFormat.GIF, 10 << 20)
    img = Image.open(io.BytesIO(out.data))
    assert (img.format, img.n_frames, img.size, out.mime) == ("GIF", 6, (160, 90), "image/gif")
    assert img.info["duration"] == 100


@pytest.mark.parametrize("fmt", [OutputFormat.MP4, OutputFormat.WEBM, OutputFormat.GIF])
def test_a_small_budget_forces_re_encodes_and_is_never_exceeded(fmt: OutputFormat) -> None:
    noise = np.random.default_rng(0).integers(0, 255, (16, 240, 426, 3), dtype=np.uint8)
    free = encode(noise, 16, fmt, 100 << 20)
    budget = len(free.data) // 4
    fitted = encode(noise, 16, fmt, budget)
    assert len(fitted.data) <= budget < len(free.data)
    frames, _ = decode_frames(fitted.data) if fmt is not OutputFormat.GIF else (None, None)
    if frames is not None:
        assert frames.shape[0] == 16  # frames are never dropped to fit, only bits and pixels


def test_an_impossible_budget_raises_instead_of_returning_an_oversized_file() -> None:
    with pytest.raises(EncodeError):
        encode(moving_frames(12), 12, OutputFormat.MP4, 300)


def test_decode_round_trip_keeps_frame_count_and_fps() -> None:
    frames, fps = decode_frames(encode(moving_frames(10), 10, OutputFormat.MP4, 10 << 20).data)
    assert frames.shape == (10, 90, 160, 3) and fps == 10


@pytest.mark.parametrize(("fps", "target"), [(8, 24), (12, 24), (24, 48)])
def test_smoothing_raises_fps_and_keeps_duration(fps: int, target: int) -> None:
    assert smooth_fps(fps) == target
    out = interpolate(moving_frames(8), fps, target)
    assert out.shape[0] == round(8 * target / fps)
    assert out.shape[1:] == (90, 160, 3)


def test_interpolated_frames_put_moving_things_in_between() -> None:
    frames = np.zeros((4, 64, 96, 3), np.uint8)
    for i in range(4):
        frames[i, 24:40, 16 + 12 * i : 32 + 12 * i] = 255  # a square moving 12 px right per frame
    out = interpolate(frames, 8, 16)

    def x_of(frame: np.ndarray) -> float:
        return float(np.nonzero(frame[..., 0] > 128)[1].mean())

    assert x_of(frames[0]) + 3 < x_of(out[1]) < x_of(frames[1]) - 3  # a new, in-between position
