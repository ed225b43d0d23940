"""The image check: a job's input pictures and sampled frames of its clip, scored by a real classifier.

The classifier is diffusers' `StableDiffusionSafetyChecker` (CompVis/stable-diffusion-safety-checker by
default, `MOTIONBOT_SAFETY_CHECKER`): a CLIP ViT-L/14 image embedding compared with 17 concept
embeddings of sexual content, each with its own published threshold, and 3 "special care" concepts that
tighten the others when they fire. A picture's score is its largest margin over a concept's threshold;
it is flagged when the score is above `MOTIONBOT_SAFETY_THRESHOLD` (0 = the published behaviour, lower is
stricter). It looks for sexual content only (not violence or gore) and misses some, flags some art: it
is a filter under the server's policy, not a judge.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
from PIL import Image
from transformers import CLIPImageProcessor

from generation.runtime import Runtime
from generation.weights import component, local_only

__all__ = ["ImageCheck", "SafetyChecker"]


@dataclass(frozen=True)
class ImageCheck:
    flagged: bool
    score: float  # the highest score among the pictures looked at
    seconds: float  # what the check cost


class SafetyChecker:
    def __init__(self, source: str, threshold: float, runtime: Runtime):
        self.threshold, self.runtime = threshold, runtime
        with component("safety checker", "image classifier", source, setting="MOTIONBOT_SAFETY_CHECKER"):
            offline = local_only(source)
            self.model = StableDiffusionSafetyChecker.from_pretrained(source, local_files_only=offline)
            self.processor = CLIPImageProcessor.from_pretrained(source, local_files_only=offline)
        self.model = self.model.to(runtime.device, dtype=runtime.dtype).eval()

    @torch.no_grad()
    def scores(self, pictures: Sequence[Image.Image]) -> list[float]:
        """Each picture's largest margin over a concept's threshold (above 0: flagged as published)."""
        pixels = self.processor(images=list(pictures), return_tensors="pt").pixel_values
        pooled = self.model.vision_model(pixels.to(self.runtime.device, dtype=self.runtime.dtype))[1]
        embeds = torch.nn.functional.normalize(self.model.visual_projection(pooled).float())

        def margins(concepts: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
            return embeds @ torch.nn.functional.normalize(concepts.float()).T - weights.float()

        special = margins(self.model.special_care_embeds, self.model.special_care_embeds_weights)
        tighten = (special.max(dim=1).values > 0).float() * 0.01  # as the checker itself does
        concept = margins(self.model.concept_embeds, self.model.concept_embeds_weights) + tighten[:, None]
        return torch.maximum(concept.max(dim=1).values, special.max(dim=1).values).tolist()

    def check(self, pictures: Sequence[Image.Image]) -> ImageCheck:
        """Flagged when any picture scores above the threshold."""
        started = time.perf_counter()
        top = max(self.scores(pictures))
        return ImageCheck(top > self.threshold, top, time.perf_counter() - started)
