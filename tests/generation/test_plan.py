"""Which workers can fit a job: the registry's memory estimate against what the online workers advertise."""

from __future__ import annotations

import dataclasses

import pytest

from generation.jobs import JobKind, VideoJob
from generation.plan import PlanError, memory_needed, resolve, unfit
from generation.registry import DEFAULT_MODELS
from generation.values import Aspect

SVD_XT = DEFAULT_MODELS["svd-xt"]


def plan(aspect: Aspect = Aspect.WIDE, frames: int | None = None):  # type: ignore[no-untyped-def]
    return resolve(VideoJob("m", JobKind.IMAGE_TO_VIDEO, "svd-xt", aspect=aspect, frames=frames), SVD_XT)


def test_a_native_clip_needs_the_registry_estimate_and_a_smaller_one_less() -> None:
    assert memory_needed(SVD_XT, plan(), "balanced") == SVD_XT.memory_gb
    assert memory_needed(SVD_XT, plan(frames=5), "balanced") < SVD_XT.memory_gb
    assert memory_needed(SVD_XT, plan(), "low") < memory_needed(SVD_XT, plan(), "balanced")


def test_a_job_no_online_gpu_can_fit_is_refused_with_what_to_change() -> None:
    unfitting = unfit(SVD_XT, plan(), [(8.0, "balanced"), (6.0, "full")])
    refusal = str(unfitting) if unfitting is not None else None
    assert refusal is not None and "needs about 14 GB" in refusal and "largest GPU online has 8 GB" in refusal
    assert "-ar 1:1" in refusal and "-frames" in refusal


def test_one_worker_that_fits_is_enough() -> None:
    assert unfit(SVD_XT, plan(), [(8.0, "balanced"), (24.0, "balanced")]) is None
    assert unfit(SVD_XT, plan(), [(8.0, "low")]) is None, "offloading to the CPU fits a small card"
    assert unfit(SVD_XT, plan(), [(0.0, "balanced")]) is None, "a CPU or dry-run worker has no GPU limit"


LTX = DEFAULT_MODELS["ltx"]


def ltx(**changes: object) -> VideoJob:
    return dataclasses.replace(VideoJob("l", JobKind.TEXT_TO_VIDEO, "ltx", prompt="a cat"), **changes)


def test_ltx_frames_are_8k_plus_1_and_sizes_multiples_of_32() -> None:
    assert [resolve(ltx(frames=n), LTX).frames for n in (2, 16, 20, 121, 257)] == [9, 17, 17, 121, 257]
    plan = resolve(ltx(aspect=Aspect.TALL), LTX)
    assert plan.width % 32 == 0 and plan.height % 32 == 0 and plan.height > plan.width


def test_prompt_travel_is_one_segment_per_prompt_each_sharing_the_last_frames() -> None:
    plan = resolve(ltx(prompt="a cat sleeps | the cat wakes | the cat jumps"), LTX)
    assert (plan.segments, plan.overlap, plan.length) == (3, 9, 121 + 2 * 112)
    assert len(plan.passes(LTX, JobKind.TEXT_TO_VIDEO)) == 3
    with pytest.raises(PlanError, match="at most 480"):  # 20 s at 24 fps
        resolve(ltx(prompt="a | b | c | d", frames=257), LTX)
    assert resolve(ltx(prompt="a | b"), DEFAULT_MODELS["animatediff"]).segments == 1, "only where the model travels"


def test_an_upscale_is_one_refine_pass_at_twice_the_size() -> None:
    clip = VideoJob("u", JobKind.UPSCALE, "ltx", prompt="a cat", video=b"clip")
    plan = resolve(clip, LTX, (768, 512), 121)
    [refine] = plan.passes(LTX, JobKind.UPSCALE)
    assert (refine.width, refine.height, refine.frames, refine.steps) == (1536, 1024, 121, 4)
    assert plan.size == (1536, 1024)
    with pytest.raises(PlanError, match="already 1536x1024"):
        resolve(clip, LTX, (1536, 1024), 121)
    with pytest.raises(PlanError, match="above this server's limit"):
        resolve(dataclasses.replace(clip, max_pixels=1_000_000), LTX, (768, 512), 121)
    upscaled = resolve(ltx(upscale=True), LTX)
    assert len(upscaled.passes(LTX, JobKind.TEXT_TO_VIDEO)) == 2
    assert memory_needed(LTX, upscaled, "balanced") > memory_needed(LTX, resolve(ltx(), LTX), "balanced")


def test_ltx_memory_per_mode_comes_from_its_row() -> None:
    plan = resolve(ltx(aspect=Aspect.PHOTO), LTX)  # 3:2 is the native 768x512
    assert [memory_needed(LTX, plan, mode) for mode in ("full", "balanced", "low")] == [42.0, 37.0, 31.0]
