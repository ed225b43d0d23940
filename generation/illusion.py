"""/illusion's hidden shape: the words the user typed (drawn here) or the picture they gave, as the pattern the
illusion ControlNet (QR Code Monster v2) steers every frame of a clip by: dark where the shape is, light around
it. Seen up close the clip is the prompt's scene; from afar, or squinting, the words or the shape.

Words are drawn as large as fit the frame, on up to three lines, with the worker's font (`MOTIONBOT_ILLUSION_FONT`,
a .ttf or .otf file; Pillow's own, which has the Latin letters, where none is set). Words the font has no
letters for are refused, naming them, rather than drawn as empty boxes.
"""

from __future__ import annotations

import math
import os
import textwrap

from PIL import Image, ImageDraw, ImageFont, ImageOps

from generation.text import Said, _

__all__ = ["SYSTEM_FONTS", "NoGlyphs", "font_for_illusions", "pattern"]

MARGIN = 0.1  # of each side left light around the shape
LIGHT, DARK = 255, 0

SYSTEM_FONTS = (  # bold, for strokes thick enough to show: Latin, Greek and Cyrillic letters
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",  # Debian, Ubuntu (fonts-dejavu-core)
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",  # Arch
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans-Bold.ttf",  # Fedora
)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


class NoGlyphs(Said, ValueError):
    """The font cannot draw some of the words' letters; the message names them."""


def pattern(width: int, height: int, text: str = "", picture: Image.Image | None = None, font: str = "") -> Image.Image:
    """The shape to hide in a `width` x `height` clip: `picture` (grey, its contrast stretched, whole, centred),
    else `text` drawn dark on light. An RGB picture, the same for every frame."""
    inner = (max(1, round(width * (1 - 2 * MARGIN))), max(1, round(height * (1 - 2 * MARGIN))))
    canvas = Image.new("L", (width, height), LIGHT)
    if picture is not None:
        shape = ImageOps.contain(ImageOps.autocontrast(picture.convert("L")), inner)
        canvas.paste(shape, ((width - shape.width) // 2, (height - shape.height) // 2))
        return canvas.convert("RGB")
    words = " ".join(text.split())
    missing = _missing(words, _font(font, 32))
    if missing:
        raise NoGlyphs(
            _(
                "I cannot draw {letters} here: hide a picture of the words instead (`image`)",
                letters=" ".join(missing),
            )
        )
    lines, size = _layout(words, inner, font)
    drawn = _font(font, size)
    draw = ImageDraw.Draw(canvas)
    draw.multiline_text((width / 2, height / 2), "\n".join(lines), fill=DARK, font=drawn, anchor="mm", align="center")
    return canvas.convert("RGB")


def font_for_illusions(setting: str) -> str:
    """The font file hidden words are drawn with: the setting's, else the first system font found, else ""
    (Pillow's own)."""
    if setting:
        ImageFont.truetype(setting, 12)  # a wrong path or a file that is no font stops the worker at start
        return setting
    return next((path for path in SYSTEM_FONTS if os.path.isfile(path)), "")


def _font(path: str, size: int) -> Font:
    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size)


def _missing(words: str, font: Font) -> list[str]:
    """The letters of `words` that `font` draws as its "no such letter" mark."""
    unknown = bytes(font.getmask("\U0010fffd"))  # a private-use letter no font has: its .notdef glyph
    letters = dict.fromkeys(char for char in words if not char.isspace())
    return [char for char in letters if bytes(font.getmask(char)) == unknown]


def _layout(words: str, box: tuple[int, int], path: str) -> tuple[list[str], int]:
    """The words on one to three lines, at the largest size that fits `box`."""
    best: tuple[list[str], int] = ([words], 1)
    for count in (1, 2, 3):
        width = math.ceil(len(words) / count)  # the narrowest wrap that needs no more than `count` lines
        while len(lines := textwrap.wrap(words, width) or [words]) > count:
            width += 1
        size = _largest(lines, box, path)
        if size > best[1]:
            best = (lines, size)
    return best


def _largest(lines: list[str], box: tuple[int, int], path: str) -> int:
    """The largest font size at which `lines` fit in `box` (a binary search; at least 1)."""
    low, high = 1, max(1, box[1])
    while low < high:
        size = (low + high + 1) // 2
        left, top, right, bottom = ImageDraw.Draw(Image.new("L", (1, 1))).multiline_textbbox(
            (0, 0), "\n".join(lines), font=_font(path, size), align="center"
        )
        if right - left <= box[0] and bottom - top <= box[1]:
            low = size
        else:
            high = size - 1
    return low
