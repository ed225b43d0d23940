"""The compiled path (generation/compiled.py): when it is on, that a failing compile never fails a job, and the
warm-up at --preload. That compiling keeps the frames is checked on a real pipeline by the GPU bench's test."""

from __future__ import annotations

import dataclasses
import logging
import os
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from generation.compiled import CompiledForward, compile_pipeline, loras_on, set_loras_on
from generation.engine import Engine
from generation.jobs import JobKind, VideoJob
from generation.pipelines import Request
from generation.progress import Reporter
from generation.runtime import Runtime
from generation.settings import GenerationSettings, MemoryMode
from generation.values import Aspect


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv(x)) * 2


class Backend:
    """A torch.compile backend that counts the graphs it is given and runs them as they are (or fails)."""

    def __init__(self, fails: bool = False):
        self.fails, self.graphs = fails, 0

    def __call__(self, graph: torch.fx.GraphModule, inputs: list[Any]) -> Any:
        self.graphs += 1
        if self.fails:
            raise RuntimeError("no C++ compiler here")
        return graph.forward


def test_a_compiled_forward_gives_the_eager_result() -> None:
    torch._dynamo.reset()
    net, x = Net(), torch.rand(1, 3, 8, 8)
    expected = net(x)
    backend = Backend()
    net.forward = CompiledForward(net, "net", backend)  # type: ignore[method-assign]
    assert torch.equal(net(x), expected)
    assert backend.graphs == 1, "the module went through the compiler"


def test_every_clip_size_a_worker_sees_is_compiled_not_only_the_first_eight() -> None:
    torch._dynamo.reset()
    nets = [Net(), Net()]  # two blocks of one class, as DeepCache compiles them: their versions add up
    backend = Backend()
    for net in nets:
        net.forward = CompiledForward(net, "block", backend)  # type: ignore[method-assign]
    sizes = [(8 + 2 * i, 8) for i in range(12)]  # 12 clip sizes: past TorchDynamo's default of 8 versions
    for size in sizes:
        for net in nets:
            x = torch.rand(1, 3, *size)
            assert torch.equal(net(x), Net.forward(net, x))
    assert backend.graphs == len(sizes), "one compiled graph per size, shared by both blocks, none left eager"


def test_a_failing_compile_runs_eagerly_with_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    torch._dynamo.reset()
    net, x = Net(), torch.rand(1, 3, 8, 8)
    expected = net(x)
    backend = Backend(fails=True)
    net.forward = CompiledForward(net, "denoiser", backend)  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="generation.compiled"):
        assert torch.equal(net(x), expected)  # the call that failed to compile still answers
        assert torch.equal(net(x * 2), Net.forward(net, x * 2))
    assert backend.graphs == 1, "it does not try again on every call"
    lines = [r.getMessage() for r in caplog.records if r.name == "generation.compiled"]
    assert len(lines) == 1 and "compiling the denoiser failed" in lines[0] and "no C++ compiler" in lines[0]


def test_lora_layers_that_are_on_run_eagerly_and_switched_off_compile_on_the_base_weights() -> None:
    from peft import LoraConfig, inject_adapter_in_model
    from peft.tuners.tuners_utils import BaseTunerLayer

    torch._dynamo.reset()
    net, backend, x = Net(), Backend(), torch.rand(1, 3, 8, 8)
    base = net(x)
    inject_adapter_in_model(LoraConfig(r=2, target_modules=["conv"], init_lora_weights=False), net, "move")
    net._hf_peft_config_loaded = True  # what diffusers sets once it has loaded LoRA layers
    net.forward = CompiledForward(net, "denoiser", backend)  # type: ignore[method-assign]
    with_lora = net(x)
    assert backend.graphs == 0 and not torch.allclose(with_lora, base), "on: eager, and the LoRA moves it"
    for layer in net.modules():
        if isinstance(layer, BaseTunerLayer):
            layer.enable_adapters(False)  # what the runner's disable_lora() does
    set_loras_on(net, False)
    assert not loras_on(net) and torch.allclose(net(x), base) and backend.graphs == 1, "off: compiled, base weights"
    set_loras_on(net, True)
    assert loras_on(net)


class Decoder3d(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv3d(3, 3, 1)


def test_compile_pipeline_compiles_the_denoiser_and_decoder_once() -> None:
    pipe = SimpleNamespace(unet=Net(), vae=SimpleNamespace(decoder=Decoder3d()))  # what it reads of a pipeline
    forwards = compile_pipeline(pipe, backend=Backend())
    assert [f.what for f in forwards] == ["denoiser", "VAE decoder"]
    assert pipe.unet.forward is forwards[0] and pipe.vae.decoder.forward is forwards[1]
    assert compile_pipeline(pipe, backend=Backend()) == forwards, "a shared pipeline is not wrapped twice"
    # channels-last where every convolution is 2-D (AnimateDiff's UNet, the SD VAE); a 3-D one keeps its layout
    assert pipe.unet.conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert not pipe.unet.conv.weight.is_contiguous()
    assert pipe.vae.decoder.conv.weight.is_contiguous()


def test_compiling_is_on_for_a_gpu_and_off_for_a_cpu_unless_asked(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    assert not Runtime.from_settings(GenerationSettings(_env_file=None, device="cpu")).compile  # type: ignore[call-arg]
    asked = GenerationSettings(_env_file=None, device="cpu", compile="on", compile_cache=str(tmp_path / "kernels"))  # type: ignore[call-arg]
    assert Runtime.from_settings(asked).compile
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "kernels") and (tmp_path / "kernels").is_dir()


class Recorder:
    """A runner that records what it is asked to render."""

    def __init__(self, fails: bool = False):
        self.fails, self.requests = fails, []

    def render(self, request: Request, reporter: Reporter) -> np.ndarray:
        self.requests.append(request)
        if self.fails:
            raise RuntimeError("the compiler ran out of memory")
        return np.zeros((request.frames, request.height, request.width, 3), np.uint8)


def _engine(settings: GenerationSettings, compile: bool, runners: dict[str, Recorder]) -> Engine:
    engine = Engine(settings.registry(), Runtime(torch.device("cpu"), torch.float32, MemoryMode.BALANCED, compile))
    engine._runners.update(runners)  # loaded already: the warm-up itself is what is looked at
    return engine


def test_warm_up_renders_every_size_bucket_as_users_jobs_get_it_full_and_fast(settings: GenerationSettings) -> None:
    svd, animatediff = Recorder(), Recorder()
    engine = _engine(settings, True, {"svd-xt": svd, "animatediff": animatediff})
    engine.warm_up("svd-xt")
    engine.warm_up("animatediff")
    spec = engine.models["animatediff"]
    full, drafts = animatediff.requests[0::2], animatediff.requests[1::2]  # each size: full, then `-fast`
    users = engine.plan(VideoJob(job_id="u", kind=JobKind.TEXT_TO_VIDEO, model="animatediff", prompt="a red fox"))
    assert (full[0].width, full[0].height, full[0].frames) == (users.width, users.height, users.frames)
    buckets = {aspect.size(spec.pixels, spec.size_multiple) for aspect in Aspect}
    assert sorted((r.width, r.height) for r in full) == sorted(buckets), "every aspect's size, once"
    assert all(r.steps == 2 and r.kind is JobKind.TEXT_TO_VIDEO and r.deep_cache == 0 for r in full)
    # the drafts as a `-fast` job runs: DeepCache, and the fp8 copy where the runner has one
    assert drafts == [dataclasses.replace(r, deep_cache=spec.deep_cache, fp8=True) for r in full]
    poses = Recorder()
    _engine(settings, True, {"wan-animate": poses}).warm_up("wan-animate")
    assert poses.requests == [], "a pose row needs a pose video: nothing to warm up with"
    first = Recorder()
    _engine(settings, True, {"animatediff": first}).warm_up("animatediff", every_size=False)
    assert first.requests == animatediff.requests[:2], "`--preload default`: the default job's size, full and fast"
    request, draft = svd.requests[:2]
    assert request.image is not None and request.image.size == (request.width, request.height)
    assert draft == dataclasses.replace(request, deep_cache=engine.models["svd-xt"].deep_cache, fp8=True)


def test_warm_up_only_loads_when_not_compiling_and_survives_a_failure(
    settings: GenerationSettings, caplog: pytest.LogCaptureFixture
) -> None:
    quiet = Recorder()
    _engine(settings, False, {"svd-xt": quiet}).warm_up("svd-xt")
    assert quiet.requests == []
    failing = Recorder(fails=True)
    with caplog.at_level(logging.ERROR, logger="generation.engine"):
        _engine(settings, True, {"svd-xt": failing}).warm_up("svd-xt")  # does not raise
    assert "warming up svd-xt failed" in caplog.text
