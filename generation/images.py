"""Input images: check by content, refuse decompression bombs before decoding, orient, colour-manage to sRGB,
fit (torch-free)."""

from __future__ import annotations

import io
import math
import struct
import zlib
from dataclasses import dataclass

import pillow_heif
from PIL import Image, ImageCms, ImageFilter, ImageOps, UnidentifiedImageError

from generation.jobs import Fit
from generation.text import Said, _

__all__ = [
    "ACCEPTED_FORMATS",
    "MAX_PIXELS",
    "ImageError",
    "ImageInfo",
    "check_whole",
    "fit",
    "load_rgb",
    "probe",
    "to_png",
]

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "AVIF", "HEIF")  # AVIF: what browsers save; HEIF: iPhones
MAX_PIXELS = 40_000_000  # 40 MP: far above any camera a user animates, far below a decompression bomb
# Pillow opens an iPhone's HEIC through this plugin (a Pillow plugin registers itself, as Pillow's own do on
# import): the primary picture only, upright (libheif applies its turn), without the thumbnails, depth maps
# and other auxiliary pictures an iPhone photo carries.
pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))  # what the models saw in training, and the clip is


class ImageError(Said, ValueError):
    """The input is not an image we can use; the message is safe to show a user."""


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int  # as shown: EXIF orientation applied
    height: int


def probe(data: bytes, max_pixels: int = MAX_PIXELS) -> ImageInfo:
    """Read only the header: the real format (not the file name's) and the size, checked against limits."""
    if not data:
        raise ImageError(_("the file is empty"))
    too_large = _("the image is too large; the limit is {limit} MP", limit=f"{max_pixels / 1e6:.0f}")
    try:
        with Image.open(io.BytesIO(data)) as img:
            turned = _orientation(img) in (5, 6, 7, 8)  # a quarter turn
            width, height = (img.height, img.width) if turned else (img.width, img.height)
            info = ImageInfo(img.format or "?", width, height)
    except Image.DecompressionBombError:
        raise ImageError(too_large) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        if _signed(data):  # the start of a picture whose header Pillow cannot read: cut short or broken
            raise ImageError(_("the image is damaged or incomplete")) from None
        if _brand(data) is not None or data[:4] == b"\x1a\x45\xdf\xa3":  # an MP4, a MOV, a WebM
            raise ImageError(_("that file is a video, not a picture: `/restyle` redraws a video")) from None
        raise ImageError(_("that file is not a picture (send a PNG, JPEG, WebP or GIF)")) from None
    if info.format not in ACCEPTED_FORMATS:
        raise ImageError(_("{format} images are not supported (send a PNG, JPEG, WebP or GIF)", format=info.format))
    if info.width < 16 or info.height < 16:
        raise ImageError(_("the image is {size}; it needs at least 16x16 pixels", size=f"{info.width}x{info.height}"))
    if info.width * info.height > max_pixels:
        raise ImageError(
            _("{too_large} and this one is {size}", too_large=too_large, size=f"{info.width}x{info.height}")
        )
    return info


_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}


def _brand(data: bytes) -> bytes | None:
    """The major brand of an ISO media file (HEIC, AVIF: `ftyp` first), or None."""
    return data[8:12] if data[4:8] == b"ftyp" else None


def _signed(data: bytes) -> bool:
    """Whether `data` begins with the signature of one of the accepted formats."""
    webp = data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    iso = _brand(data) in (b"avif", b"avis", *_HEIF_BRANDS)
    return webp or iso or data.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a"))


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation where it sits in the header (JPEG, WebP); 1 (upright) elsewhere."""
    if img.format not in ("JPEG", "WEBP", "AVIF"):
        return 1
    try:
        return int(img.getexif().get(0x0112, 1))
    except (OSError, ValueError, SyntaxError):
        return 1


def check_whole(data: bytes, max_pixels: int = MAX_PIXELS) -> ImageInfo:
    """Check that a probed image is whole without decoding it at full size: a PNG's chunks and checksums,
    a JPEG decoded at 1/8 scale, a GIF's first frame (one byte a pixel). WebP, AVIF and HEIC are left to the
    worker."""
    info = probe(data, max_pixels)
    try:
        with Image.open(io.BytesIO(data)) as img:
            if info.format == "PNG":
                img.verify()
                _png_data_whole(data)
            elif info.format == "JPEG":
                img.draft("RGB", (max(1, img.width // 8), max(1, img.height // 8)))
                img.load()
            elif info.format == "GIF":
                img.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise ImageError(_("the image is damaged or incomplete")) from None
    return info


_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by colour type: grey, RGB, palette, grey + alpha, RGBA
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def _png_data_whole(data: bytes) -> None:
    """Inflate a PNG's image data (64 kB in, at most 1 MB out at a time, none of it kept) and raise ValueError
    when it holds fewer bytes than its header's size needs: chunks and checksums can be right around a cut
    stream."""
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", data[16:29])
    bits = depth * _PNG_CHANNELS.get(colour, 4)
    passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
    needed = 0
    for x0, y0, dx, dy in passes:  # each row: a filter byte, then its pixels
        columns, rows = -(-(width - x0) // dx), -(-(height - y0) // dy)
        if columns > 0 and rows > 0:
            needed += rows * (1 + -(-columns * bits // 8))
    inflate, got, at, view = zlib.decompressobj(), 0, 8, memoryview(data)
    while at + 8 <= len(data) and got < needed:
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        for start in range(at + 8, at + 8 + length, 1 << 16) if kind == b"IDAT" else ():
            pending: bytes | memoryview = view[start : min(start + (1 << 16), at + 8 + length)]
            while pending and got < needed:  # 64 kB in, at most 1 MB out at a time
                got += len(inflate.decompress(pending, 1 << 20))
                pending = inflate.unconsumed_tail
        at += 12 + length
    if got < needed:
        raise ValueError(f"PNG image data holds {got} of {needed} bytes")


def load_rgb(data: bytes, max_pixels: int = MAX_PIXELS, cover: tuple[int, int] | None = None) -> Image.Image:
    """Decode a checked image: first frame, EXIF orientation applied, colours in sRGB (an embedded colour
    profile, such as a phone's Display P3 or a print CMYK, converted), transparency on white, RGB. With
    `cover` (a width and height the image will be fitted to), a JPEG is decoded straight at the smallest
    scale (1/2, 1/4, 1/8) that still covers it."""
    probe(data, max_pixels)
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.seek(0)
            if cover is not None and img.format == "JPEG":
                turned = _orientation(img) in (5, 6, 7, 8)
                width, height = (img.height, img.width) if turned else img.size
                scale = max(cover[0] / width, cover[1] / height)  # what a crop to `cover` keeps of the picture
                wanted = (math.ceil(img.width * scale), math.ceil(img.height * scale))
                img.draft("RGB", wanted)
            img.load()
            oriented = _in_srgb(ImageOps.exif_transpose(img), img.info.get("icc_profile"))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise ImageError(_("the image is damaged or incomplete")) from None
    if oriented.mode.startswith("I"):  # 16/32-bit greyscale: scale to 8 bits instead of clipping to white
        oriented = oriented.convert("I").point(lambda v: v * (255 / 65535)).convert("L")
    if oriented.mode in ("RGBA", "LA", "P", "PA") and oriented.has_transparency_data:
        rgba = oriented.convert("RGBA")  # one full-size copy, then the white background takes the picture
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return oriented.convert("RGB")


def _in_srgb(img: Image.Image, icc: bytes | None) -> Image.Image:
    """`img` with its colours converted from its embedded profile to sRGB; as it is without one, or with a
    profile littleCMS cannot read (the pixels are then taken as sRGB, as a browser without colour management
    would)."""
    if not icc or img.mode not in ("RGB", "RGBA", "CMYK"):
        return img
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(img, source, _SRGB, outputMode="RGBA" if img.mode == "RGBA" else "RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return img
    return converted if converted is not None else img


def fit(img: Image.Image, width: int, height: int, mode: Fit = Fit.CROP) -> Image.Image:
    """Fit `img` to exactly width x height: centre crop, or pad with a blurred copy of itself."""
    if mode is Fit.CROP:
        return ImageOps.fit(img, (width, height), Image.Resampling.LANCZOS)
    background = ImageOps.fit(img, (width, height), Image.Resampling.BILINEAR)
    background = background.filter(ImageFilter.GaussianBlur(radius=max(width, height) / 40))
    inner = ImageOps.contain(img, (width, height), Image.Resampling.LANCZOS)
    background.paste(inner, ((width - inner.width) // 2, (height - inner.height) // 2))
    return background


def to_png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()
