"""`-fast` on the UNet families (generation/deep_cache.py): which blocks a cached step skips, that what it keeps
is the last full step's, that it comes off after the job, and the tier through the SVD and AnimateDiff runners."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import torch

from generation.compiled import CompiledForward, set_loras_on
from generation.deep_cache import deep_cache
from generation.engine import Engine
from generation.jobs import JobKind, VideoJob
from generation.progress import Reporter
from generation.random_weights import build_svd
from generation.runtime import Runtime
from generation.settings import GenerationSettings
from tests.conftest import png_bytes


@pytest.fixture(scope="module")
def engine(settings: GenerationSettings) -> Engine:
    registry = settings.registry()
    return Engine({name: registry[name] for name in ("svd-xt", "animatediff")}, Runtime.from_settings(settings))


@pytest.fixture(scope="module")
def unet() -> torch.nn.Module:
    return build_svd().unet.eval()


def inputs(seed: int) -> tuple[torch.Tensor, ...]:
    """A UNet call's tensors as the SVD pipeline makes them: CFG batch 2, 3 frames, 16x16 latents."""
    generator = torch.Generator().manual_seed(seed)
    sample, text = torch.randn(2, 3, 8, 16, 16, generator=generator), torch.randn(2, 1, 32, generator=generator)
    return sample, torch.tensor(10.0), text, torch.randn(2, 3, generator=generator)


def call(unet: torch.nn.Module, seed: int) -> torch.Tensor:
    sample, timestep, text, ids = inputs(seed)
    with torch.no_grad():
        return unet(sample, timestep, encoder_hidden_states=text, added_time_ids=ids).sample


def counted(module: torch.nn.Module) -> list[int]:
    """Appends to the list each time `module` really runs (a stand-in return runs none of its layers)."""
    runs: list[int] = []
    module.register_forward_hook(lambda *_: runs.append(1))
    return runs


def test_a_cached_step_skips_the_deep_blocks_and_reuses_the_last_full_step(unet: torch.nn.Module) -> None:
    deep = counted(unet.mid_block.resnets[0])  # the deep part: the middle block, the inner down / up blocks
    inner_down = counted(unet.down_blocks[1].resnets[0])
    outer = counted(unet.up_blocks[-1].resnets[0])  # the outermost path runs on every step
    alone = [call(unet, seed) for seed in (1, 1, 2)]
    runs = (len(deep), len(inner_down), len(outer))
    with deep_cache(unet, 3) as cache:
        cached = [call(unet, seed) for seed in (1, 1, 2, 2, 3, 3)]
    assert cache is not None and (cache.full_steps, cache.cached_steps) == (2, 4)
    assert (len(deep), len(inner_down), len(outer)) == (runs[0] + 2, runs[1] + 2, runs[2] + 6)
    assert torch.equal(cached[0], alone[0]), "a full step is the UNet's own output"
    assert torch.equal(cached[1], alone[0]), "same input: the kept deep features are that input's"
    assert not torch.equal(cached[2], alone[2]), "a new input on a cached step takes the last step's deep features"
    assert (cached[2] - alone[2]).abs().max() < (alone[2] - alone[0]).abs().max(), "its fresh outer path still counts"
    assert torch.equal(cached[3], alone[2]), "every third step is whole again"


def test_it_comes_off_after_the_job_and_interval_1_changes_nothing(unet: torch.nn.Module) -> None:
    before = call(unet, 4)
    compiled = CompiledForward(unet, "denoiser", backend="eager")
    unet.forward = compiled  # type: ignore[method-assign]
    try:
        with deep_cache(unet, 2):
            assert unet.forward is not compiled, "a cached run is eager: the compiled graph is the whole UNet's"
            call(unet, 5)
        assert unet.forward is compiled and not any("forward" in vars(b) for b in unet.down_blocks)
    finally:
        del unet.forward
    with deep_cache(unet, 1) as cache:
        assert cache is None and torch.equal(call(unet, 4), before)
    assert torch.equal(call(unet, 4), before)


def test_it_falls_back_to_a_full_step_when_the_input_changes_shape(unet: torch.nn.Module) -> None:
    sample, timestep, text, ids = inputs(6)
    with torch.no_grad(), deep_cache(unet, 3) as cache:
        unet(sample, timestep, encoder_hidden_states=text, added_time_ids=ids)
        bigger = torch.randn(2, 3, 8, 24, 24)
        whole = unet(bigger, timestep, encoder_hidden_states=text, added_time_ids=ids).sample
    assert cache is not None and cache.full_steps == 2 and whole.shape[-1] == 24


@pytest.mark.parametrize(
    "job",
    [
        VideoJob(job_id="i", kind=JobKind.IMAGE_TO_VIDEO, model="svd-xt", image=png_bytes(), seed=3, steps=4),
        VideoJob(job_id="t", kind=JobKind.TEXT_TO_VIDEO, model="animatediff", prompt="a red fox", seed=3, steps=4),
    ],
    ids=["svd-xt", "animatediff"],
)
def test_the_fast_tier_of_a_unet_model_changes_the_frames_and_comes_off(engine: Engine, job: VideoJob) -> None:
    plain, fast = engine.plan(job), engine.plan(dataclasses.replace(job, fast=True))
    assert plain.deep_cache == 0 and fast.deep_cache == engine.models[job.model].deep_cache == 3
    runner = engine.runner(job.model)
    deep = counted(runner.pipe.unet.mid_block.resnets[0])  # type: ignore[attr-defined]
    before = runner.render(plain, Reporter())
    whole, deep[:] = len(deep), []
    drafted = runner.render(fast, Reporter())
    skipped, deep[:] = len(deep), []
    after = runner.render(plain, Reporter())
    assert whole == 4 and skipped == 2, "4 steps whole, then steps 1 and 4 whole (steps 2 and 3 cached)"
    assert drafted.shape == before.shape and not np.array_equal(drafted, before)
    assert np.array_equal(before, after) and len(deep) == whole, "the cache is off again for the next job"


class Backend:
    """A torch.compile backend that counts the graphs it is given and runs them as they are."""

    def __init__(self) -> None:
        self.graphs = 0

    def __call__(self, graph: torch.fx.GraphModule, inputs: list[Any]) -> Any:
        self.graphs += 1
        return graph.forward


def test_where_the_worker_compiles_each_block_is_compiled_once_and_the_frames_stay() -> None:
    torch._dynamo.reset()
    unet = build_svd().unet.eval()  # one without the other tests' counting hooks, which the compiler would trace
    with deep_cache(unet, 2) as eager:
        expected = [call(unet, seed) for seed in (7, 8, 9)]
    backend = Backend()
    with deep_cache(unet, 2, backend) as cache:  # type: ignore[arg-type]
        got = [call(unet, seed) for seed in (7, 8, 9)]
    blocks = len(unet.down_blocks) + 1 + len(unet.up_blocks)
    assert eager is not None and cache is not None and cache.backend is backend
    assert backend.graphs >= blocks, "every down, middle and up block went through the compiler"
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(got, expected, strict=True))
    graphs = backend.graphs
    with deep_cache(unet, 2, backend):  # type: ignore[arg-type]
        call(unet, 10)
    assert backend.graphs == graphs, "the next draft job reuses the compiled blocks"
    assert not any("forward" in vars(b) for b in [*unet.down_blocks, *unet.up_blocks, unet.mid_block])
    unet._hf_peft_config_loaded = True  # a UNet whose LoRA layers are on (AnimateDiff's camera moves): eager
    try:
        with deep_cache(unet, 2, backend) as lora:  # type: ignore[arg-type]
            assert lora is not None and lora.backend is None
        set_loras_on(unet, False)  # loaded, but off for this job: compiled
        with deep_cache(unet, 2, backend) as off:  # type: ignore[arg-type]
            assert off is not None and off.backend is backend
    finally:
        del unet._hf_peft_config_loaded
