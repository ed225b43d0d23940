"""A user's video (MP4, WebM, MOV, GIF): checked before anything is held, then re-encoded for the worker
(torch-free: the bot runs this).

`probe` reads only what needs no pixels: the file's magic bytes choose the one demuxer that may open it
(so a playlist, a concat list or any other format that points at other files is refused as "not a
video"), then the container's header gives the codec, the size, the duration and the frame count, each
checked against `VideoLimits`; a phone's portrait video (stored sideways, with a rotation in its track
header) counts as the size it is shown at. `normalise` decodes frame by frame (nothing but the current
frame is held), turns each frame upright as a player shows it (and maps a phone's HDR colours to SDR,
generation/hdr.py), scales it straight to the working size, picks the frames for the model's frame rate
and encodes them as a plain H.264 MP4: the worker only ever reads a file of ours. The header is checked
again against what is decoded (a frame larger than declared, more frames or a longer clip than declared,
a file that ends early), so a lying header is refused, not trusted.
"""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from PIL import Image

if TYPE_CHECKING:  # PyAV and numpy load on the first video, not when the bot starts
    import av
    import numpy as np
from generation.hdr import needs_mapping, to_sdr
from generation.text import Said, _

__all__ = ["CODECS", "VideoError", "VideoInfo", "VideoLimits", "normalise", "poster", "probe"]

CODECS = {"h264": "H.264", "hevc": "H.265", "vp8": "VP8", "vp9": "VP9", "av1": "AV1", "gif": "GIF", "mpeg4": "MPEG-4"}
_DEMUXERS = {"mp4": "mp4", "webm": "matroska", "gif": "gif"}  # what the magic bytes say -> the demuxer allowed
_OPTIONS = {"mp4": {"enable_drefs": "0", "use_absolute_path": "0"}}  # never follow a reference out of the file
_GIF_MIN_DELAY_CS = 2  # browsers show GIF frames of 0 or 1 centiseconds for 10
_MAX_BOXES = 1000  # boxes looked at on one level of an MP4 header (a real one has a handful)
_ENDS_EARLY = 0.8  # a file whose frames cover less of its declared duration than this is damaged


class VideoError(Said, ValueError):
    """The file is not a video we take; the message is for the user."""


@dataclass(frozen=True)
class VideoLimits:
    max_seconds: float = 5.0
    max_side: int = 4096
    max_pixels: int = 4096 * 2304
    max_fps: float = 60.0  # frames per second; with max_seconds it bounds the frames a file may hold

    @property
    def max_frames(self) -> int:
        return math.ceil(self.max_seconds * self.max_fps) + 1


@dataclass(frozen=True)
class VideoInfo:
    kind: str  # "mp4" (also MOV), "webm" (Matroska) or "gif"
    codec: str
    width: int
    height: int
    duration_s: float
    frames: int  # as declared (or counted, for a GIF)
    rotation: int = 0  # degrees counterclockwise a player turns the stored frames (a phone's portrait video)
    pixel_aspect: float = 1.0  # a stored pixel's width over its height (anamorphic video: DV, HDV)

    def frames_at(self, fps: int) -> int:
        """How many frames the clip gives at `fps`: one for each time k / fps within its duration."""
        return max(1, math.ceil(self.duration_s * fps - 1e-6))


def _sniff(data: bytes) -> str | None:
    if data[4:8] == b"ftyp" or data[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return "mp4"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return None


def _picture(data: bytes) -> bool:
    """Whether `data` starts as a PNG, JPEG or WebP picture does."""
    return data[:8] == b"\x89PNG\r\n\x1a\n" or data[:3] == b"\xff\xd8\xff" or data[8:12] == b"WEBP"


def _gif(data: bytes) -> tuple[int, int, int, float]:
    """A GIF's declared width, height, frame count and duration, from its block structure (no pixels)."""
    width, height = int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    at = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    frames, centiseconds, delay = 0, 0, 0
    while at < len(data) and data[at] != 0x3B:
        block = data[at]
        if block == 0x21:  # an extension; a graphic control extension holds the next frame's delay
            if data[at + 1] == 0xF9 and at + 6 < len(data):
                delay = int.from_bytes(data[at + 4 : at + 6], "little")
            at = _skip_sub_blocks(data, at + 2)
        elif block == 0x2C:  # an image: its descriptor, a local colour table, the LZW data
            if at + 10 > len(data):
                break
            packed = data[at + 9]
            at += 10 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
            at = _skip_sub_blocks(data, at + 1)
            frames += 1
            centiseconds += delay if delay >= _GIF_MIN_DELAY_CS else 10
            delay = 0
        else:
            raise VideoError(_("that GIF is damaged"))
    if frames == 0:
        raise VideoError(_("that GIF has no frames"))
    return width, height, frames, centiseconds / 100


def _skip_sub_blocks(data: bytes, at: int) -> int:
    while at < len(data) and data[at]:
        at += data[at] + 1
    return at + 1


def _open(data: bytes, kind: str) -> av.container.InputContainer:
    import av

    try:
        opened = av.open(io.BytesIO(data), format=_DEMUXERS[kind], options=_OPTIONS.get(kind, {}))
    except (av.FFmpegError, ValueError, OSError):
        raise VideoError(_("that video is damaged or not a real video file")) from None
    assert isinstance(opened, av.container.InputContainer)
    return opened


def probe(data: bytes, limits: VideoLimits) -> VideoInfo:
    """What the file says it is, checked against `limits`; VideoError (a message for the user) if refused."""
    import av

    kind = _sniff(data)
    if kind is None and _picture(data):
        raise VideoError(_("that file is a picture, not a video: upload an MP4, WebM, MOV or GIF"))
    if kind is None:
        raise VideoError(_("that file is not a video I can read: upload an MP4, WebM, MOV or GIF"))
    if kind == "gif":
        width, height, frames, duration = _gif(data)
        info = VideoInfo(kind, "gif", width, height, duration, frames)
    else:
        with _open(data, kind) as container:
            if not container.streams.video:
                raise VideoError(_("that video is damaged or holds no video stream"))
            stream = container.streams.video[0]
            context = stream.codec_context
            if context.name not in CODECS:
                known = ", ".join(sorted(set(CODECS.values())))
                raise VideoError(
                    _(
                        "that video uses a codec I can't read ({codec}); use one of {known}",
                        codec=context.name,
                        known=known,
                    )
                )
            duration = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0
            if not duration and container.duration:
                duration = container.duration / av.time_base
            rate = float(stream.average_rate or stream.guessed_rate or 0)
            frames = stream.frames or math.ceil(duration * rate)
            sar = float(context.sample_aspect_ratio or 1)
            sar = sar if 0.25 <= sar <= 4 else 1.0  # anything else is a broken header, not a real camera's
            width, height, turned = round(context.width * sar), context.height, _rotation(data) if kind == "mp4" else 0
            if turned % 180:  # shown on its side: a portrait video stored as landscape
                width, height = height, width
            info = VideoInfo(kind, context.name, width, height, duration, frames, turned, sar)
    _check(info, limits)
    return info


def _rotation(data: bytes) -> int:
    """The quarter turn (degrees counterclockwise, as FFmpeg reads it) of the first video track's display
    matrix in an MP4/MOV header (`moov/trak/tkhd`): how phones mark a video filmed upright. 0 if none."""
    for trak in _boxes(data, _box(data, 0, len(data), b"moov"), b"trak"):
        mdia = _box(data, *trak, b"mdia")
        hdlr = _box(data, *mdia, b"hdlr") if mdia else None
        tkhd = _box(data, *trak, b"tkhd")
        if hdlr is None or data[hdlr[0] + 8 : hdlr[0] + 12] != b"vide" or tkhd is None:
            continue
        at = tkhd[0] + (32 if data[tkhd[0]] == 1 else 20) + 4 + 16  # version, flags, times and ids; then 16 more
        if at + 20 > tkhd[1]:
            return 0
        a, b, _u, c, d = struct.unpack(">5i", data[at : at + 20])  # the matrix [a b u; c d v; x y w]
        angle = -math.degrees(math.atan2(b / (math.hypot(b, d) or 1), a / (math.hypot(a, c) or 1)))
        quarter = round(angle / 90) * 90  # as av_display_rotation_get() reads it; other angles are ignored
        return (180 if quarter == -180 else quarter) if abs(angle - quarter) < 1 else 0
    return 0


def _box(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    """The (content start, end) of the first box of `kind` between start and end."""
    return next(_boxes(data, (start, end), kind), None)


def _boxes(data: bytes, span: tuple[int, int] | None, kind: bytes) -> Iterator[tuple[int, int]]:
    """The (content start, end) of each box of `kind` directly within `span` (ISO BMFF: size, type, content)."""
    if span is None:
        return
    at, end = span
    for _looked in range(_MAX_BOXES):
        if at + 8 > end:
            return
        size, found = int.from_bytes(data[at : at + 4], "big"), data[at + 4 : at + 8]
        header = 8
        if size == 1 and at + 16 <= end:  # a 64-bit size follows
            size, header = int.from_bytes(data[at + 8 : at + 16], "big"), 16
        elif size == 0:  # to the end
            size = end - at
        if size < header:
            return
        if found == kind:
            yield at + header, min(at + size, end)
        at += size


def _check(info: VideoInfo, limits: VideoLimits) -> None:
    if info.width <= 0 or info.height <= 0 or info.duration_s <= 0 or info.frames <= 0:
        raise VideoError(_("that video is damaged: its size or length is missing"))
    if max(info.width, info.height) > limits.max_side or info.width * info.height > limits.max_pixels:
        raise VideoError(
            _(
                "that video is {size}; the largest I take is {side} on a side and {megapixels} megapixels",
                size=f"{info.width}x{info.height}",
                side=limits.max_side,
                megapixels=f"{limits.max_pixels / 1e6:.1f}",
            )
        )
    if info.duration_s > limits.max_seconds + 0.05:
        raise VideoError(
            _(
                "that video is {seconds} s long; the longest I take is {longest} s: trim it first",
                seconds=f"{info.duration_s:.1f}",
                longest=f"{limits.max_seconds:g}",
            )
        )
    if info.frames > limits.max_frames:
        raise VideoError(
            _("that video has {frames} frames; the most I take is {most}", frames=info.frames, most=limits.max_frames)
        )


def normalise(
    data: bytes, info: VideoInfo, limits: VideoLimits, size: tuple[int, int], fps: int, frames: int
) -> tuple[bytes, int]:
    """The first `frames` frames at `fps`, each scaled and centre-cropped to `size`, as an H.264 MP4; and how
    many frames it holds. VideoError when decoding shows the file is not what its header said."""
    import av

    width, height = size
    out, written = io.BytesIO(), 0
    with av.open(out, "w", format="mp4") as target:
        stream = target.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "16", "preset": "veryfast"}
        for picture in _resampled(data, info, limits, fps, frames):
            scaled = _cover(picture, width, height, info.pixel_aspect)
            for packet in stream.encode(av.VideoFrame.from_ndarray(scaled, format="rgb24")):
                target.mux(packet)
            written += 1
        if not written:
            raise VideoError(_("that video is damaged: no frame could be read"))
        for packet in stream.encode():
            target.mux(packet)
    return out.getvalue(), written


def _resampled(data: bytes, info: VideoInfo, limits: VideoLimits, fps: int, frames: int) -> Iterator[av.VideoFrame]:
    """The decoded frame that plays at each output time k / fps, k < frames; checks each one as it comes."""
    shown: av.VideoFrame | None = None
    emitted, decoded, last, origin = 0, 0, 0.0, None
    for frame in _decoded(data, info):
        decoded += 1
        if decoded > limits.max_frames:
            raise VideoError(_("that video has more than {most} frames; the most I take", most=limits.max_frames))
        if max(frame.width, frame.height) > limits.max_side or frame.width * frame.height > limits.max_pixels:
            raise VideoError(_("that video has frames larger than it says; it is refused"))
        at = frame.time if frame.time is not None else decoded / max(info.frames / info.duration_s, 1)
        origin = at if origin is None else origin
        at -= origin  # from the first frame: a clip cut out of a longer one may start at 12.5 s
        if at > limits.max_seconds + 0.5:
            raise VideoError(
                _(
                    "that video is longer than it says; the longest I take is {longest} s",
                    longest=f"{limits.max_seconds:g}",
                )
            )
        while shown is not None and emitted < frames and emitted / fps < at - 1e-6:
            yield shown
            emitted += 1
        shown, last = frame, max(last, at)
    if decoded and last + info.duration_s / info.frames < info.duration_s * _ENDS_EARLY:
        raise VideoError(_("that video is damaged: it ends early"))
    end = info.duration_s
    while shown is not None and emitted < frames and emitted / fps < end - 1e-6:
        yield shown
        emitted += 1


def _decoded(data: bytes, info: VideoInfo) -> Iterator[av.VideoFrame]:
    import av

    try:
        with _open(data, info.kind) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            yield from container.decode(stream)
    except av.FFmpegError:
        raise VideoError(_("that video is damaged: it could not be decoded")) from None


def _cover(frame: av.VideoFrame, width: int, height: int, pixel_aspect: float = 1.0) -> np.ndarray:
    """The frame upright (as a player turns it) and at its display aspect (`pixel_aspect`), scaled (by
    FFmpeg, from its own pixel format) to cover width x height, centre-cropped; HDR or wide-gamut colours
    mapped to SDR BT.709 (generation/hdr.py)."""
    import numpy as np

    turns = round(frame.rotation / 90) % 4  # quarter turns counterclockwise: a phone's portrait video
    wide = frame.width * pixel_aspect  # as shown: a non-square pixel is stretched
    shown_w, shown_h = (frame.height, wide) if turns % 2 else (wide, frame.height)
    scale = max(width / shown_w, height / shown_h)
    covered_w, covered_h = max(width, round(shown_w * scale)), max(height, round(shown_h * scale))
    stored_w, stored_h = (covered_h, covered_w) if turns % 2 else (covered_w, covered_h)
    rgb = to_sdr(frame, stored_w, stored_h) if needs_mapping(frame) else None  # a phone's HDR video
    if rgb is None:
        rgb = frame.reformat(width=stored_w, height=stored_h, format="rgb24").to_ndarray()
    rgb = np.rot90(rgb, turns)
    left, top = (covered_w - width) // 2, (covered_h - height) // 2
    return np.ascontiguousarray(rgb[top : top + height, left : left + width])


def poster(data: bytes) -> Image.Image | None:
    """The first frame of a video we encoded (`normalise`), or None if it is not one."""
    import av

    if _sniff(data) != "mp4":
        return None
    try:
        with _open(data, "mp4") as container:
            frame = next(container.decode(video=0), None)
            return frame.to_image() if frame is not None else None
    except (VideoError, av.FFmpegError):
        return None
