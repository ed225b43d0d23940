"""What a job will render, worked out from the job and its model (torch-free).

The bot prices a job with `resolve` and the engine renders what `resolve` says, so the two cannot
disagree: the same width, height, frames, steps and fps for the same job on the same model.
"""

from __future__ import annotations

from dataclasses import dataclass

from generation.jobs import JobKind, VideoJob
from generation.models import ModelSpec
from generation.values import Aspect

__all__ = ["Plan", "PlanError", "memory_needed", "resolve", "unfit"]

# The memory modes' appetite relative to the registry's estimate (balanced): LOW offloads to the CPU.
_MODE_FACTOR = {"full": 1.25, "balanced": 1.0, "low": 0.45}


class PlanError(ValueError):
    """The job cannot run on this model as asked; the message is written for the user."""


@dataclass(frozen=True)
class Plan:
    aspect: Aspect
    width: int
    height: int
    frames: int  # frames the model renders (for EXTEND: the continuation's)
    steps: int
    fps: int


def resolve(job: VideoJob, spec: ModelSpec, input_size: tuple[int, int] | None = None, source_frames: int = 0) -> Plan:
    """The plan for `job` on `spec`. `input_size` is the input image's (or the clip's frames') size;
    `source_frames` the length of the clip an EXTEND job continues."""
    if not spec.takes(job.kind):
        what = "continue a clip" if job.kind is JobKind.EXTEND else f"make {job.kind.value} clips"
        raise PlanError(f"`{spec.name}` cannot {what}")
    frames = job.frames or spec.frames
    steps = job.steps or spec.steps
    if not 2 <= frames <= spec.max_frames:
        raise PlanError(f"`-frames` must be 2–{spec.max_frames} on {spec.name}, got {frames}")
    if not 1 <= steps <= spec.max_steps:
        raise PlanError(f"`-steps` must be 1–{spec.max_steps} on {spec.name}, got {steps}")
    if job.kind is JobKind.EXTEND:
        # The continuation's first frame is the clip's last one again, and is dropped at the join.
        longest = spec.max_total_frames(job.fps)
        if source_frames + 1 > longest:
            raise PlanError(
                f"this clip is as long as {spec.name} makes them ({longest / job.fps:.3g} s at {job.fps} fps)"
            )
        frames = min(frames, longest - source_frames + 1)
    aspect = job.aspect or (Aspect.nearest(*input_size) if input_size else Aspect.WIDE)
    width, height = aspect.size(min(spec.pixels, job.max_pixels or spec.pixels), spec.size_multiple)
    return Plan(aspect, width, height, frames, steps, job.fps)


def memory_needed(spec: ModelSpec, plan: Plan, mode: str) -> float:
    """GPU memory (GB) a plan needs on a worker in `mode`: the registry's estimate for a native-size clip,
    half of it weights, half activations that grow with pixels x frames."""
    work = plan.width * plan.height * plan.frames / (spec.pixels * spec.frames)
    return spec.memory_gb * _MODE_FACTOR.get(mode, 1.0) * (0.5 + 0.5 * work)


def unfit(spec: ModelSpec, plan: Plan, workers: list[tuple[float, str]]) -> str | None:
    """Why no worker can fit the plan, or None. `workers` are (GPU memory in GB, memory mode) of the online
    workers serving the model; one without a GPU memory figure (CPU, dry run) fits anything."""
    if not workers or any(memory <= 0 or memory_needed(spec, plan, mode) <= memory for memory, mode in workers):
        return None
    largest = max(memory for memory, _ in workers)
    needed = min(memory_needed(spec, plan, mode) for _, mode in workers)
    return (
        f"`{spec.name}` at {plan.width}x{plan.height}, {plan.frames} frames needs about {needed:.0f} GB of GPU "
        f"memory and the largest GPU online has {largest:.0f} GB; try a smaller size (-ar 1:1) or fewer -frames"
    )
