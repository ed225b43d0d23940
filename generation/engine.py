"""The render engine: a `VideoJob` in, a `VideoResult` out. Used by the worker and the command line.

Pipelines load on first use and stay loaded. `render` is blocking (run it in a thread) and honours a
cancel event between denoising steps.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import threading
import time
from collections.abc import Mapping

import numpy as np
from PIL import Image

from generation.camera import apply_camera
from generation.encode import decode_frames, encode
from generation.images import ImageError, fit, load_rgb, to_png
from generation.interpolate import interpolate, smooth_fps
from generation.jobs import JobKind, Stage, VideoJob, VideoResult
from generation.models import CameraMode, Input, ModelSpec, nearest_aspect, size_for
from generation.options import OptionError, parse_camera
from generation.pipelines import Request, Runner, load_runner
from generation.progress import FinalError, ProgressFn, Reporter
from generation.runtime import Runtime
from generation.weights import WeightsNotFound

__all__ = ["Engine", "JobRejected", "OutOfGPUMemory", "WeightsNotFound"]

log = logging.getLogger(__name__)


class JobRejected(FinalError, ValueError):
    """The job cannot run as asked (bad input, model not served); retrying will not help.
    The message is written for the user."""


class OutOfGPUMemory(RuntimeError):
    """The GPU ran out of memory; another worker with a bigger card may manage. Readable message."""


class Engine:
    def __init__(self, models: Mapping[str, ModelSpec], runtime: Runtime):
        self.models = dict(models)
        self.runtime = runtime
        self._runners: dict[str, Runner] = {}
        self._load_lock = threading.Lock()

    def runner(self, model: str) -> Runner:
        """The loaded pipeline for `model`, loading it on first use."""
        with self._load_lock:
            if model not in self._runners:
                started = time.perf_counter()
                spec = self.models[model]
                self._runners[model] = load_runner(spec, self.runtime)  # WeightsNotFound names what failed
                log.info("loaded %s in %.1fs", model, time.perf_counter() - started)
            return self._runners[model]

    def plan(self, job: VideoJob) -> Request:
        """Resolve a job against its model: size, frames, steps, guidance, seed; fail fast if it can't run."""
        spec = self.models.get(job.model)
        if spec is None:
            raise JobRejected(f"model `{job.model}` is not served here (served: {', '.join(self.models)})")
        wants = Input.IMAGE if job.kind is JobKind.IMAGE_TO_VIDEO else Input.TEXT
        if spec.input is not wants:
            raise JobRejected(f"`{job.model}` takes {spec.input.value} input, not {wants.value}")
        frames = job.frames or spec.frames
        steps = job.steps or spec.steps
        if not 2 <= frames <= spec.max_frames:
            raise JobRejected(f"`-frames` must be 2–{spec.max_frames} on {spec.name}, got {frames}")
        if not 1 <= steps <= spec.max_steps:
            raise JobRejected(f"`-steps` must be 1–{spec.max_steps} on {spec.name}, got {steps}")
        try:
            camera = parse_camera(job.camera) if job.camera else None
        except OptionError as exc:
            raise JobRejected(str(exc)) from None
        image: Image.Image | None = None
        aspect = job.aspect or "16:9"
        if wants is Input.IMAGE:
            if job.image is None and not job.video:
                raise JobRejected("this job needs an image")
            try:
                if job.image is not None:
                    image = load_rgb(job.image)
                else:  # Extend: continue from the clip's last frame
                    image = Image.fromarray(decode_frames(job.video or b"")[0][-1])
            except ImageError as exc:
                raise JobRejected(str(exc)) from None
            except (ValueError, OSError):
                raise JobRejected("the clip to continue could not be read") from None
            aspect = job.aspect or nearest_aspect(*image.size)
        area = min(spec.pixels, job.max_pixels or spec.pixels)
        width, height = size_for(aspect, area, spec.size_multiple)
        return Request(
            width=width,
            height=height,
            frames=frames,
            fps=job.fps,
            steps=steps,
            seed=job.seed if job.seed is not None else secrets.randbelow(2**32),
            guidance=spec.guidance.from_pika(job.guidance),
            motion=job.motion,
            camera=camera,
            prompt=job.prompt,
            negative_prompt=job.negative_prompt if spec.takes_negative_prompt else "",
            image=fit(image, width, height, job.fit) if image is not None else None,
        )

    def render(
        self, job: VideoJob, on_progress: ProgressFn | None = None, cancel: threading.Event | None = None
    ) -> VideoResult:
        """Render a job to an encoded clip (blocking). Raises JobRejected, JobCancelled or EncodeError."""
        reporter = Reporter(on_progress, cancel)
        started = time.perf_counter()
        if job.kind is JobKind.SMOOTH:
            return self._smooth(job, reporter, started)
        request = self.plan(job)
        spec = self.models[job.model]
        reporter.stage(Stage.LOADING)
        runner = self.runner(job.model)
        loaded = time.perf_counter()
        reporter.stage(Stage.DENOISING, 0, request.steps)
        try:
            frames = runner.render(request, reporter)
        except Exception as exc:
            if type(exc).__name__ != "OutOfMemoryError":  # torch.cuda.OutOfMemoryError
                raise
            raise OutOfGPUMemory(
                f"out of GPU memory at {request.width}x{request.height}, {request.frames} frames — "
                "try a smaller size or fewer frames"
            ) from exc
        generated = time.perf_counter()
        reporter.stage(Stage.ENCODING)
        if spec.camera is CameraMode.VIRTUAL:
            frames = apply_camera(frames, request.camera, request.motion)
        result = self._finish(job, frames, job.fps, request.seed, request.steps, reporter, smooth=job.smooth)
        timings = {
            "load": loaded - started,
            "generate": generated - loaded,
            "encode": time.perf_counter() - generated,
            "total": time.perf_counter() - started,
        }
        return _with_timings(result, timings)

    def _smooth(self, job: VideoJob, reporter: Reporter, started: float) -> VideoResult:
        if not job.video:
            raise JobRejected("there is no clip to smooth")
        reporter.stage(Stage.ENCODING)
        try:
            frames, fps = decode_frames(job.video)
        except Exception:
            raise JobRejected("the clip to smooth could not be read") from None
        result = self._finish(job, frames, fps, job.seed or 0, job.steps or 0, reporter, smooth=True)
        return _with_timings(result, {"total": time.perf_counter() - started})

    def _finish(
        self,
        job: VideoJob,
        frames: np.ndarray,
        fps: int,
        seed: int,
        steps: int,
        reporter: Reporter,
        smooth: bool,
    ) -> VideoResult:
        if smooth:
            target = smooth_fps(fps)
            frames, fps = interpolate(frames, fps, target), target
        reporter.check()
        encoded = encode(frames, fps, job.output, job.byte_budget)
        reporter.stage(Stage.DONE)
        return VideoResult(
            job_id=job.job_id,
            video=encoded.data,
            mime=encoded.mime,
            width=encoded.width,
            height=encoded.height,
            frames=encoded.frames,
            fps=encoded.fps,
            duration_s=round(encoded.frames / encoded.fps, 3),
            seed=seed,
            model=job.model,
            steps=steps,
            last_frame_png=to_png(Image.fromarray(frames[-1])),
        )


def _with_timings(result: VideoResult, timings: dict[str, float]) -> VideoResult:
    return dataclasses.replace(result, timings={stage: round(s, 3) for stage, s in timings.items()})
