"""`python -m bot`: the one place that reads settings, opens connections and builds the bot.

Exit status: 0 after SIGTERM / Ctrl-C, 2 when a setting is wrong (scripts/run does not restart it then),
1 when a dependency (Redis, the database) cannot be reached. A Discord outage is waited out, not fatal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sqlite3
import sys

import aiohttp
import discord
from redis.exceptions import RedisError

from bot.bot import MotionBot
from bot.i18n import Catalogs
from bot.services import Services
from bot.settings import BotSettings
from generation.blocklist import BlockList
from generation.envconfig import SettingsError, load
from generation.metrics import BotMetrics, configure_logging, serve
from generation.queue import JobQueue
from generation.queue_redis import QueueSettings
from generation.settings import GenerationSettings
from storage.db import Database
from storage.forms import RestyleForms
from storage.guilds import Guilds
from storage.inputs import Inputs
from storage.jobs import Ledger
from storage.moderation import Moderation
from storage.pending import PendingRequests
from storage.quotas import Quotas
from storage.settings import StorageSettings
from storage.users import Users

log = logging.getLogger("bot")

STOP_WITHIN_S = 8.0  # after SIGTERM: answer what is under way (DRAIN_S), close Discord, Redis, SQLite, else exit
_MAX_BACKOFF_S = 60.0


class StartupError(RuntimeError):
    """The bot cannot start; the message names the cause and the setting. `code` is the exit status."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


async def _open_database(storage: StorageSettings) -> Database:
    try:
        return await Database.open(storage.database_path)
    except (OSError, sqlite3.Error) as exc:
        raise StartupError(
            f"cannot open the database {storage.database_path} ({exc}); check MOTIONBOT_DATABASE_PATH", 2
        ) from None


async def _connect_queue(settings: QueueSettings) -> JobQueue:
    try:
        queue = await JobQueue.connect(settings, retry_s=5)  # a user waits for the answer: fail fast
    except (RedisError, OSError) as exc:
        raise StartupError(settings.unreachable(exc), 1) from None
    return queue


async def _wait_for_discord(http: aiohttp.ClientSession, api_base: str) -> None:
    """Return once Discord's REST API answers; while it is unreachable or failing, log and back off."""
    delay = 1.0
    while True:
        try:
            async with http.get(f"{api_base}/gateway", timeout=aiohttp.ClientTimeout(total=10)) as response:
                if response.status < 500:
                    return
                cause = f"HTTP {response.status}"
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            cause = str(exc) or type(exc).__name__
        log.warning("cannot reach Discord at %s (DISCORD_API_BASE): %s; trying again in %.0f s", api_base, cause, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, _MAX_BACKOFF_S)


async def _login(bot: MotionBot, token: str, api_base: str) -> None:
    try:
        await bot.login(token)
    except discord.LoginFailure:
        raise StartupError("Discord refused DISCORD_TOKEN (401); copy the bot token again", 2) from None
    except discord.HTTPException as exc:
        if exc.status >= 500:
            message = f"Discord at {api_base} failed the login (HTTP {exc.status}); start the bot again later"
            raise StartupError(message, 1) from None
        raise StartupError(
            f"DISCORD_API_BASE={api_base} answered {exc.status} to the login: is it Discord's REST API "
            "(https://discord.com/api/v10) or a proxy in front of it?",
            2,
        ) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise StartupError(f"lost Discord at {api_base} (DISCORD_API_BASE) during the login: {exc}", 1) from None


async def serve_bot(settings: BotSettings) -> None:
    """Open the database, Redis and Discord, and run the bot until it is closed or cancelled."""
    storage, generation, queue_settings = load(StorageSettings), load(GenerationSettings), load(QueueSettings)
    api_base = settings.discord_api_base.rstrip("/")
    async with contextlib.AsyncExitStack() as stack:  # closed in reverse order, also after a failed start
        db = await _open_database(storage)
        stack.push_async_callback(db.close)
        queue = await _connect_queue(queue_settings)
        stack.push_async_callback(queue.close)
        http = await stack.enter_async_context(aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)))
        guilds = Guilds(db, storage)
        metrics = BotMetrics()
        serve(metrics.registry, settings.metrics_port)
        services = Services(
            settings=settings,
            generation=generation,
            models=generation.registry(),
            db=db,
            guilds=guilds,
            quotas=Quotas(db, guilds),
            ledger=Ledger(db),
            inputs=Inputs(db, storage.max_input_mb_per_user << 20, storage.max_input_mb_per_server << 20),
            queue=queue,
            http=http,
            metrics=metrics,
            blocklist=BlockList.built_in(),
            moderation=Moderation(db),
            catalogs=Catalogs.load(),
            forms=RestyleForms(db),
            users=Users(db),
            pending=PendingRequests(db),
        )
        await _wait_for_discord(http, api_base)
        async with MotionBot(services) as bot:  # leaving it closes the gateway, also on cancel
            await _login(bot, settings.discord_token.get_secret_value(), api_base)
            try:
                await bot.connect(reconnect=True)  # discord.py reconnects with backoff by itself
            except discord.PrivilegedIntentsRequired:
                raise StartupError(
                    "Discord refused the Message Content intent (MOTIONBOT_MESSAGE_CONTENT_INTENT=true): switch "
                    "it on under Bot -> Privileged Gateway Intents in the Developer Portal, or set the setting "
                    "to false (then a mention in a reply cannot see the picture it replies to)",
                    2,
                ) from None


async def run(settings: BotSettings) -> None:
    """Serve until done; SIGTERM or SIGINT stops it within STOP_WITHIN_S, a second one at once."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: os._exit(0) if stop.is_set() else stop.set())
    main = asyncio.create_task(serve_bot(settings))
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({main, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if main.done():
        stopped.cancel()
        main.result()  # raises what stopped it
        return
    log.info("stopping")
    main.cancel()  # also interrupts discord.py's reconnect pause and Redis retries
    await asyncio.wait({main}, timeout=STOP_WITHIN_S)
    if not main.done():
        log.warning("could not close everything within %.0f s; exiting anyway", STOP_WITHIN_S)
        os._exit(0)  # committed SQLite transactions are safe; the database thread would keep us alive
    with contextlib.suppress(asyncio.CancelledError):
        await main


def main() -> int:
    configure_logging(logging.INFO)
    try:
        asyncio.run(run(load(BotSettings)))
    except SettingsError as exc:
        for line in exc.lines:
            print(f"error: {line}", file=sys.stderr)
        return 2
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
