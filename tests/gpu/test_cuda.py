"""Checks that need a CUDA GPU (skipped elsewhere; CI has none). They run on a GPU host with
`bench/gpu/run`, without the suite's conftest (no Redis, no tiny-model folders): each builds what it needs."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from generation.deep_cache import deep_cache
from generation.flow import FlowSmoother, load_smoother, write_flow
from generation.interpolate import FlowSource
from generation.random_weights import build_svd
from generation.runtime import to_uint8

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
GPU, CPU = torch.device("cuda"), torch.device("cpu")


def test_frames_become_uint8_on_the_gpu_with_numpys_values() -> None:
    values = torch.rand(25, 3, 576, 1024, generator=torch.Generator().manual_seed(0)) * 1.2 - 0.1
    on_gpu = values.half().to(GPU)  # what an fp16 VAE decodes
    expected = to_uint8(on_gpu.float().cpu().permute(0, 2, 3, 1).numpy())  # diffusers' "np" output, then ours
    assert np.array_equal(to_uint8(on_gpu), expected)


def shift(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Every pixel moves 5 px right (forward half of the batch) or back (the rest)."""
    flow = torch.zeros(first.shape[0], 2, *first.shape[-2:], device=first.device)
    half = first.shape[0] // 2
    flow[:half, 0], flow[half:, 0] = 5, -5
    return flow


def test_the_warping_gives_the_same_frames_on_the_gpu_as_on_the_cpu() -> None:
    clip = (np.random.default_rng(0).random((9, 144, 256, 3)) * 255).astype(np.uint8)
    on_gpu = FlowSmoother(shift, GPU)(clip, 12, 24)
    on_cpu = FlowSmoother(shift, CPU)(clip, 12, 24)
    assert on_gpu.shape == on_cpu.shape == (17, 144, 256, 3)
    assert np.abs(on_gpu.astype(int) - on_cpu).max() <= 1, "only float rounding apart"


def test_raft_smooths_a_full_size_clip_on_the_gpu() -> None:
    with tempfile.TemporaryDirectory() as folder:
        write_flow(Path(folder), "raft_large")
        smoother = load_smoother(FlowSource("raft_large", str(Path(folder) / "raft_large.safetensors"), "cuda"))
    clip = (np.random.default_rng(1).random((25, 576, 1024, 3)) * 255).astype(np.uint8)
    out = smoother(clip, 24, 48)
    assert out.shape == (49, 576, 1024, 3) and out.dtype == np.uint8
    assert (out[::2] == clip).all(), "every source frame stays as it was"


def test_deep_cache_compiled_block_by_block_with_inductor_keeps_eager_deep_caches_output() -> None:
    unet = build_svd().unet.to(GPU, torch.float16).eval()
    generator = torch.Generator().manual_seed(0)
    sample = torch.randn(2, 3, 8, 32, 32, generator=generator).to(GPU, torch.float16)
    text = torch.randn(2, 1, 32, generator=generator).to(GPU, torch.float16)
    ids = torch.randn(2, 3, generator=generator).to(GPU, torch.float16)

    def steps(backend: str | None) -> list[torch.Tensor]:
        with torch.no_grad(), deep_cache(unet, 2, backend):
            return [
                unet(sample * (1 + i / 10), 10.0, encoder_hidden_states=text, added_time_ids=ids).sample
                for i in range(3)
            ]

    eager, compiled = steps(None), steps("inductor")
    for a, b in zip(eager, compiled, strict=True):
        assert (a.float() - b.float()).abs().max() < 2e-2, "only fp16 rounding apart"
    assert "forward" not in vars(unet.down_blocks[1]), "the draft tier comes off after the job"


@pytest.mark.skipif(
    not torch.cuda.is_available() or torch.cuda.get_device_capability() < (8, 9), reason="needs fp8 tensor cores"
)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])  # fp16: a scale per tensor; bf16: per row
def test_an_fp8_draft_multiplies_in_float8_compiled_and_the_full_tier_keeps_its_weights(dtype: torch.dtype) -> None:
    import dataclasses

    from generation.fp8 import Fp8Twins, fp8_kind
    from generation.registry import DEFAULT_MODELS
    from generation.runtime import Runtime
    from generation.settings import Fp8, MemoryMode

    kind = fp8_kind(Fp8.AUTO, GPU, True, MemoryMode.FULL)
    assert kind == "dynamic"
    runtime = Runtime(GPU, dtype, MemoryMode.FULL, compile=True, fp8=kind)
    pipe = build_svd().to(GPU, dtype)
    spec = DEFAULT_MODELS["svd-xt"]
    assert not Fp8Twins(pipe, dataclasses.replace(spec, memory_gb_full=1e6), runtime).twins, "no room: no copy"
    twins = Fp8Twins(pipe, spec, runtime)
    twin, original = twins.twins["unet"], pipe.unet
    kinds = {type(m.weight).__name__ for m in twin.modules() if isinstance(m, torch.nn.Linear)}
    assert "Float8Tensor" in kinds and all(type(p) is torch.nn.Parameter for p in original.parameters())
    generator = torch.Generator().manual_seed(0)
    sample = torch.randn(2, 3, 8, 32, 32, generator=generator).to(GPU, dtype)
    text = torch.randn(2, 1, 32, generator=generator).to(GPU, dtype)
    ids = torch.randn(2, 3, generator=generator).to(GPU, dtype)
    with torch.no_grad():
        full = original(sample, 10.0, encoder_hidden_states=text, added_time_ids=ids).sample
        with twins.swapped([pipe], True), deep_cache(pipe.unet, 2, "inductor"):
            drafts = [pipe.unet(sample, 10.0, encoder_hidden_states=text, added_time_ids=ids).sample for _ in range(2)]
    assert pipe.unet is original
    error = (drafts[0].float() - full.float()).abs().mean() / full.float().abs().mean()
    assert torch.isfinite(drafts[1]).all() and 0 < error < 0.2, f"fp8 is a rounding of the weights: {error:.3f}"
