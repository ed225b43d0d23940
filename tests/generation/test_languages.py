"""Prompts in any language: which language a prompt is in, and a prompt for a model that reads only English
translated in the worker (a tiny random MarianMT, loaded by the production loader) while a multilingual
model gets it as written."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from generation.engine import Engine
from generation.jobs import Content, JobKind, VideoJob
from generation.language import detect
from generation.options import parse_flags
from generation.progress import PromptRefused
from generation.runtime import Runtime
from generation.settings import GenerationSettings
from generation.weights import WeightsNotFound

CHINESE = "一只狐狸在雪中奔跑"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("a fox running through the snow at dusk", "en"),
        ("a cat", "en"),  # too short to tell: left as written
        ("cyberpunk samurai, neon, masterpiece", "en"),
        (CHINESE, "zh"),
        ("一隻狐狸在雪中奔跑", "zh"),  # Traditional
        ("雪の中を走るキツネ", "ja"),
        ("雪の中を走る狐", "ja"),  # kanji with kana: Japanese, not Chinese
        ("눈 속을 달리는 여우", "ko"),
        ("a fox, 赛博朋克风格", "zh"),  # an English-only encoder cannot read the Chinese half
        ("ein Fuchs läuft durch den tiefen Schnee", "de"),
        ("un renard qui court dans la neige", "fr"),
        ("", "en"),
        ("1234 5678", "en"),
    ],
)
def test_the_language_of_a_prompt(text: str, language: str) -> None:
    assert detect(text) == language


def test_a_loose_reading_takes_its_best_guess_however_short_the_text() -> None:
    assert (detect("nackte Kinder"), detect("nackte Kinder", loose=True)) == ("en", "de")
    assert (detect("desnuda", loose=True), detect("a red fox", loose=True), detect("一只猫", loose=True)) == (
        "es",
        "en",
        "zh",
    )


def test_flags_are_parsed_off_before_the_language_is_told_and_never_translated() -> None:
    options = parse_flags("一只狐狸在雪中奔跑 -motion 3 -camera zoom in -neg 模糊 -seed 7")
    assert (options.prompt, options.negative_prompt, options.motion, options.seed) == (CHINESE, "模糊", 3, 7)
    assert str(options.camera) == "zoom in"
    assert detect(options.prompt) == "zh" and detect("a fox running in the snow -motion 3 -camera pan left") == "en"


@pytest.fixture(scope="module")
def engines(settings: GenerationSettings) -> tuple[Engine, Engine]:
    registry, runtime = settings.registry(), Runtime.from_settings(settings)
    models = {name: registry[name] for name in ("animatediff", "wan")}
    assert settings.prompt_translators(), "the tiny translator is set up"
    return Engine(models, runtime, translators=settings.prompt_translators()), Engine(models, runtime)


def job(prompt: str, model: str = "animatediff", **changes: object) -> VideoJob:
    return VideoJob("t", JobKind.TEXT_TO_VIDEO, model, prompt=prompt, seed=5, **changes)  # type: ignore[arg-type]


def test_an_english_only_model_is_given_the_translation(engines: tuple[Engine, Engine]) -> None:
    translating, plain = engines
    english = translating.planner.translator().translate(CHINESE, "zh")
    assert english and english != CHINESE
    request = translating.plan(job(CHINESE))
    assert (request.prompt, request.read_as) == (english, english)
    made = translating.generate(job(CHINESE)).frames
    assert made is not None and np.array_equal(made, plain.generate(job(english)).frames), "the pipeline read it"
    assert not np.array_equal(made, plain.generate(job(CHINESE)).frames), "else CLIP reads the Chinese"
    result = translating.render(dataclasses.replace(job(CHINESE), frames=2))
    assert result.read_as == english, "the result says what the model was given"


def test_a_multilingual_model_and_english_prompts_are_left_as_written(engines: tuple[Engine, Engine]) -> None:
    translating, _ = engines
    request = translating.plan(job(CHINESE, "wan"))
    assert (request.prompt, request.read_as) == (CHINESE, ""), "UMT5 reads Chinese"
    assert translating.plan(job("a fox running in the snow")).read_as == ""
    off = GenerationSettings(_env_file=None, translate_prompts=False)  # type: ignore[call-arg]
    assert off.prompt_translators() == {}, "the setting turns it off"


def test_a_prompt_translated_once_is_not_translated_again(
    engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    translator = engines[0].planner.translator()
    english = translator.translate("一只猫在窗台上睡觉", "zh")
    runs: list[str] = []
    model = translator._translate  # the model's run
    monkeypatch.setattr(translator, "_translate", lambda text, source: runs.append(text) or model(text, source))
    assert translator.translate("一只猫在窗台上睡觉", "zh") == english and runs == [], "for the check, a Reroll"
    translator.translate("一只狗在雪中", "zh")
    assert runs == ["一只狗在雪中"], "another prompt is translated"


def test_each_part_and_the_negative_prompt_are_translated_on_their_own(engines: tuple[Engine, Engine]) -> None:
    translating, _ = engines
    translator = translating.planner.translator()
    request = translating.plan(job(f"{CHINESE} | a fox sleeping in its den", negative_prompt="模糊，低质量"))
    first, negative = translator.translate(CHINESE, "zh"), translator.translate("模糊，低质量", "zh")
    assert request.prompt == f"{first} | a fox sleeping in its den", "English parts stay as written"
    assert request.negative_prompt == negative and request.read_as.endswith(f"(not: {negative})")


def test_a_translated_prompt_is_checked_in_english_under_the_servers_policy(
    engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    translating, _ = engines
    english = {"一个裸体女人": "a naked woman", "一个裸体孩子": "a naked child", "一只猫": "a cat"}  # the bot read none
    monkeypatch.setattr(translating.planner.translator(), "translate", lambda text, language: english[text])
    with pytest.raises(PromptRefused, match="read in English, is refused by the built-in list") as refused:
        translating.plan(job("一个裸体女人"))
    assert refused.value.check == "prompt", "the bot reports it as a refused prompt"
    assert (refused.value.verdict.term, refused.value.verdict.read_as) == ("naked*", "a naked woman"), "for moderators"
    assert translating.plan(job("一个裸体女人", content=Content.SPOILER)).prompt == "a naked woman", "allowed here"
    assert translating.plan(job("一个裸体女人", content=Content.UNCHECKED)).prompt == "a naked woman", "policy off"
    with pytest.raises(PromptRefused, match="minors"):
        translating.plan(job("一个裸体孩子", content=Content.UNCHECKED))
    assert translating.plan(job("一只猫", negative_prompt="一个裸体女人")).negative_prompt == "a naked woman"
    with pytest.raises(PromptRefused, match="minors"):  # a model that reads Chinese: translated for the check
        translating.plan(job("一个裸体孩子", "wan", content=Content.UNCHECKED))
    assert translating.plan(job("一只猫", "wan")).prompt.startswith("一只猫"), "and given the words as written"


def test_where_no_image_check_backs_it_a_short_prompt_is_read_in_english_too(
    engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    translating, _ = engines
    english = {"nackte Kinder": "naked children"}  # two words: too short to tell the language for certain
    asked: list[str] = []
    translator = translating.planner.translator()
    monkeypatch.setattr(translator, "translate", lambda text, language: asked.append(text) or english.get(text, text))
    with pytest.raises(PromptRefused, match="minors"):
        translating.plan(job("nackte Kinder", content=Content.UNCHECKED))  # policy off: only the prompt check
    assert translating.plan(job("a red fox", content=Content.UNCHECKED)).prompt == "a red fox"
    asked.clear()
    assert translating.plan(job("nackte Kinder")).prompt == "nackte Kinder", "strict: the image check backs it"
    assert asked == [], "and nothing short is translated there"

    def unloadable(text: str, language: str) -> str:
        raise WeightsNotFound("the prompt translator did not load")

    monkeypatch.setattr(translator, "translate", unloadable)
    assert translating.plan(job("a cat", content=Content.UNCHECKED)).prompt == "a cat", "a guess (Spanish): as written"
    with pytest.raises(WeightsNotFound):  # certainly another language: it is not run unchecked
        translating.plan(job(CHINESE, content=Content.UNCHECKED))


def test_a_translated_prompt_is_checked_against_the_servers_own_block_list(
    engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    translating, _ = engines
    english = {"一个小丑在跳舞": "a clown dancing", "一只猫": "a cat"}  # the bot's check read the Chinese
    monkeypatch.setattr(translating.planner.translator(), "translate", lambda text, language: english[text])
    with pytest.raises(PromptRefused, match="this server's block list") as refused:
        translating.plan(job("一个小丑在跳舞", content=Content.UNCHECKED, blocked=("clown*",)))
    assert refused.value.verdict.term == "clown*"
    with pytest.raises(PromptRefused, match="this server's block list"):  # Wan reads Chinese: checked all the same
        translating.plan(job("一个小丑在跳舞", "wan", blocked=("/clowns?/",)))
    assert translating.plan(job("一个小丑在跳舞")).prompt == "a clown dancing", "a server that blocks nothing"
    assert translating.plan(job("一只猫", blocked=("clown",))).prompt == "a cat"


def test_a_model_may_be_told_it_reads_more_languages(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not GenerationSettings().registry()["animatediff"].reads_language("zh")
    monkeypatch.setenv("MOTIONBOT_ANIMATEDIFF__LANGUAGES", "en, zh")
    spec = GenerationSettings().registry()["animatediff"]
    assert spec.languages == ("en", "zh") and spec.reads_language("zh") and not spec.reads_language("ja")
