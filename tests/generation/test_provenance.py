"""Every clip says inside its file that AI made it, and with which model, in the places tools read."""

from __future__ import annotations

import io
import re

import av
import numpy as np
import pytest
from PIL import Image

from generation.encode import decode_frames, encode
from generation.jobs import OutputFormat
from generation.provenance import DIGITAL_SOURCE_TYPE, Mark
from tests.generation.test_encode import moving_frames

MARK = Mark("svd-xt", 'Stable Video Diffusion XT (25 "frames")')


def xmp_of(data: bytes, fmt: OutputFormat) -> str | None:
    """The XMP packet as a reader finds it: FFmpeg's MP4 reader, or the GIF's block structure walked."""
    if fmt is OutputFormat.MP4:
        with av.open(io.BytesIO(data), options={"export_xmp": "1"}) as container:
            return container.metadata.get("xmp")
    if fmt is OutputFormat.GIF:
        return gif_extensions(data).get(b"XMP DataXMP")
    return None


def made_with(data: bytes, fmt: OutputFormat = OutputFormat.MP4) -> str | None:
    """The model a clip's XMP says made it."""
    found = re.search(r'AISystemVersionUsed="([^"]*)"', xmp_of(data, fmt) or "")
    return found.group(1) if found else None


def gif_extensions(data: bytes) -> dict[bytes, str]:
    """The application extensions of a GIF, read block by block as a decoder reads them (XMP's are read to
    its magic trailer); a malformed structure fails here."""
    assert data[:6] == b"GIF89a"
    at = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    found: dict[bytes, str] = {}
    while data[at] != 0x3B:  # the trailer
        if data[at] == 0x2C:  # an image: its descriptor, local colour table, LZW size, then sub-blocks
            flags = data[at + 9]
            at += 10 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0) + 1
        else:
            assert data[at] == 0x21, f"not a block at {at}"
            label, at = data[at + 1], at + 2
            if label == 0xFF:
                identifier = data[at + 1 : at + 12]
                if identifier == b"XMP DataXMP":
                    end = data.index(b"<?xpacket end=", at)
                    found[identifier] = data[at + 12 : data.index(b"?>", end) + 2].decode()
                at += 1 + data[at]
        while data[at]:  # data sub-blocks (an XMP packet's trailer makes its text read as such)
            at += 1 + data[at]
        at += 1
    return found


@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_a_marked_clip_says_ai_made_it_and_with_which_model_and_still_plays(fmt: OutputFormat) -> None:
    frames = moving_frames(6)
    plain = encode(frames, 8, fmt, 10 << 20)
    marked = encode(frames, 8, fmt, 10 << 20, MARK)
    for clip in (plain, marked):
        decoded, fps = decode_frames(clip.data)
        assert (len(decoded), fps) == (6, 8)
    if fmt is OutputFormat.GIF:
        comments = [Image.open(io.BytesIO(clip.data)).info.get("comment") for clip in (plain, marked)]
    else:
        comments = []
        for clip in (plain, marked):
            with av.open(io.BytesIO(clip.data)) as container:
                comments.append({k.lower(): v for k, v in container.metadata.items()}.get("comment"))
    said = MARK.comment()
    assert comments[0] is None and comments[1] in (said, said.encode())
    assert "AI-generated" in said and "svd-xt" in said
    if fmt is OutputFormat.WEBM:
        return  # Matroska has no place for XMP: its tag says it
    assert xmp_of(plain.data, fmt) is None
    xmp = xmp_of(marked.data, fmt)
    assert xmp is not None
    assert f'Iptc4xmpExt:DigitalSourceType="{DIGITAL_SOURCE_TYPE}"' in xmp
    assert 'Iptc4xmpExt:AISystemUsed="Stable Video Diffusion XT (25 &quot;frames&quot;)"' in xmp
    assert 'Iptc4xmpExt:AISystemVersionUsed="svd-xt"' in xmp
    assert re.fullmatch(r"<\?xpacket begin=.*<\?xpacket end=\"r\"\?>", xmp, re.S)


@pytest.mark.parametrize("fmt", [OutputFormat.MP4, OutputFormat.GIF])
def test_the_marks_count_against_the_budget(fmt: OutputFormat) -> None:
    noise = np.random.default_rng(0).integers(0, 255, (12, 90, 160, 3), dtype=np.uint8)
    budget = len(encode(noise, 12, fmt, 10 << 20).data) + 100  # the clip without its marks fits, with them not
    fitted = encode(noise, 12, fmt, budget, MARK)
    assert len(fitted.data) <= budget and xmp_of(fitted.data, fmt) is not None
