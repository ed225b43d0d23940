"""Speaking the user's language: every sentence the code says is in every catalog, the synced commands carry
every catalog's names and descriptions, and users are answered in their own Discord locale (channel
messages in the server's) by the real bot over the fake Discord."""

from __future__ import annotations

import ast
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog

from bot.i18n import Catalogs, Voice
from generation.options import OptionError, parse_flags
from generation.text import Text, _
from storage.quotas import credits_of
from tests.bot.conftest import BotProcess, serve
from tests.bot.test_buttons import button, ephemeral_answer, followup_text, private_answer
from tests.bot.test_video import delivered, refusal
from tests.conftest import png_bytes
from tests.fake_discord import FakeDiscord, Message, RoleRef, UserRef
from tests.support import ROOT, RedisServer

CATALOGS = Catalogs.load()
ZH, JA, KO, EN = (CATALOGS.voice(locale) for locale in ("zh-CN", "ja", "ko", "en-US"))
STAGES = [ZH(s) for s in (_("⏳ Queued"), _("📦 Loading the model"), _("🎨 Generating"), _("⚙️ Starting"))]
HAS_WORDS = re.compile(r"[A-Za-z]")  # "16:9" is said the same in every language


def sentences_in_code() -> list[tuple[str, str | None]]:
    """Every `_("…")` in bot/, generation/ and storage/; a call whose message is not a literal fails the test
    (a catalog cannot hold a sentence made at run time)."""
    found, dynamic = [], []
    for package in ("bot", "generation", "storage"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_":
                    first = node.args[0] if node.args else None
                    if isinstance(first, ast.Constant) and isinstance(first.value, str):
                        found.append((first.value, None))
                    else:
                        dynamic.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not dynamic, f"_() needs a literal message: {dynamic}"
    return found


def option_error(prompt: str) -> Text:
    with pytest.raises(OptionError) as raised:
        parse_flags(prompt)
    return raised.value.text


def pattern(voice: Voice, message: str) -> re.Pattern[str]:
    """`voice`'s wording of `message`, with any value where its {names} are."""
    wording = voice.wording(message) or message
    return re.compile(re.sub(r"\\\{[a-z_]+\\\}", ".+?", re.escape(wording)))


def test_every_sentence_the_code_says_is_translated_in_every_catalog() -> None:
    said = sentences_in_code()
    assert len(said) > 200, "the scan found the code's sentences"
    assert {"zh-CN", "zh-TW", "ja", "ko"} <= set(CATALOGS.locales)
    assert CATALOGS.missing(said) == []


def test_the_check_names_a_missing_translation_and_one_that_drops_a_value() -> None:
    catalog = Catalog(locale="ja")
    catalog.add("Deleted.", "削除しました。")
    catalog.add("{n} s", "{count} 秒")
    found = Catalogs({"ja": catalog}).missing([("Deleted.", None), ("{n} s", None), ("Cancel", None)])
    assert len(found) == 2
    assert "'{count} 秒'" in found[0] and "no translation of 'Cancel'" in found[1]


def test_a_sentence_is_said_from_the_catalog_and_in_english_where_there_is_none() -> None:
    wrong = option_error("a fox -motion 9")
    assert str(wrong) == "`-motion` must be 0–4, got `9`"
    for voice in (ZH, JA, KO, CATALOGS.voice("zh-TW")):
        said = voice(wrong)
        assert said != str(wrong) and "`-motion`" in said and "0–4" in said and "`9`" in said
    assert CATALOGS.voice("fr")(wrong) == str(wrong) and CATALOGS.voice(None)(wrong) == str(wrong)
    several = option_error("a fox -motion 9 -fps 2 -speed 3 -zoom in")  # every problem, one to a line
    assert JA(several).split("\n") == [
        JA(option_error("-motion 9")),
        JA(option_error("-fps 2")),
        JA(option_error("-speed 1 -zoom 1")),
    ]
    assert CATALOGS.voice("ja").locale == "ja" and CATALOGS.voice("pt-BR").locale == "en-US"
    # A value that is itself a sentence is said in the same language; what the user typed never is.
    nested = _("⚠️ {error}", error=_("Deleted."))
    assert ZH(nested) == "⚠️ " + ZH(_("Deleted.")) and ZH(_("`{key}` cannot be empty", key="Deleted.")).count("Deleted.")
    # A translation that names a value the sentence does not give is not used: the English, never a crash.
    broken = Catalog(locale="ja")
    broken.add("{n} s", "{count} 秒")
    assert Catalogs({"ja": broken}).voice("ja")(_("{n} s", n=3)) == "3 s"


@pytest.fixture(scope="module")
async def service(
    fake: FakeDiscord, redis_server: RedisServer, tiny_models: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BotProcess]:
    """The bot and a worker, in a server whose preferred locale (in Discord) is Korean."""
    fake.guild_locale = "ko"  # sent in GUILD_CREATE when the bot connects
    async for bot in serve(fake, redis_server, tiny_models, tmp_path_factory.mktemp("locales")):
        yield bot


def _unlocalized(item: dict[str, Any], where: str, menu: bool = False) -> list[str]:
    """The names and descriptions of a synced command (its options, their choices) some catalog lacks."""
    wanted, found = set(CATALOGS.locales), []
    fields = ("name",) if menu else ("name", "description")
    for field in fields:
        if HAS_WORDS.search(str(item.get(field) or "")):
            missing = wanted - set(item.get(f"{field}_localizations") or {})
            found += [f"{where} {field} {item[field]!r}: no {sorted(missing)}"] if missing else []
    for option in item.get("options") or []:
        found += _unlocalized(option, f"{where} > {option['name']}")
        for choice in option.get("choices") or []:
            found += _unlocalized(choice, f"{where} > {option['name']} = {choice['name']}", menu=True)
    return found


async def test_the_synced_commands_carry_every_catalogs_names_descriptions_and_choices(
    fake: FakeDiscord, service: BotProcess
) -> None:
    assert fake.commands, "the bot synced its commands"
    problems = [p for c in fake.commands for p in _unlocalized(c, f"/{c['name']}", menu=c.get("type", 1) != 1)]
    assert problems == []
    animate = next(c for c in fake.commands if c["name"] == "animate")
    assert animate["name_localizations"]["zh-CN"] == ZH.wording("animate", "command_name")
    assert animate["description_localizations"]["ja"] == JA.wording("Turn an image into a short video clip")
    camera = next(o for o in animate["options"] if o["name"] == "camera")
    assert camera["name_localizations"]["ko"] == KO.wording("camera", "parameter_name")
    menu = next(c for c in fake.commands if c["name"] == "Animate image")
    assert menu["name_localizations"]["zh-TW"] == CATALOGS.voice("zh-TW").wording("Animate image", "command_name")


# Discord's limits on application commands (its API refuses the whole sync when one is broken): names of slash
# commands and options 1-32 characters, lowercase, letters, digits, - and _ (menus: any 1-32); descriptions and
# choice names 1-100; at most 25 options and 25 choices; required options first.
_NAME = re.compile(r"^[-_\w]{1,32}$")


def _over_limits(item: dict[str, Any], where: str, menu: bool = False, choice: bool = False) -> list[str]:
    """What in a synced command (in any language) Discord would refuse."""
    found = []
    names = [item["name"], *(item.get("name_localizations") or {}).values()]
    for name in names:
        if choice or menu:
            good = 1 <= len(name) <= (100 if choice else 32)
        else:
            good = bool(_NAME.match(name)) and name == name.lower()
        found += [] if good else [f"{where}: name {name!r}"]
    if not menu and not choice:
        for text in [item.get("description") or "", *(item.get("description_localizations") or {}).values()]:
            found += [] if 1 <= len(text) <= 100 else [f"{where}: description {text!r} ({len(text)})"]
    options = item.get("options") or []
    found += [f"{where}: {len(options)} options"] if len(options) > 25 else []
    required = [bool(option.get("required")) for option in options if option.get("type") not in (1, 2)]
    found += [f"{where}: a required option after an optional one"] if required != sorted(required, reverse=True) else []
    for option in options:
        found += _over_limits(option, f"{where} > {option['name']}")
        choices = option.get("choices") or []
        found += [f"{where} > {option['name']}: {len(choices)} choices"] if len(choices) > 25 else []
        for each in choices:
            found += _over_limits(each, f"{where} > {option['name']} = {each['name']}", choice=True)
    return found


def _characters(item: dict[str, Any], locale: str | None) -> int:
    """A command's characters as Discord counts them against its 4000 (names, descriptions, choices and
    their values), in `locale` (None: the default)."""

    def said(field: str) -> str:
        return str((item.get(f"{field}_localizations") or {}).get(locale) or item.get(field) or "")

    own = len(said("name")) + len(said("description")) + len(str(item.get("value", "")))
    parts = [*(item.get("options") or []), *(item.get("choices") or [])]
    return own + sum(_characters(part, locale) for part in parts)


async def test_the_synced_commands_fit_discords_limits_in_every_language(
    fake: FakeDiscord, service: BotProcess
) -> None:
    assert fake.commands, "the bot synced its commands"
    problems = [p for c in fake.commands for p in _over_limits(c, f"/{c['name']}", menu=c.get("type", 1) != 1)]
    sizes = {(c["name"], locale): _characters(c, locale) for c in fake.commands for locale in (None, *CATALOGS.locales)}
    problems += [
        f"/{name} in {locale or 'English'}: {size} characters" for (name, locale), size in sizes.items() if size > 4000
    ]
    assert problems == []
    broken = {"name": "Animate", "description": "x" * 101, "options": [{"name": "a b", "description": "ok"}]}
    assert len(_over_limits(broken, "/broken")) == 3, "the check finds an upper-case name, a long text, a space"


async def test_a_zh_cn_user_gets_status_result_and_buttons_in_zh_cn(fake: FakeDiscord, service: BotProcess) -> None:
    image = fake.upload("cat.png", png_bytes())
    token = await fake.slash("animate", {"prompt": "a cat"}, attachments={"image": image}, user_id=6101, locale="zh-CN")
    message = await delivered(fake, token)
    shown = [str(edit.get("content") or "") for edit in message.edits]
    assert any(stage in text for text in shown for stage in STAGES), shown
    assert pattern(ZH, "{size}, {frames} at {fps} fps · {cost}").search(message.content), message.content
    labels = {b["label"] for b in message.buttons()}
    assert {ZH(_("Reroll")), ZH(_("Remix")), ZH(_("Delete"))} <= labels and "Reroll" not in labels
    alt = message.data["attachments"][0]["description"]
    assert alt == ZH(_("An AI-generated video clip: {prompt}", prompt="a cat"))
    # The same request from an English client reads English: it is the locale that changed the words.
    english = await delivered(
        fake, await fake.slash("animate", {"prompt": "a cat"}, attachments={"image": image}, user_id=6102)
    )
    assert pattern(EN, "{size}, {frames} at {fps} fps · {cost}").search(english.content)
    assert "Reroll" in {b["label"] for b in english.buttons()}

    # Pressing a button, and the Remix form, answer in the presser's language.
    token = await fake.click(message, button(message, "delete"), user_id=6103, locale="ja")
    assert await ephemeral_answer(fake, token) == JA(_("Only the person who asked for it, or moderators, can do that."))
    token = await fake.click(message, button(message, "remix"), user_id=6101, locale="zh-CN")
    form = (await fake.wait_until(lambda: fake.callbacks.get(token), timeout=20, what="the Remix form"))[0]["data"]
    labels = {c["label"] for row in form["components"] for c in row["components"]}
    assert form["title"] == ZH(_("Remix")) and labels == {ZH(_("Prompt")), ZH(_("Options (Pika flags)"))}


async def test_a_zh_cn_user_is_refused_in_zh_cn_by_every_clip_command(fake: FakeDiscord, service: BotProcess) -> None:
    commands = {
        "imagine-video": ({"prompt": "a fox -motion 9"}, {}),
        "animate": ({"prompt": "a cat -fps 99"}, {"image": fake.upload("c.png", png_bytes())}),
        "morph": (
            {"prompt": "a day -seed x"},
            {"first": fake.upload("a.png", png_bytes()), "last": fake.upload("b.png", png_bytes())},
        ),
        "restyle": ({"prompt": "ink -camera fly away"}, {"video": fake.upload("v.mp4", b"x", "video/mp4")}),
    }
    for name, (options, files) in commands.items():
        token = await fake.slash(name, options, attachments=files, user_id=6201, locale="zh-CN")
        assert await refusal(fake, token) == "⚠️ " + ZH(option_error(options["prompt"])), name
    target = fake.user_message("no picture here", user_id=6202)
    token = await fake.context_menu("Animate image", target, user_id=6201, locale="zh-CN")
    assert await refusal(fake, token) == "⚠️ " + ZH(_("that message has no image to animate"))
    for locale in ("zh-CN", "ko"):
        token = await fake.context_menu("Restyle video", target, user_id=6201, locale=locale)
        voice = CATALOGS.voice(locale)
        assert await ephemeral_answer(fake, token) == voice(_("that message has no video to restyle"))


async def test_quota_queue_and_admin_answer_in_the_users_language(fake: FakeDiscord, service: BotProcess) -> None:
    quota = await followup_text(fake, await fake.slash("quota", {}, user_id=6301, locale="zh-CN"))
    assert ZH(_("`/animate` with no options: {credits} (`{model}`)", credits=credits_of(1), model="svd-xt")) in quota
    assert pattern(ZH, "They reset <t:{at}:R> (<t:{at}:t>).").search(quota)
    line = "Jobs in the queue: **{depth}** · GPU workers online: **{workers}**"
    queue = await followup_text(fake, await fake.slash("queue", {}, user_id=6301, locale="zh-CN"))
    assert pattern(ZH, line).search(queue), queue
    queue = await followup_text(fake, await fake.slash("queue", {}, user_id=6301, locale="ja"))
    assert pattern(JA, line).search(queue), queue
    token = await fake.slash("motionbot-admin", {}, subcommand=["settings"], user_id=6302, admin=True, locale="ko")
    settings = await ephemeral_answer(fake, token)
    assert pattern(KO, "channels: {channels}").search(settings) and KO(_("all")) in settings
    token = await fake.slash("motionbot-admin", {}, subcommand=["status"], user_id=6303, locale="zh-CN")
    assert await ephemeral_answer(fake, token) == "⚠️ " + ZH(_("you need the Manage Server permission for that."))


def _reply_to(fake: FakeDiscord, message: dict[str, Any]) -> Message | None:
    return next(
        (
            m
            for m in fake.messages.values()
            if (m.data.get("message_reference") or {}).get("message_id") == message["id"]
        ),
        None,
    )


async def _mention_reply(fake: FakeDiscord, user_id: int) -> str:
    request = fake.user_message("<@700000000000000004> hi", user_id=user_id, mentions_bot=True)
    await fake.post(request)
    reply = await fake.wait_until(lambda: _reply_to(fake, request), timeout=20, what="the reply")
    return reply.content


async def _set_language(fake: FakeDiscord, value: str) -> str:
    options = {"setting": "language", "value": value}
    token = await fake.slash("motionbot-admin", options, subcommand=["set"], user_id=6401, admin=True)
    return await ephemeral_answer(fake, token)


async def test_channel_messages_use_the_servers_locale_or_the_admins_language(
    fake: FakeDiscord, service: BotProcess
) -> None:
    hint = _(
        "reply to a message with an image (or attach one) and mention me to animate it; "
        "for a clip from words, use `/imagine-video`"
    )
    assert await _mention_reply(fake, 6411) == "⚠️ " + KO(hint), "a mention has no locale: the server's"
    assert "`language` is now ja" in await _set_language(fake, "ja")
    assert await _mention_reply(fake, 6412) == "⚠️ " + JA(hint)
    assert "must be auto or one of" in await _set_language(fake, "xx-YY")
    try:
        # A clip delivered after its interaction expired is a channel message: in the server's language,
        # while its requester's own status message was in theirs.
        image = fake.upload("sky.png", png_bytes())
        options = {"prompt": "slow clouds -steps 8"}
        token = await fake.slash("animate", options, attachments={"image": image}, user_id=6421, locale="zh-CN")

        def in_chinese() -> Message | None:
            status = fake.response_to(token)
            return status if status is not None and any(stage in status.content for stage in STAGES) else None

        status = await fake.wait_until(in_chinese, timeout=20, what="the requester's status message, in zh-CN")
        fake.expired_tokens.add(token)
        late = await fake.wait_until(
            lambda: next(
                (
                    m
                    for m in fake.messages.values()
                    if m.files and (m.data.get("message_reference") or {}).get("message_id") == str(status.id)
                ),
                None,
            ),
            timeout=90,
            what="the late clip",
        )
        assert JA(_("<@{user}> your video is ready", user=6421)) in late.content
        assert {JA(_("Reroll")), JA(_("Delete"))} <= {b["label"] for b in late.buttons()}
    finally:
        assert "`language` is now auto" in await _set_language(fake, "auto")
    assert await _mention_reply(fake, 6413) == "⚠️ " + KO(hint)


def test_every_catalog_is_a_po_file_babel_reads() -> None:
    files = sorted(Path(ROOT / "bot" / "locales").glob("*.po"))
    assert [f.stem for f in files] == sorted(CATALOGS.locales)
    assert all(f.read_text(encoding="utf-8").count('msgid "') > 400 for f in files)


CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
ADMIN_COMMANDS: dict[str, dict[str, Any]] = {
    "settings": {},
    "status": {},
    "content": {"policy": "strict"},
    "blocklist": {"action": "list"},
    "modlog": {},
    "set": {"setting": "cooldown_s", "value": "0"},
    "channels": {"action": "clear"},
    "models": {"enabled": "all"},
    "tier": {"role": RoleRef(6501, "artists"), "credits": 0},
    "grant": {"user": UserRef(6502), "credits": 5},
    "reset": {"user": UserRef(6502)},
    "block": {"user": UserRef(6503), "blocked": False},
    "queue": {},
}


async def test_every_admin_command_answers_a_zh_cn_admin_in_zh_cn(fake: FakeDiscord, service: BotProcess) -> None:
    for sub, options in ADMIN_COMMANDS.items():
        answers = {}
        for locale in ("zh-CN", "en-US"):
            token = await fake.slash(
                "motionbot-admin", options, subcommand=[sub], user_id=6504, admin=True, locale=locale
            )
            answers[locale] = await private_answer(fake, token)
        assert CJK.search(answers["zh-CN"]) and not CJK.search(answers["en-US"]), (sub, answers)
