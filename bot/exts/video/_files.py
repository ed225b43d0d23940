"""A request's input files: as downloaded (the worker gets them in the job, never a URL), and as kept in
SQLite so that Reroll, Remix and Try again can run the job again without another upload."""

from __future__ import annotations

from dataclasses import dataclass

from bot.services import Services
from generation.jobs import MAX_INGREDIENTS, MAX_MIDDLE_IMAGES, JobKind, VideoJob
from storage.inputs import Inputs

__all__ = ["NO_FILES", "Files", "keep", "kept", "most_keyframes"]

# The input slots of a job's last-frame picture, its mask and its pose video; the pictures between its first
# and its last are "middle1", "middle2" …, an /ingredients clip's "ingredient1" … Its picture (or the clip it
# starts from) has the job's own slot.
END, MASK, POSE, MIDDLE, INGREDIENT = "end", "mask", "pose", "middle", "ingredient"
_FROM_CLIP = (JobKind.EXTEND, JobKind.UPSCALE, JobKind.RESTYLE, JobKind.EXPAND)  # input: a clip, kept as such


@dataclass(frozen=True)
class Files:
    """A request's input files as downloaded."""

    image: bytes | None = None  # the picture to animate
    end_image: bytes | None = None  # the picture to end on (keyframe models)
    mask: bytes | None = None  # the motion brush: white moves, black stays
    video: bytes | None = None  # the clip to extend, smooth or upscale, or the video to restyle
    middle: tuple[bytes, ...] = ()  # the pictures the clip passes through between `image` and `end_image`
    ingredients: tuple[bytes, ...] = ()  # /ingredients: pictures of who or what the clip shows

    @classmethod
    def keyframes(cls, pictures: list[bytes], mask: bytes | None = None) -> Files:
        """Pictures in the order the clip shows them: the first, those it passes through, the last."""
        last = pictures[-1] if len(pictures) > 1 else None
        return cls(image=pictures[0], end_image=last, middle=tuple(pictures[1:-1]), mask=mask)

    @property
    def pictures(self) -> list[bytes]:
        """The pictures among them, each checked whole before the job is queued."""
        given = (self.image, *self.middle, self.end_image, self.mask, *self.ingredients)
        return [picture for picture in given if picture is not None]


NO_FILES = Files()  # a request from words alone


async def most_keyframes(services: Services, space: int) -> int:
    """How many of a message's pictures one clip can go through, first to last, on the models `space` (a
    server, or a user's DMs) enables: 1 without a keyframe model, 2 with one that pins the last frame too, up to
    5 with one that pins frames between."""
    settings = await services.guilds.get(space)
    enabled = [spec for name, spec in services.models.items() if settings.allows_model(name)]
    return 1 + max((1 + spec.middle_keyframes for spec in enabled if spec.keyframes), default=0)


async def keep(inputs: Inputs, job: VideoJob, files: Files, guild_id: int, user_id: int) -> None:
    """Keep what Reroll and Remix run again: the picture (or the clip), and each other file in its slot."""
    if files.image is not None or job.kind in _FROM_CLIP:
        await inputs.put(job.job_id, files.image if files.image is not None else job.video or b"", guild_id, user_id)
    pose = job.video if job.kind is JobKind.POSE else None
    numbered = [(f"{MIDDLE}{n}", picture) for n, picture in enumerate(files.middle, start=1)]
    numbered += [(f"{INGREDIENT}{n}", picture) for n, picture in enumerate(files.ingredients, start=1)]
    for slot, extra in ((END, files.end_image), (MASK, files.mask), (POSE, pose), *numbered):
        if extra is not None:
            await inputs.put(job.job_id, extra, guild_id, user_id, slot=slot)


async def kept(inputs: Inputs, job_id: str) -> Files:
    """The files kept for a job: its input (a picture or a clip, as `image`), its last-frame picture and those
    before it, its mask, its pose video and its ingredients (None or none where nothing is kept)."""
    end, mask = await inputs.get(job_id, slot=END), await inputs.get(job_id, slot=MASK)
    pose = await inputs.get(job_id, slot=POSE)
    middle = await _numbered(inputs, job_id, MIDDLE, MAX_MIDDLE_IMAGES)
    ingredients = await _numbered(inputs, job_id, INGREDIENT, MAX_INGREDIENTS)
    image = await inputs.get(job_id)
    return Files(image=image, end_image=end, mask=mask, video=pose, middle=middle, ingredients=ingredients)


async def _numbered(inputs: Inputs, job_id: str, slot: str, most: int) -> tuple[bytes, ...]:
    """The files kept in `slot`1, `slot`2 … in order."""
    found = []
    for n in range(1, most + 1):
        if (picture := await inputs.get(job_id, slot=f"{slot}{n}")) is None:
            break
        found.append(picture)
    return tuple(found)
