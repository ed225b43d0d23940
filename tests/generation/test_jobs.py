from __future__ import annotations

import dataclasses

import msgpack
import pytest

from generation.jobs import (
    SCHEMA_VERSION,
    JobKind,
    JobSchemaError,
    OutputFormat,
    Stage,
    VideoJob,
    VideoResult,
    dumps,
    loads,
)
from generation.values import Aspect, Camera


def a_job(**changes: object) -> VideoJob:
    values: dict = dict(
        job_id="j1",
        kind=JobKind.IMAGE_TO_VIDEO,
        model="svd-xt",
        image=b"\x89PNG...",
        camera=Camera(pan_x=-1, pan_y=-1),
        aspect=Aspect.TALL,
        guidance=12.5,
        seed=7,
        output=OutputFormat.WEBM,
        user_id="42",
    )
    return VideoJob(**(values | changes))


def test_job_round_trips_through_msgpack_unchanged() -> None:
    job = a_job()
    assert loads(dumps(job), VideoJob) == job


def test_a_servers_block_list_crosses_to_the_worker_but_is_not_kept_with_the_request() -> None:
    job = a_job(blocked=("clown*", "/jugglers?/"))
    assert loads(dumps(job), VideoJob) == job
    assert "blocked" not in a_job().to_dict(), "left out unless set: older workers read the job as before"
    assert VideoJob.from_dict(job.request()).blocked == (), "read again from the server's settings for each job"
    with pytest.raises(JobSchemaError, match="blocked"):
        VideoJob.from_dict(job.to_dict() | {"blocked": ["clown", 3]})


@pytest.mark.parametrize("field", ["middle_images", "ingredients"])
def test_pictures_in_a_tuple_cross_to_the_worker_in_order_but_are_not_kept_with_the_request(field: str) -> None:
    job = a_job(end_image=b"last", **{field: (b"second", b"third")})
    assert getattr(loads(dumps(job), VideoJob), field) == (b"second", b"third")
    assert field not in a_job().to_dict(), "left out unless set: older workers read the job as before"
    assert getattr(VideoJob.from_dict(job.request()), field) == (), "files stay out of the ledger"
    for wrong in (["second", "third"], [b"second", 3], b"second"):
        with pytest.raises(JobSchemaError, match=field):
            VideoJob.from_dict(job.to_dict() | {field: wrong})


def test_result_round_trips_with_timings() -> None:
    result = VideoResult(
        job_id="j1",
        video=b"mp4",
        mime="video/mp4",
        width=1024,
        height=576,
        frames=25,
        fps=24,
        duration_s=1.04,
        seed=1,
        model="svd-xt",
        steps=25,
        timings={"total": 3.5},
    )
    assert loads(dumps(result), VideoResult) == result
    assert "read_as" not in result.to_dict(), "left out unless set: older bots read the result as before"
    translated = dataclasses.replace(result, read_as="a fox running in the snow")
    assert loads(dumps(translated), VideoResult) == translated


def test_dict_form_holds_only_plain_values() -> None:
    data = a_job().to_dict()
    assert data["schema"] == SCHEMA_VERSION
    assert data["kind"] == "image-to-video" and type(data["kind"]) is str
    assert data["camera"] == {"zoom": 0, "pan_x": -1, "pan_y": -1, "rotate": 0} and data["aspect"] == "9:16"
    plain = (str, int, float, bool, bytes, type(None))
    assert all(type(v) in plain or (type(v) is dict and all(type(x) is int for x in v.values())) for v in data.values())


@pytest.mark.parametrize("version", [None, 0, SCHEMA_VERSION + 1, "1"])
def test_unknown_or_old_schema_version_fails_clearly(version: object) -> None:
    data = a_job().to_dict() | {"schema": version}
    with pytest.raises(JobSchemaError, match="schema version"):
        VideoJob.from_dict(data)


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "teleport"},
        {"frames": "25"},
        {"frames": True},
        {"seed": 1.5},
        {"image": "not bytes"},
        {"evil": "field"},
        {"blocked": "clown"},
        {"type": "video_result"},
    ],
)
def test_malformed_fields_are_rejected(change: dict) -> None:
    with pytest.raises(JobSchemaError):
        VideoJob.from_dict(a_job().to_dict() | change)


def test_missing_required_field_is_rejected() -> None:
    data = a_job().to_dict()
    del data["model"]
    with pytest.raises(JobSchemaError, match="model"):
        VideoJob.from_dict(data)


@pytest.mark.parametrize("raw", [b"", b"\xc1", msgpack.packb([1, 2]), msgpack.packb({1: 2}), b"cos\nsystem\n"])
def test_garbage_payloads_raise_schema_error_only(raw: bytes) -> None:
    with pytest.raises(JobSchemaError):
        loads(raw, VideoJob)


def test_stages_are_the_documented_ones() -> None:
    assert [s.value for s in Stage] == ["queued", "loading", "denoising", "decoding", "encoding", "done"]
