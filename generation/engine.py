"""The render engine: a `VideoJob` in, a `VideoResult` out. Used by the worker and the command line.

A job is planned first (generation/planner.py: its request, checked before any GPU work), then rendered by
its model's runner, checked, and encoded. Pipelines load on first use and stay loaded. `render` is blocking
(run it in a thread) and honours a cancel event between denoising steps.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from generation.camera import apply_camera
from generation.encode import decode_frames, encode
from generation.images import load_rgb
from generation.interpolate import FlowSource, Smoother, smooth_fps
from generation.jobs import FROM_VIDEO, Content, JobKind, Stage, VideoJob, VideoResult
from generation.models import CameraMode, ModelSpec
from generation.pipelines import Request, Runner, check_families, load_runner
from generation.plan import resolve
from generation.planner import JobRejected, Planner
from generation.progress import ContentFlagged, FinalError, LatentsFn, OutlineFn, PreviewFn, ProgressFn, Reporter
from generation.provenance import Mark
from generation.runtime import Runtime
from generation.text import Text, _
from generation.values import Aspect
from generation.weights import WeightsNotFound

if TYPE_CHECKING:
    from generation.safety import SafetyChecker

__all__ = ["ContentFlagged", "Engine", "JobRejected", "OutOfGPUMemory", "Rendered", "WeightsNotFound"]

log = logging.getLogger(__name__)


# The kinds of job that start from a clip, and what the job does to it (for "there is no clip to …").
_VERBS = {
    JobKind.EXTEND: _("continue"),
    JobKind.UPSCALE: _("upscale"),
    JobKind.RESTYLE: _("restyle"),
    JobKind.POSE: _("take a pose from"),
    JobKind.EXPAND: _("expand"),
}


class OutOfGPUMemory(FinalError, RuntimeError):
    """The GPU ran out of memory. Not retried here (the same card would run out again); the message says
    what to change, and the memory is given back to the card first."""


@dataclass(frozen=True)
class Rendered:
    """A job's frames between the GPU part of a render and its encode (`Engine.generate` -> `finish`)."""

    job: VideoJob
    frames: np.ndarray | None  # (F, H, W, 3) uint8; None for Smooth (nothing to generate)
    fps: int
    seed: int
    steps: int
    started: float  # when the render began (perf_counter)
    timings: dict[str, float]  # stage -> seconds so far
    source_frames: int = 0
    checks: dict[str, float] = field(default_factory=dict)
    read_as: str = ""  # the prompt as its model read it, when it was translated


class Engine:
    def __init__(
        self,
        models: Mapping[str, ModelSpec],
        runtime: Runtime,
        checker: SafetyChecker | None = None,
        segmenter: str = "",
        style_loras: Mapping[str, str] | None = None,
        translators: Mapping[str, str] | None = None,
        preview_every: int = 0,
        flow: FlowSource | None = None,
        illusion_font: str = "",
    ):
        check_families(models.values())  # NoRunner at start-up, not at the first job
        self.models = dict(models)
        self.runtime = runtime
        self.checker = checker  # the image check; None: nothing is checked (the command line)
        self.planner = Planner(self.models, runtime, segmenter, style_loras, translators, illusion_font)
        self.preview_every = preview_every  # a live preview every this many denoising steps; 0: none
        self.smoother = Smoother(flow)  # Smooth by optical flow (RAFT) where given, else FFmpeg's minterpolate
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

    def warm_up(self, model: str, every_size: bool = True) -> None:
        """Load `model`; when the runtime compiles, also render a two-step clip at each of its size buckets as
        the planner sizes users' jobs (the default job's size first, then every aspect's; only the first when
        not `every_size`), and each again in the `-fast` tier, which compiles apart (DeepCache block by block,
        First Block Cache's hooked graph, the fp8 copy), so no user's clip at those sizes waits for the
        compiler. Other frame counts compile on their first clip; the kernels stay in the compile cache, so a
        restart loads them. A failed warm-up is logged: jobs still run."""
        runner = self.runner(model)
        if not self.runtime.compile:
            return
        spec = self.models[model]
        for job in _warm_up_jobs(spec)[: None if every_size else 1]:
            started = time.perf_counter()
            try:
                request = self.plan(job)
                runner.render(request, Reporter())
                if spec.fast_tier:
                    runner.render(self.plan(dataclasses.replace(job, fast=True)), Reporter())
            except Exception:
                log.exception("warming up %s failed; its clips compile as they come", model)
                return
            took = time.perf_counter() - started
            log.info("warmed up %s at %dx%d in %.1fs", model, request.width, request.height, took)

    def plan(self, job: VideoJob, source: np.ndarray | None = None) -> Request:
        """The job resolved against its model, ready for its runner (`Planner.plan`)."""
        return self.planner.plan(job, source)

    def render(
        self, job: VideoJob, on_progress: ProgressFn | None = None, cancel: threading.Event | None = None
    ) -> VideoResult:
        """Render a job to an encoded clip (blocking). Raises JobRejected, JobCancelled or EncodeError."""
        return self.finish(self.generate(job, on_progress, cancel), on_progress, cancel)

    def generate(
        self,
        job: VideoJob,
        on_progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        on_outline: OutlineFn | None = None,
        on_preview: PreviewFn | None = None,
    ) -> Rendered:
        """The GPU part of a render: plan, check the input, denoise, camera, join, check the frames. The
        worker runs the next job's `generate` while this one's `finish` encodes."""
        reporter = Reporter(on_progress, cancel, self._previewer(job, on_preview))
        started = time.perf_counter()
        if job.kind in (JobKind.SMOOTH, JobKind.GIF):  # no model runs: all of it is CPU work, in `finish`
            return Rendered(job, None, 0, job.seed or 0, job.steps or 0, started, {})
        source = None
        if job.kind in _VERBS:
            verb = _VERBS[job.kind]
            spec = self.models.get(job.model)
            if spec is not None and not spec.takes(job.kind):  # before decoding anything
                raise JobRejected(_("`{model}` cannot {verb} a clip", model=job.model, verb=verb))
            source, fps = self._clip(job, verb)
            job = dataclasses.replace(job, fps=fps)  # the new frames play at the clip's own rate
        request = self.plan(job, source)
        spec = self.models[job.model]
        if job.region and request.mask is not None and on_outline is not None:
            self._outline(job.region, request, on_outline)
        checks: dict[str, float] = {}
        given = (request.image, *request.middle_images, request.end_image, *request.ingredients)
        pictures = [picture for picture in given if picture is not None]
        if job.kind in FROM_VIDEO and request.video is not None:
            pictures += _samples(request.video)
        if job.kind is JobKind.ILLUSION and job.image is not None:  # the picture as given, not only its grey shape
            pictures.append(load_rgb(job.image, cover=(request.width, request.height)))
        checked = time.perf_counter()
        # Every picture or video of the user's (not words alone, nor a clip of ours that was checked when made).
        if job.kind not in (JobKind.TEXT_TO_VIDEO, JobKind.EXTEND, JobKind.SMOOTH, JobKind.GIF, JobKind.UPSCALE):
            self._check(job, "input", pictures, checks)
        safety = time.perf_counter() - checked
        reporter.stage(Stage.LOADING)
        runner = self.runner(job.model)
        loaded = time.perf_counter()
        reporter.stage(Stage.DENOISING, 0, request.steps)
        try:
            frames = runner.render(request, reporter)
        except Exception as exc:
            if type(exc).__name__ != "OutOfMemoryError":  # torch.cuda.OutOfMemoryError
                raise
            del exc  # its traceback holds the tensors of the failed step
            self.runtime.release_memory()
            raise OutOfGPUMemory(
                _(
                    "out of GPU memory at {size}, {frames} frames — try a smaller size (-ar 1:1), fewer -frames, "
                    "or a lighter model",
                    size=f"{request.width}x{request.height}",
                    frames=request.frames,
                )
            ) from None
        generated = time.perf_counter()
        reporter.stage(Stage.ENCODING)
        if spec.camera is CameraMode.VIRTUAL and job.kind is not JobKind.UPSCALE:
            frames = apply_camera(frames, request.camera, request.motion)
        if source is not None and job.kind is JobKind.EXTEND:
            frames = _join(source, frames, spec.extend_overlap)
        if job.seamless:  # its last frame is its first: played once
            frames = frames[:-1]
        checked = time.perf_counter()
        if self.checker is not None:  # (the sampled frames only where something looks at them)
            self._check(job, "output", _samples(frames), checks)
        safety += time.perf_counter() - checked
        timings = {"load": loaded - started, "generate": generated - loaded, "safety": safety}
        extended = len(source) if source is not None and job.kind is JobKind.EXTEND else 0
        return Rendered(
            job, frames, job.fps, request.seed, request.steps, started, timings, extended, checks, request.read_as
        )

    def finish(
        self, rendered: Rendered, on_progress: ProgressFn | None = None, cancel: threading.Event | None = None
    ) -> VideoResult:
        """The CPU part: Smooth (when asked) and the encode into the job's byte budget."""
        reporter = Reporter(on_progress, cancel)
        job, encoding, started = rendered.job, time.perf_counter(), rendered.started
        if rendered.frames is None:  # a Smooth or GIF job: its clip is decoded (and interpolated) here
            reporter.stage(Stage.ENCODING)
            smooth = job.kind is JobKind.SMOOTH
            frames, fps = self._clip(job, _("smooth") if smooth else _("make a GIF of"))
            result = self._finish(job, frames, fps, rendered.seed, rendered.steps, reporter, smooth=smooth)
            return _with_timings(result, {"total": time.perf_counter() - started})
        result = self._finish(
            job, rendered.frames, rendered.fps, rendered.seed, rendered.steps, reporter, smooth=job.smooth
        )
        timings = rendered.timings | {"encode": time.perf_counter() - encoding, "total": time.perf_counter() - started}
        return dataclasses.replace(
            _with_timings(result, timings),
            source_frames=rendered.source_frames,
            checks=rendered.checks,
            flagged=any(margin > 0 for margin in rendered.checks.values()),
            read_as=rendered.read_as,
        )

    @staticmethod
    def _outline(region: str, request: Request, on_outline: OutlineFn) -> None:
        """Show the user the region the words found, before the render starts: the picture's, or (a swap)
        the first frame's of the video."""
        from generation.segment import outline

        assert request.mask is not None
        share = f"{float((request.mask > 0.5).mean()):.0%}"
        if request.image is not None:
            note = _("🖌️ Only “{region}” moves ({share} of the picture)", region=region[:60], share=share)
            on_outline(note, outline(request.image, request.mask))
        elif request.video is not None:
            note = _("🖌️ Only “{region}” is redrawn ({share} of the video)", region=region[:60], share=share)
            on_outline(note, outline(Image.fromarray(request.video[0]), request.mask[0]))

    def _check(self, job: VideoJob, name: str, pictures: list[Image.Image], checks: dict[str, float]) -> None:
        """Score `pictures` where the job's policy asks for it; refuse a flagged one where it must be."""
        if self.checker is None or job.content is Content.UNCHECKED or not pictures:
            return
        verdict = self.checker.check(pictures)
        checks[name] = round(verdict.score - self.checker.threshold, 4)  # above 0: flagged
        if verdict.flagged and job.content is Content.REFUSE:
            raise ContentFlagged(name)

    def _previewer(self, job: VideoJob, on_preview: PreviewFn | None) -> LatentsFn | None:
        """What makes the job's live previews from its latents every `preview_every` steps (not after the
        last: the clip itself follows), or None where there are none. A preview that fails is logged and
        the previews stop; the render goes on."""
        spec = self.models.get(job.model)
        if on_preview is None or self.preview_every <= 0 or spec is None or not spec.preview:
            return None
        from generation.preview import previewer

        seconds = (job.frames or spec.frames) / (job.fps or spec.fps)

        def failed() -> None:
            log.warning("job %s: no live preview", job.job_id, exc_info=True, extra={"job_id": job.job_id})

        # VACE denoises the reference images (/ingredients, a swap's picture) as latent frames before the clip.
        return previewer(spec.preview, self.preview_every, seconds, on_preview, failed, skip=len(job.ingredients))

    def _clip(self, job: VideoJob, verb: Text) -> tuple[np.ndarray, int]:
        """The frames and fps of the job's input clip."""
        if not job.video:
            raise JobRejected(_("there is no clip to {verb}", verb=verb))
        try:
            return decode_frames(job.video)
        except Exception:
            raise JobRejected(_("the clip to {verb} could not be read", verb=verb)) from None

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
            seam = frames[:1] if job.loop else frames[:0]  # a loop is interpolated across its seam: last → first
            smoothed = self.smoother(np.concatenate([frames, seam]), fps, target, job.job_id)
            frames, fps = smoothed[: len(smoothed) - len(seam)], target
        reporter.check()
        spec = self.models.get(job.model)
        mark = Mark(job.model, spec.description if spec is not None else job.model)
        encoded = encode(frames, fps, job.output, job.byte_budget, mark)
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
        )


def _warm_up_jobs(spec: ModelSpec) -> list[VideoJob]:
    """Two-step jobs, one per size bucket of `spec`: its default job's size, then each aspect's. None for a
    pose row (Wan-Animate renders from a pose video: its clips compile as they come)."""
    if spec.poses:
        return []
    text = not spec.takes(JobKind.IMAGE_TO_VIDEO)
    picture = io.BytesIO()
    Image.new("RGB", (spec.width, spec.height), (128, 128, 128)).save(picture, format="PNG")
    jobs, sizes = [], set()
    for aspect in (None, *Aspect):
        job = VideoJob(
            job_id="warm-up",
            kind=JobKind.TEXT_TO_VIDEO if text else JobKind.IMAGE_TO_VIDEO,
            model=spec.name,
            prompt="a calm lake at sunrise, gentle waves and soft morning light",
            image=None if text else picture.getvalue(),
            aspect=aspect,
            steps=2,
            seed=0,
        )
        size = resolve(job, spec, None if text else (spec.width, spec.height)).size
        if size not in sizes:
            sizes.add(size)
            jobs.append(job)
    return jobs


def _samples(frames: np.ndarray, count: int = 5) -> list[Image.Image]:
    """The frames of a clip the image check looks at: the first, the last and some spread between."""
    picks = sorted({round(i * (len(frames) - 1) / (count - 1)) for i in range(count)})
    return [Image.fromarray(frames[i]) for i in picks]


def _join(clip: np.ndarray, continuation: np.ndarray, overlap: int) -> np.ndarray:
    """The clip, then the continuation without its first `overlap` frames (which re-render the clip's last)."""
    height, width = clip.shape[1:3]
    rest = continuation[overlap:]
    if rest.shape[1:3] != (height, width):  # the clip was encoded smaller than the model renders
        size, lanczos = (width, height), Image.Resampling.LANCZOS
        rest = np.stack([np.asarray(Image.fromarray(frame).resize(size, lanczos)) for frame in rest])
    return np.concatenate([clip, rest])


def _with_timings(result: VideoResult, timings: dict[str, float]) -> VideoResult:
    return dataclasses.replace(result, timings={stage: round(s, 3) for stage, s in timings.items()})
