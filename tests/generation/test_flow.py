"""Smooth by optical flow (generation/flow.py): the warping with a known motion, RAFT loaded from a weights
file through the production loader, the fallbacks to minterpolate, and the engine's Smooth using it."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.measure import psnr
from generation.encode import decode_frames
from generation.engine import Engine
from generation.flow import FlowSmoother, load_smoother, write_flow
from generation.interpolate import FlowSource, Smoother, flow_source, interpolate
from generation.jobs import JobKind, VideoJob
from generation.runtime import Runtime
from generation.settings import GenerationSettings, SmoothEngine
from tests.generation.test_engine import i2v

CPU = torch.device("cpu")
SPEED = 12  # px per source frame


def square_at(x: float, height: int = 64, width: int = 128) -> np.ndarray:
    """A white 16 px square on grey, its left edge at `x` (sub-pixel edges blend)."""
    frame = np.full((height, width, 3), 40.0)
    columns = np.clip(np.minimum(np.arange(width) + 1 - x, x + 16 - np.arange(width)), 0, 1)
    frame[24:40] = frame[24:40] * (1 - columns[None, :, None]) + 255 * columns[None, :, None]
    return (frame + 0.5).astype(np.uint8)


def known_motion(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """The true flow of `moving_square`: the first half of a batch is forward (+SPEED px), the rest back."""
    flow = torch.zeros(first.shape[0], 2, *first.shape[-2:])
    half = first.shape[0] // 2
    flow[:half, 0], flow[half:, 0] = SPEED, -SPEED
    return flow


@pytest.mark.parametrize(("fps", "target"), [(8, 24), (12, 24), (24, 48)])
def test_frames_in_between_show_the_motion_at_their_time(fps: int, target: int) -> None:
    source = np.stack([square_at(8 + SPEED * i) for i in range(5)])
    out = FlowSmoother(known_motion, CPU, pairs=2)(source, fps, target)  # 2 pairs a batch: batches join up
    assert len(out) == 4 * target // fps + 1
    for n, frame in enumerate(out):
        truth = square_at(8 + SPEED * n * fps / target)
        assert psnr(frame, truth) > 35, f"frame {n}: the square is where it is at that time"
    assert (out[0] == source[0]).all() and (out[-1] == source[-1]).all(), "starts and ends on the clip"
    second = square_at(8 + SPEED * fps / target)
    assert psnr(out[1], second) > psnr(interpolate(source, fps, target)[1], second), "closer than minterpolate"


def test_a_cross_fade_is_not_what_it_makes() -> None:
    source = np.stack([square_at(8 + SPEED * i) for i in range(2)])
    still = FlowSmoother(lambda a, b: torch.zeros(a.shape[0], 2, *a.shape[-2:]), CPU)(source, 12, 24)
    moved = FlowSmoother(known_motion, CPU)(source, 12, 24)
    truth = square_at(8 + SPEED / 2)
    assert psnr(moved[1], truth) > psnr(still[1], truth) + 10, "with no motion it would only blend"


@pytest.fixture(scope="module")
def raft_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("raft")
    write_flow(folder, "raft_small", seed=0)
    return folder / "raft_small.safetensors"


def moving_clip(count: int = 4) -> np.ndarray:
    rng = np.random.default_rng(0)
    texture = (rng.random((64, 160, 3)) * 255).astype(np.uint8)
    return np.stack([np.roll(texture, 6 * i, axis=1) for i in range(count)])


def test_raft_loads_from_a_weights_file_and_its_flow_shapes_the_frames(raft_file: Path, tmp_path: Path) -> None:
    clip = moving_clip()
    smoother = load_smoother(FlowSource("raft_small", str(raft_file), "cpu"))
    out = smoother(clip, 8, 24)
    assert out.shape == (10, 64, 160, 3) and out.dtype == np.uint8
    assert (out[0] == clip[0]).all() and (out[3] == clip[1]).all() and (out[-1] == clip[-1]).all()
    write_flow(tmp_path, "raft_small", seed=1)
    other = load_smoother(FlowSource("raft_small", str(tmp_path / "raft_small.safetensors"), "cpu"))(clip, 8, 24)
    assert np.abs(other[1].astype(int) - out[1]).mean() > 1, "other weights, other flow, other frames"


def test_weights_of_another_model_or_no_file_do_not_load(raft_file: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="state_dict"):
        load_smoother(FlowSource("raft_large", str(raft_file), "cpu"))
    with pytest.raises(FileNotFoundError):
        load_smoother(FlowSource("raft_small", str(tmp_path / "missing.safetensors"), "cpu"))


def test_a_flow_model_that_does_not_load_leaves_smooth_to_minterpolate(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clip = moving_clip()
    smoother = Smoother(FlowSource("raft_small", str(tmp_path / "missing.safetensors"), "cpu"))
    with caplog.at_level(logging.ERROR, "generation.interpolate"):
        first, second = smoother(clip, 8, 24), smoother(clip, 8, 24)
    assert (first == interpolate(clip, 8, 24)).all() and (second == first).all()
    assert len([r for r in caplog.records if "did not load" in r.getMessage()]) == 1, "said once"
    assert smoother.flow is None


def test_a_clip_the_flow_fails_on_is_made_by_minterpolate_and_the_next_by_flow(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clip = np.stack([square_at(8 + SPEED * i) for i in range(3)])
    calls: list[int] = []

    def flaky(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        calls.append(len(first))
        if len(calls) == 1:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return known_motion(first, second)

    smoother = Smoother(FlowSource("raft_small"))
    smoother._model = FlowSmoother(flaky, CPU)  # as if loaded
    with caplog.at_level(logging.ERROR, "generation.interpolate"):
        failed = smoother(clip, 12, 24, job_id="j1")
    assert (failed == interpolate(clip, 12, 24)).all()
    assert any("j1" in r.getMessage() and "minterpolate" in r.getMessage() for r in caplog.records)
    assert psnr(smoother(clip, 12, 24), FlowSmoother(known_motion, CPU)(clip, 12, 24)) == float("inf")


def test_smooth_uses_flow_on_a_gpu_and_as_set(settings: GenerationSettings) -> None:
    assert flow_source(settings, "cpu") is None, "auto: minterpolate on a CPU"
    assert flow_source(settings, "cuda:1") == FlowSource(settings.smooth_flow.value, settings.smooth_weights, "cuda:1")
    forced = settings.model_copy(update={"smooth": SmoothEngine.FLOW})
    assert flow_source(forced, "cpu") == FlowSource("raft_small", settings.smooth_weights, "cpu")
    assert flow_source(settings.model_copy(update={"smooth": SmoothEngine.MINTERPOLATE}), "cuda") is None


def test_the_engines_smooth_runs_on_the_flow_model(settings: GenerationSettings, raft_file: Path) -> None:
    runtime = Runtime.from_settings(settings)
    plain = Engine(settings.registry(), runtime)
    by_flow = Engine(settings.registry(), runtime, flow=FlowSource("raft_small", str(raft_file), "cpu"))
    clip = plain.render(dataclasses.replace(i2v(fps=8), frames=4)).video
    job = VideoJob(job_id="s", kind=JobKind.SMOOTH, model="svd-xt", video=clip)
    flowed, minterpolated = by_flow.render(job), plain.render(job)
    assert (flowed.fps, flowed.frames) == (minterpolated.fps, minterpolated.frames) == (24, 10)
    frames, _ = decode_frames(flowed.video)
    reference, _ = decode_frames(minterpolated.video)
    assert np.abs(frames[1].astype(int) - reference[1]).mean() > 1, "not minterpolate's frames"
    assert by_flow.smoother._model is not None
