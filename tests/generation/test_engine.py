"""The engine end to end on tiny random-weight pipelines loaded from disk through the production code."""

from __future__ import annotations

import dataclasses
import io
import threading

import av
import numpy as np
import pytest
import torch

from generation.compiled import loras_on
from generation.encode import decode_frames
from generation.engine import Engine, JobRejected, OutOfGPUMemory, WeightsNotFound
from generation.jobs import Fit, JobKind, OutputFormat, Stage, VideoJob
from generation.pipelines import RUNNERS, NoRunner
from generation.progress import FinalError, JobCancelled, Reporter
from generation.runtime import Runtime
from generation.settings import GenerationSettings, MemoryMode
from generation.values import Aspect, Camera
from tests.conftest import png_bytes


@pytest.fixture(scope="module")
def engine(settings: GenerationSettings) -> Engine:
    return Engine(settings.registry(), Runtime.from_settings(settings))


def i2v(**changes: object) -> VideoJob:
    job = VideoJob(job_id="i2v", kind=JobKind.IMAGE_TO_VIDEO, model="svd-xt", image=png_bytes(), seed=3)
    return dataclasses.replace(job, **changes)


def t2v(**changes: object) -> VideoJob:
    job = VideoJob(job_id="t2v", kind=JobKind.TEXT_TO_VIDEO, model="animatediff", prompt="a red fox", seed=3)
    return dataclasses.replace(job, **changes)


def video_info(data: bytes) -> tuple[str, str, int, int, int, float]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(stream))
        ctx = stream.codec_context
        return ctx.name, ctx.pix_fmt, ctx.width, ctx.height, count, float(stream.average_rate)


@pytest.mark.parametrize("aspect", list(Aspect))
def test_image_to_video_renders_a_valid_mp4_for_every_aspect(engine: Engine, aspect: Aspect) -> None:
    result = engine.render(i2v(aspect=aspect, camera=Camera(zoom=1), fps=12))
    width, height = aspect.size(64 * 64, 16)
    assert video_info(result.video) == ("h264", "yuv420p", width, height, 4, 12.0)
    assert (result.width, result.height, result.frames, result.fps) == (width, height, 4, 12)
    assert result.seed == 3 and result.model == "svd-xt" and result.mime == "video/mp4"


def test_without_aspect_the_image_keeps_its_own_shape(engine: Engine) -> None:
    portrait = engine.render(i2v(image=png_bytes(60, 100)))
    assert portrait.height > portrait.width


@pytest.mark.parametrize("model", ["animatediff", "animatediff-lightning", "t2i-svd"])
def test_text_to_video_models_render(engine: Engine, model: str) -> None:
    result = engine.render(t2v(model=model, aspect=Aspect.SQUARE, camera=Camera(pan_x=-1)))
    assert video_info(result.video)[:5] == ("h264", "yuv420p", 64, 64, 4)


@pytest.mark.parametrize(("fmt", "codec"), [(OutputFormat.WEBM, "vp9"), (OutputFormat.GIF, "gif")])
def test_other_output_formats(engine: Engine, fmt: OutputFormat, codec: str) -> None:
    result = engine.render(i2v(output=fmt))
    assert video_info(result.video)[0] == codec


def test_motion_loras_change_the_clip_and_combine_for_diagonal_pans(engine: Engine) -> None:
    runner = engine.runner("animatediff")

    def frames(camera: Camera) -> np.ndarray:  # the raw frames: the encoder may round a tiny change up
        return runner.render(engine.plan(t2v(camera=camera)), Reporter()).astype(np.float64)

    plain = frames(Camera())
    panned = frames(Camera(pan_x=-1, pan_y=-1))
    camera_effect = np.abs(plain - panned).mean()
    assert camera_effect > 1
    assert sorted(runner.pipe.get_active_adapters()) == ["pan-left", "tilt-up"]  # type: ignore[attr-defined]
    assert loras_on(runner.pipe.unet)  # type: ignore[attr-defined]
    again = frames(Camera())
    assert not loras_on(runner.pipe.unet), "off: where the worker compiles, the UNet compiles again"  # type: ignore[attr-defined]
    # Off means the base weights again. Not bit-equal on every CPU: the LoRA-wrapped layers' buffers sit
    # elsewhere in memory, and BLAS kernels may sum in another order there, which a random-weight model's
    # steps can grow to a few levels here and there. LoRAs left on would leave the whole camera effect.
    assert np.abs(plain - again).mean() < camera_effect / 10, "no camera must switch the LoRAs off"


def test_same_seed_same_frames_other_seed_other_frames(engine: Engine) -> None:
    runner = engine.runner("svd-xt")
    request = engine.plan(i2v())
    first = runner.render(request, Reporter())
    second = runner.render(request, Reporter())
    other = runner.render(dataclasses.replace(request, seed=4), Reporter())
    assert np.array_equal(first, second)
    assert not np.array_equal(first, other)


def test_missing_seed_is_chosen_and_reported(engine: Engine) -> None:
    result = engine.render(i2v(seed=None))
    assert 0 <= result.seed < 2**32


def test_progress_goes_through_the_stages_in_order(engine: Engine) -> None:
    seen: list[tuple[Stage, int, int]] = []
    engine.render(i2v(steps=3), on_progress=lambda *event: seen.append(event))
    stages = [stage for stage, _, _ in seen]
    assert stages[0] is Stage.LOADING and stages[-1] is Stage.DONE
    assert [s for s in dict.fromkeys(stages)] == [
        Stage.LOADING,
        Stage.DENOISING,
        Stage.DECODING,
        Stage.ENCODING,
        Stage.DONE,
    ]
    assert [(step, total) for stage, step, total in seen if stage is Stage.DENOISING][1:] == [
        (1, 3),
        (2, 3),
        (3, 3),
    ]


@pytest.mark.parametrize("job", [i2v(steps=4), t2v(steps=4)], ids=["svd", "animatediff"])
def test_cancel_stops_within_one_denoising_step(engine: Engine, job: VideoJob) -> None:
    cancel = threading.Event()
    steps: list[int] = []

    def on_progress(stage: Stage, step: int, total: int) -> None:
        if stage is Stage.DENOISING and step:
            steps.append(step)
            if step == 1:
                cancel.set()  # as if the user pressed Cancel during step 1

    with pytest.raises(JobCancelled):
        engine.render(job, on_progress, cancel)
    assert steps == [1]


def test_cancel_before_start_runs_nothing(engine: Engine) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(JobCancelled):
        engine.render(i2v(), cancel=cancel)


def test_budget_is_honoured_by_the_engine(engine: Engine) -> None:
    big = engine.render(i2v(frames=8))
    budget = len(big.video) * 3 // 4
    small = engine.render(i2v(frames=8, byte_budget=budget))
    assert len(small.video) <= budget
    assert video_info(small.video)[4] == 8


def test_smooth_option_and_smooth_job_interpolate(engine: Engine) -> None:
    smoothed = engine.render(i2v(fps=8, smooth=True))
    assert (smoothed.fps, smoothed.frames) == (24, 10)  # 4 frames at 8 fps: first to last at 24 fps
    again = engine.render(VideoJob(job_id="s", kind=JobKind.SMOOTH, model="svd-xt", video=smoothed.video))
    assert (again.fps, again.frames) == (48, 19)
    assert video_info(again.video)[4:] == (19, 48.0)  # what the result reports is what the file holds


def extend(clip: bytes, **changes: object) -> VideoJob:
    return i2v(kind=JobKind.EXTEND, image=None, video=clip, aspect=Aspect.SQUARE, **changes)


def test_extend_is_the_clip_followed_by_its_continuation(engine: Engine) -> None:
    first = engine.render(i2v(aspect=Aspect.SQUARE))
    extended = engine.render(extend(first.video, seed=4))
    source, _ = decode_frames(first.video)
    frames, fps = decode_frames(extended.video)
    assert (extended.source_frames, extended.frames, len(frames), fps) == (4, 7, 7, 24)  # 4 + 4 - the shared one
    assert np.abs(frames[:4].astype(int) - source.astype(int)).mean() < 4, "the clip comes first, unchanged"
    steps = [np.abs(frames[i + 1].astype(int) - frames[i].astype(int)).mean() for i in range(6)]
    assert steps[3] > 1, "no repeated frame where the continuation starts"
    longer = engine.render(extend(extended.video))
    assert longer.frames == 10 and longer.source_frames == 7, "an extended clip keeps growing"


def test_extend_stops_at_the_models_longest_clip(engine: Engine) -> None:
    registry = dict(engine.models)
    registry["svd-xt"] = dataclasses.replace(registry["svd-xt"], max_duration_s=9 / 24)  # 9 frames at 24 fps
    short = Engine(registry, engine.runtime)
    short._runners = engine._runners  # the same loaded pipelines
    first = short.render(i2v(aspect=Aspect.SQUARE))
    grown = short.render(extend(short.render(extend(first.video)).video))
    assert (grown.source_frames, grown.frames) == (7, 9), "the last continuation is cut to what is left"
    with pytest.raises(JobRejected, match="as long as svd-xt makes them"):
        short.render(extend(grown.video))
    with pytest.raises(JobRejected, match="could not be read"):
        short.render(extend(b"not a clip"))


def test_max_pixels_caps_the_size(engine: Engine) -> None:
    result = engine.render(i2v(aspect=Aspect.SQUARE, max_pixels=32 * 32))
    assert (result.width, result.height) == (32, 32)


def test_pad_fit_renders(engine: Engine) -> None:
    result = engine.render(i2v(fit=Fit.PAD, aspect=Aspect.TALL))
    assert (result.width, result.height) == Aspect.TALL.size(64 * 64, 16)


@pytest.mark.parametrize(
    ("job", "message"),
    [
        (i2v(model="dall-e"), "not served here"),
        (i2v(image=None), "needs an image"),
        (i2v(image=b"GIF89a but not really"), "damaged or incomplete"),
        (i2v(image=b"GIF but not really"), "not a picture"),
        (t2v(model="svd"), "cannot make text-to-video clips"),
        (t2v(kind=JobKind.EXTEND, video=b"x"), "cannot continue a clip"),
        (i2v(frames=99), "`-frames` must be 2–8"),
        (VideoJob(job_id="s", kind=JobKind.SMOOTH, model="svd", video=b"not a video"), "could not be read"),
    ],
)
def test_jobs_that_cannot_run_are_rejected_with_a_readable_reason(engine: Engine, job: VideoJob, message: str) -> None:
    with pytest.raises(JobRejected, match=message):
        engine.render(job)


def test_missing_weights_say_what_to_do(settings: GenerationSettings, tmp_path) -> None:
    registry = settings.registry()
    registry["svd-xt"] = dataclasses.replace(registry["svd-xt"], weights=str(tmp_path / "absent"))
    with pytest.raises(WeightsNotFound, match="MOTIONBOT_SVD_XT__WEIGHTS"):
        Engine(registry, Runtime.from_settings(settings)).render(i2v())


def test_low_memory_mode_renders_the_same_clip_shape(settings: GenerationSettings) -> None:
    low = dataclasses.replace(Runtime.from_settings(settings), memory_mode=MemoryMode.LOW)
    result = Engine(settings.registry(), low).render(i2v())
    assert video_info(result.video)[4] == 4


def test_a_model_whose_family_has_no_runner_is_refused_at_start(
    settings: GenerationSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(RUNNERS, settings.registry()["animatediff"].family)
    with pytest.raises(NoRunner, match="model `animatediff` is of family `animatediff`, which has no runner"):
        Engine(settings.registry(), Runtime.from_settings(settings))


def test_out_of_gpu_memory_gives_the_memory_back_and_names_what_to_change(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    class OutOfMemoryError(RuntimeError):  # what torch.cuda raises, by name
        pass

    class Greedy:
        def render(self, request: object, reporter: object) -> None:
            raise OutOfMemoryError("CUDA out of memory")

    released: list[bool] = []
    monkeypatch.setitem(engine._runners, "svd", Greedy())
    monkeypatch.setattr(Runtime, "release_memory", lambda self: released.append(True))
    with pytest.raises(OutOfGPUMemory, match="try a smaller size") as failure:
        engine.render(i2v(model="svd"))
    assert released == [True] and isinstance(failure.value, FinalError), "given back, and not retried"


def test_frames_become_uint8_where_they_lie_with_the_same_values() -> None:
    from generation.runtime import to_uint8

    values = torch.rand(3, 3, 8, 10, generator=torch.Generator().manual_seed(0)) * 1.2 - 0.1  # some out of range
    values[0, 0, 0, :3] = torch.tensor([0.5 / 255, 254.5 / 255, 1.0])  # where rounding turns
    as_numpy = values.permute(0, 2, 3, 1).numpy()  # what output_type "np" hands over
    assert np.array_equal(to_uint8(values), to_uint8(as_numpy)) and to_uint8(values).shape == (3, 8, 10, 3)
    assert to_uint8(values.half()).dtype == np.uint8


@pytest.mark.parametrize(
    ("frames", "most", "chunk"), [(25, 8, 5), (14, 8, 7), (16, 8, 8), (4, 8, 4), (13, 8, 13), (25, 4, 5), (16, 4, 4)]
)
def test_decode_chunks_divide_the_clip(frames: int, most: int, chunk: int) -> None:
    from generation.runtime import even_chunk

    assert even_chunk(frames, most) == chunk


def test_low_mode_runs_feed_forward_one_frame_at_a_time_not_one_token() -> None:
    import torch
    from diffusers.models.attention import FeedForward

    from generation.random_weights import build_svd
    from generation.runtime import chunk_per_frame

    unet = build_svd("tiny").unet
    batch, frames = 2, 6
    sample = torch.randn(batch, frames, 8, 16, 16)
    inputs = (sample, torch.tensor([1.0]), torch.randn(batch, 1, 32))
    added = torch.randn(batch, 3)
    calls: list[tuple[int, ...]] = []
    hook = torch.nn.modules.module.register_module_forward_hook(
        lambda module, args, out: calls.append(tuple(args[0].shape)) if isinstance(module, FeedForward) else None
    )
    try:
        with torch.no_grad():
            whole = unet(*inputs, added_time_ids=added).sample
            modules = len(calls)
            calls.clear()
            chunk_per_frame(unet)
            chunked = unet(*inputs, added_time_ids=added).sample
    finally:
        hook.remove()
    spatial = sum(1 for shape in calls if shape[0] == 1)  # one frame of one batch item: (1, tokens, channels)
    temporal = sum(1 for shape in calls if shape[1] == 1)  # (pixels, 1 frame, channels)
    assert len(calls) == spatial + temporal < modules * batch * frames + 1, "per frame, never per token"
    assert spatial and temporal
    assert torch.allclose(whole, chunked, atol=1e-5), "chunking changes the memory, not the result"


def test_a_missing_worker_part_names_its_own_setting(settings: GenerationSettings, tmp_path) -> None:
    from generation.segment import Segmenter
    from generation.translate import Translator

    absent = str(tmp_path / "absent")
    with pytest.raises(WeightsNotFound, match=r"does not exist\. Setting: MOTIONBOT_SEGMENTER$"):
        Segmenter(absent, Runtime.from_settings(settings))
    with pytest.raises(WeightsNotFound, match=r"does not exist\. Setting: MOTIONBOT_TRANSLATORS$"):
        Translator({"ja": absent}).translate("猫が走る", "ja")
