"""`python -m bot`: the one place that reads settings, opens connections and builds the bot."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import discord
from discord.http import Route
from pydantic import ValidationError
from redis.exceptions import RedisError

from bot.bot import MotionBot
from bot.services import Services
from bot.settings import BotSettings
from generation.metrics import BotMetrics, configure_logging, serve
from generation.queue import JobQueue, QueueSettings
from generation.settings import GenerationSettings
from storage.db import Database
from storage.guilds import Guilds
from storage.inputs import Inputs
from storage.jobs import Ledger
from storage.quotas import Quotas
from storage.settings import StorageSettings

log = logging.getLogger("bot")


async def run(settings: BotSettings) -> None:
    storage = StorageSettings()
    generation = GenerationSettings()
    Route.BASE = settings.discord_api_base.rstrip("/")  # REST base for discord.py, proxies included
    async with contextlib.AsyncExitStack() as stack:  # closed in reverse order, also after a failed start
        db = await Database.open(storage.database_path)
        stack.push_async_callback(db.close)
        queue = await JobQueue.connect(QueueSettings(), retry_s=5)  # a user waits for the answer: fail fast
        stack.push_async_callback(queue.close)
        http = await stack.enter_async_context(aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)))
        guilds = Guilds(db, storage)
        metrics = BotMetrics()
        serve(metrics.registry, settings.metrics_port)
        services = Services(
            settings=settings, generation=generation, models=generation.registry(), db=db, guilds=guilds,
            quotas=Quotas(db, guilds), ledger=Ledger(db), inputs=Inputs(db), queue=queue, http=http, metrics=metrics,
        )  # fmt: skip
        async with MotionBot(services) as bot:
            # SIGTERM (docker stop, scripts/run) closes the gateway and the database cleanly.
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, lambda: asyncio.ensure_future(bot.close()))
            await bot.start(settings.discord_token.get_secret_value())


def main() -> int:
    configure_logging(logging.INFO)
    try:
        settings = BotSettings()
    except ValidationError as exc:
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "a setting"
            if error["type"] == "missing":
                print(f"error: {name} is not set; copy .env.example to .env and fill it in", file=sys.stderr)
            else:
                print(f"error: {error['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return 2
    try:
        asyncio.run(run(settings))
    except KeyboardInterrupt:
        pass
    except (RedisError, OSError) as exc:
        print(f"error: cannot reach Redis at {_without_password(QueueSettings().redis_url)} ({exc}); "
              "start it or set REDIS_URL", file=sys.stderr)  # fmt: skip
        return 1
    except discord.LoginFailure:
        print("error: Discord refused DISCORD_TOKEN; copy the bot token again", file=sys.stderr)
        return 2
    return 0


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


if __name__ == "__main__":
    sys.exit(main())
