"""The worker's image check: a tiny random-weight StableDiffusionSafetyChecker loaded by the production
loader, its threshold set so that it flags everything or nothing, on the engine's input and output paths."""

from __future__ import annotations

import dataclasses

import pytest

from generation.engine import ContentFlagged, Engine
from generation.jobs import Content, JobKind, VideoJob
from generation.runtime import Runtime
from generation.safety import SafetyChecker
from generation.settings import GenerationSettings
from tests.conftest import png_bytes


def engine_with(
    settings: GenerationSettings, threshold: float, models: tuple[str, ...] = ("svd-xt", "animatediff")
) -> Engine:
    runtime = Runtime.from_settings(settings)
    registry = settings.registry()
    checker = SafetyChecker(settings.safety_checker, threshold, runtime)
    return Engine({name: registry[name] for name in models}, runtime, checker)


PICTURE = VideoJob("s", JobKind.IMAGE_TO_VIDEO, "svd-xt", image=png_bytes(), seed=1)
TEXT = VideoJob("t", JobKind.TEXT_TO_VIDEO, "animatediff", prompt="a red fox", seed=1)


def test_the_classifier_scores_pictures_the_same_every_time(settings: GenerationSettings) -> None:
    from PIL import Image

    checker = engine_with(settings, 0.0).checker
    assert checker is not None
    pictures = [Image.new("RGB", (64, 64), (200, 40, 40)), Image.new("RGB", (64, 64), (20, 40, 200))]
    first, again = checker.scores(pictures), checker.scores(pictures)
    assert first == again and first[0] != first[1]
    assert checker.check(pictures).seconds > 0


def test_a_flagged_picture_ends_the_job_before_it_renders(settings: GenerationSettings) -> None:
    engine = engine_with(settings, -1000)  # everything scores above it
    with pytest.raises(ContentFlagged, match="flagged your picture") as caught:
        engine.render(PICTURE)
    assert caught.value.check == "input"
    assert "svd-xt" not in engine._runners, "refused before the model was even loaded"


def test_a_flagged_clip_is_refused_where_the_policy_refuses_it(settings: GenerationSettings) -> None:
    engine = engine_with(settings, -1000)
    with pytest.raises(ContentFlagged, match="flagged the clip") as caught:
        engine.render(TEXT)
    assert caught.value.check == "output"


def test_where_it_is_allowed_a_flagged_clip_is_delivered_marked(settings: GenerationSettings) -> None:
    result = engine_with(settings, -1000).render(dataclasses.replace(TEXT, content=Content.SPOILER))
    assert result.flagged and result.checks["output"] > 0 and "safety" in result.timings
    picture = engine_with(settings, -1000).render(dataclasses.replace(PICTURE, content=Content.SPOILER))
    assert picture.flagged and set(picture.checks) == {"input", "output"}


def test_nothing_flagged_passes_and_a_policy_that_is_off_checks_nothing(settings: GenerationSettings) -> None:
    passed = engine_with(settings, 1000).render(TEXT)
    assert not passed.flagged and passed.checks["output"] < 0
    unchecked = engine_with(settings, -1000).render(dataclasses.replace(PICTURE, content=Content.UNCHECKED))
    assert not unchecked.flagged and unchecked.checks == {}


def test_an_illusions_picture_is_checked_as_given_not_only_as_its_grey_shape(
    settings: GenerationSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = engine_with(settings, 1000)  # nothing flagged: what it was shown is the point
    assert engine.checker is not None
    calls: list[list[tuple[int, int, int]]] = []  # the input check's pictures, then the clip's frames
    checked = engine.checker.check

    def spy(pictures: list) -> object:
        calls.append([picture.getpixel((0, 0)) for picture in pictures])
        return checked(pictures)

    monkeypatch.setattr(engine.checker, "check", spy)
    logo = png_bytes(64, 64, (200, 40, 40))
    engine.generate(VideoJob("i", JobKind.ILLUSION, "animatediff", prompt="a forest", image=logo, seed=1))
    grey = [pixel for pixel in calls[0] if pixel[0] == pixel[1] == pixel[2]]
    assert grey and len(grey) < len(calls[0]), "the grey shape the model follows, and the user's picture in colour"


def test_every_picture_is_checked_each_keyframe_and_each_ingredient(
    settings: GenerationSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = engine_with(settings, 1000, ("ltx", "wan-vace"))
    assert engine.checker is not None
    shown: list[set[tuple[int, int, int]]] = []
    checked = engine.checker.check

    def spy(pictures: list) -> object:
        shown.append({picture.getpixel((0, 1)) for picture in pictures})  # row 0 holds the gradient
        return checked(pictures)

    monkeypatch.setattr(engine.checker, "check", spy)
    red, green, blue = (200, 40, 40), (30, 190, 60), (40, 60, 210)
    job = VideoJob(
        "k",
        JobKind.IMAGE_TO_VIDEO,
        "ltx",
        prompt="red, blue, green",
        image=png_bytes(64, 64, red),
        end_image=png_bytes(64, 64, green),
        middle_images=(png_bytes(64, 64, blue),),
        seed=1,
    )
    engine.generate(job)
    assert shown[0] == {red, green, blue}, "the input check sees the first, the last and the picture between"
    shown.clear()
    pictures = (png_bytes(64, 64, red), png_bytes(64, 64, blue))
    engine.generate(VideoJob("n", JobKind.INGREDIENTS, "wan-vace", prompt="they dance", ingredients=pictures, seed=1))
    assert shown[0] == {red, blue}, "the input check sees each of an /ingredients clip's pictures"
