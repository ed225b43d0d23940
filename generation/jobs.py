"""The job contract between the bot and the GPU workers (torch-free).

A `VideoJob` says what to render; a `VideoResult` is what came out. Both are frozen dataclasses of
plain values that round-trip through plain dicts (msgpack on the wire, never pickle). A payload from
Redis is untrusted: `from_dict` checks the schema version, every field name and every field type, and
raises `JobSchemaError` for anything else.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgpack

from generation.values import Aspect, Camera

__all__ = [
    "DEFAULT_BYTE_BUDGET",
    "FROM_VIDEO",
    "MAX_HIDDEN_TEXT",
    "MAX_INGREDIENTS",
    "MAX_MIDDLE_IMAGES",
    "SCHEMA_VERSION",
    "Content",
    "Fit",
    "JobKind",
    "JobSchemaError",
    "OutputFormat",
    "Stage",
    "VideoJob",
    "VideoResult",
    "dumps",
    "loads",
]

# 2: typed camera and aspect, EXTEND; 3: end image, UPSCALE, -upscale, content; 4: RESTYLE, strength, style,
# the motion brush (mask, region), camera lock and orbit, POSE
SCHEMA_VERSION = 4
_READS = (2, 3, 4)  # an older payload is a newer one without the new fields (ledger rows keep them)
DEFAULT_BYTE_BUDGET = 10 * 1024 * 1024  # Discord's safe per-file floor
MAX_HIDDEN_TEXT = 40  # characters an illusion hides: beyond that, no word is large enough to be seen
MAX_MIDDLE_IMAGES = 3  # pictures a clip passes through between its first and its last (5 keyframes in all)
MAX_INGREDIENTS = 3  # pictures of people, things or places one /ingredients clip takes in


class JobSchemaError(ValueError):
    """A payload is not a job or result this version understands."""


class JobKind(enum.StrEnum):
    IMAGE_TO_VIDEO = "image-to-video"
    TEXT_TO_VIDEO = "text-to-video"
    EXTEND = "extend"  # continue an existing clip from its end (the Extend button)
    SMOOTH = "smooth"  # frame-interpolate an existing clip (the Smooth button)
    GIF = "gif"  # an existing clip as a looping GIF, frame for frame (the GIF button): no model runs
    UPSCALE = "upscale"  # twice the width and height of an existing clip (the Upscale button)
    RESTYLE = "restyle"  # a user's video redrawn to a prompt (video-to-video, /restyle)
    POSE = "pose"  # a character picture moved as the person in a video moves (/animate … pose:)
    ILLUSION = "illusion"  # a clip from words with words or a shape hidden in it (/illusion): `image` or `hidden_text`
    INGREDIENTS = "ingredients"  # a clip from words with the people, things or places of `ingredients` in it
    EXPAND = "expand"  # a user's video on a wider or taller frame (`aspect`), what was outside it drawn in


# Kinds made from a user's video: the bot re-encodes it at the size and rate the model renders, the worker checks
# its frames like pictures, and as much of it as the model takes is rendered.
FROM_VIDEO = (JobKind.RESTYLE, JobKind.POSE, JobKind.EXPAND)


class OutputFormat(enum.StrEnum):
    MP4 = "mp4"
    GIF = "gif"
    WEBM = "webm"


class Stage(enum.StrEnum):
    """Where a job is; workers publish it with a step count while denoising."""

    QUEUED = "queued"
    LOADING = "loading"
    DENOISING = "denoising"
    DECODING = "decoding"
    ENCODING = "encoding"
    DONE = "done"


class Content(enum.StrEnum):
    """What the worker's image check does for this job, from the server's policy and the channel."""

    REFUSE = "refuse"  # a flagged input or clip ends the job (refunded)
    SPOILER = "spoiler"  # allowed here (an age-restricted channel): a flagged clip is posted as a spoiler
    UNCHECKED = "unchecked"  # the server's policy is off


class Fit(enum.StrEnum):
    CROP = "crop"  # centre crop to the aspect (default)
    PAD = "pad"  # keep the whole image, pad with a blurred copy of itself


@dataclass(frozen=True)
class VideoJob:
    job_id: str
    kind: JobKind
    model: str
    prompt: str = ""
    negative_prompt: str = ""
    image: bytes | None = None  # input image for image-to-video (fetched by the bot, never a URL); ILLUSION: the shape
    end_image: bytes | None = None  # the last frame too (/morph, `end`): keyframe models only
    mask: bytes | None = None  # the motion brush: a picture, white moves and black stays (`masks` models)
    region: str = ""  # the motion brush by words: the worker segments this part of the image (`-region`)
    video: bytes | None = (
        None  # input clip: EXTEND, SMOOTH, UPSCALE; RESTYLE, EXPAND: the user's video as the bot re-encoded it
    )
    aspect: Aspect | None = None  # None = the input image's nearest aspect, or 16:9 for text
    fit: Fit = Fit.CROP
    frames: int | None = None  # None = the model's default
    fps: int = 24
    motion: int = 1  # 0..4
    camera: Camera | None = None
    guidance: float | None = None  # Pika's 8..24 scale; None = the model's default
    seed: int | None = None  # None = the worker picks one and reports it
    steps: int | None = None  # None = the model's default
    smooth: bool = False
    upscale: bool = False  # render, then x2 with the model's latent upsampler (`-upscale`)
    fast: bool = False  # the draft tier (`-fast`): cached denoising steps, quicker, not the same quality
    loop: bool = False  # `-loop`: ends on the picture it starts on, that last frame dropped (keyframe models)
    strength: float | None = None  # RESTYLE: how much of the video is redrawn, 0.1..1; ILLUSION: how plainly the
    # hidden words or shape show; None = the model's default
    style: str | None = None  # a preset of generation/styles.toml (`-style anime`); applied by the worker
    effect: str | None = None  # one of generation/effects.toml (`-effect melt`); applied by the worker
    hidden_text: str = ""  # ILLUSION: the words hidden in the clip (drawn by the worker), when no `image` is
    middle_images: tuple[bytes, ...] = ()  # pictures the clip passes through between `image` and `end_image`,
    # in order, spread evenly (/morph `second` …; `middle_keyframes` models only)
    ingredients: tuple[bytes, ...] = ()  # INGREDIENTS: pictures of who or what the clip shows (VACE references)
    content: Content = Content.REFUSE
    blocked: tuple[str, ...] = ()  # the server's own block list: a prompt the worker translates is checked too
    output: OutputFormat = OutputFormat.MP4
    byte_budget: int = DEFAULT_BYTE_BUDGET
    max_pixels: int | None = None  # cap on width x height (per-server limit)
    user_id: str = ""  # who asked; used for queue fairness only
    guild_id: str = ""  # the server it was asked in ("0": direct messages); queue fairness only

    @property
    def seamless(self) -> bool:
        """A loop made here: its picture is its first and its last keyframe, and that last frame (the first
        again) is dropped, so it plays one frame fewer than it renders. (A Smooth or Upscale of a loop keeps
        `loop` for its seam, but renders no new end.)"""
        return self.loop and self.kind is JobKind.IMAGE_TO_VIDEO

    def to_dict(self) -> dict[str, Any]:
        data = _to_dict(self, "video_job")
        # Sent only when set: an older worker reads every other job.
        for late in ("fast", "loop", "effect", "blocked", "hidden_text", "middle_images", "ingredients"):
            if not data[late]:
                del data[late]
        return data

    def request(self) -> dict[str, Any]:
        """The job without its input files (nor the server's block list, read again for each job): what the
        ledger keeps to echo, Reroll, Remix and Extend it."""
        return dataclasses.replace(
            self, image=None, end_image=None, middle_images=(), ingredients=(), mask=None, video=None, blocked=()
        ).to_dict()

    @classmethod
    def from_dict(cls, data: object) -> VideoJob:
        return _from_dict(cls, data, "video_job")


@dataclass(frozen=True)
class VideoResult:
    job_id: str
    video: bytes
    mime: str
    width: int
    height: int
    frames: int
    fps: int
    duration_s: float
    seed: int
    model: str
    steps: int
    source_frames: int = 0  # EXTEND: the frames of the clip it continued (the first ones of this clip)
    flagged: bool = False  # the image check flagged it where the job allowed it (Content.SPOILER)
    checks: dict[str, float] = field(default_factory=dict)  # "input" / "output" -> score over the threshold
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    read_as: str = ""  # the prompt in English, when the model could not read the language it was written in

    def to_dict(self) -> dict[str, Any]:
        data = _to_dict(self, "video_result")
        if not self.read_as:  # sent only when set: a bot from before translation still reads every other result
            del data["read_as"]
        return data

    @classmethod
    def from_dict(cls, data: object) -> VideoResult:
        return _from_dict(cls, data, "video_result")


def dumps(obj: VideoJob | VideoResult) -> bytes:
    """Serialise a job or result to msgpack bytes."""
    return msgpack.packb(obj.to_dict(), use_bin_type=True)


def loads(raw: bytes, cls: type[_T]) -> _T:
    """Parse msgpack bytes into `cls`, raising JobSchemaError for anything malformed."""
    try:
        data = msgpack.unpackb(raw, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises several unrelated types for garbage
        raise JobSchemaError(f"payload is not valid msgpack: {exc}") from None
    return cls.from_dict(data)


_T = TypeVar("_T", VideoJob, VideoResult)


def _to_dict(obj: Any, type_name: str) -> dict[str, Any]:
    out: dict[str, Any] = {"schema": SCHEMA_VERSION, "type": type_name}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, enum.Enum):
            value = value.value
        elif isinstance(value, Camera):
            value = value.to_dict()
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def _from_dict(cls: type[_T], data: object, type_name: str) -> _T:
    if not isinstance(data, dict):
        raise JobSchemaError(f"{type_name} payload must be a map, got {type(data).__name__}")
    payload = dict(data)
    version = payload.pop("schema", None)
    if version not in _READS:
        raise JobSchemaError(
            f"{type_name} schema version {version!r} is not supported (this code reads version "
            f"{SCHEMA_VERSION}); run the same motionbot version on the bot and the workers"
        )
    if payload.pop("type", None) != type_name:
        raise JobSchemaError(f"payload is not a {type_name}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(payload) - known
    if unknown:
        raise JobSchemaError(f"{type_name} has unknown fields: {', '.join(sorted(map(str, unknown)))}")
    values = {name: _coerce(name, hints[name], value) for name, value in payload.items()}
    try:
        return cls(**values)
    except TypeError as exc:  # a required field is missing
        raise JobSchemaError(f"{type_name}: {exc}") from None


def _coerce(name: str, hint: Any, value: object) -> Any:
    """Check one field's value against its annotation; convert enums from their string value."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None and type(None) in options:
        return None
    for option in options:
        origin = typing.get_origin(option) or option
        if isinstance(origin, type) and issubclass(origin, enum.Enum):
            try:
                return origin(value)
            except ValueError:
                continue
        if origin is Camera and isinstance(value, dict):
            try:
                return Camera.from_dict(value)
            except (TypeError, ValueError):
                continue
        if origin is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if origin is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if origin is dict and isinstance(value, dict):
            if all(isinstance(k, str) and isinstance(v, int | float) for k, v in value.items()):
                return {k: float(v) for k, v in value.items()}
            continue
        if origin in (str, bytes, bool) and type(value) is origin:
            return value
        if origin is tuple and isinstance(value, list | tuple):  # tuple[str, ...] or tuple[bytes, ...]
            item_type = typing.get_args(option)[0]
            if all(type(item) is item_type for item in value):
                return tuple(value)
    raise JobSchemaError(f"field {name!r} has a value of the wrong type: {type(value).__name__}")
