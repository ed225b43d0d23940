"""Job options from typed slash-command values and from Pika-style flags in prompt text (torch-free).

    "a fox in the snow -motion 3 -camera pan up left -neg "blurry, text" -ar 9:16 -seed 42"

`parse_flags` returns the options and the prompt that is left; `from_command` merges typed values over
flags (typed wins); `build_job` checks them against a model and makes the `VideoJob`. Every problem is
an `OptionError` naming the flag, the value and the allowed range. Parsing is total: any string gives
options or an OptionError, never another exception.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from generation.jobs import DEFAULT_BYTE_BUDGET, Fit, JobKind, OutputFormat, VideoJob
from generation.models import ASPECTS, KNOWN_MODELS, Input, ModelSpec

__all__ = [
    "FLAGS",
    "Camera",
    "OptionError",
    "Options",
    "build_job",
    "from_command",
    "parse_camera",
    "parse_flags",
]

MAX_PROMPT = 1000
MAX_SEED = 2**32 - 1
CAMERA_HELP = "zoom in|out, pan left|right|up|down (two may combine: pan up left), rotate cw|ccw"


class OptionError(ValueError):
    """An option a user gave is unknown or out of range; the message is safe to show them."""

    def __init__(self, flag: str, value: object, allowed: str, message: str | None = None):
        self.flag, self.value, self.allowed = flag, value, allowed
        shown = str(value) if len(str(value)) <= 40 else str(value)[:39] + "…"
        super().__init__(message or f"`{flag}` must be {allowed}, got `{shown}`")


@dataclass(frozen=True)
class Camera:
    """A camera move. zoom: +1 in / -1 out; pan_x: -1 left / +1 right; pan_y: -1 up / +1 down;
    rotate: +1 clockwise / -1 counter-clockwise. All zero means a static camera."""

    zoom: int = 0
    pan_x: int = 0
    pan_y: int = 0
    rotate: int = 0

    def __bool__(self) -> bool:
        return any((self.zoom, self.pan_x, self.pan_y, self.rotate))

    def __str__(self) -> str:
        if self.zoom:
            return "zoom in" if self.zoom > 0 else "zoom out"
        if self.rotate:
            return "rotate cw" if self.rotate > 0 else "rotate ccw"
        if self.pan_x or self.pan_y:
            words = [{-1: "up", 1: "down"}.get(self.pan_y, ""), {-1: "left", 1: "right"}.get(self.pan_x, "")]
            return "pan " + " ".join(word for word in words if word)
        return "none"


_DIRECTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
_ROTATIONS = {
    "clockwise": 1, "cw": 1,
    "counterclockwise": -1, "ccw": -1, "anticlockwise": -1, "acw": -1,
    "counter-clockwise": -1, "anti-clockwise": -1,
}  # fmt: skip


def _camera_prefix(words: list[str]) -> tuple[Camera | None, int]:
    """Read one camera move from the start of `words`; return it and how many words it used."""
    w = [word.lower() for word in words[:3]]
    if not w:
        return None, 0
    if w[0] in ("none", "static", "still"):
        return Camera(), 1
    if w[0] == "zoom" and len(w) > 1 and w[1] in ("in", "out"):
        return Camera(zoom=1 if w[1] == "in" else -1), 2
    if w[0] in ("rotate", "rotation", "roll", "rolling") and len(w) > 1:
        if w[1] in _ROTATIONS:
            return Camera(rotate=_ROTATIONS[w[1]]), 2
        if len(w) > 2 and w[1] in ("counter", "anti") and w[2] == "clockwise":
            return Camera(rotate=-1), 3
    if w[0] in ("pan", "tilt") and len(w) > 1 and w[1] in _DIRECTIONS:
        x, y = _DIRECTIONS[w[1]]
        if len(w) > 2 and w[2] in _DIRECTIONS:
            x2, y2 = _DIRECTIONS[w[2]]
            if (x and x2) or (y and y2):  # left+right or up+down cannot combine
                return None, 0
            return Camera(pan_x=x + x2, pan_y=y + y2), 3
        return Camera(pan_x=x, pan_y=y), 2
    return None, 0


def parse_camera(text: str, flag: str = "-camera") -> Camera:
    """Parse a whole camera value ("pan up left", "rotate ccw", "zoom-in")."""
    words = text.replace("-", " ").replace("_", " ").split()
    camera, used = _camera_prefix(words)
    if camera is None or used != len(words):
        raise OptionError(flag, text, CAMERA_HELP)
    return camera


@dataclass(frozen=True)
class Options:
    """What a user asked for; None means "not given" (the model's default applies)."""

    prompt: str = ""
    negative_prompt: str | None = None
    motion: int | None = None
    camera: Camera | None = None
    fps: int | None = None
    guidance: float | None = None
    aspect: str | None = None
    seed: int | None = None
    model: str | None = None
    frames: int | None = None
    duration: float | None = None
    steps: int | None = None

    def over(self, other: Options) -> Options:
        """These options, with `other`'s values wherever these are not given."""
        merged = {
            f.name: getattr(self, f.name) if getattr(self, f.name) is not None else getattr(other, f.name)
            for f in dataclasses.fields(self)
        }
        merged["prompt"] = self.prompt or other.prompt
        return Options(**merged)


def _int_in(low: int, high: int) -> Callable[[str, object], int]:
    def check(flag: str, raw: object) -> int:
        text = str(raw).strip()
        if isinstance(raw, bool) or not re.fullmatch(r"[+-]?[0-9]{1,12}", text):
            raise OptionError(flag, raw, f"a whole number from {low} to {high}")
        value = int(text)
        if not low <= value <= high:
            raise OptionError(flag, raw, f"{low}–{high}")
        return value

    return check


def _float_in(low: float, high: float) -> Callable[[str, object], float]:
    def check(flag: str, raw: object) -> float:
        text = str(raw).strip()
        if isinstance(raw, bool) or not re.fullmatch(r"[+-]?([0-9]{1,9}(\.[0-9]{0,6})?|\.[0-9]{1,6})", text):
            raise OptionError(flag, raw, f"a number from {low:g} to {high:g}")
        value = float(text)
        if not low <= value <= high:
            raise OptionError(flag, raw, f"{low:g}–{high:g}")
        return value

    return check


def _aspect(flag: str, raw: object) -> str:
    text = re.sub(r"\s+", "", str(raw)).replace("x", ":").replace("/", ":")
    if text not in ASPECTS:
        raise OptionError(flag, raw, "one of " + ", ".join(ASPECTS))
    return text


def _model(flag: str, raw: object) -> str:
    text = str(raw).strip().lower()
    if text not in KNOWN_MODELS:
        raise OptionError(flag, raw, "one of " + ", ".join(KNOWN_MODELS))
    return text


def _text(limit: int) -> Callable[[str, object], str]:
    def check(flag: str, raw: object) -> str:
        text = " ".join(str(raw).split())
        if len(text) > limit:
            raise OptionError(flag, f"{len(text)} characters", f"at most {limit} characters")
        return text

    return check


def _camera(flag: str, raw: object) -> Camera:
    return raw if isinstance(raw, Camera) else parse_camera(str(raw), flag)


# Field -> validator. The flag names users type map onto these fields in FLAGS.
_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "prompt": _text(MAX_PROMPT),
    "negative_prompt": _text(500),
    "motion": _int_in(0, 4),
    "camera": _camera,
    "fps": _int_in(8, 24),
    "guidance": _float_in(8, 24),
    "aspect": _aspect,
    "seed": _int_in(0, MAX_SEED),
    "model": _model,
    "frames": _int_in(2, 128),
    "duration": _float_in(0.1, 16),
    "steps": _int_in(1, 100),
}

FLAGS: dict[str, str] = {
    "motion": "motion",
    "camera": "camera",
    "fps": "fps",
    "gs": "guidance",
    "guidance": "guidance",
    "neg": "negative_prompt",
    "negative": "negative_prompt",
    "ar": "aspect",
    "aspect": "aspect",
    "seed": "seed",
    "model": "model",
    "frames": "frames",
    "duration": "duration",
    "steps": "steps",
}
_PRIMARY_FLAG = {"guidance": "gs", "negative_prompt": "neg", "aspect": "ar"}

# A quoted value ("…", “…”, '…') that starts and ends at a word boundary, or any other run of non-spaces.
_TOKEN = re.compile(r"""(?<!\S)(?:"([^"]*)"|“([^”]*)”|'([^']*)')(?!\S)|\S+""")
_FLAG = re.compile(r"(?:--?|—|–)([A-Za-z][A-Za-z_]*)")  # phones turn "--" into a dash


def _flag_name(field: str) -> str:
    return "-" + _PRIMARY_FLAG.get(field, field)


def parse_flags(text: str) -> Options:
    """Split Pika-style flags out of `text`; the words that are not flags become the prompt."""
    tokens: list[tuple[str, bool]] = []  # (text, was quoted)
    for match in _TOKEN.finditer(text):
        quoted = next((group for group in match.groups() if group is not None), None)
        tokens.append((quoted, True) if quoted is not None else (match.group(0), False))

    values: dict[str, Any] = {}
    prompt: list[str] = []
    i = 0
    while i < len(tokens):
        token, quoted = tokens[i]
        flag = None if quoted else _FLAG.fullmatch(token)
        if flag is None:
            prompt.append(f'"{token}"' if quoted else token)
            i += 1
            continue
        name = flag.group(1).lower()
        if name not in FLAGS:
            known = ", ".join(f"-{known}" for known in FLAGS)
            raise OptionError(token, token, "", f"unknown flag `{token[:40]}`; known flags: {known}")
        field = FLAGS[name]
        shown = "-" + name
        if field in values:
            raise OptionError(shown, token, "", f"`{shown}` is given twice")
        i += 1
        rest = tokens[i:]
        if field == "camera" and rest and not rest[0][1]:
            words, owner = [], []  # camera words, split at hyphens ("zoom-in"), and the token each came from
            for index, (word, was_quoted) in enumerate(rest[:3]):
                if was_quoted or _FLAG.fullmatch(word):
                    break
                parts = [part for part in word.replace("_", "-").split("-") if part]
                words += parts
                owner += [index] * len(parts)
            camera, used = _camera_prefix(words)
            if camera is None or (used < len(words) and owner[used] == owner[used - 1]):
                raise OptionError(shown, " ".join(words) or "(nothing)", CAMERA_HELP)
            values[field], i = camera, i + owner[used - 1] + 1
            following = [part for word, was_quoted in tokens[i:i + 3] if not was_quoted
                         for part in word.replace("_", "-").split("-") if part]  # fmt: skip
            if camera and following and _camera_prefix(following)[0]:  # "zoom in pan left": Pika takes one
                raise OptionError(shown, " ".join(words + following), "",
                                  f"`{shown}` takes one move at a time: zoom, pan or rotate "
                                  "(a pan may combine two directions: `pan up left`)")  # fmt: skip
            continue
        if field == "negative_prompt" and rest and not rest[0][1]:
            # Unquoted: the negative prompt runs to the next flag.
            words = []
            while i < len(tokens) and (tokens[i][1] or not _FLAG.fullmatch(tokens[i][0])):
                words.append(tokens[i][0])
                i += 1
            values[field] = _CHECKS[field](shown, " ".join(words))
            continue
        if not rest or (not rest[0][1] and _FLAG.fullmatch(rest[0][0])):
            raise OptionError(shown, "(nothing)", "", f"`{shown}` needs a value")
        values[field] = _CHECKS[field](shown, rest[0][0])
        i += 1
    return Options(prompt=_CHECKS["prompt"]("prompt", " ".join(prompt)), **values)


def from_command(text: str = "", **typed: object) -> Options:
    """Options from a command: Pika flags inside `text`, overridden by typed values (None = not given)."""
    given = {name: value for name, value in typed.items() if value is not None}
    unknown = set(given) - set(_CHECKS) - {"prompt"}
    if unknown:
        raise TypeError(f"unknown options: {sorted(unknown)}")
    checked = {name: _CHECKS[name](_flag_name(name), value) for name, value in given.items()}
    return Options(**checked).over(parse_flags(text))


def build_job(
    options: Options,
    *,
    job_id: str,
    kind: JobKind,
    models: Mapping[str, ModelSpec],
    default_model: str,
    image: bytes | None = None,
    user_id: str = "",
    smooth: bool = False,
    output: OutputFormat = OutputFormat.MP4,
    byte_budget: int = DEFAULT_BYTE_BUDGET,
    max_pixels: int | None = None,
    fit: Fit = Fit.CROP,
) -> VideoJob:
    """Check options against the chosen model and make the job."""
    name = options.model or default_model
    spec = models.get(name)
    if spec is None:
        raise OptionError("-model", name, "one of " + ", ".join(models) if models else "an enabled model")
    wants = Input.IMAGE if kind is JobKind.IMAGE_TO_VIDEO else Input.TEXT
    if spec.input is not wants:
        usable = ", ".join(n for n, s in models.items() if s.input is wants) or "none enabled"
        raise OptionError("-model", name, f"a model for {wants.value} input ({usable})")
    if kind is JobKind.TEXT_TO_VIDEO and not options.prompt:
        raise OptionError("prompt", "(empty)", "", "a prompt is needed to make a video from text")
    fps = options.fps or 24
    frames = options.frames
    if options.duration is not None:
        if frames is not None:
            raise OptionError("-duration", options.duration, "", "give `-frames` or `-duration`, not both")
        frames = max(2, round(options.duration * fps))
        if frames > spec.max_frames:
            longest = spec.max_frames / fps
            raise OptionError("-duration", options.duration, f"at most {longest:.2g} s at {fps} fps on {name}")
    if frames is not None and not 2 <= frames <= spec.max_frames:
        raise OptionError("-frames", frames, f"2–{spec.max_frames} on {name}")
    if options.steps is not None and options.steps > spec.max_steps:
        raise OptionError("-steps", options.steps, f"1–{spec.max_steps} on {name}")
    return VideoJob(
        job_id=job_id,
        kind=kind,
        model=name,
        prompt=options.prompt,
        negative_prompt=options.negative_prompt or "",
        image=image,
        aspect=options.aspect,
        fit=fit,
        frames=frames,
        fps=fps,
        motion=1 if options.motion is None else options.motion,
        camera=str(options.camera) if options.camera else None,
        guidance=options.guidance,
        seed=options.seed,
        steps=options.steps,
        smooth=smooth,
        output=output,
        byte_budget=byte_budget,
        max_pixels=max_pixels,
        user_id=user_id,
    )
