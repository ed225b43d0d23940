"""What a job will render, worked out from the job and its model (torch-free).

The bot prices a job with `resolve` and the engine renders what `resolve` says, so the two cannot
disagree: the same width, height, frames, steps and fps for the same job on the same model.
"""

from __future__ import annotations

from dataclasses import dataclass

from generation.jobs import JobKind, VideoJob
from generation.models import ModelSpec
from generation.values import Aspect

__all__ = ["Plan", "PlanError", "resolve"]


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
