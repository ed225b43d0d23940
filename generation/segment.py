"""The motion brush by words: a region of a picture chosen by a phrase ("the water"), segmented with CLIPSeg
(`CLIPSegForImageSegmentation`, CIDAS/clipseg-rd64-refined by default, `MOTIONBOT_SEGMENTER`).

CLIPSeg scores every pixel of a 352x352 view of the picture against the phrase; the scores are scaled back
to the picture's size and kept where the probability is above `THRESHOLD`. `outline` draws the region's
edge over the picture, for the user to see what will move before the clip is rendered.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image, ImageChops, ImageFilter
from transformers import CLIPSegForImageSegmentation, CLIPSegProcessor

from generation.runtime import Runtime
from generation.weights import component, local_only

__all__ = ["THRESHOLD", "Segmenter", "outline"]

THRESHOLD = 0.4  # CLIPSeg's model card examples keep pixels above about 0.4


class Segmenter:
    def __init__(self, source: str, runtime: Runtime):
        self.runtime = runtime
        with component("worker", "region segmenter", source, setting="MOTIONBOT_SEGMENTER"):
            self.processor = CLIPSegProcessor.from_pretrained(source, local_files_only=local_only(source))
            model = CLIPSegForImageSegmentation.from_pretrained(source, local_files_only=local_only(source))
        self.model = model.to(runtime.device).eval()

    def mask(self, picture: Image.Image, phrase: str) -> np.ndarray:
        """(H, W) float32 at the picture's size: 1 in the region the phrase names, 0 elsewhere."""
        inputs = self.processor(text=[phrase], images=[picture], return_tensors="pt", padding=True)
        with torch.no_grad():
            logits = self.model(**inputs.to(self.runtime.device)).logits  # (1, 352, 352) or (352, 352)
        scores = torch.sigmoid(logits.float()).reshape(logits.shape[-2:]).cpu().numpy()
        scaled = Image.fromarray(scores).resize(picture.size, Image.Resampling.BILINEAR)
        return (np.asarray(scaled) > THRESHOLD).astype(np.float32)


def outline(picture: Image.Image, mask: np.ndarray, longest: int = 384) -> bytes:
    """A PNG of the picture, dimmed outside the region, with the region's edge drawn over it."""
    region = Image.fromarray((mask * 255).astype(np.uint8))
    small = picture.copy()
    small.thumbnail((longest, longest))
    region = region.resize(small.size, Image.Resampling.NEAREST).filter(ImageFilter.MedianFilter(5))
    edge = ImageChops.difference(region.filter(ImageFilter.MaxFilter(3)), region.filter(ImageFilter.MinFilter(3)))
    dimmed = Image.blend(small, Image.new("RGB", small.size, (0, 0, 0)), 0.6)
    shown = Image.composite(small, dimmed, region)
    if np.asarray(edge).mean() < 0.25 * 255:  # a ragged region would be all edge: the dimming shows it then
        shown.paste((255, 220, 0), mask=edge)
    out = io.BytesIO()
    shown.save(out, format="PNG")
    return out.getvalue()
