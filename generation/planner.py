"""A job's request: a `VideoJob` resolved against its model (`plan.resolve`, as the bot priced it), its
pictures decoded straight to the size it renders at, its mask made, its prompt in words the model reads.
The engine's first step (`Engine.plan`): everything a runner needs, checked before any GPU work.

Prompts a model cannot read are translated to English first (MarianMT, loaded on the first such prompt); a
prompt in another language is checked in English against the built-in block list under the server's policy
(the bot checked the words as written, and the list is English), also for a model that reads the language.
`-region` masks come from CLIPSeg (loaded on the first such job), which reads English: the region's words
are translated the same way.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from generation.blocklist import BlockList, Policy
from generation.illusion import NoGlyphs, font_for_illusions, pattern
from generation.images import ImageError, fit, load_rgb, probe
from generation.jobs import FROM_VIDEO, Content, JobKind, VideoJob
from generation.language import ENGLISH, detect
from generation.models import Family, ModelSpec
from generation.options import SEGMENTS, segments_of
from generation.pipelines import Request
from generation.plan import PlanError, resolve
from generation.progress import FinalError, PromptRefused
from generation.runtime import Runtime
from generation.styles import shaped, styles
from generation.text import _
from generation.weights import WeightsNotFound

if TYPE_CHECKING:
    from generation.segment import Segmenter
    from generation.translate import Translator

__all__ = ["JobRejected", "Planner"]

log = logging.getLogger(__name__)


class JobRejected(FinalError, ValueError):
    """The job cannot run as asked (bad input, model not served); retrying will not help.
    The message is written for the user."""


# The server's policy as the job carries it (the bot sets `content` from the policy and the channel).
_POLICY = {
    Content.REFUSE: (Policy.STRICT, False),
    Content.SPOILER: (Policy.AGE_RESTRICTED, True),
    Content.UNCHECKED: (Policy.OFF, False),
}
_GROW = 0.01  # a swapped region grows by 1% of the frame's shorter side each way: room for the new thing's edges


class Planner:
    """Turns jobs into requests for the models in `models`."""

    def __init__(
        self,
        models: Mapping[str, ModelSpec],
        runtime: Runtime,
        segmenter: str = "",
        style_loras: Mapping[str, str] | None = None,
        translators: Mapping[str, str] | None = None,
        illusion_font: str = "",
    ):
        self.models = models
        self.runtime = runtime
        self.segmenter_source = segmenter  # CLIPSeg for `-region`, loaded on the first such job; "": refused
        self._segmenter: Segmenter | None = None
        self.style_loras = dict(style_loras or {})  # style -> LoRA, over the ones styles.toml names
        self.translators = dict(translators or {})  # language -> MarianMT to English; empty: prompts go as written
        self._translator: Translator | None = None
        self.illusion_font = font_for_illusions(illusion_font)  # /illusion's hidden words
        self._load_lock = threading.Lock()
        self.blocklist = BlockList.built_in()

    def plan(self, job: VideoJob, source: np.ndarray | None = None) -> Request:
        """Resolve a job against its model (`plan.resolve`, as the bot priced it); fail fast if it can't run.
        `source` holds an EXTEND or UPSCALE job's clip frames."""
        spec = self.models.get(job.model)
        if spec is None:
            raise JobRejected(
                _(
                    "model `{model}` is not served here (served: {served})",
                    model=job.model,
                    served=", ".join(self.models),
                )
            )
        if (job.end_image is not None or job.seamless) and not spec.keyframes:
            raise JobRejected(_("`{model}` cannot end on a given picture", model=job.model))
        if len(job.middle_images) > spec.middle_keyframes:
            raise JobRejected(
                _("`{model}` cannot pass through pictures between the first and the last", model=job.model)
            )
        if job.middle_images and job.end_image is None:
            raise JobRejected(_("pictures between the first and the last need a last picture"))
        if (job.mask is not None or job.region) and not spec.masks:
            raise JobRejected(_("`{model}` cannot keep part of the picture still", model=job.model))
        if job.kind is JobKind.INGREDIENTS or job.ingredients:
            _check_ingredients(job, spec)
        size = None
        if job.kind is JobKind.ILLUSION and job.image is None and not job.hidden_text.strip():
            raise JobRejected(_("an illusion needs words or a picture to hide"))
        if job.kind in (JobKind.IMAGE_TO_VIDEO, JobKind.POSE) or (job.kind is JobKind.ILLUSION and job.image):
            if job.image is None:
                raise JobRejected(_("this job needs an image"))  # POSE: the character's picture sets the shape
            size = _probe(job.image)  # the header: plan first, then decode straight to the size needed
            for extra in (job.end_image, *job.middle_images):
                if extra is not None:
                    _probe(extra)
        elif source is not None:  # Extend, Upscale and Restyle: the clip's own size
            size = (source.shape[2], source.shape[1])
        try:
            plan = resolve(job, spec, size, len(source) if source is not None else 0)
        except PlanError as exc:
            raise JobRejected(exc.text) from None
        width, height = plan.width, plan.height
        prompt, negative, read_as = self._readable(job, spec)
        self._check_in_english(job, spec, (prompt, negative) if read_as else None)
        image = end_image = video = None
        if job.kind is JobKind.ILLUSION:  # the shape hidden in every frame: the picture, or the words drawn
            shown = _load(job.image, (width, height)) if job.image is not None else None
            try:
                image = pattern(width, height, job.hidden_text, shown, self.illusion_font)
            except NoGlyphs as exc:
                raise JobRejected(exc.text) from None
        elif job.image is not None:
            image = fit(_load(job.image, (width, height)), width, height, job.fit)
        if job.end_image is not None:
            end_image = fit(_load(job.end_image, (width, height)), width, height, job.fit)
        elif job.seamless:  # ends on its own picture
            end_image = image
        middle = tuple(fit(_load(data, (width, height)), width, height, job.fit) for data in job.middle_images)
        # Whole, within the frame: the pipeline centres each on white at the clip's size (VACE's references).
        ingredients = tuple(ImageOps.contain(_load(data, (width, height)), (width, height)) for data in job.ingredients)
        mask = _mask(fit(_load(job.mask, (width, height)), width, height, job.fit)) if job.mask is not None else None
        if job.region and image is not None:
            words = self._english(job.region, ENGLISH.__eq__) if self.translators else job.region  # CLIPSeg's
            mask = _mask(Image.fromarray(self.segmenter().mask(image, words) * 255).convert("L"), job.region)
        if source is not None and job.kind is JobKind.EXTEND:
            image = fit(Image.fromarray(source[-1]), width, height, job.fit)  # SVD continues from the last frame
            last = source[-spec.extend_overlap :]  # LTX continues from the last frames
            video = np.stack([np.asarray(fit(Image.fromarray(frame), width, height, job.fit)) for frame in last])
        elif source is not None and job.kind is JobKind.EXPAND and plan.inner is not None:
            video, mask = _on_larger_frame(source[: plan.frames], width, height, plan.inner)
        elif source is not None and job.kind in FROM_VIDEO:  # the frames as the model renders
            video = np.stack(
                [np.asarray(fit(Image.fromarray(frame), width, height)) for frame in source[: plan.frames]]
            )
        elif source is not None:  # Upscale: the clip, cut to the model's size multiple
            video = source[:, :height, :width]
        if job.region and job.kind is JobKind.RESTYLE and video is not None:  # a swap: that part, in every frame
            words = self._english(job.region, ENGLISH.__eq__) if self.translators else job.region
            mask = _video_region(self.segmenter(), video, words, job.region)
        negative = (negative or spec.default_negative) if spec.takes_negative_prompt else ""
        prompts = [shaped(part, negative, spec, job.style, job.camera, job.effect) for part in segments_of(prompt)]
        locked = job.camera is not None and job.camera.lock and not spec.prompt_camera
        return Request(
            width=width,
            height=height,
            frames=plan.frames,
            fps=plan.fps,
            steps=plan.steps,
            seed=job.seed if job.seed is not None else secrets.randbelow(2**32),
            guidance=spec.guidance.from_pika(job.guidance),
            motion=max(0, job.motion - 1) if locked else job.motion,  # a locked camera: a steadier clip too
            camera=job.camera,
            prompt=shaped(prompt, negative, spec, job.style, job.camera, job.effect)[0],
            negative_prompt=prompts[0][1] if spec.takes_negative_prompt else "",
            image=image,
            kind=job.kind,
            end_image=end_image,
            middle_images=middle,
            ingredients=ingredients,
            video=video,
            prompts=tuple(prompt for prompt, _ in prompts) if plan.segments > 1 else (),
            overlap=spec.extend_overlap,
            upscale=plan.upscale and job.kind is not JobKind.UPSCALE,
            fast_cache=spec.fast_cache if job.fast else 0.0,
            deep_cache=spec.deep_cache if job.fast else 0,
            fp8=spec.fp8 and job.fast,
            strength=(job.strength or spec.strength) if job.kind is JobKind.ILLUSION else plan.strength,
            mask=mask,
            style_lora=self._style_lora(job.style, spec),
            read_as=read_as,
        )

    def _readable(self, job: VideoJob, spec: ModelSpec) -> tuple[str, str, str]:
        """The job's prompt and negative prompt in languages its model reads (each prompt-travel part, and the
        negative prompt, told and translated on its own), and the translated prompt to show ("" when nothing
        was translated)."""
        parts, negative = segments_of(job.prompt), job.negative_prompt
        if not self.translators or not job.prompt or not spec.follows_prompt(job.kind):
            return job.prompt, negative, ""
        *english, english_negative = [self._english(text, spec.reads_language) for text in (*parts, negative)]
        if english == parts and english_negative == negative:
            return job.prompt, negative, ""
        prompt = SEGMENTS.join(english)
        return (
            prompt,
            english_negative,
            prompt + (f" (not: {english_negative})" if english_negative != negative else ""),
        )

    def _check_in_english(self, job: VideoJob, spec: ModelSpec, english: tuple[str, str] | None) -> None:
        """PromptRefused for a prompt the bot's check could not read: one in another language is checked again
        in English (the built-in list's language) under the server's policy and against its own block list, as
        translated for its model (`english`) or, for a model that reads the language, translated for this check
        alone."""
        if not self.translators or not job.prompt or not spec.follows_prompt(job.kind):
            return
        # Where no image check backs the prompt's (policy off), a short prompt that may be in another language
        # ("nackte Kinder": too short to tell) is read in English too.
        loose = job.content is Content.UNCHECKED
        if english is None or loose:
            parts = [self._english(part, ENGLISH.__eq__, loose) for part in segments_of(job.prompt)]
            english = (SEGMENTS.join(parts), self._english(job.negative_prompt, ENGLISH.__eq__, loose))
            if english == (job.prompt, job.negative_prompt):
                return  # English: the bot has checked it
        if verdict := self.blocklist.check(english[0], *_POLICY[job.content], job.blocked, negative=english[1]):
            read_as = english[0] + (f" (not: {english[1]})" if english[1] else "")
            raise PromptRefused(dataclasses.replace(verdict, read_as=read_as))

    def _english(self, text: str, reads: Callable[[str], bool], loose: bool = False) -> str:
        """`text` as a text encoder that `reads` some languages can read it: as written, or in English (`loose`:
        a short text that may be in another language too; as written if no translator loads for that guess,
        which may be English)."""
        language = detect(text, loose) if text else ENGLISH
        if reads(language):
            return text
        try:
            return self.translator().translate(text, language)
        except WeightsNotFound as exc:
            if not loose or not reads(detect(text)):
                raise  # certainly in another language: not run unread
            log.warning("a short prompt is checked as written: %s", exc)
            return text

    def translator(self) -> Translator:
        """The prompt translator, its models loaded on first use."""
        with self._load_lock:
            if self._translator is None:
                from generation.translate import Translator

                self._translator = Translator(self.translators)
            return self._translator

    def segmenter(self) -> Segmenter:
        """CLIPSeg for `-region`, loaded on first use."""
        with self._load_lock:
            if self._segmenter is None:
                if not self.segmenter_source:
                    raise JobRejected(_("`-region` is turned off on this worker (no segmenter): use a mask picture"))
                from generation.segment import Segmenter

                self._segmenter = Segmenter(self.segmenter_source, self.runtime)
            return self._segmenter

    def _style_lora(self, style: str | None, spec: ModelSpec) -> str | None:
        """The LoRA a style brings on this model's family, if any (AnimateDiff's SD 1.5 LoRAs)."""
        if not style or spec.family is not Family.ANIMATEDIFF:
            return None
        return self.style_loras.get(style) or styles()[style].loras.get(spec.family.value)


def _check_ingredients(job: VideoJob, spec: ModelSpec) -> None:
    """An /ingredients clip (or a swap with a picture of what goes there): one to the model's most pictures,
    each a picture by its header."""
    if not job.ingredients:
        raise JobRejected(_("give a picture of who or what the clip shows"))
    if job.kind is JobKind.RESTYLE and not job.region:
        raise JobRejected(_("a picture for a restyle shows what goes in the `-region`: name the region"))
    if spec.takes(job.kind) and len(job.ingredients) > spec.ingredients:
        raise JobRejected(_("`{model}` takes at most {most} pictures", model=spec.name, most=spec.ingredients))
    for picture in job.ingredients:
        _probe(picture)


def _probe(data: bytes) -> tuple[int, int]:
    try:
        info = probe(data)
    except ImageError as exc:
        raise JobRejected(exc.text) from None
    return info.width, info.height


def _load(data: bytes, cover: tuple[int, int]) -> Image.Image:
    try:
        return load_rgb(data, cover=cover)
    except ImageError as exc:
        raise JobRejected(exc.text) from None


def _on_larger_frame(
    source: np.ndarray, width: int, height: int, inner: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """An expanded video: (F, H, W, 3) frames of `width` x `height` with the video whole in the middle (at
    `inner`, grey around it), and (F, H, W) float32 masks, 1 around it: what is drawn (VACE's outpainting)."""
    (w, h), left, top = inner, (width - inner[0]) // 2, (height - inner[1]) // 2
    video = np.full((len(source), height, width, 3), 127, dtype=np.uint8)
    for frame, canvas in zip(source, video, strict=True):
        canvas[top : top + h, left : left + w] = np.asarray(fit(Image.fromarray(frame), w, h))
    around = np.ones((height, width), dtype=np.float32)
    around[top : top + h, left : left + w] = 0
    return video, np.repeat(around[None], len(source), axis=0)


def _video_region(segmenter: Segmenter, video: np.ndarray, words: str, region: str) -> np.ndarray:
    """(F, H, W) float32: 1 where the region is in each frame of `video` (F, H, W, 3), grown a little (`_GROW`)
    so that what is drawn there may be a little larger than what was; refused if it is nowhere or everywhere."""
    found, grow = [], ImageFilter.MaxFilter(2 * max(1, round(min(video.shape[1:3]) * _GROW)) + 1)
    for frame in video:
        mask = Image.fromarray(segmenter.mask(Image.fromarray(frame), words) * 255).convert("L")
        found.append(np.asarray(mask.filter(grow), dtype=np.float32) / 255)
    masks = np.stack(found)
    share = float((masks > 0.5).mean())
    if share < 0.01:
        raise JobRejected(_("I could not find “{region}” in the video; try other words", region=region))
    if share > 0.97:
        raise JobRejected(
            _("“{region}” covers almost all of the video; leave `-region` out to restyle all of it", region=region)
        )
    return masks


def _mask(picture: Image.Image, region: str = "") -> np.ndarray:
    """A motion-brush picture (or a segmented region) as (H, W) float32 in 0..1, 1 where things move; refused
    if it leaves nothing to move or nothing to keep still."""
    moves = np.asarray(picture.convert("L"), dtype=np.float32) / 255
    share = float((moves > 0.5).mean())
    if share < 0.01:
        if region:
            raise JobRejected(
                _("I could not find “{region}” in the picture, so nothing would move; try other words", region=region)
            )
        raise JobRejected(_("the mask is (almost) all black: nothing would move. Paint white where things should move"))
    if share > 0.97:
        if region:
            raise JobRejected(
                _(
                    "“{region}” covers almost all of the picture; leave `-region` out to animate all of it",
                    region=region,
                )
            )
        raise JobRejected(_("the mask is (almost) all white: everything would move. Leave the mask out for that"))
    return moves
