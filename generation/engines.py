"""What a worker runs (`RenderEngine`: the GPU part of a job, then its CPU part) and `SleepEngine`, the
stand-in that sleeps instead of rendering (`--dry-run`, the queue tests and benchmarks). The real one is
`generation.engine.Engine`, which a worker imports only when it renders (torch is heavy)."""

from __future__ import annotations

import threading
from typing import Any, Protocol

from generation.jobs import Stage, VideoJob, VideoResult
from generation.progress import JobCancelled, OutlineFn, PreviewFn, ProgressFn

__all__ = ["RenderEngine", "SleepEngine"]


class RenderEngine(Protocol):
    """What a worker runs: the GPU part of a job, then the CPU part (the encode), which overlaps the next
    job's GPU part."""

    def generate(
        self,
        job: VideoJob,
        on_progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        on_outline: OutlineFn | None = None,
        on_preview: PreviewFn | None = None,
    ) -> Any: ...

    def finish(
        self, rendered: Any, on_progress: ProgressFn | None = None, cancel: threading.Event | None = None
    ) -> VideoResult: ...


class SleepEngine:
    """A stand-in engine that sleeps instead of rendering (`seconds` on the "GPU", `encode_s` encoding): for
    queue benchmarks and dry runs."""

    def __init__(self, seconds: float, encode_s: float = 0.0):
        self.seconds, self.encode_s = seconds, encode_s

    def generate(
        self,
        job: VideoJob,
        on_progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        on_outline: OutlineFn | None = None,
        on_preview: PreviewFn | None = None,
    ) -> VideoJob:
        steps = job.steps or 4
        for step in range(1, steps + 1):
            if cancel is not None and cancel.wait(self.seconds / steps):
                raise JobCancelled()
            if on_progress is not None:
                on_progress(Stage.DENOISING, step, steps)
        return job

    def finish(
        self, rendered: VideoJob, on_progress: ProgressFn | None = None, cancel: threading.Event | None = None
    ) -> VideoResult:
        job = rendered
        if on_progress is not None:
            on_progress(Stage.ENCODING, 0, 0)
        if cancel is not None and cancel.wait(self.encode_s):
            raise JobCancelled()
        steps = job.steps or 4
        return VideoResult(
            job.job_id, b"dry-run", "video/mp4", 64, 64, 1, job.fps, 0.0, job.seed or 0, job.model, steps
        )
