"""Users' videos: the header checks that need no pixels, the re-encode for the worker, and a corpus of bad files."""

from __future__ import annotations

import io
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from generation.encode import decode_frames
from generation.video_input import VideoError, VideoLimits, normalise, poster, probe

LIMITS = VideoLimits(max_seconds=5.0)


def mp4(
    folder: Path, frames: int = 60, fps: int = 30, size: tuple[int, int] = (160, 96), codec: str = "libx264"
) -> bytes:
    """A clip whose frame i is grey level 4 i with a bright column at x = 2 i (so order and motion show)."""
    width, height = size
    path = folder / f"clip-{frames}-{fps}-{width}x{height}-{codec}.mp4"
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream(codec, rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            picture = np.full((height, width, 3), (4 * i) % 256, np.uint8)
            picture[:, (2 * i) % width] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.read_bytes()


def gif(frames: int, size: tuple[int, int] = (32, 32), delay_ms: int = 100) -> bytes:
    pictures = [Image.new("RGB", size, ((i * 25) % 256, 0, 0)) for i in range(frames)]
    out = io.BytesIO()
    pictures[0].save(out, "GIF", save_all=True, append_images=pictures[1:], duration=delay_ms, loop=0)
    return out.getvalue()


def test_the_header_says_codec_size_length_and_frames(tmp_path: Path) -> None:
    info = probe(mp4(tmp_path), LIMITS)
    assert (info.kind, info.codec, info.width, info.height, info.frames) == ("mp4", "h264", 160, 96, 60)
    assert info.duration_s == pytest.approx(2.0, abs=0.05)
    assert info.frames_at(24) == 48 and info.frames_at(8) == 16
    clip = gif(10)
    assert probe(clip, LIMITS).frames == 10 and probe(clip, LIMITS).duration_s == pytest.approx(1.0)


def test_normalise_scales_crops_and_resamples_to_the_model(tmp_path: Path) -> None:
    source = mp4(tmp_path)  # 60 frames at 30 fps, 160x96
    info = probe(source, LIMITS)
    clip, count = normalise(source, info, LIMITS, (64, 64), 24, 33)
    frames, fps = decode_frames(clip)
    assert count == 33 and frames.shape == (33, 64, 64, 3) and fps == 24
    levels = np.median(frames[:, 10, :, 0], axis=1)  # grey 4 i of the source frame playing at k / 24 s
    expected = np.array([4 * int(k * 30 / 24) for k in range(33)])
    assert np.abs(levels - expected).max() <= 6, "each output frame is the one playing at its time"
    # Another rate or size from the same file: other frames, the same motion.
    slower, _ = normalise(source, info, LIMITS, (32, 32), 8, 100)
    assert decode_frames(slower)[0].shape == (16, 32, 32, 3), "2 s at 8 fps"
    assert poster(clip) is not None and poster(b"not a video") is None


def test_webm_and_gif_are_read_too(tmp_path: Path) -> None:
    webm_path = tmp_path / "c.webm"
    with av.open(str(webm_path), "w", format="webm") as out:
        stream = out.add_stream("libvpx-vp9", rate=12)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(12):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 20, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    for data, codec in ((webm_path.read_bytes(), "vp9"), (gif(10), "gif")):
        info = probe(data, LIMITS)
        assert info.codec == codec
        clip, count = normalise(data, info, LIMITS, (32, 32), 10, 10)
        assert count == 10 and decode_frames(clip)[0].shape == (10, 32, 32, 3)


def written(
    path: Path, frames: Sequence[av.VideoFrame], pix_fmt: str = "yuv420p", faststart: bool = True, **tags: Any
) -> bytes:
    """`frames` as an H.264 MP4 at 24 fps (or the frames' own times) at `path`; `tags`: set on the stream's codec
    context (colour, pixel aspect), or `rotation` as its display matrix."""
    options = {"movflags": "+faststart"} if faststart else {}  # without: the header comes after the frames
    with av.open(str(path), "w", format="mp4", options=options) as container:
        stream = container.add_stream("libx264", rate=Fraction(24))
        stream.width, stream.height, stream.pix_fmt = frames[0].width, frames[0].height, pix_fmt
        if "rotation" in tags:
            stream.set_display_rotation(tags.pop("rotation"))
        for name, value in tags.items():
            setattr(stream.codec_context, name, value)
        for frame in frames:
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path.read_bytes()


def filmed_upright(folder: Path, rotation: int, faststart: bool = True) -> bytes:
    """A phone's portrait video: frames stored 160x96 (landscape) with a white band along their left edge, and
    a display matrix that turns them `rotation` degrees counterclockwise (a phone held upright: -90)."""
    picture = np.zeros((96, 160, 3), np.uint8)
    picture[:, :32] = 255
    frames = [av.VideoFrame.from_ndarray(picture, format="rgb24") for _ in range(12)]
    return written(folder / f"upright-{rotation}-{faststart}.mp4", frames, faststart=faststart, rotation=rotation)


@pytest.mark.parametrize(
    ("rotation", "band"),
    [(-90, "top"), (90, "bottom"), (180, "right"), (0, "left")],
)
@pytest.mark.parametrize("faststart", [True, False])
def test_a_phone_video_is_read_upright_at_the_size_it_is_shown(
    rotation: int, band: str, faststart: bool, tmp_path: Path
) -> None:
    data = filmed_upright(tmp_path, rotation, faststart)
    info = probe(data, LIMITS)
    assert (info.width, info.height) == ((96, 160) if rotation % 180 else (160, 96)), "the size a player shows"
    assert info.rotation == rotation
    clip, _ = normalise(data, info, LIMITS, (info.width // 2, info.height // 2), 24, 4)
    frame = decode_frames(clip)[0][0].mean(axis=2)
    edges = {"top": frame[:8], "bottom": frame[-8:], "left": frame[:, :8], "right": frame[:, -8:]}
    assert {edge for edge, pixels in edges.items() if pixels.mean() > 200} == {band}, "the band where a player shows it"


def test_a_clip_whose_time_starts_late_plays_from_its_first_frame(tmp_path: Path) -> None:
    """A clip cut out of a longer video keeps its timestamps (here from 1 s): it still moves from the start."""
    frames = []
    for i in range(30):
        frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 8, np.uint8), format="rgb24")
        frame.pts, frame.time_base = i + 30, Fraction(1, 30)
        frames.append(frame)
    data = written(tmp_path / "cut.mp4", frames, time_base=Fraction(1, 30))
    clip, count = normalise(data, probe(data, LIMITS), LIMITS, (64, 64), 24, 24)
    levels = decode_frames(clip)[0].mean(axis=(1, 2, 3))
    assert count == 24 and levels[-1] - levels[0] > 150, "it brightens from start to end, not the first frame held"
    assert np.all(np.diff(levels) >= -2)


def filmed_in_hdr(folder: Path, transfer: int) -> bytes:
    """A phone's HDR clip: 10-bit BT.2020 with the HLG (18) or PQ (16) transfer, an orange field."""
    picture = np.zeros((64, 64, 3), np.uint16)
    picture[...] = (40000, 20000, 10000)
    frames = [av.VideoFrame.from_ndarray(picture, format="rgb48le") for _ in range(6)]
    bt2020 = {"color_trc": transfer, "color_primaries": 9, "colorspace": 9}  # non-constant luminance
    return written(folder / f"hdr-{transfer}.mp4", frames, pix_fmt="yuv420p10le", **bt2020)


@pytest.mark.parametrize("transfer", [18, 16], ids=["HLG", "PQ"])
def test_a_phone_hdr_video_is_mapped_to_sdr_as_ffmpeg_maps_it(transfer: int, tmp_path: Path) -> None:
    data = filmed_in_hdr(tmp_path, transfer)
    clip, _ = normalise(data, probe(data, LIMITS), LIMITS, (32, 32), 24, 2)
    made = decode_frames(clip)[0][0].reshape(-1, 3).mean(axis=0)
    with av.open(io.BytesIO(data)) as container:
        frame = next(container.decode(video=0))
        # FFmpeg's colour management, slow but right (the oracle), and the frame read as if it were SDR.
        managed = frame.reformat(format="rgb24", dst_color_trc=1, dst_color_primaries=1).to_ndarray()
        as_sdr = frame.reformat(format="rgb24").to_ndarray()
    managed_mean, as_sdr_mean = managed.reshape(-1, 3).mean(axis=0), as_sdr.reshape(-1, 3).mean(axis=0)
    assert np.abs(managed_mean - as_sdr_mean).max() > 25, "the test clip's colours do need mapping"
    assert np.abs(made - managed_mean).max() < 10, (made, managed_mean)  # x264's own rounding, a grid step


def test_an_anamorphic_video_is_read_at_its_display_aspect(tmp_path: Path) -> None:
    """Stored 80x64 with pixels twice as wide as tall (the pixel aspect DV and HDV cameras use): shown 160x64."""
    picture = np.zeros((64, 80, 3), np.uint8)
    picture[:, :20] = 255  # the left quarter
    frames = [av.VideoFrame.from_ndarray(picture, format="rgb24") for _ in range(6)]
    data = written(tmp_path / "anamorphic.mp4", frames, sample_aspect_ratio=Fraction(2, 1))
    info = probe(data, LIMITS)
    assert (info.width, info.height) == (160, 64)
    clip, _ = normalise(data, info, LIMITS, (80, 32), 24, 2)  # its shape, half the size: nothing cropped
    columns = decode_frames(clip)[0][0].mean(axis=(0, 2))
    assert columns[:18].min() > 200 and columns[23:].max() < 50, "the left quarter stays the left quarter"


def _huge_gif() -> bytes:
    data = bytearray(gif(2))
    data[6:10] = (65535).to_bytes(2, "little") * 2  # the logical screen: 65535 x 65535
    return bytes(data)


BAD = {
    "not a video": (lambda folder: b"%PDF-1.7\n" + b"\x00" * 100, "not a video I can read"),
    "a picture": (lambda folder: b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "a picture, not a video: upload an MP4"),
    "an HLS playlist pointing elsewhere": (
        lambda folder: b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nhttp://169.254.169.254/seg.ts\n#EXT-X-ENDLIST\n",
        "not a video",
    ),
    "an ffconcat list of other files": (
        lambda folder: b"ffconcat version 1.0\nfile 'file:///etc/passwd'\nfile 'http://example.com/a.mp4'\n",
        "not a video",
    ),
    "an MP4 cut before its index": (lambda folder: mp4(folder)[:200], "damaged"),
    "an MP4 cut in its data": (lambda folder: mp4(folder)[: len(mp4(folder)) // 3], "damaged"),
    "a huge declared size": (lambda folder: _huge_gif(), "largest I take"),
    "a long stream of tiny frames": (lambda folder: gif(3000, size=(1, 1), delay_ms=0), "longest I take"),
    "thousands of frames in five seconds": (lambda folder: mp4(folder, frames=600, fps=150, size=(16, 16)), "frames"),
    "too long": (lambda folder: mp4(folder, frames=200, fps=30), "longest I take"),
    "too large": (lambda folder: mp4(folder, frames=2, fps=30, size=(4352, 64)), "largest I take"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_files_get_a_clear_refusal(name: str, tmp_path: Path) -> None:
    make, says = BAD[name]
    data = make(tmp_path)
    with pytest.raises(VideoError, match=says):
        info = probe(data, LIMITS)
        normalise(data, info, LIMITS, (64, 64), 24, 100)


def test_a_header_that_lies_about_the_frames_is_caught_while_decoding(tmp_path: Path) -> None:
    """The frame count is checked against what is decoded, not only against what the header declares."""
    data = mp4(tmp_path, frames=120, fps=60, size=(16, 16))
    info = probe(data, LIMITS)
    lying = type(info)(info.kind, info.codec, info.width, info.height, info.duration_s, 10)
    with pytest.raises(VideoError, match="frames"):
        normalise(data, lying, VideoLimits(max_seconds=1.0, max_fps=30), (16, 16), 24, 100)
