"""Starting the unmodified bot as a new user does: from a copied `.env.example`, with Discord, Redis or a
setting wrong. Each failure names its cause and the variable; Discord outages are waited out; SIGTERM
stops the bot within 5 s in every state."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from generation.queue import JobQueue
from generation.queue_redis import QueueSettings
from tests.bot.conftest import NO_PREVIEWS, TOKEN, BotProcess, connected
from tests.bot.test_buttons import followup_text
from tests.conftest import png_bytes
from tests.fake_discord import APP_ID, BOT_ROLE, FakeDiscord
from tests.generation.test_worker_processes import wait_for_workers
from tests.support import ROOT, RedisServer, free_port


def env_from_example(folder: Path, token: str = TOKEN) -> Path:
    """`cp .env.example .env` and fill in the token, byte for byte otherwise."""
    text = (ROOT / ".env.example").read_text()
    assert "\nDISCORD_TOKEN=\n" in text
    (folder / ".env").write_text(text.replace("\nDISCORD_TOKEN=\n", f"\nDISCORD_TOKEN={token}\n"))
    return folder


async def exited(bot: BotProcess, timeout: float = 60) -> int:
    """The bot's exit status, waiting without blocking the event loop (the fake Discord runs on it)."""
    deadline = time.monotonic() + timeout
    while (code := bot.process.poll()) is None:
        assert time.monotonic() < deadline, f"still running after {timeout} s:\n{bot.output()}"
        await asyncio.sleep(0.05)
    return code


async def stop_within(bot: BotProcess, seconds: float) -> int:
    started = time.monotonic()
    bot.signal(signal.SIGTERM)
    code = await exited(bot, 30)
    assert time.monotonic() - started < seconds, f"took {time.monotonic() - started:.1f} s to stop"
    return code


async def wait_for_line(bot: BotProcess, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in bot.output():
        assert bot.process.poll() is None, bot.output()
        assert time.monotonic() < deadline, bot.output()
        await asyncio.sleep(0.1)


async def test_the_bot_starts_from_a_copy_of_env_example(
    fake: FakeDiscord, start_bot: Callable[..., BotProcess], tmp_path: Path
) -> None:
    folder = env_from_example(tmp_path)
    # Only what a deployment here must point elsewhere; the empty MOTIONBOT_DEV_GUILD_ID= stays as shipped.
    bot = start_bot(cwd=folder, DISCORD_TOKEN="", MOTIONBOT_DEV_GUILD_ID="", MOTIONBOT_USER_INSTALL="")
    await connected(fake, bot, fake.identified)
    output = bot.output()
    assert "PyNaCl" not in output and "davey" not in output and "voice" not in output  # this bot has no voice
    # Under its name in the member list, how to start (discord.py sends it as IDENTIFY's legacy `game`).
    [status] = fake.presence.get("activities") or [fake.presence["game"]]
    assert status["type"] == 4 and "/animate" in status["state"] and "/help" in status["state"]
    # The link that adds it to a server, asking for what README's Quick start lists: View Channels, Send
    # Messages (and in Threads), Attach Files, Embed Links, Read Message History, Add Reactions (by their bits).
    wanted = sum(1 << bit for bit in (10, 11, 38, 15, 14, 16, 6))
    assert f"https://discord.com/oauth2/authorize?client_id={APP_ID}&scope=bot+applications.commands" in output
    assert f"&permissions={wanted}" in output
    # Shipped for servers only: users add it to their account once the portal allows it (MOTIONBOT_USER_INSTALL).
    assert "add me to your account" not in output
    assert {1 in (c.get("integration_types") or [0]) for c in fake.commands} == {False}
    assert await stop_within(bot, 5) == 0


async def test_an_unreachable_discord_is_named_and_waited_out_and_sigterm_is_prompt(
    start_bot: Callable[..., BotProcess], tmp_path: Path
) -> None:
    bot = start_bot(cwd=env_from_example(tmp_path), DISCORD_API_BASE=f"http://127.0.0.1:{free_port()}/api/v10")
    await wait_for_line(bot, "cannot reach Discord")
    await wait_for_line(bot, "trying again in 2 s")  # backing off, not a crash loop
    output = bot.output()
    assert "DISCORD_API_BASE" in output and "Redis" not in output
    assert await stop_within(bot, 5) == 0


async def test_a_token_discord_refuses_is_a_settings_error(
    fake: FakeDiscord, start_bot: Callable[..., BotProcess], tmp_path: Path
) -> None:
    fake.fail_next("GET", r"^/users/@me$", 401, {"message": "401: Unauthorized", "code": 0})
    bot = start_bot(cwd=tmp_path)
    assert await exited(bot) == 2  # scripts/run does not restart a bot that exits 2
    assert "DISCORD_TOKEN" in bot.output() and "Traceback" not in bot.output()
    assert TOKEN not in bot.output()


@pytest.mark.parametrize(
    ("variable", "value"),
    [("MOTIONBOT_DEV_GUILD_ID", "my-server"), ("MOTIONBOT_QUEUE__LEASE_S", "soon"), ("MOTIONBOT_DAILY_CREDITS", "-1")],
)
async def test_a_wrong_setting_names_its_variable_and_value(
    start_bot: Callable[..., BotProcess], tmp_path: Path, variable: str, value: str
) -> None:
    bot = start_bot(cwd=tmp_path, **{variable: value})
    assert await exited(bot) == 2
    assert f"{variable}='{value}' is not valid" in bot.output(), bot.output()
    assert "Traceback" not in bot.output()


async def test_an_unreachable_redis_is_named_as_redis_and_stops_promptly(
    start_bot: Callable[..., BotProcess], tmp_path: Path
) -> None:
    stopped = start_bot(cwd=tmp_path, REDIS_URL=f"redis://:hunter2@127.0.0.1:{free_port()}/0")
    bot = start_bot(  # side by side, on a database of its own
        cwd=tmp_path,
        REDIS_URL=f"redis://:hunter2@127.0.0.1:{free_port()}/0",
        MOTIONBOT_DATABASE_PATH=str(tmp_path / "second.db"),
    )
    await asyncio.sleep(2)  # inside the Redis retries
    assert await stop_within(stopped, 5) == 0
    assert await exited(bot) == 1
    assert "cannot reach Redis" in bot.output() and "REDIS_URL" in bot.output()
    assert "hunter2" not in bot.output() and "Discord" not in bot.output().split("cannot reach Redis")[-1]


async def test_the_bot_connects_every_shard_discord_recommends(
    fake: FakeDiscord, start_bot: Callable[..., BotProcess]
) -> None:
    fake.shards = 2  # what Discord answers a bot in thousands of servers: each shard carries some of them
    try:
        before = len(fake.identifies)
        bot = start_bot()
        await connected(fake, bot, fake.identified)
        await fake.wait_until(lambda: len(fake.identifies) >= before + 2, timeout=30, what="every shard")
        assert sorted(fake.identifies[before:]) == [[0, 2], [1, 2]]
        quota = await fake.slash("quota", {}, user_id=3901)  # the test server's shard serves its commands
        assert "Credits left" in await followup_text(fake, quota)
    finally:
        fake.shards = 1


async def test_a_content_intent_the_portal_has_not_allowed_stops_the_bot_saying_where_to_switch_it_on(
    fake: FakeDiscord, start_bot: Callable[..., BotProcess]
) -> None:
    fake.content_intent_allowed = False  # Bot -> Privileged Gateway Intents -> Message Content: off
    try:
        bot = start_bot(MOTIONBOT_MESSAGE_CONTENT_INTENT="true")
        assert await exited(bot) == 2
        assert "Privileged Gateway Intents" in bot.output() and "MOTIONBOT_MESSAGE_CONTENT_INTENT" in bot.output()
    finally:
        fake.content_intent_allowed = True


async def test_without_the_content_intent_a_reply_to_a_picture_says_how_to_animate_it(
    fake: FakeDiscord,
    start_bot: Callable[..., BotProcess],
    start_worker: Callable[..., object],
    redis_server: RedisServer,
) -> None:
    queue = await JobQueue.connect(QueueSettings(REDIS_URL=redis_server.url))
    try:
        start_worker("--id", "gpu-intent", env=NO_PREVIEWS)
        await wait_for_workers(queue, {"gpu-intent"})
    finally:
        await queue.close()
    bot = start_bot()  # the default: no privileged intent
    await connected(fake, bot, fake.identified)
    picture = fake.user_message("", user_id=1471, attachments=[fake.upload("sea.png", png_bytes())])
    await fake.post(picture)  # Discord shows the bot an empty message: it does not mention the bot
    asked = fake.user_message("<@700000000000000004> -motion 2", user_id=1472, mentions_bot=True, reply_to=picture)
    attached = fake.user_message(
        "<@700000000000000004> -motion 2", user_id=1472, mentions_bot=True, attachments=[picture["attachments"][0]]
    )
    by_role = fake.user_message(f"<@&{BOT_ROLE}> -motion 2", user_id=1472, reply_to=picture)  # the bot's role
    other_role = fake.user_message("<@&700000000000000777> look at this", user_id=1472, reply_to=picture)
    for message in (asked, attached, other_role, by_role):
        await fake.post(message)

    [hint] = await fake.wait_until(lambda: fake.replies_to(asked), timeout=20, what="the hint")
    assert "cannot see the picture you replied to" in hint.content and "Animate image" in hint.content
    [role_hint] = await fake.wait_until(lambda: fake.replies_to(by_role), timeout=20, what="the role hint")
    assert "mention my role" in role_hint.content and "pick me, the bot" in role_hint.content
    assert not fake.replies_to(other_role), "a message to someone else's role is not for the bot"
    await fake.wait_until(
        lambda: (found := fake.replies_to(attached)) and found[0].files,
        timeout=90,
        what="the clip of the attached picture",
    )
