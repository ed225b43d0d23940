"""Wan 2.x through the engine on tiny random-weight pipelines loaded from disk by the production loader:
text, image, first and last frame, restyle (video-to-video), AnimateDiff's restyle, parity with diffusers."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import torch
from diffusers import (
    AnimateDiffVideoToVideoPipeline,
    WanImageToVideoPipeline,
    WanPipeline,
    WanVACEPipeline,
    WanVideoToVideoPipeline,
)
from PIL import Image, ImageOps

from generation.encode import decode_frames, encode
from generation.engine import Engine, JobRejected
from generation.images import fit, load_rgb
from generation.jobs import JobKind, OutputFormat, VideoJob
from generation.pipelines.wan import MOTION_WORDS, WanRunner
from generation.plan import resolve
from generation.progress import Reporter
from generation.registry import DEFAULT_MODELS
from generation.runtime import Runtime, to_uint8
from generation.settings import GenerationSettings
from generation.values import Aspect
from tests.conftest import png_bytes

RED, GREEN = png_bytes(96, 64, (200, 40, 40)), png_bytes(96, 64, (30, 190, 60))


@pytest.fixture(scope="module")
def engine(settings: GenerationSettings) -> Engine:
    registry = settings.registry()
    models = {name: registry[name] for name in ("wan", "wan-i2v", "wan-vace", "animatediff")}
    return Engine(models, Runtime.from_settings(settings))


def job(**changes: Any) -> VideoJob:
    base = VideoJob(job_id="w", kind=JobKind.TEXT_TO_VIDEO, model="wan", prompt="a cat turns its head")
    return dataclasses.replace(base, **{"seed": 5, "aspect": Aspect.SQUARE} | changes)


def frames_of(engine: Engine, j: VideoJob) -> np.ndarray:
    """The frames the model made (before the encode, whose x264 output is not bit-exact from run to run)."""
    frames = engine.generate(j).frames
    assert frames is not None
    return frames.astype(np.int16)


def moving_clip(seed: int, frames: int = 9) -> bytes:
    """A clip of ours (as the bot re-encodes users' videos): noise that drifts right a pixel a frame."""
    base = np.random.default_rng(seed).integers(0, 256, (64, 80, 3), dtype=np.uint8)
    clip = np.stack([np.roll(base, shift, axis=1)[:, :64] for shift in range(frames)])
    return encode(clip, 24, OutputFormat.MP4, 10 << 20).data


def restyle(**changes: Any) -> VideoJob:
    return job(
        **{
            "kind": JobKind.RESTYLE,
            "video": moving_clip(1),
            "prompt": "a watercolor painting",
            "strength": 0.7,
            "steps": 4,
        }
        | changes
    )


def test_the_rows_say_what_each_model_does() -> None:
    wan, i2v = DEFAULT_MODELS["wan"], DEFAULT_MODELS["wan-i2v"]
    assert wan.follows_prompt(JobKind.IMAGE_TO_VIDEO) and i2v.follows_prompt(JobKind.IMAGE_TO_VIDEO)
    assert wan.takes(JobKind.RESTYLE) and not i2v.takes(JobKind.RESTYLE) and i2v.keyframes and not wan.keyframes
    assert (wan.frames - 1) % 4 == 0 and (i2v.frames - 1) % 4 == 0 and i2v.fps == 16
    assert wan.memory("low") <= 24, "TI2V-5B fits a 24 GB card with offload"
    assert "色调艳丽" in wan.default_negative, "Wan's recommended negative prompt when none is given"


def test_text_to_video_follows_the_prompt(engine: Engine) -> None:
    cat, dog = frames_of(engine, job()), frames_of(engine, job(prompt="a dog jumps over a fence"))
    assert cat.shape == (9, 64, 64, 3)
    assert np.abs(cat - dog).mean() > 2, "only the prompt changed: the frames must too"
    assert np.abs(cat - frames_of(engine, job())).max() == 0, "same prompt, same seed: same clip"
    chinese = frames_of(engine, job(prompt="一只猫转过头"))
    assert np.abs(chinese - frames_of(engine, job(prompt="一只狗跳过栅栏"))).mean() > 1, "UMT5 reads Chinese"


def test_image_to_video_follows_the_picture_and_the_prompt(engine: Engine) -> None:
    red = frames_of(engine, job(kind=JobKind.IMAGE_TO_VIDEO, image=RED))
    assert np.abs(red - frames_of(engine, job(kind=JobKind.IMAGE_TO_VIDEO, image=GREEN))).mean() > 3
    other = frames_of(engine, job(kind=JobKind.IMAGE_TO_VIDEO, image=RED, prompt="a dog jumps over a fence"))
    assert np.abs(red - other).mean() > 1, "image-to-video follows the prompt"


def test_motion_adds_words_the_model_follows(engine: Engine) -> None:
    assert MOTION_WORDS[1] == "", "level 1 is the model's own behaviour"
    assert np.abs(frames_of(engine, job(motion=0)) - frames_of(engine, job(motion=4))).mean() > 1


def test_first_and_last_frame_on_the_i2v_model(engine: Engine) -> None:
    there = frames_of(engine, job(kind=JobKind.IMAGE_TO_VIDEO, model="wan-i2v", image=RED, end_image=GREEN))
    back = frames_of(engine, job(kind=JobKind.IMAGE_TO_VIDEO, model="wan-i2v", image=GREEN, end_image=RED))
    assert there.shape == (9, 64, 64, 3)
    assert np.abs(there - back).mean() > 3, "swapping the first and the last frame changes the clip"
    with pytest.raises(JobRejected, match="cannot end on a given picture"):
        engine.render(job(kind=JobKind.IMAGE_TO_VIDEO, image=RED, end_image=GREEN))  # TI2V-5B ignores a last frame
    loop = frames_of(engine, job(kind=JobKind.IMAGE_TO_VIDEO, model="wan-i2v", image=RED, loop=True))
    red_to_red = frames_of(engine, job(kind=JobKind.IMAGE_TO_VIDEO, model="wan-i2v", image=RED, end_image=RED))
    assert loop.shape == (8, 64, 64, 3) and np.abs(loop - red_to_red[:8]).max() == 0, "-loop: RED to RED, played once"


def test_restyle_redraws_the_video_it_is_given(engine: Engine) -> None:
    result = engine.render(restyle())
    assert (result.width, result.height, result.frames, result.steps) == (64, 64, 9, 4)
    styled = frames_of(engine, restyle())
    other = frames_of(engine, restyle(video=moving_clip(2)))
    assert np.abs(styled - other).mean() > 2, "another video: other frames"
    prompt = frames_of(engine, restyle(prompt="a neon city at night"))
    assert np.abs(styled - prompt).mean() > 1, "another prompt: other frames"
    gentle = frames_of(engine, restyle(strength=0.4))
    assert np.abs(styled - gentle).mean() > 1, "the strength changes how much is redrawn"


def test_restyle_by_a_control_video_on_vace(engine: Engine) -> None:
    styled = frames_of(engine, restyle(model="wan-vace"))
    assert styled.shape == (9, 64, 64, 3)
    assert np.abs(styled - frames_of(engine, restyle(model="wan-vace", video=moving_clip(2)))).mean() > 2
    assert np.abs(styled - frames_of(engine, restyle(model="wan-vace", strength=0.2))).mean() > 1, "the strength"
    spec = engine.models["wan-vace"]
    assert engine.models["wan"].memory("balanced") > spec.memory("balanced"), "the small-card restyle"
    plan = resolve(restyle(model="wan-vace"), spec, (64, 64), 9)
    assert plan.passes(spec, JobKind.RESTYLE)[0].steps == plan.steps == 4, "a control video steers every step"
    text = frames_of(engine, job(model="wan-vace"))
    assert text.shape == (9, 64, 64, 3), "VACE makes clips from text alone too"


def ingredients(*pictures: bytes, **changes: Any) -> VideoJob:
    base = {"kind": JobKind.INGREDIENTS, "model": "wan-vace", "prompt": "they dance", "ingredients": pictures}
    return job(**base | changes)


def test_ingredients_put_the_pictures_in_a_clip_from_words(engine: Engine) -> None:
    tall = png_bytes(40, 90, (40, 60, 210))  # a picture of another shape: whole, centred on white at the clip's size
    made = frames_of(engine, ingredients(RED, tall))
    assert made.shape == (9, 64, 64, 3), "the clip alone: VACE drops the reference frames it put first"
    request = engine.plan(ingredients(RED, tall))
    assert [picture.size for picture in request.ingredients] == [(64, 43), (28, 64)], "contained, not cropped"
    # The pictures reach the clip's frames through attention only (they are latent frames of their own, dropped
    # at the end): on the tiny random model a small change, yet the frames are the same bit for bit run to run.
    assert np.abs(made - frames_of(engine, ingredients(RED, tall))).max() == 0, "the same pictures: the same clip"
    assert np.abs(made - frames_of(engine, ingredients(GREEN, tall))).mean() > 0.03, "another picture: another clip"
    assert np.abs(made - frames_of(engine, ingredients(RED, tall, prompt="they fly"))).mean() > 1, "the prompt"
    assert np.abs(made - frames_of(engine, job(model="wan-vace", prompt="they dance"))).mean() > 1, "not words alone"
    # As a diffusers user would call VACE's reference-to-video on the same folder, pictures and seed.
    spec = engine.models["wan-vace"]
    plain = _plain(spec.weights, WanVACEPipeline)
    output = plain(
        prompt="they dance",
        reference_images=list(request.ingredients),
        num_frames=9,
        height=64,
        width=64,
        num_inference_steps=request.steps,
        guidance_scale=spec.guidance.default,
        negative_prompt=spec.default_negative,
        generator=torch.Generator().manual_seed(5),
        output_type="np",
    )
    assert np.array_equal(made.astype(np.uint8), to_uint8(output.frames[0])), "the frames of plain diffusers"


def test_ingredients_go_to_a_model_that_takes_them_and_no_more_than_it_takes(engine: Engine) -> None:
    with pytest.raises(JobRejected, match="cannot make ingredients clips"):
        engine.plan(ingredients(RED, model="wan"))
    with pytest.raises(JobRejected, match="`wan-vace` takes at most 3 pictures"):
        engine.plan(ingredients(RED, GREEN, RED, GREEN))
    with pytest.raises(JobRejected, match="give a picture of who or what the clip shows"):
        engine.plan(ingredients())


def test_restyle_on_animatediff(engine: Engine) -> None:
    light = job(kind=JobKind.RESTYLE, model="animatediff", video=moving_clip(1, 8), prompt="a watercolor painting")
    styled = frames_of(engine, dataclasses.replace(light, strength=0.8))
    assert styled.shape[0] == 8
    other = frames_of(engine, dataclasses.replace(light, strength=0.8, video=moving_clip(2, 8)))
    assert np.abs(styled - other).mean() > 2, "another video: other frames"


def test_restyle_refuses_what_it_cannot_do(engine: Engine) -> None:
    with pytest.raises(JobRejected, match="cannot restyle"):
        engine.render(restyle(model="wan-i2v"))
    with pytest.raises(JobRejected, match="too short"):
        engine.render(restyle(video=moving_clip(1, 3)))
    with pytest.raises(JobRejected, match="no clip to restyle"):
        engine.render(restyle(video=None))


def test_extend_continues_a_wan_clip(engine: Engine) -> None:
    first = engine.render(job())
    longer = engine.render(job(kind=JobKind.EXTEND, video=first.video, seed=6))
    assert (longer.source_frames, longer.frames) == (9, 17), "the clip, then 8 new frames after its last one"


def test_a_reroll_does_not_encode_the_prompt_again(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = engine.runner("wan")
    assert isinstance(runner, WanRunner)
    encoded: list[str] = []
    encode_prompt = runner.pipe.encode_prompt

    def spy(prompt: str | None, **kw: Any) -> Any:
        if prompt is not None:  # None: the pipeline handed the cached embeddings back to itself
            encoded.append(prompt)
        return encode_prompt(prompt, **kw)

    monkeypatch.setattr(runner.pipe, "encode_prompt", spy)
    engine.render(job(prompt="a heron takes off", seed=1))
    engine.render(job(prompt="a heron takes off", seed=2))
    assert encoded == ["a heron takes off"]


def _plain(spec_weights: str, kind: Any) -> Any:
    pipe = kind.from_pretrained(spec_weights)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_the_product_path_gives_the_frames_of_plain_diffusers(engine: Engine) -> None:
    """Each pipeline, as a diffusers user would call it on the same folder, inputs and seed."""
    wan, i2v = engine.models["wan"], engine.models["wan-i2v"]
    red = fit(load_rgb(RED, cover=(64, 64)), 64, 64)
    green = fit(load_rgb(GREEN, cover=(64, 64)), 64, 64)
    video = [Image.fromarray(frame) for frame in decode_frames(moving_clip(1))[0]]
    negative = wan.default_negative
    common = {"height": 64, "width": 64, "output_type": "np", "negative_prompt": negative}
    cases: list[tuple[VideoJob, Any, dict[str, Any]]] = [
        (job(), WanPipeline, {"prompt": "a cat turns its head", "num_frames": 9}),
        (
            job(kind=JobKind.IMAGE_TO_VIDEO, image=RED),
            WanImageToVideoPipeline,
            {"prompt": "a cat turns its head", "image": red, "num_frames": 9},
        ),
        (
            job(kind=JobKind.IMAGE_TO_VIDEO, model="wan-i2v", image=RED, end_image=GREEN),
            WanImageToVideoPipeline,
            {"prompt": "a cat turns its head", "image": red, "last_image": green, "num_frames": 9},
        ),
    ]
    for product, kind, inputs in cases:
        spec = engine.models[product.model]
        rendered = engine.runner(product.model).render(engine.plan(product), Reporter())
        pipe = _plain(spec.weights, kind)
        seeded = {"generator": torch.Generator().manual_seed(5), "num_inference_steps": 2}
        output = pipe(guidance_scale=spec.guidance.default, **seeded, **common | inputs)
        assert np.array_equal(rendered, to_uint8(output.frames[0])), (product.model, kind.__name__)
    assert i2v.weights != wan.weights
    # Video-to-video: WanVideoToVideoPipeline with the spatial scale its VAE states (see TINY_MODELS.md).
    plain = WanVideoToVideoPipeline.from_pretrained(wan.weights)
    plain.vae_scale_factor_spatial = plain.vae.config.scale_factor_spatial
    from diffusers.video_processor import VideoProcessor

    plain.video_processor = VideoProcessor(vae_scale_factor=plain.vae_scale_factor_spatial)
    plain.set_progress_bar_config(disable=True)
    request = engine.plan(restyle(), decode_frames(moving_clip(1))[0])
    rendered = engine.runner("wan").render(request, Reporter())
    output = plain(
        video=video,
        prompt="a watercolor painting",
        strength=0.7,
        guidance_scale=wan.guidance.default,
        num_inference_steps=4,
        generator=torch.Generator().manual_seed(5),
        **common,
    )
    assert np.array_equal(rendered, to_uint8(output.frames[0])), "video-to-video"
    # VACE: the video in grey as its control video, conditioning scale 1.5 - strength.
    vace = _plain(engine.models["wan-vace"].weights, WanVACEPipeline)
    rendered = engine.runner("wan-vace").render(
        engine.plan(restyle(model="wan-vace"), decode_frames(moving_clip(1))[0]), Reporter()
    )
    output = vace(
        video=[ImageOps.grayscale(frame).convert("RGB") for frame in video],
        prompt="a watercolor painting",
        conditioning_scale=1.5 - 0.7,
        num_frames=9,
        num_inference_steps=4,
        guidance_scale=engine.models["wan-vace"].guidance.default,
        generator=torch.Generator().manual_seed(5),
        **common,
    )
    assert np.array_equal(rendered, to_uint8(output.frames[0])), "VACE with a control video"
    # AnimateDiff's restyle, against its plain video-to-video pipeline on the loaded modules.
    light = job(kind=JobKind.RESTYLE, model="animatediff", video=moving_clip(1, 8), prompt="a watercolor painting")
    light = dataclasses.replace(light, strength=0.8)
    runner = engine.runner("animatediff")
    rendered = runner.render(engine.plan(light, decode_frames(light.video or b"")[0]), Reporter())
    reference = AnimateDiffVideoToVideoPipeline(**runner.pipe.components)  # type: ignore[attr-defined]
    reference.set_progress_bar_config(disable=True)
    output = reference(
        video=[Image.fromarray(frame) for frame in decode_frames(light.video or b"")[0]],
        prompt="a watercolor painting",
        strength=0.8,
        height=64,
        width=64,
        num_inference_steps=engine.models["animatediff"].steps,
        guidance_scale=engine.models["animatediff"].guidance.default,
        generator=torch.Generator().manual_seed(5),
        output_type="np",
    )
    assert np.array_equal(rendered, to_uint8(output.frames[0])), "AnimateDiff video-to-video"


def test_the_fast_tier_skips_cached_steps_and_comes_off_after_the_job(engine: Engine) -> None:
    plain, fast = engine.plan(job(steps=4)), engine.plan(job(steps=4, fast=True))
    assert plain.fast_cache == 0 and fast.fast_cache == engine.models["wan"].fast_cache > 0
    runner = engine.runner("wan")
    calls: list[int] = []  # the last block's attention runs only when the step is not taken from the cache
    handle = runner.pipe.transformer.blocks[-1].attn1.register_forward_hook(lambda *_: calls.append(1))
    try:
        before = runner.render(plain, Reporter())
        whole, calls[:] = len(calls), []
        # random weights change a lot from step to step: a threshold no step reaches shows the skipping
        cached = runner.render(dataclasses.replace(fast, fast_cache=10.0), Reporter())
        skipped, calls[:] = len(calls), []
        after = runner.render(plain, Reporter())
    finally:
        handle.remove()
    assert whole == 4 * 2 and skipped == 2, "cond and uncond: every step whole, then only the first step"
    assert not np.array_equal(before, cached)
    assert np.array_equal(before, after) and len(calls) == whole, "the cache is off again for the next job"
