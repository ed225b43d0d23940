"""LTX-Video through the engine on a tiny random-weight pipeline loaded from disk by the production loader:
prompts that steer image-to-video, keyframes, continuation, prompt travel, upscaling, parity with diffusers."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import torch
from diffusers import LTXConditionPipeline
from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

from generation.encode import decode_frames
from generation.engine import Engine, JobRejected
from generation.images import fit, load_rgb
from generation.jobs import JobKind, VideoJob
from generation.pipelines.ltx import MOTION_TABLE, LTXRunner
from generation.plan import resolve
from generation.registry import DEFAULT_MODELS
from generation.runtime import PromptCache, Runtime, to_uint8
from generation.settings import GenerationSettings
from generation.values import Aspect
from tests.conftest import png_bytes

RED, GREEN = png_bytes(96, 64, (200, 40, 40)), png_bytes(96, 64, (30, 190, 60))


@pytest.fixture(scope="module")
def engine(settings: GenerationSettings) -> Engine:
    registry = settings.registry()
    return Engine({name: registry[name] for name in ("ltx", "ltx-dev")}, Runtime.from_settings(settings))


def job(**changes: Any) -> VideoJob:
    base = VideoJob(job_id="l", kind=JobKind.IMAGE_TO_VIDEO, model="ltx", image=RED, prompt="a cat turns its head")
    return dataclasses.replace(base, **{"seed": 5, "aspect": Aspect.SQUARE} | changes)


def frames_of(engine: Engine, j: VideoJob) -> np.ndarray:
    """The frames the model made (before the encode, whose x264 output is not bit-exact from run to run)."""
    frames = engine.generate(j).frames
    assert frames is not None
    return frames.astype(np.int16)


class Spy:
    """Records what the pipeline was given: the conditions and latents it prepared, the prompts it encoded."""

    def __init__(self, runner: LTXRunner, patch: pytest.MonkeyPatch):
        self.prepared: list[dict[str, Any]] = []
        self.encoded: list[str] = []
        pipe = runner.pipe
        prepare, encode = pipe.prepare_latents, pipe.encode_prompt

        def prepare_latents(conditions: list[torch.Tensor], strength: list[float], index: list[int], **kw: Any) -> Any:
            self.prepared.append({"conditions": conditions, "strength": strength, "index": index} | kw)
            return prepare(conditions, strength, index, **kw)

        def encode_prompt(prompt: str | None, **kw: Any) -> Any:
            if prompt is not None:  # None: the pipeline handing on the embeddings it was given
                self.encoded.append(prompt)
            return encode(prompt, **kw)

        patch.setattr(pipe, "prepare_latents", prepare_latents)
        patch.setattr(pipe, "encode_prompt", encode_prompt)


@pytest.fixture
def spy(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Spy:
    runner = engine.runner("ltx")
    assert isinstance(runner, LTXRunner)
    runner.prompts = PromptCache(runner.runtime)
    return Spy(runner, monkeypatch)


def test_the_prompt_steers_image_to_video(engine: Engine) -> None:
    cat, dog = frames_of(engine, job()), frames_of(engine, job(prompt="a dog jumps over a fence"))
    assert cat.shape == (17, 64, 64, 3)
    assert np.abs(cat - dog).mean() > 3, "only the prompt changed: the frames must too"
    assert np.abs(cat - frames_of(engine, job())).max() == 0, "same prompt, same seed: same clip"


def test_motion_changes_the_motion(engine: Engine) -> None:
    assert MOTION_TABLE[1][0] == 1.0, "level 1 is the model's own frame rate"
    # Raw frames are the same bit for bit from run to run, so every change here is the motion's doing: on the
    # tiny model, the frame rate and the condition noise it sets move about half of all values (by ~1 level).
    moved = np.abs(frames_of(engine, job(motion=0)) - frames_of(engine, job(motion=4)))
    assert (moved > 0).mean() > 0.25 and moved.mean() > 0.5, (float((moved > 0).mean()), float(moved.mean()))


def test_morph_pins_the_first_and_the_last_frame(engine: Engine, spy: Spy) -> None:
    there = frames_of(engine, job(end_image=GREEN, prompt="the red turns green"))
    [call] = spy.prepared
    assert call["index"] == [0, 16], "keyframes at frame 0 and at the last frame"
    assert call["strength"] == [1.0, 1.0]
    first, last = (tensor.float().mean(dim=(0, 2, 3, 4)) for tensor in call["conditions"])
    assert first[0] > first[1] and last[1] > last[0], "the red picture first, the green one last"
    back = frames_of(engine, job(image=GREEN, end_image=RED, prompt="the red turns green"))
    assert np.abs(there - back).mean() > 3, "swapping the pictures changes the clip"


def test_pictures_in_between_pin_frames_spread_evenly_in_order(engine: Engine, spy: Spy) -> None:
    blue = png_bytes(96, 64, (40, 60, 210))
    through = frames_of(engine, job(end_image=GREEN, middle_images=(blue,), prompt="red, blue, then green"))
    [call] = spy.prepared
    assert call["index"] == [0, 8, 16], "the first, the one between on a latent frame halfway, the last"
    colours = [tensor.float().mean(dim=(0, 2, 3, 4)) for tensor in call["conditions"]]
    assert [int(colour.argmax()) for colour in colours] == [0, 2, 1], "red, then blue, then green"
    # A picture pinned after frame 0 joins as tokens the transformer attends to (as the last one does): on the
    # tiny random model that moves every frame a little; the frames are the same bit for bit from run to run.
    direct = frames_of(engine, job(end_image=GREEN, prompt="red, blue, then green"))
    assert np.abs(through - direct).mean() > 0.3, "the picture between changes the clip"
    other = frames_of(engine, job(end_image=GREEN, middle_images=(RED,), prompt="red, blue, then green"))
    assert np.abs(through - other).mean() > 0.2, "another picture between, another clip"
    five = engine.plan(job(end_image=GREEN, middle_images=(blue, RED, blue), frames=33))
    assert len(five.middle_images) == 3 and engine.models["ltx"].keyframe_frames(33, 5) == [0, 8, 16, 24, 32]
    assert DEFAULT_MODELS["ltx"].keyframe_frames(121, 5) == [0, 32, 64, 88, 120], "5 s: about 1.2 s apart"


def test_pictures_in_between_are_refused_where_they_cannot_be_kept_apart(engine: Engine) -> None:
    with pytest.raises(JobRejected, match="5 pictures need at least 33 frames on ltx, got 17"):
        engine.plan(job(end_image=GREEN, middle_images=(RED, GREEN, RED)))
    with pytest.raises(JobRejected, match="need a last picture"):
        engine.plan(job(middle_images=(GREEN,)))
    with pytest.raises(JobRejected, match="no prompt travel"):
        engine.plan(job(end_image=GREEN, middle_images=(RED,), prompt="red | green", frames=33))
    first_last = dataclasses.replace(engine.models["ltx"], name="flf", middle_keyframes=0)
    with pytest.raises(JobRejected, match="cannot pass through pictures"):
        Engine({"flf": first_last}, engine.runtime).plan(job(model="flf", end_image=GREEN, middle_images=(RED,)))


def test_a_loop_ends_on_its_own_picture_plays_it_once_and_smooths_across_the_seam(engine: Engine, spy: Spy) -> None:
    looped = frames_of(engine, job(loop=True))
    first, last = spy.prepared[0]["conditions"]
    assert spy.prepared[0]["index"] == [0, 16] and torch.equal(first, last), "the picture at both ends"
    plain = frames_of(engine, job())
    assert looped.shape[0] == 16 and plain.shape[0] == 17, "the last frame (the first again) is dropped"
    assert np.abs(looped - plain[:16]).mean() > 1, "ending on the picture changes the clip"
    smoothed, fps = decode_frames(engine.render(job(loop=True, smooth=True)).video)
    assert (len(smoothed), fps) == (32, 48), "16 frames and the seam between the last and the first: twice as many"


def test_a_model_without_keyframes_refuses_an_end_picture(engine: Engine) -> None:
    svd = dataclasses.replace(engine.models["ltx"], name="svd-like", keyframes=False)
    with pytest.raises(JobRejected, match="cannot end on a given picture"):
        Engine({"svd-like": svd}, engine.runtime).plan(job(model="svd-like", end_image=GREEN))


def test_extend_continues_from_the_last_frames(engine: Engine, spy: Spy) -> None:
    first = engine.render(job())
    source, _ = decode_frames(first.video)
    spy.prepared.clear()
    longer = engine.render(job(kind=JobKind.EXTEND, image=None, video=first.video, seed=6))
    frames, _ = decode_frames(longer.video)
    assert (longer.source_frames, longer.frames) == (17, 25), "the clip, then 8 new frames (9 shared, dropped)"
    assert np.abs(frames[:17].astype(int) - source.astype(int)).mean() < 12, "the clip comes first"
    [call] = spy.prepared
    [condition] = call["conditions"]
    assert condition.shape[2] == 9, "conditioned on the clip's last 9 frames, not only its last one"
    last = torch.from_numpy(source[-9:].astype(np.float32) / 127.5 - 1).permute(3, 0, 1, 2)
    assert torch.allclose(condition[0].float(), last, atol=0.02)


def test_upscale_doubles_the_size_within_the_budget(engine: Engine) -> None:
    clip = engine.render(job()).video
    budget = 300_000
    big = engine.render(job(kind=JobKind.UPSCALE, image=None, video=clip, byte_budget=budget))
    assert (big.width, big.height, big.frames) == (128, 128, 17)
    assert len(big.video) <= budget
    frames, _ = decode_frames(big.video)
    assert frames.shape == (17, 128, 128, 3)
    with pytest.raises(JobRejected, match="already 128x128"):
        engine.render(job(kind=JobKind.UPSCALE, image=None, video=big.video))


def test_upscale_flag_renders_then_doubles(engine: Engine) -> None:
    result = engine.render(job(upscale=True))
    assert (result.width, result.height, result.frames) == (128, 128, 17)


def test_prompt_travel_renders_one_segment_per_prompt(engine: Engine, spy: Spy) -> None:
    travel = job(kind=JobKind.TEXT_TO_VIDEO, image=None, prompt="a cat sleeps | the cat wakes | the cat jumps")
    plan = resolve(travel, engine.models["ltx"])
    steps: list[int] = []
    result = engine.render(
        travel, lambda stage, step, total: steps.append(step) if stage.value == "denoising" else None
    )
    assert steps[1:] == list(range(1, 3 * 8 + 1)), "one progress bar over the three segments"
    assert spy.encoded == ["a cat sleeps", "the cat wakes", "the cat jumps"]
    assert len(spy.prepared) == 3 and [len(call["conditions"]) for call in spy.prepared] == [0, 1, 1]
    assert result.frames == plan.length == 17 + 2 * 8, "each later segment adds its frames after the 9 shared"
    same = job(kind=JobKind.TEXT_TO_VIDEO, image=None, prompt="a cat sleeps | the cat sleeps | the cat sleeps")
    assert np.abs(frames_of(engine, travel)[-8:] - frames_of(engine, same)[-8:]).mean() > 3


def test_a_reroll_does_not_encode_the_prompt_again(engine: Engine, spy: Spy) -> None:
    engine.render(job(seed=1))
    engine.render(job(seed=2))
    assert spy.encoded == ["a cat turns its head"]


def test_the_product_path_gives_the_frames_of_plain_diffusers(engine: Engine, settings: GenerationSettings) -> None:
    for name, guidance in (("ltx", None), ("ltx-dev", 16.0)):
        spec = engine.models[name]
        rendered = engine.runner(name).render(engine.plan(job(model=name, guidance=guidance)), _reporter())
        plain = LTXConditionPipeline.from_pretrained(spec.weights)
        image = fit(load_rgb(RED, cover=(64, 64)), 64, 64, job().fit)
        schedule: dict[str, Any] = {"num_inference_steps": spec.steps}
        if spec.timesteps:
            schedule = {"timesteps": list(spec.timesteps)}
        scale = spec.guidance.from_pika(guidance)
        output = plain(
            conditions=[LTXVideoCondition(image=image, frame_index=0, strength=1.0)],
            prompt="a cat turns its head",
            negative_prompt="",
            width=64,
            height=64,
            num_frames=17,
            frame_rate=24,
            guidance_scale=scale,
            guidance_rescale=spec.guidance_rescale if scale > 1 else 0.0,
            image_cond_noise_scale=MOTION_TABLE[1][1],
            decode_timestep=spec.decode_timestep,
            decode_noise_scale=spec.decode_noise_scale,
            max_sequence_length=128,
            generator=torch.Generator("cpu").manual_seed(5),
            output_type="np",
            **schedule,
        )
        assert np.array_equal(rendered, to_uint8(output.frames[0])), name


def _reporter() -> Any:
    from generation.progress import Reporter

    return Reporter()


def test_a_draft_whose_transformer_first_block_cache_cannot_take_still_renders(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    # The tiny LTX transformer has one block; First Block Cache needs a first block and a last one.
    assert len(engine.runner("ltx-dev").pipe.transformer.transformer_blocks) == 1  # type: ignore[attr-defined]
    draft = frames_of(engine, job(model="ltx-dev", fast=True))
    assert draft.shape == (17, 64, 64, 3) and "no First Block Cache on LTXVideoTransformer3DModel" in caplog.text
    assert np.array_equal(draft, frames_of(engine, job(model="ltx-dev"))), "uncached: the full tier's frames"
