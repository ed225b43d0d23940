"""Pose-driven animation on tiny models: ViTPose reads the person in a video, Wan-Animate moves a character
the same way; loaded from disk by the production loader, against plain diffusers on the same pose inputs."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
import torch
from diffusers import WanAnimatePipeline
from PIL import Image

from generation.encode import decode_frames, encode
from generation.engine import Engine, JobRejected
from generation.jobs import JobKind, OutputFormat, VideoJob
from generation.pipelines.wan import WanRunner
from generation.progress import Reporter
from generation.runtime import Runtime, to_uint8
from generation.settings import GenerationSettings
from generation.values import Aspect


def png(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


CHARACTER = png(Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)))


def dancer(seed: int, frames: int = 9) -> bytes:
    base = np.random.default_rng(seed).integers(0, 256, (64, 80, 3), dtype=np.uint8)
    return encode(np.stack([np.roll(base, i, 1)[:, :64] for i in range(frames)]), 24, OutputFormat.MP4, 10 << 20).data


@pytest.fixture(scope="module")
def engine(settings: GenerationSettings) -> Engine:
    return Engine({"wan-animate": settings.registry()["wan-animate"]}, Runtime.from_settings(settings))


def job(**changes: object) -> VideoJob:
    base = VideoJob("p", JobKind.POSE, "wan-animate", image=CHARACTER, video=dancer(1), seed=2, aspect=Aspect.SQUARE)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def frames(engine: Engine, j: VideoJob) -> np.ndarray:
    made = engine.generate(j).frames
    assert made is not None
    return made.astype(np.int16)


def test_another_pose_video_moves_the_character_otherwise(engine: Engine) -> None:
    one = frames(engine, job())
    assert one.shape == (9, 64, 64, 3)
    assert np.abs(one - frames(engine, job(video=dancer(2)))).mean() > 2, "another pose video: other frames"
    # The character reaches the tiny model through a reference frame and two small layers: a small change, but
    # a sure one (the same inputs give the very same frames).
    assert np.abs(one - frames(engine, job(image=png(Image.new("RGB", (64, 64), "red"))))).mean() > 0.2
    assert np.array_equal(one, frames(engine, job())), "the same inputs: the same clip"


def test_the_pose_is_drawn_from_keypoints_and_the_face_cut_out(engine: Engine) -> None:
    runner = engine.runner("wan-animate")
    assert isinstance(runner, WanRunner)
    clip, _ = decode_frames(dancer(1))
    poses, faces = runner.pose_reader().read(clip, 16)
    assert len(poses) == len(faces) == 9 and poses[0].size == (64, 64) and faces[0].size == (16, 16)
    points, scores = runner.pose_reader().keypoints(clip)
    assert points.shape == (9, 17, 2) and scores.shape == (9, 17)


def test_a_pose_job_needs_a_pose_model_and_enough_video(engine: Engine, settings: GenerationSettings) -> None:
    with pytest.raises(JobRejected, match="too short"):
        engine.plan(job(), decode_frames(dancer(1, frames=3))[0])
    svd = Engine({"svd-xt": settings.registry()["svd-xt"]}, engine.runtime)
    with pytest.raises(JobRejected, match="cannot take a pose from a clip"):
        svd.generate(job(model="svd-xt"))


def test_the_product_path_gives_the_frames_of_plain_diffusers(engine: Engine) -> None:
    spec = engine.models["wan-animate"]
    runner = engine.runner("wan-animate")
    assert isinstance(runner, WanRunner)
    request = engine.plan(job(), decode_frames(dancer(1))[0])
    rendered = runner.render(request, Reporter())
    poses, faces = runner.pose_reader().read(request.video, 16)  # type: ignore[arg-type]
    plain = WanAnimatePipeline.from_pretrained(spec.weights)
    plain.set_progress_bar_config(disable=True)
    output = plain(
        image=request.image,
        pose_video=poses,
        face_video=faces,
        prompt="",
        negative_prompt=spec.default_negative,
        height=64,
        width=64,
        segment_frame_length=9,
        num_inference_steps=spec.steps,
        guidance_scale=spec.guidance.default,
        generator=torch.Generator().manual_seed(2),
        output_type="np",
    )
    assert np.array_equal(rendered, to_uint8(output.frames[0])[:9])
