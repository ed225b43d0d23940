"""Live previews: the clip as it denoises, from the latents by each latent space's linear RGB map."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
import torch
from PIL import Image

from generation.engine import Engine
from generation.jobs import JobKind, VideoJob
from generation.preview import LATENT_RGB, MAX_FRAMES, WIDTH, animated, preview_frames, previewer
from generation.runtime import Runtime
from generation.settings import GenerationSettings
from tests.conftest import png_bytes


def test_each_latent_channel_paints_its_colour() -> None:
    grey = preview_frames(torch.zeros(1, 3, 4, 8, 10), "sd:bfchw")
    assert grey is not None and grey.shape == (3, 8, 10, 3) and set(np.unique(grey)) == {128}
    latents = torch.zeros(1, 3, 4, 8, 10)
    latents[0, :, 3] = 1.0  # the SD VAE's fourth channel is blue-dark: red above green above blue
    red, green, blue = preview_frames(latents, "sd:bfchw")[0, 0, 0]  # type: ignore[index]
    expected = [round((1 + f) * 127.5) for f in LATENT_RGB["sd"][0][3]]
    assert [red, green, blue] == pytest.approx(expected, abs=1) and red > green > blue


def test_both_layouts_give_the_same_frames_spread_over_the_clip() -> None:
    latents = torch.randn(2, 25, 4, 6, 6)  # (batch, frames, channels, h, w): SVD
    frames = preview_frames(latents, "sd:bfchw")
    assert frames is not None and len(frames) == MAX_FRAMES
    same = preview_frames(latents.transpose(1, 2), "sd:bcfhw")  # (batch, channels, frames, h, w): AnimateDiff
    assert same is not None and np.array_equal(frames, same)
    assert not np.array_equal(frames[0], frames[-1]), "the first and the last frame, not one frame eight times"
    assert preview_frames(torch.randn(1, 16, 3, 6, 6), "sd:bcfhw") is None, "16 channels are not the SD VAE's"
    wan = preview_frames(torch.randn(1, 16, 3, 6, 6), "wan:bcfhw")
    assert wan is not None and wan.shape == (3, 6, 6, 3)


def test_vaces_reference_frames_are_left_out_of_the_preview() -> None:
    latents = torch.zeros(1, 16, 5, 6, 6)  # (batch, channels, frames, h, w): two reference frames, then the clip
    latents[0, :, :2] = 3.0
    clip = preview_frames(latents, "wan:bcfhw", skip=2)
    own = preview_frames(torch.zeros(1, 16, 3, 6, 6), "wan:bcfhw")
    assert clip is not None and np.array_equal(clip, own), "only the clip's own frames"
    assert not np.array_equal(preview_frames(latents, "wan:bcfhw")[:2], clip[:2])  # type: ignore[index]


def test_the_engine_leaves_out_an_ingredients_clips_reference_frames(
    settings: GenerationSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = Engine(settings.registry(), Runtime.from_settings(settings), preview_every=1)
    seen: list[tuple[int, int]] = []  # (latent frames, frames left out)
    shown = preview_frames

    def spy(latents: torch.Tensor, preview: str, skip: int = 0) -> np.ndarray | None:
        seen.append((latents.shape[2], skip))
        return shown(latents, preview, skip)

    monkeypatch.setattr("generation.preview.preview_frames", spy)
    pictures = (png_bytes(), png_bytes(48, 64, (20, 200, 40)))
    job = VideoJob("i", JobKind.INGREDIENTS, "wan-vace", prompt="they dance", ingredients=pictures, seed=1)
    engine.generate(job, on_preview=lambda gif: None)
    assert seen and all(skip == 2 for _, skip in seen), "the two pictures' latent frames"
    assert all(frames == 2 + 3 for frames, _ in seen), "beside the clip's own 3 (9 frames at 4x)"


def test_a_preview_is_a_small_looping_gif_of_the_clip() -> None:
    frames = np.random.default_rng(0).integers(0, 255, (5, 9, 16, 3), dtype=np.uint8)
    gif = Image.open(io.BytesIO(animated(frames, seconds=2.0)))
    assert gif.format == "GIF" and gif.n_frames == 5 and gif.size == (WIDTH, 90)
    assert gif.info["duration"] == 400 and gif.info["loop"] == 0


def i2v(**changes: object) -> VideoJob:
    job = VideoJob(job_id="p", kind=JobKind.IMAGE_TO_VIDEO, model="svd-xt", image=png_bytes(), seed=3, steps=4)
    return dataclasses.replace(job, **changes)


def test_previews_come_every_few_steps_never_after_the_last_and_a_failure_only_ends_them() -> None:
    shown: list[bytes] = []
    errors: list[str] = []
    latents = torch.randn(1, 4, 4, 6, 6)
    on_latents = previewer("sd:bfchw", 2, 1.0, shown.append, lambda: errors.append("logged"))
    for step in range(1, 7):
        on_latents(latents, step, 6)
    assert len(shown) == 2 and errors == [], "after steps 2 and 4, not 6 (the clip itself follows)"

    def broken(gif: bytes) -> None:
        raise RuntimeError("the status message went away")

    on_latents = previewer("sd:bfchw", 1, 1.0, broken, lambda: errors.append("logged"))
    for step in range(1, 5):
        on_latents(latents, step, 5)  # raises nothing: the render goes on
    assert errors == ["logged"], "logged once, then no more previews"


def test_the_engine_previews_the_render_as_it_goes(settings: GenerationSettings) -> None:
    engine = Engine(settings.registry(), Runtime.from_settings(settings), preview_every=1)
    shown: list[bytes] = []
    rendered = engine.finish(engine.generate(i2v(), on_preview=shown.append))
    assert len(shown) == 3, "after steps 1, 2 and 3 of 4"
    assert all(Image.open(io.BytesIO(gif)).n_frames == 4 for gif in shown) and rendered.frames == 4
    assert shown[0] != shown[2], "a later preview is further along"
    other: list[bytes] = []
    engine.preview_every = 2
    engine.generate(i2v(image=png_bytes(64, 64, color=(20, 200, 40))), on_preview=other.append)
    assert len(other) == 1 and other[0] != shown[1], "another picture, another preview (after step 2 of 4)"
