"""Every clip says, inside its file, that AI made it, and with which model: machine-readable marks that
travel with the file wherever it is downloaded or re-posted (the EU AI Act's article 50(2) asks this of
every provider of a system that generates video).

- MP4: an XMP packet in a top-level `uuid` box (the XMP specification's place for it in MP4) with the IPTC
  digital source type *trainedAlgorithmicMedia* and the AI system used (IPTC Photo Metadata 2025.1), and
  the same in words in the file's `comment` tag;
- WebM: the `comment` tag (Matroska has no place for XMP);
- GIF: the XMP packet in its application extension ("XMP DataXMP") and a comment.

No prompt, no user and no path goes in: only the model's row name and its description.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

__all__ = ["DIGITAL_SOURCE_TYPE", "Mark", "in_gif", "in_mp4"]

DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
_XMP_UUID = uuid.UUID("be7acfcb-97a9-42e8-9c71-999491e3afac").bytes  # XMP part 3: XMP in ISO base media files
_GIF_XMP = b"\x21\xff\x0bXMP DataXMP"  # an application extension, its 11-byte identifier and code
# XMP part 3's "magic trailer": 0x01, 0xFF, 0xFE … 0x01, 0x00 and the blocks' terminator. A decoder reads the
# packet as data sub-blocks (each byte a length), lands somewhere in the trailer and is led to its end.
_GIF_TRAILER = bytes([1, *range(255, -1, -1), 0])
_ATTRIBUTE = {'"': "&quot;"}  # an attribute's value escaped, always in double quotes


@dataclass(frozen=True)
class Mark:
    """Who made a clip: the model's row name (`svd-xt`) and what that model is."""

    model: str
    system: str

    def comment(self) -> str:
        return f"AI-generated with motionbot, model {self.model} ({self.system})"

    def xmp(self) -> bytes:
        attributes = {
            "Iptc4xmpExt:DigitalSourceType": DIGITAL_SOURCE_TYPE,
            "Iptc4xmpExt:AISystemUsed": self.system,
            "Iptc4xmpExt:AISystemVersionUsed": self.model,
            "xmp:CreatorTool": "motionbot",
        }
        described = " ".join(f"{name}={quoteattr(value, _ATTRIBUTE)}" for name, value in attributes.items())
        packet = (
            '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            '<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
            f'xmlns:xmp="http://ns.adobe.com/xap/1.0/" {described}/>'
            '</rdf:RDF></x:xmpmeta><?xpacket end="r"?>'
        )
        return packet.encode()


def in_mp4(data: bytes, mark: Mark) -> bytes:
    """The MP4 with its XMP box after the others (players skip a box they do not know; no offset moves)."""
    xmp = mark.xmp()
    return data + struct.pack(">I", 8 + len(_XMP_UUID) + len(xmp)) + b"uuid" + _XMP_UUID + xmp


def in_gif(data: bytes, mark: Mark) -> bytes:
    """The GIF with its XMP extension before the first frame (after the header, the screen descriptor and
    the global colour table)."""
    flags = data[10]
    start = 13 + (3 << ((flags & 0x07) + 1) if flags & 0x80 else 0)
    return data[:start] + _GIF_XMP + mark.xmp() + _GIF_TRAILER + data[start:]
