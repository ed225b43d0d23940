"""`-fast` in float8 (generation/fp8.py): the drafts run an fp8 copy of the denoiser, every other job the
original. On a CPU the copy holds fp8 weights and multiplies in fp32 (`MOTIONBOT_FP8=weights`): the rounding
of fp8 without its speed. tests/gpu checks fp8 matmuls on a card that has them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from generation.engine import Engine
from generation.fp8 import fp8_kind
from generation.jobs import JobKind, VideoJob
from generation.progress import Reporter
from generation.registry import DEFAULT_MODELS
from generation.runtime import Runtime
from generation.settings import Fp8, GenerationSettings, MemoryMode
from generation.values import Camera
from tests.conftest import png_bytes

CPU = torch.device("cpu")
I2V = VideoJob(job_id="i", kind=JobKind.IMAGE_TO_VIDEO, model="svd-xt", image=png_bytes(), seed=3, steps=4)
T2V = VideoJob(job_id="t", kind=JobKind.TEXT_TO_VIDEO, model="animatediff", prompt="a red fox", seed=3, steps=4)


@pytest.fixture(scope="module")
def engine(settings: GenerationSettings) -> Engine:
    registry = settings.registry()
    runtime = Runtime(CPU, torch.float32, MemoryMode.FULL, fp8=fp8_kind(Fp8.WEIGHTS, CPU, False, MemoryMode.FULL))
    return Engine({name: registry[name] for name in ("svd-xt", "animatediff", "wan")}, runtime)


def test_which_copy_a_setting_device_and_memory_mode_give() -> None:
    assert fp8_kind(Fp8.WEIGHTS, CPU, False, MemoryMode.BALANCED) == "weights"
    assert fp8_kind(Fp8.WEIGHTS, CPU, False, MemoryMode.LOW) is None, "the low mode offloads: no second copy"
    assert fp8_kind(Fp8.AUTO, CPU, True, MemoryMode.FULL) is None, "no fp8 matmuls on a CPU"
    assert fp8_kind(Fp8.OFF, CPU, False, MemoryMode.FULL) is None


def test_the_rows_that_ask_for_a_copy_have_drafts_and_the_largest_do_not() -> None:
    asking = {name for name, spec in DEFAULT_MODELS.items() if spec.fp8}
    assert asking and all(DEFAULT_MODELS[name].fast_tier for name in asking)
    assert not asking & {"ltx", "ltx-dev", "wan-i2v", "wan-animate"}, "13-14B denoisers: the copy would be 13-28 GB"


def linear_weights(module: torch.nn.Module) -> set[str]:
    return {type(layer.weight).__name__ for layer in module.modules() if isinstance(layer, torch.nn.Linear)}


def differ(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(int) - b.astype(int)).mean())


def test_a_draft_runs_the_fp8_copy_and_every_other_job_the_original(engine: Engine) -> None:
    plain, draft = engine.plan(I2V), engine.plan(dataclasses.replace(I2V, fast=True))
    assert (plain.fp8, draft.fp8) == (False, True)
    runner = engine.runner("svd-xt")
    original, twin = runner.pipe.unet, runner.fp8.twins["unet"]  # type: ignore[attr-defined]
    assert linear_weights(twin) == {"Float8Tensor"} and "Float8Tensor" not in linear_weights(original)
    before = runner.render(plain, Reporter())
    in_fp8 = runner.render(draft, Reporter())
    in_fp32 = runner.render(dataclasses.replace(draft, fp8=False), Reporter())
    after = runner.render(plain, Reporter())
    assert np.array_equal(before, after) and runner.pipe.unet is original, "the original is back for the next job"
    assert not np.array_equal(in_fp8, in_fp32), "the draft ran the fp8 weights"
    assert differ(in_fp8, in_fp32) < differ(in_fp32, before), "fp8 rounds the draft's weights: it stays a draft"


def test_a_draft_with_loras_keeps_the_original_which_has_them(engine: Engine) -> None:
    runner = engine.runner("animatediff")
    assert runner.fp8.twins, "made at load, before any LoRA"  # type: ignore[attr-defined]
    draft = engine.plan(dataclasses.replace(T2V, fast=True))
    panned = engine.plan(dataclasses.replace(T2V, fast=True, camera=Camera(pan_x=-1)))
    assert draft.fp8 and panned.fp8
    fp8_pan = runner.render(panned, Reporter())
    assert np.array_equal(fp8_pan, runner.render(dataclasses.replace(panned, fp8=False), Reporter()))
    in_fp8 = runner.render(draft, Reporter())
    assert not np.array_equal(in_fp8, fp8_pan), "the camera LoRA moved it"
    assert not np.array_equal(in_fp8, runner.render(dataclasses.replace(draft, fp8=False), Reporter())), (
        "without a LoRA the draft runs in fp8"
    )


def test_a_transformer_draft_runs_the_fp8_copy_under_first_block_cache(engine: Engine) -> None:
    job = VideoJob(job_id="w", kind=JobKind.TEXT_TO_VIDEO, model="wan", prompt="a red fox", seed=3, steps=4)
    runner = engine.runner("wan")
    original = runner.pipe.transformer  # type: ignore[attr-defined]
    draft = engine.plan(dataclasses.replace(job, fast=True))
    assert draft.fast_cache > 0 and draft.fp8
    before = runner.render(engine.plan(job), Reporter())
    in_fp8 = runner.render(draft, Reporter())
    assert not np.array_equal(in_fp8, runner.render(dataclasses.replace(draft, fp8=False), Reporter()))
    assert np.array_equal(before, runner.render(engine.plan(job), Reporter())) and runner.pipe.transformer is original
