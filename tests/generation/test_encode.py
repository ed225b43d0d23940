from __future__ import annotations

import io

import av
import numpy as np
import pytest
from PIL import Image

from generation.encode import EncodeError, decode_frames, encode, gif_delays, h264_level
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
            "codec": stream.codec_context.name,
            "pix_fmt": stream.codec_context.pix_fmt,
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "fps": float(stream.average_rate),
            "frames": frames,
            "format": container.format.name,
        }


def test_mp4_is_h264_yuv420p_constant_fps_and_faststart() -> None:
    out = encode(moving_frames(12), 12, OutputFormat.MP4, 10 << 20)
    info = probe(out.data)
    assert info | {"format": None} == {
        "codec": "h264",
        "pix_fmt": "yuv420p",
        "width": 160,
        "height": 90,
        "fps": 12.0,
        "frames": 12,
        "format": None,
    }
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
    noise = np.random.default_rng(0).integers(0, 255, (12, 180, 320, 3), dtype=np.uint8)
    free = encode(noise, 12, fmt, 100 << 20)
    budget = len(free.data) // 4
    fitted = encode(noise, 12, fmt, budget)
    assert len(fitted.data) <= budget < len(free.data)
    frames, _ = decode_frames(fitted.data) if fmt is not OutputFormat.GIF else (None, None)
    if frames is not None:
        assert frames.shape[0] == 12  # frames are never dropped to fit, only bits and pixels


def test_a_gif_keeps_a_still_background_still_and_its_colours_close() -> None:
    height, width = 90, 160
    ys, xs = np.mgrid[0:height, 0:width]
    sky = np.stack([xs * 255 // width, ys * 255 // height, (xs + ys) * 255 // (width + height)], -1)
    frames = np.repeat(sky[None].astype(np.uint8), 8, axis=0)
    for index, frame in enumerate(frames):  # a red ball crosses the picture; the rest never changes
        frame[((xs - 20 - 15 * index) ** 2 + (ys - 45) ** 2) < 100] = (220, 40, 30)
    decoded, _ = decode_frames(encode(frames, 8, OutputFormat.GIF, 10 << 20).data)
    corner = decoded[:, :20, -40:].astype(int)  # never under the ball
    assert np.abs(corner - corner[0]).max() == 0, "one palette for the clip: no colour flicker"
    assert np.abs(decoded.astype(int) - frames).mean() < 6


def test_an_impossible_budget_raises_instead_of_returning_an_oversized_file() -> None:
    with pytest.raises(EncodeError):
        encode(moving_frames(12), 12, OutputFormat.MP4, 300)


def test_decode_round_trip_keeps_frame_count_and_fps() -> None:
    frames, fps = decode_frames(encode(moving_frames(10), 10, OutputFormat.MP4, 10 << 20).data)
    assert frames.shape == (10, 90, 160, 3) and fps == 10


@pytest.mark.parametrize("rate", [8, 12, 16, 24])
def test_a_gif_clip_reads_back_at_the_rate_it_was_made_at(rate: int) -> None:
    # GIF delays are hundredths: 24 fps alternates 4 and 5 of them, which FFmpeg's average calls 25 fps; an
    # Extend or Smooth of a GIF clip plays at the clip's own rate.
    frames, fps = decode_frames(encode(moving_frames(25), rate, OutputFormat.GIF, 10 << 20).data)
    assert frames.shape == (25, 90, 160, 3) and fps == rate


@pytest.mark.parametrize(("fps", "target"), [(8, 24), (12, 24), (24, 48)])
def test_smoothing_spans_the_source_and_ends_without_a_repeated_frame(fps: int, target: int) -> None:
    assert smooth_fps(fps) == target
    source = moving_frames(8)
    out = interpolate(source, fps, target)
    assert out.shape == (7 * target // fps + 1, 90, 160, 3)

    def diff(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs(a.astype(int) - b).mean())

    assert diff(out[0], source[0]) < 2 and diff(out[-1], source[-1]) < 2
    assert min(diff(out[i], out[i + 1]) for i in range(len(out) - 1)) > 1, "a frame is shown twice"


def test_mp4_and_webm_are_bt709_limited_range_converted_and_tagged() -> None:
    frames = np.zeros((4, 64, 64, 3), np.uint8)
    frames[..., 0] = 255  # pure red: BT.601 and BT.709 give it different Y / Cb / Cr
    for fmt in (OutputFormat.MP4, OutputFormat.WEBM):
        with av.open(io.BytesIO(encode(frames, 8, fmt, 10 << 20).data)) as container:
            context = container.streams.video[0].codec_context
            tags = (context.colorspace, context.color_range, context.color_primaries, context.color_trc)
            assert tags == (1, 1, 1, 1), f"{fmt}: BT.709 matrix, limited range, BT.709 primaries and transfer"
            frame = next(container.decode(video=0))
            y = float(frame.to_ndarray(format="yuv420p")[:64].mean())
            assert abs(y - 63) < 3, f"{fmt}: red has Y≈63 in BT.709 limited range (BT.601 gives 81), got {y}"


def test_a_noisy_hd_clip_keeps_to_the_bitrate_of_its_signalled_level() -> None:
    noise = np.random.default_rng(1).integers(0, 256, (25, 576, 1024, 3), dtype=np.uint8)
    out = encode(noise, 24, OutputFormat.MP4, 100 << 20)
    with av.open(io.BytesIO(out.data)) as container:
        level = container.streams.video[0].codec_context.level
    level_max = {30: 12.5e6, 31: 17.5e6, 32: 25e6, 40: 25e6, 41: 62.5e6}[level]  # High profile, Annex A
    assert level == 31 and h264_level(1024, 576, 24) == ("3.1", 17_500_000)
    assert len(out.data) * 8 / (25 / 24) <= level_max


def test_gif_delays_keep_the_frame_rate_in_hundredths() -> None:
    delays = gif_delays(24, 24)
    assert sum(delays) == 1000 and set(delays) == {40, 50}  # 24 fps, not 25 (every frame at 40 ms)
    assert gif_delays(10, 10) == [100] * 10


@pytest.mark.parametrize("rate", [8, 24])
def test_a_gif_with_repeated_frames_reads_back_every_frame_at_its_rate(rate: int) -> None:
    frames = moving_frames(12)
    frames[5] = frames[6] = frames[4]  # GIF writers merge a repeated frame into the one before
    out = encode(frames, rate, OutputFormat.GIF, 10 << 20)
    with Image.open(io.BytesIO(out.data)) as image:
        assert image.n_frames == 10, "two frames merged in the file"
    back, fps = decode_frames(out.data)
    assert out.frames == 12 == len(back) and fps == rate, "reported and read back as played"
    assert np.array_equal(back[5], back[4]) and np.array_equal(back[6], back[4])
    assert not np.array_equal(back[7], back[6])


def test_interpolated_frames_put_moving_things_in_between() -> None:
    frames = np.zeros((4, 64, 96, 3), np.uint8)
    for i in range(4):
        frames[i, 24:40, 16 + 12 * i : 32 + 12 * i] = 255  # a square moving 12 px right per frame
    out = interpolate(frames, 8, 16)

    def x_of(frame: np.ndarray) -> float:
        return float(np.nonzero(frame[..., 0] > 128)[1].mean())

    assert x_of(frames[0]) + 3 < x_of(out[1]) < x_of(frames[1]) - 3  # a new, in-between position


def test_a_clip_that_needs_a_lower_rate_fits_its_budget_in_one_encode(monkeypatch: pytest.MonkeyPatch) -> None:
    import generation.encode as module
    from bench.bench_cpu_stages import moving_clip

    frames = moving_clip(25, 320, 192)
    free = module.encode(frames, 24, OutputFormat.MP4, 10 << 20)
    calls: list[int | None] = []
    one = module._encode_video

    def counted(*args: object, **kwargs: object) -> bytes:
        calls.append(kwargs.get("bitrate", args[4] if len(args) > 4 else None))  # type: ignore[arg-type]
        return one(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(module, "_encode_video", counted)
    budget = len(free.data) // 2
    fitted = module.encode(frames, 24, OutputFormat.MP4, budget)
    assert len(fitted.data) <= budget and (fitted.width, fitted.height) == (320, 192)
    assert len(calls) == 1, "aimed at the budget from the start: no second and third pass"
