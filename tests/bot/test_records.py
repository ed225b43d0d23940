"""A ledger record gives back the typed request it was made from, also one written by motionbot 0.1."""

from __future__ import annotations

import pytest

from bot.i18n import Catalogs
from bot.records import named, request_of
from generation.jobs import JobKind, JobSchemaError, VideoJob
from generation.values import Aspect, Camera
from storage.jobs import JobRecord


def record(options: dict[str, object]) -> JobRecord:
    return JobRecord("j" * 32, 1, 2, 3, "image-to-video", "svd-xt", options=options)


def test_the_stored_request_comes_back_whole_without_its_input() -> None:
    job = VideoJob(
        "j" * 32,
        JobKind.IMAGE_TO_VIDEO,
        "svd",
        "a cat",
        image=b"png",
        aspect=Aspect.SQUARE,
        frames=6,
        steps=3,
        camera=Camera(zoom=-1),
        seed=5,
        motion=3,
    )
    back = request_of(record({"request": job.request(), "parent": None}))
    assert back == VideoJob(**{**job.__dict__, "image": None})


def test_a_record_from_before_the_typed_request_is_read() -> None:
    old = {
        "prompt": "a cat",
        "camera": "pan up left",
        "aspect": "9:16",
        "motion": 0,
        "fps": 12,
        "frames": 8,
        "steps": None,
        "seed": 7,
        "model": "svd-xt",
        "kind": "image-to-video",
        "parent": None,
        "smooth": False,
    }
    job = request_of(record(old))
    assert (job.camera, job.aspect, job.motion, job.fps, job.frames, job.seed) == (
        Camera(pan_x=-1, pan_y=-1),
        Aspect.TALL,
        0,
        12,
        8,
        7,
    )


def test_unreadable_stored_options_are_a_schema_error() -> None:
    with pytest.raises(JobSchemaError):
        request_of(record({"aspect": "7:3"}))


def test_a_job_without_a_prompt_is_named_by_what_was_done_in_the_users_language() -> None:
    catalogs = Catalogs.load()
    picture = VideoJob("j" * 32, JobKind.IMAGE_TO_VIDEO, "svd", "", image=b"png")
    smoothed = VideoJob("j" * 32, JobKind.SMOOTH, "svd", "", video=b"mp4")
    assert named(record({"request": picture.request()}), catalogs.voice(None)) == "a picture, animated"
    assert named(record({"request": picture.request()}), catalogs.voice("ja")) == "アニメ化した画像"
    smooth = JobRecord("j" * 32, 1, 2, 3, "smooth", "svd", options={"request": smoothed.request()})
    assert named(smooth, catalogs.voice(None)) == "a clip, smoothed"
    prompted = VideoJob("j" * 32, JobKind.IMAGE_TO_VIDEO, "svd", "a `cat`", image=b"png")
    assert named(record({"request": prompted.request()}), catalogs.voice("ja")) == "`a 'cat'`"
