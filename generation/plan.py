"""What a job will render, worked out from the job and its model (torch-free).

The bot prices a job with `resolve` and the engine renders what `resolve` says, so the two cannot
disagree: the same width, height, frames, steps, fps, segments and passes for the same job on the same model.
"""

from __future__ import annotations

from dataclasses import dataclass

from generation.jobs import FROM_VIDEO, JobKind, VideoJob
from generation.models import ModelSpec
from generation.options import segments_of
from generation.text import Said, Text, _
from generation.values import Aspect

__all__ = [
    "UPSCALE_STEPS",
    "Pass",
    "Plan",
    "PlanError",
    "contained",
    "memory_needed",
    "refine_steps",
    "resolve",
    "unfit",
]

UPSCALE_STEPS = 4  # the refine pass after the x2 latent upsampler: 4 of 10 steps (denoise strength 0.4)


class PlanError(Said, ValueError):
    """The job cannot run on this model as asked; the message is written for the user."""


@dataclass(frozen=True)
class Pass:
    """One run of the model: the unit of GPU work that prices a job and sizes its memory."""

    width: int
    height: int
    frames: int
    steps: int


@dataclass(frozen=True)
class Plan:
    aspect: Aspect
    width: int  # the size the model renders at (UPSCALE: the clip's size)
    height: int
    frames: int  # frames the model renders per segment (EXTEND: the continuation's; UPSCALE: the clip's)
    steps: int
    fps: int
    segments: int = 1  # prompt travel: one segment per prompt, each continuing the last one's final frames
    overlap: int = 0  # frames each segment after the first shares with the one before
    upscale: bool = False  # a x2 latent upscale and a short refine pass after (or instead of) generating
    strength: float = 1.0  # RESTYLE: the part of the denoising run on the video (the rest is the video itself)
    references: int = 0  # reference images denoised beside the clip (/ingredients, a swap's picture): a latent
    # frame each, so `frame_step` frames of work each
    inner: tuple[int, int] | None = None  # EXPAND: the video's width and height, centred in the larger frame

    @property
    def length(self) -> int:
        """Frames of the generated part of the clip, all segments joined."""
        return self.frames + (self.segments - 1) * (self.frames - self.overlap)

    @property
    def size(self) -> tuple[int, int]:
        """The clip's width and height as delivered."""
        return (self.width * 2, self.height * 2) if self.upscale else (self.width, self.height)

    @property
    def redrawn_steps(self) -> int:
        """The denoising steps that run: all of them, or for a restyle the `strength` part (as diffusers cuts)."""
        return self.steps if self.strength >= 1 else max(1, int(self.steps * self.strength))

    def passes(self, spec: ModelSpec, kind: JobKind) -> list[Pass]:
        """The model runs this plan makes: the segments, then the refine pass of an upscale."""
        steps = self.steps if spec.control else self.redrawn_steps  # a control video steers every step
        frames = self.frames + self.references * spec.frame_step
        runs = [Pass(self.width, self.height, frames, steps)] * self.segments
        if kind is JobKind.UPSCALE:
            runs = []
        if self.upscale:
            runs.append(Pass(self.width * 2, self.height * 2, self.length, refine_steps(spec)))
        return runs


def refine_steps(spec: ModelSpec) -> int:
    """Denoising steps of the refine pass after a x2 latent upscale."""
    return max(1, len(spec.upscale_timesteps) - 1) if spec.upscale_timesteps else UPSCALE_STEPS


def resolve(job: VideoJob, spec: ModelSpec, input_size: tuple[int, int] | None = None, source_frames: int = 0) -> Plan:
    """The plan for `job` on `spec`. `input_size` is the input image's (or the clip's frames') size;
    `source_frames` the length of the clip an EXTEND, UPSCALE, RESTYLE or POSE job starts from (RESTYLE and
    POSE: at the job's fps; POSE's `input_size` is its picture's)."""
    if not spec.takes(job.kind):
        what = {
            JobKind.EXTEND: _("`{model}` cannot continue a clip", model=spec.name),
            JobKind.UPSCALE: _("`{model}` cannot upscale a clip", model=spec.name),
        }
        raise PlanError(
            what.get(job.kind, _("`{model}` cannot make {kind} clips", model=spec.name, kind=job.kind.value))
        )
    if job.kind is JobKind.UPSCALE:
        return _upscale(job, spec, input_size, source_frames)
    frames = job.frames or spec.default_frames(job.kind)
    steps = job.steps or spec.steps
    for flag, value, low, high in (("-frames", frames, 2, spec.max_frames), ("-steps", steps, 1, spec.max_steps)):
        if not low <= value <= high:
            raise PlanError(
                _(
                    "`{flag}` must be {low}–{high} on {model}, got {value}",
                    flag=flag,
                    low=low,
                    high=high,
                    model=spec.name,
                    value=value,
                )
            )
    frames = min(spec.frame_count(frames), spec.max_frames)
    if job.kind in FROM_VIDEO:  # as much of the video as the model takes, in its counts
        frames = spec.frames_within(min(frames, source_frames))
        if frames < spec.frame_step + 1 or frames < 2:
            said = {"frames": source_frames, "fps": job.fps}
            short = {
                JobKind.RESTYLE: _("this video is too short to restyle ({frames} frames at {fps} fps)", **said),
                JobKind.EXPAND: _("this video is too short to expand ({frames} frames at {fps} fps)", **said),
                JobKind.POSE: _(
                    "this video is too short to move a character by ({frames} frames at {fps} fps)", **said
                ),
            }
            raise PlanError(short[job.kind])
    longest = spec.max_total_frames(job.fps)
    overlap = spec.extend_overlap
    if job.kind is JobKind.EXTEND:
        # The continuation re-renders the clip's last `overlap` frames; they are dropped at the join.
        if source_frames + spec.frame_step > longest:
            raise PlanError(
                _(
                    "this clip is as long as {model} makes them ({seconds} s at {fps} fps)",
                    model=spec.name,
                    seconds=f"{longest / job.fps:.3g}",
                    fps=job.fps,
                )
            )
        room = longest - source_frames + overlap
        frames = max(frames, overlap + spec.frame_step)  # at least some new frames
        frames = min(frames, spec.frames_within(room))
    segments = len(segments_of(job.prompt)) if spec.travels else 1
    if job.middle_images:
        _check_keyframes(spec, frames, len(job.middle_images) + 2, segments)
    aspect = job.aspect or (Aspect.nearest(*input_size) if input_size else Aspect.WIDE)
    width, height = aspect.size(min(spec.pixels, job.max_pixels or spec.pixels), spec.size_multiple)
    strength = (job.strength or spec.strength) if job.kind is JobKind.RESTYLE else 1.0
    overlap = overlap if segments > 1 else 0
    inner = _expanded(job.aspect, input_size, (width, height)) if job.kind is JobKind.EXPAND else None
    plan = Plan(
        aspect,
        width,
        height,
        frames,
        steps,
        job.fps,
        segments,
        overlap,
        job.upscale,
        strength,
        len(job.ingredients),
        inner,
    )
    if segments > 1 and (frames <= spec.extend_overlap or plan.length > longest):
        raise PlanError(
            _(
                "{segments} prompts of {frames} frames make {length} frames; {model} makes at most {longest} "
                "({seconds} s at {fps} fps): use fewer -frames or fewer prompts",
                segments=segments,
                frames=frames,
                length=plan.length,
                model=spec.name,
                longest=longest,
                seconds=f"{longest / job.fps:.3g}",
                fps=job.fps,
            )
        )
    return plan


def contained(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """`size` scaled to fit whole in `box`, both sides even (as H.264's 4:2:0 frames need) and at least 2."""
    scale = min(box[0] / size[0], box[1] / size[1])
    width, height = (min(side, max(2, round(given * scale / 2) * 2)) for given, side in zip(size, box, strict=True))
    return width, height


def _expanded(aspect: Aspect | None, size: tuple[int, int] | None, frame: tuple[int, int]) -> tuple[int, int]:
    """Where an expanded video sits: its size, whole within the new `frame`; refused if the frame adds nothing."""
    if aspect is None:
        raise PlanError(_("say which shape to expand the video to (`aspect`)"))
    if size is None:
        raise PlanError(_("there is no video to expand"))
    inner = contained(size, frame)
    if inner[0] * inner[1] > 0.97 * frame[0] * frame[1]:
        raise PlanError(_("this video is already {aspect}: pick another shape to expand it to", aspect=aspect.value))
    return inner


def _check_keyframes(spec: ModelSpec, frames: int, count: int, segments: int) -> None:
    """Pictures between the first and the last are spread over one clip: each needs frames of its own."""
    if segments > 1:
        raise PlanError(_("pictures between the first and the last take no prompt travel (` | `): one prompt"))
    if not spec.keyframes_fit(frames, count):
        least = (count - 1) * spec.frame_step + 1
        raise PlanError(
            _(
                "{count} pictures need at least {least} frames on {model}, got {frames}",
                count=count,
                least=least,
                model=spec.name,
                frames=frames,
            )
        )


def _upscale(job: VideoJob, spec: ModelSpec, input_size: tuple[int, int] | None, source_frames: int) -> Plan:
    if input_size is None or source_frames < 2:
        raise PlanError(_("there is no clip to upscale"))
    width, height = (side // spec.size_multiple * spec.size_multiple for side in input_size)
    if width * height > spec.pixels * 1.1:
        raise PlanError(
            _(
                "this clip is already {size}: {model} upscales smaller clips",
                size=f"{input_size[0]}x{input_size[1]}",
                model=spec.name,
            )
        )
    if min(width, height) < spec.size_multiple:
        raise PlanError(_("this clip is too small to upscale ({size})", size=f"{input_size[0]}x{input_size[1]}"))
    if job.max_pixels and 4 * width * height > job.max_pixels:
        raise PlanError(
            _("twice this clip's size ({size}) is above this server's limit", size=f"{width * 2}x{height * 2}")
        )
    frames = min(spec.max_total_frames(job.fps), source_frames)
    return Plan(Aspect.nearest(width, height), width, height, frames, refine_steps(spec), job.fps, upscale=True)


def memory_needed(spec: ModelSpec, plan: Plan, mode: str, kind: JobKind = JobKind.IMAGE_TO_VIDEO) -> float:
    """GPU memory (GB) a plan needs on a worker in `mode`: the registry's estimate for a native-size clip,
    its weights plus activations (`activation_share` of it) that grow with pixels x frames of the largest pass."""
    work = max(run.width * run.height * run.frames for run in plan.passes(spec, kind)) / (spec.pixels * spec.frames)
    share = spec.activation_share
    return spec.memory(mode) * (1 - share + share * work)


def unfit(
    spec: ModelSpec, plan: Plan, workers: list[tuple[float, str]], kind: JobKind = JobKind.IMAGE_TO_VIDEO
) -> Text | None:
    """Why no worker can fit the plan, or None. `workers` are (GPU memory in GB, memory mode) of the online
    workers serving the model; one without a GPU memory figure (CPU, dry run) fits anything."""
    if not workers or any(memory <= 0 or memory_needed(spec, plan, mode, kind) <= memory for memory, mode in workers):
        return None
    largest = max(memory for memory, _ in workers)
    needed = min(memory_needed(spec, plan, mode, kind) for _, mode in workers)
    width, height = plan.size
    return _(
        "`{model}` at {size}, {frames} frames needs about {needed} GB of GPU memory and the largest GPU online "
        "has {largest} GB; try a smaller size (-ar 1:1) or fewer -frames",
        model=spec.name,
        size=f"{width}x{height}",
        frames=plan.length,
        needed=f"{needed:.0f}",
        largest=f"{largest:.0f}",
    )
