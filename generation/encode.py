"""Encode frames to a clip Discord plays inline, inside a byte budget.

MP4: H.264 (libx264 from PyAV's bundled FFmpeg), yuv420p, even dimensions, constant fps, +faststart
(the index sits before the data, so Discord starts playing before the download ends), the level signalled
and its bitrate held (VBV). WebM: VP9. Both are BT.709, limited range, converted and tagged so: players
that guess (BT.601 for SD, BT.709 for HD) would otherwise shift the colours.
GIF: Pillow. Every file carries the marks that say AI made it, and with which model (generation/provenance.py).
An MP4 is encoded once in the common case: quality-driven, with its rate held to what fits
the budget. If a clip is still over budget it is encoded again at a bitrate computed from the budget, and
when that bitrate would smear the picture, at a smaller size. A clip over budget is never returned.
"""

from __future__ import annotations

import io
import math
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import ColorPrimaries, ColorRange, Colorspace, ColorTrc
from PIL import Image

from generation.jobs import OutputFormat
from generation.progress import FinalError
from generation.provenance import Mark, in_gif, in_mp4

__all__ = ["MIME", "EncodeError", "Encoded", "decode_frames", "encode", "gif_delays", "h264_level"]

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


# H.264 levels (Annex A): level, max macroblocks per second, max frame size in macroblocks, max bitrate
# in bit/s for the High profile (1.25 x the Baseline figure). 3.0 is the lowest we signal: every player
# that plays H.264 High plays it, and lower levels would starve tiny clips of bits.
_H264_LEVELS = (
    ("3.0", 40_500, 1_620, 12_500_000),
    ("3.1", 108_000, 3_600, 17_500_000),
    ("3.2", 216_000, 5_120, 25_000_000),
    ("4.1", 245_760, 8_192, 62_500_000),
    ("4.2", 522_240, 8_704, 62_500_000),
    ("5.1", 983_040, 36_864, 300_000_000),
)


def h264_level(width: int, height: int, fps: int) -> tuple[str, int]:
    """The lowest H.264 level for this size and rate, and its largest bitrate (bit/s, High profile)."""
    blocks = ((width + 15) // 16) * ((height + 15) // 16)
    for level, per_second, per_frame, bitrate in _H264_LEVELS:
        if blocks <= per_frame and blocks * fps <= per_second:
            return level, bitrate
    level, _, _, bitrate = _H264_LEVELS[-1]
    return level, bitrate


def _tag_bt709(stream: av.VideoStream) -> None:
    context = stream.codec_context
    context.colorspace = Colorspace.ITU709
    context.color_range = ColorRange.MPEG
    context.color_primaries = ColorPrimaries.BT709
    context.color_trc = ColorTrc.BT709


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def _encode_video(
    frames: np.ndarray,
    fps: int,
    size: tuple[int, int],
    fmt: OutputFormat,
    mark: Mark | None,
    bitrate: int | None,
    cap: int | None = None,
) -> bytes:
    """One encode: at `bitrate` (bit/s), or quality-driven with its peak rate at most `cap`."""
    width, height = size
    if fmt is OutputFormat.MP4:
        codec, container_options = "libx264", {"movflags": "+faststart"}
        level, most = h264_level(width, height, fps)
        # VBV: a rate of 3/4 of the level's cap and a buffer of 1/4 keep even a one-second clip (which may
        # spend its whole initial buffer at once) under the cap on average, as well as at every instant.
        rate, buffer = most * 3 // 4, most // 4
        if bitrate is not None:
            rate, buffer = min(bitrate, rate), min(2 * bitrate, buffer)
        elif cap is not None:  # aimed at the budget: the rate over the clip plus a quarter second of buffer
            rate, buffer = min(cap, rate), min(cap // 4, buffer)
        # veryfast: about a third of medium's time for the same crf; the rate cap keeps the size bounded.
        options = {"preset": "veryfast", "profile": "high", "level": level}
        options |= {"maxrate": str(rate), "bufsize": str(buffer)} | ({"crf": "18"} if bitrate is None else {})
    else:
        codec, container_options = "libvpx-vp9", {}
        options = {"deadline": "good", "cpu-used": "4", "row-mt": "1"}
        options |= {"crf": "32", "b": "0"} if bitrate is None else {"maxrate": str(bitrate)}  # no cap: VP9's
        # constant-quality mode takes no rate limit; an oversized WebM is encoded again at a bitrate
    # faststart rewrites the file in a second pass, which needs a real file rather than a memory buffer.
    with tempfile.TemporaryDirectory(prefix="motionbot-enc-") as tmp:
        path = Path(tmp) / f"clip.{fmt.value}"
        with av.open(str(path), mode="w", options=container_options) as container:
            if mark is not None:
                container.metadata["comment"] = mark.comment()
            stream = container.add_stream(codec, rate=fps, options=options)
            assert isinstance(stream, av.VideoStream)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            _tag_bt709(stream)
            if bitrate is not None:
                stream.bit_rate = bitrate
            for index, array in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")
                frame = frame.reformat(
                    width=width,
                    height=height,
                    format="yuv420p",
                    interpolation="LANCZOS",  # chroma to 4:2:0 with the sharpest filter (0.1 dB over bilinear)
                    dst_colorspace=Colorspace.ITU709,
                    dst_color_range=ColorRange.MPEG,
                )
                frame.pts, frame.time_base = index, Fraction(1, fps)
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
        data = path.read_bytes()
    return in_mp4(data, mark) if mark is not None and fmt is OutputFormat.MP4 else data


def gif_delays(count: int, fps: int) -> list[int]:
    """Per-frame delays (ms, whole hundredths as GIF stores them) that add up to count / fps seconds:
    24 fps alternates 40 and 50 ms instead of playing every frame at 40 ms (25 fps)."""
    ends = [round((index + 1) * 100 / fps) * 10 for index in range(count)]
    return [end - start for start, end in zip([0, *ends], ends, strict=False)]


def _encode_gif(frames: np.ndarray, fps: int, size: tuple[int, int], mark: Mark | None) -> bytes:
    """One palette for the whole clip (from up to 8 of its frames), each frame dithered to it: no colour
    flicker between frames, a smaller file and about a fifth of the time of a palette per frame."""
    resized = [Image.fromarray(frame).resize(size, Image.Resampling.LANCZOS) for frame in frames]
    picked = resized[:: max(1, len(resized) // 8)][:8]
    sheet = Image.new("RGB", (size[0], size[1] * len(picked)))
    for index, image in enumerate(picked):
        sheet.paste(image, (0, size[1] * index))
    palette = sheet.quantize(256, method=Image.Quantize.MEDIANCUT)
    images = [image.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG) for image in resized]
    out = io.BytesIO()
    images[0].save(
        out,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=gif_delays(len(images), fps),
        loop=0,
        optimize=True,
        comment=mark.comment() if mark is not None else "",
    )
    return in_gif(out.getvalue(), mark) if mark is not None else out.getvalue()


def encode(frames: np.ndarray, fps: int, fmt: OutputFormat, byte_budget: int, mark: Mark | None = None) -> Encoded:
    """Encode uint8 frames (F, H, W, 3) to `fmt`, at most `byte_budget` bytes, marked as made by `mark` (None: no
    marks, a benchmark's or a test's throwaway clip; every clip a user gets is marked)."""
    count, height, width = frames.shape[:3]
    duration = count / fps
    scale = 1.0
    while True:
        size = (_even(width * scale), _even(height * scale))
        if min(size) < _MIN_SIDE and scale < 1.0:
            raise EncodeError(f"cannot fit a {count}-frame clip into {byte_budget} bytes")
        if fmt is OutputFormat.GIF:
            data = _encode_gif(frames, fps, size, mark)
        else:
            # One pass in the common case: quality-driven (crf) with its peak rate held to what fits the budget.
            # Only an overshoot (container overhead, a short clip's initial buffer) encodes again, tighter.
            # VBV bounds the size by rate x duration + buffer (a quarter second of rate), plus the container.
            aimed = int(byte_budget * 8 * 0.92 / (duration + 0.25))
            data = _encode_video(frames, fps, size, fmt, mark, bitrate=None, cap=aimed)
            if len(data) > byte_budget:
                bitrate = int(byte_budget * 8 * 0.7 / duration)
                if bitrate >= _MIN_BITS_PER_PIXEL * size[0] * size[1] * fps:  # else shrink the picture instead
                    data = _encode_video(frames, fps, size, fmt, mark, bitrate)
        if len(data) <= byte_budget:
            return Encoded(data, MIME[fmt], size[0], size[1], count, fps)
        if fmt is OutputFormat.GIF:  # its size goes about with its pixels: aim straight under the budget
            scale *= min(0.9, 0.95 * math.sqrt(byte_budget / len(data)))
        else:
            scale *= 0.75


def decode_frames(data: bytes) -> tuple[np.ndarray, int]:
    """Decode a clip back to uint8 frames (F, H, W, 3) and its frame rate."""
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        fps = round(float(stream.average_rate or stream.guessed_rate or 24))
        frames, spans, base = [], [], stream.time_base
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="rgb24"))
            if frame.pts is not None and frame.duration and base:
                spans.append((float(frame.pts * base), float((frame.pts + frame.duration) * base)))
        if container.format.name == "gif" and frames and len(spans) == len(frames):
            frames, fps = _as_played(frames, spans)
    if not frames:
        raise ValueError("the clip has no frames")
    return np.stack(frames), fps


def _as_played(frames: list[np.ndarray], spans: list[tuple[float, float]]) -> tuple[list[np.ndarray], int]:
    """A GIF's frames at the rate it was made at. GIF delays are whole hundredths (24 fps alternates 40 and 50
    ms, which FFmpeg's average calls 25 fps), and GIF writers merge a frame equal to the one before into it
    (adding up their delays): a frame shown for two frame times is read back twice."""
    shortest = min(end - start for start, end in spans)
    single = [end - start for start, end in spans if end - start < 1.5 * shortest]  # one frame time each
    fps = max(1, round(len(single) / sum(single)))
    played = []
    for frame, (start, end) in zip(frames, spans, strict=True):
        played += [frame] * max(1, round(end * fps) - round(start * fps))
    return played, fps
