"""The motion brush on tiny models: a mask (or a region found by words) keeps the rest of the picture still."""

from __future__ import annotations

import dataclasses
import io
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageFilter

from generation.encode import decode_frames, encode
from generation.engine import Engine, JobRejected
from generation.job_builder import build_job
from generation.jobs import JobKind, OutputFormat, VideoJob
from generation.options import OptionError, parse_flags
from generation.random_helpers import write_segmenter
from generation.registry import DEFAULT_MODELS
from generation.runtime import Runtime
from generation.settings import GenerationSettings
from generation.values import Aspect


def png(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def half(size: tuple[int, int], side: str) -> bytes:
    """A mask that is white (moves) on one half, split left / right."""
    width, height = size
    mask = Image.new("L", size, 0)
    mask.paste(255, (0, 0, width // 2, height) if side == "left" else (width // 2, 0, width, height))
    return png(mask)


PICTURE = png(Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)))


@pytest.fixture(scope="module")
def engine(settings: GenerationSettings) -> Engine:
    registry = settings.registry()
    # VACE on a wider frame: the tiny VAE's receptive field spans a 64-pixel frame, a trained one's does not.
    models = {"svd-xt": registry["svd-xt"], "ltx": registry["ltx"]}
    models["wan-vace"] = dataclasses.replace(registry["wan-vace"], width=256, height=144)
    return Engine(models, Runtime.from_settings(settings), segmenter=settings.segmenter)


def frames(engine: Engine, **changes: Any) -> np.ndarray:
    base = VideoJob("b", JobKind.IMAGE_TO_VIDEO, "svd-xt", image=PICTURE, seed=1, aspect=Aspect.SQUARE, frames=8)
    rendered = engine.generate(dataclasses.replace(base, **changes)).frames
    assert rendered is not None
    return rendered.astype(np.int16)


def motion(clip: np.ndarray) -> np.ndarray:
    """How much each pixel changes from frame to frame, (H, W)."""
    return np.abs(np.diff(clip, axis=0)).mean(axis=(0, 3))


def test_svd_moves_only_inside_the_mask_and_the_region_follows_the_mask(engine: Engine) -> None:
    left = motion(frames(engine, mask=half((64, 64), "left")))
    assert left[:, :28].mean() > 10 * left[:, 36:].mean(), "the left half moves, the right half stays"
    assert left[:, 36:].mean() < 4, "outside the mask the picture is (near) still"
    right = motion(frames(engine, mask=half((64, 64), "right")))
    assert right[:, 36:].mean() > 10 * right[:, :28].mean(), "moving the mask moves the region"
    free = motion(frames(engine))
    assert free[:, 36:].mean() > 10 * left[:, 36:].mean(), "without a mask everything moves"


def test_vace_keeps_the_outside_whatever_it_generates(engine: Engine) -> None:
    picture = png(Image.fromarray(np.random.default_rng(1).integers(0, 256, (144, 256, 3), dtype=np.uint8)))
    vace: dict[str, Any] = {"model": "wan-vace", "image": picture, "aspect": Aspect.WIDE, "frames": None}
    mask = np.zeros((144, 256), np.uint8)
    mask[:, :64] = 255
    brush = png(Image.fromarray(mask))
    one = frames(engine, **vace, mask=brush, prompt="waves")
    other = frames(engine, **vace, mask=brush, prompt="a storm of fire", seed=9)
    difference = np.abs(one - other).mean(axis=(0, 3))
    assert difference[:, :48].mean() > 5, "inside the mask: what the model makes of the prompt"
    assert difference[:, 160:].mean() < 0.5, "far outside: the picture's own latents, whatever the prompt"
    unmasked = frames(engine, **vace, prompt="waves") - frames(engine, **vace, prompt="a storm of fire", seed=9)
    assert np.abs(unmasked).mean(axis=(0, 3))[:, 160:].mean() > 5, "without the mask it changes everywhere"


def test_a_region_by_words_is_segmented_and_outlined(engine: Engine) -> None:
    shown: list[tuple[str, bytes]] = []
    job = VideoJob("r", JobKind.IMAGE_TO_VIDEO, "svd-xt", image=PICTURE, region="the water", seed=1, frames=8)
    rendered = engine.generate(dataclasses.replace(job, aspect=Aspect.SQUARE), on_outline=lambda *a: shown.append(a))
    [(note, outline)] = shown
    assert "“the water”" in str(note) and "% of the picture" in str(note)
    assert Image.open(io.BytesIO(outline)).size == (64, 64)
    assert rendered.frames is not None
    region = engine.planner.segmenter().mask(Image.open(io.BytesIO(PICTURE)), "the water")
    still = motion(rendered.frames.astype(np.int16))
    assert still[region < 0.5].mean() < still[region > 0.5].mean(), "what moves is the region CLIPSeg found"


def test_a_region_in_another_language_is_found_by_its_english(
    engine: Engine, settings: GenerationSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    translating = Engine(
        engine.models, engine.runtime, segmenter=settings.segmenter, translators=settings.prompt_translators()
    )
    monkeypatch.setattr(
        translating.planner.translator(), "translate", lambda text, language: {"水面": "the water"}[text]
    )
    job = VideoJob("r", JobKind.IMAGE_TO_VIDEO, "svd-xt", image=PICTURE, region="水面", aspect=Aspect.SQUARE)
    english = engine.plan(dataclasses.replace(job, region="the water")).mask
    assert english is not None and np.array_equal(translating.plan(job).mask, english), "CLIPSeg got the English"
    assert not np.array_equal(engine.plan(job).mask, english), "else it reads the Chinese"


def car_clip(frames: int = 9) -> bytes:
    """A clip of ours (as the bot re-encodes users' videos) at the test VACE row's 16:9: a red block (the car)
    driving right over a grey noise road."""
    road = np.random.default_rng(4).integers(90, 160, (144, 256, 3), dtype=np.uint8)
    clip = []
    for n in range(frames):
        frame = road.copy()
        frame[48:96, 40 + 12 * n : 104 + 12 * n] = (220, 20, 20)
        clip.append(frame)
    return encode(np.stack(clip), 16, OutputFormat.MP4, 10 << 20).data


def red_things(picture: Image.Image, phrase: str) -> np.ndarray:
    """A segmenter that finds what is red (the tiny random CLIPSeg finds speckles, not things)."""
    rgb = np.asarray(picture).astype(int)
    return ((rgb[..., 0] > 150) & (rgb[..., 1] < 90)).astype(np.float32)


def test_a_swap_redraws_the_region_in_every_frame_and_keeps_the_rest_pixel_for_pixel(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine.planner.segmenter(), "mask", red_things)
    swap = VideoJob("s", JobKind.RESTYLE, "wan-vace", prompt="a blue truck", video=car_clip(), region="the car")
    swap = dataclasses.replace(swap, seed=1, fps=16)
    shown: list[tuple[str, bytes]] = []
    made = engine.generate(swap, on_outline=lambda *a: shown.append(a)).frames
    [(note, outline)] = shown
    assert "“the car”" in str(note) and "% of the video" in str(note), "shown before it is drawn"
    assert Image.open(io.BytesIO(outline)).size[0] > 0
    request = engine.plan(swap, decode_frames(swap.video or b"")[0])
    assert made is not None and request.video is not None and request.mask is not None
    assert request.mask.shape == made.shape[:3], "a region per frame"
    centres = [np.argwhere(mask > 0.5)[:, 1].mean() for mask in request.mask]
    assert all(b > a for a, b in itertools.pairwise(centres)), "found in each frame: it drives right"
    far = ~binary_grown(request.mask > 0.5)  # beyond the region's soft edge
    assert np.array_equal(made[far], request.video[far]), "outside the region: the video as it was"
    inside = request.mask > 0.5
    assert np.abs(made[inside].astype(int) - request.video[inside]).mean() > 5, "inside: drawn anew"
    whole = engine.generate(dataclasses.replace(swap, region="")).frames
    assert whole is not None and np.abs(whole[far].astype(int) - request.video[far]).mean() > 5, "else all redrawn"
    truck = png(Image.new("RGB", (80, 40), (30, 60, 200)))  # what goes there: VACE's reference image
    shown_as = engine.generate(dataclasses.replace(swap, ingredients=(truck,))).frames
    assert shown_as is not None and np.array_equal(shown_as[far], request.video[far]), "the rest still as it was"
    assert np.abs(shown_as[inside].astype(int) - made[inside]).mean() > 1, "the picture changes what is drawn there"
    with pytest.raises(JobRejected, match="name the region"):
        engine.plan(dataclasses.replace(swap, region="", ingredients=(truck,)))


def binary_grown(region: np.ndarray, by: int = 6) -> np.ndarray:
    """The region grown by `by` pixels each way in every frame (past the composite's blur)."""
    grown = [
        Image.fromarray(frame.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(2 * by + 1)) for frame in region
    ]
    return np.stack([np.asarray(frame) > 0 for frame in grown])


def test_a_swap_goes_to_a_model_that_can_redraw_part_of_a_video() -> None:
    job = build_job(
        parse_flags("a red truck -region the car"),
        job_id="j",
        kind=JobKind.RESTYLE,
        models=DEFAULT_MODELS,
        default_model="wan-vace",
    )
    assert job.region == "the car" and job.model == "wan-vace"
    with pytest.raises(OptionError, match="`wan` cannot redraw only part of a video; models that can: wan-vace"):
        build_job(
            parse_flags("a red truck -region the car -model wan"),
            job_id="j",
            kind=JobKind.RESTYLE,
            models=DEFAULT_MODELS,
            default_model="wan-vace",
        )


@pytest.mark.parametrize(("bias", "says"), [(30.0, "covers almost all"), (-30.0, "could not find")])
def test_a_region_that_is_everything_or_nothing_is_refused(
    engine: Engine, tmp_path: Path, bias: float, says: str
) -> None:
    write_segmenter(tmp_path / "segmenter", bias=bias)
    picky = Engine(engine.models, engine.runtime, segmenter=str(tmp_path / "segmenter"))
    with pytest.raises(JobRejected, match=says):
        picky.plan(VideoJob("r", JobKind.IMAGE_TO_VIDEO, "svd-xt", image=PICTURE, region="the water"))


def test_what_the_brush_cannot_do_is_refused_before_it_is_queued(engine: Engine) -> None:
    def job(text: str, model: str, kind: JobKind = JobKind.IMAGE_TO_VIDEO, mask: bytes | None = None) -> Any:
        options = parse_flags(text)
        return build_job(options, job_id="", kind=kind, models=DEFAULT_MODELS, default_model=model, mask=mask)

    assert job('a river -region "the water"', "svd-xt").region == "the water"
    assert job("a river -region the water -motion 2", "svd-xt").region == "the water", "runs to the next flag"
    with pytest.raises(OptionError, match="cannot keep part of the picture still; models that can: svd, svd-xt"):
        job("a river -region water", "ltx")
    with pytest.raises(OptionError, match="camera move moves the whole picture"):
        job("a river -camera zoom in", "svd-xt", mask=half((64, 64), "left"))
    with pytest.raises(OptionError, match="a mask or a `-region`, not both"):
        job("a river -region water", "svd-xt", mask=half((64, 64), "left"))
    with pytest.raises(OptionError, match="use /animate"):
        job("a river -region water", "animatediff", kind=JobKind.TEXT_TO_VIDEO)
    with pytest.raises(JobRejected, match="all black"):
        engine.plan(VideoJob("b", JobKind.IMAGE_TO_VIDEO, "svd-xt", image=PICTURE, mask=png(Image.new("L", (64, 64)))))
