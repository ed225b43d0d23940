from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from generation.images import ImageError, check_whole, fit, load_rgb, probe
from generation.jobs import Fit
from tests.conftest import png_bytes


def huge_png_header(width: int, height: int) -> bytes:
    """A PNG that claims to be width x height but holds almost no data: a decompression bomb's header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_probe_reads_real_format_and_size() -> None:
    info = probe(png_bytes(120, 80))
    assert (info.format, info.width, info.height) == ("PNG", 120, 80)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"hello, this is a text file named cat.png", "not a picture \\(send a PNG"),
        (b"\x00\x00\x00\x18ftypisom" + b"\x00" * 64, "a video, not a picture: `/restyle`"),  # a phone's MP4
        (b"\x00\x00\x00\x14ftypqt  " + b"\x00" * 64, "a video, not a picture"),  # an iPhone's MOV
        (b"\x1a\x45\xdf\xa3" + b"\x00" * 64, "a video, not a picture"),  # a WebM
        (huge_png_header(30000, 30000), "too large; the limit is 40 MP"),
        (huge_png_header(8000, 6000), "limit is 40 MP and this one is 8000x6000"),
        (png_bytes(8, 8), "at least 16x16"),
    ],
)
def test_bad_inputs_get_a_clear_message(data: bytes, message: str) -> None:
    with pytest.raises(ImageError, match=message):
        load_rgb(data)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "AVIF"])
@pytest.mark.parametrize("kept", [0.5, 0.02])
def test_a_cut_picture_is_reported_as_damaged_not_as_another_kind_of_file(fmt: str, kept: float) -> None:
    out = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (200, 200, 3), np.uint8)).save(out, fmt)
    data = out.getvalue()
    for check in (check_whole, load_rgb):  # the bot's check before anything is held, the worker's decode
        with pytest.raises(ImageError, match="damaged or incomplete"):
            check(data[: int(len(data) * kept)])


def interlaced_png(pixels: np.ndarray) -> bytes:
    """An Adam7-interlaced RGB PNG (Pillow writes none), rows unfiltered, pass by pass."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b""
    for x0, y0, dx, dy in (
        (0, 0, 8, 8),
        (4, 0, 8, 8),
        (0, 4, 4, 8),
        (2, 0, 4, 4),
        (0, 2, 2, 4),
        (1, 0, 2, 2),
        (0, 1, 1, 2),
    ):
        rows += b"".join(b"\0" + row.tobytes() for row in pixels[y0::dy, x0::dx] if row.size)
    height, width, _ = pixels.shape
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 1)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def test_a_png_whose_data_is_shorter_than_its_size_is_damaged_before_any_decoding() -> None:
    with pytest.raises(ImageError, match="damaged or incomplete"):
        check_whole(huge_png_header(2000, 2000))  # every chunk and checksum right, 64 bytes of 12 MB of pixels
    pixels = np.random.default_rng(1).integers(0, 255, (29, 37, 3), dtype=np.uint8)
    whole = interlaced_png(pixels)
    assert (np.asarray(load_rgb(whole)) == pixels).all() and check_whole(whole).width == 37
    for mode in ("RGB", "RGBA", "L", "LA", "P", "1", "I;16"):
        out = io.BytesIO()
        Image.fromarray(pixels).convert(mode).save(out, format="PNG")
        assert check_whole(out.getvalue()).format == "PNG", mode


def test_unsupported_format_is_refused_by_content() -> None:
    out = io.BytesIO()
    Image.new("RGB", (32, 32)).save(out, format="BMP")
    with pytest.raises(ImageError, match="BMP images are not supported"):
        probe(out.getvalue())


def test_exif_orientation_is_applied() -> None:
    img = Image.new("RGB", (100, 50), (255, 0, 0))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif)
    assert load_rgb(out.getvalue()).size == (50, 100)


def test_transparency_goes_on_white() -> None:
    out = io.BytesIO()
    Image.new("RGBA", (32, 32), (0, 0, 0, 0)).save(out, format="PNG")
    assert load_rgb(out.getvalue()).getpixel((5, 5)) == (255, 255, 255)


def _display_p3() -> bytes:
    """An ICC v2 display profile with Display P3's primaries (D50-adapted, as Apple's profile has them) and
    gamma 2.2: what a phone photo carries."""

    def s15(value: float) -> bytes:
        return struct.pack(">i", round(value * 65536))

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ \0\0\0\0" + s15(x) + s15(y) + s15(z)

    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(2.2 * 256)) + b"\0\0"
    tags = [(b"wtpt", xyz(0.9642, 1.0, 0.8249)), (b"rXYZ", xyz(0.5151, 0.2412, -0.0011))]
    tags += [(b"gXYZ", xyz(0.2919, 0.6922, 0.0419)), (b"bXYZ", xyz(0.1571, 0.0666, 0.7841))]
    tags += [(b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]
    offset = 128 + 4 + 12 * len(tags)
    table, data = struct.pack(">I", len(tags)), b""
    for signature, body in tags:
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    header = struct.pack(">I", offset + len(data)) + b"\0" * 4 + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
    header += b"\0" * 12 + b"acsp" + b"\0" * 28 + s15(0.9642) + s15(1.0) + s15(0.8249) + b"\0" * 48
    return header + table + data


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_a_photo_in_display_p3_is_converted_to_srgb_and_an_untagged_or_garbled_one_is_taken_as_it_is(fmt: str) -> None:
    def loaded(**saved: object) -> tuple[int, ...]:
        out = io.BytesIO()
        Image.new("RGB", (16, 16), (200, 60, 40)).save(out, format=fmt, quality=100, subsampling=0, **saved)
        return load_rgb(out.getvalue()).getpixel((8, 8))

    untagged = loaded()
    red, green, blue = loaded(icc_profile=_display_p3())
    # P3's red is deeper than sRGB's: the same numbers mean a more saturated colour, so in sRGB they spread.
    assert red > untagged[0] + 12 and green < untagged[1] - 12 and blue < untagged[2] - 12, (untagged, red, green, blue)
    assert max(abs(a - b) for a, b in zip(loaded(icc_profile=b"not a profile" * 10), untagged, strict=True)) <= 2


def test_a_transparent_picture_with_a_profile_still_goes_on_white() -> None:
    out = io.BytesIO()
    Image.new("RGBA", (32, 32), (0, 0, 0, 0)).save(out, format="PNG", icc_profile=_display_p3())
    assert load_rgb(out.getvalue()).getpixel((5, 5)) == (255, 255, 255)


def test_16_bit_greyscale_keeps_its_tones_and_cmyk_becomes_rgb() -> None:
    grey = Image.new("I;16", (64, 32))
    grey.putdata([x * 1024 for x in range(64)] * 32)  # a ramp from black to (almost) white
    out = io.BytesIO()
    grey.save(out, format="PNG")
    ramp = load_rgb(out.getvalue())
    assert ramp.getpixel((0, 0)) == (0, 0, 0) and 120 < ramp.getpixel((32, 0))[0] < 135
    out = io.BytesIO()
    Image.new("CMYK", (32, 32), (0, 255, 255, 0)).save(out, format="JPEG")
    red, green, blue = load_rgb(out.getvalue()).getpixel((5, 5))
    assert red > 200 and green < 60 and blue < 60


@pytest.mark.parametrize("mode", list(Fit))
def test_fit_gives_exact_size(mode: Fit) -> None:
    img = load_rgb(png_bytes(300, 100))
    assert fit(img, 128, 128, mode).size == (128, 128)


def test_pad_keeps_the_whole_picture_and_crop_cuts_the_sides() -> None:
    img = Image.new("RGB", (300, 100), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 10, 100))  # a red stripe at the far left
    cropped, padded = fit(img, 128, 128, Fit.CROP), fit(img, 128, 128, Fit.PAD)
    red = lambda im: sum(1 for x in range(128) if im.getpixel((x, 64))[0] > 200)  # noqa: E731
    assert red(cropped) == 0 and red(padded) >= 3


def jpeg(width: int, height: int, orientation: int = 1) -> bytes:
    out = io.BytesIO()
    img = Image.new("RGB", (width, height), (10, 120, 200))
    exif = img.getexif()
    exif[0x0112] = orientation
    img.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_a_jpeg_is_decoded_straight_at_the_scale_its_fit_needs() -> None:
    full = load_rgb(jpeg(4000, 3000))
    drafted = load_rgb(jpeg(4000, 3000), cover=(1024, 576))
    assert full.size == (4000, 3000) and drafted.size == (2000, 1500)  # 1/2 still covers a 1024x576 crop
    turned = load_rgb(jpeg(4000, 3000, orientation=6), cover=(576, 1024))
    assert turned.size == (1500, 2000), "the orientation is applied before the scale is chosen"


def test_the_header_gives_the_shown_size_and_the_whole_check_reads_no_pixels_at_full_size() -> None:
    assert (probe(jpeg(300, 100, orientation=6)).width, probe(jpeg(300, 100, orientation=6)).height) == (100, 300)
    assert check_whole(png_bytes(200, 200)).format == "PNG"
    for broken in (png_bytes(200, 200)[:300], jpeg(640, 480)[:-200]):
        with pytest.raises(ImageError, match="damaged or incomplete"):
            check_whole(broken)


@pytest.mark.parametrize("fmt", ["AVIF", "HEIF"])
def test_an_avif_and_an_iphones_heic_are_taken_upright(fmt: str) -> None:
    pixels = np.zeros((48, 64, 3), np.uint8)
    pixels[:, :32] = (220, 30, 30)  # red on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned a quarter clockwise: the red half is then on top
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, fmt, exif=exif.tobytes(), quality=90)
    assert check_whole(out.getvalue()) == probe(out.getvalue())
    assert (probe(out.getvalue()).width, probe(out.getvalue()).height) == (48, 64)
    shown = np.asarray(load_rgb(out.getvalue()))
    assert shown.shape == (64, 48, 3) and shown[:20, :, 0].mean() > 150 > shown[-20:, :, 0].mean()
    with pytest.raises(ImageError, match="damaged or incomplete"):
        load_rgb(out.getvalue()[: len(out.getvalue()) // 2])
