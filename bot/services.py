"""Everything the bot's features use, built once in `__main__` and handed to each extension."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import aiohttp
from redis.exceptions import RedisError

from bot.i18n import Catalogs
from bot.settings import BotSettings
from generation.blocklist import BlockList
from generation.metrics import BotMetrics
from generation.models import ModelSpec
from generation.queue import JobQueue
from generation.queue_types import CancelResult
from generation.settings import GenerationSettings
from storage.db import Database
from storage.forms import RestyleForms
from storage.guilds import Guilds
from storage.inputs import Inputs
from storage.jobs import Ledger
from storage.moderation import Moderation
from storage.pending import PendingRequests
from storage.quotas import Quotas
from storage.users import Users

__all__ = ["Services"]

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: BotSettings
    generation: GenerationSettings
    models: dict[str, ModelSpec]
    db: Database
    guilds: Guilds
    quotas: Quotas
    ledger: Ledger
    inputs: Inputs
    queue: JobQueue
    http: aiohttp.ClientSession  # for downloading images from Discord's CDN
    metrics: BotMetrics
    blocklist: BlockList  # the built-in block list
    moderation: Moderation  # the ledger of refused and flagged content
    catalogs: Catalogs  # every language the bot speaks besides English (bot/locales/*.po)
    forms: RestyleForms  # the video of each open Restyle form
    users: Users  # what the bot keeps about a user, and forgetting it (/privacy)
    pending: PendingRequests  # requests acknowledged and not answered yet (told at the next start if killed)

    async def cancel_unfinished(self, *, user_id: int | None = None, guild_id: int | None = None) -> int:
        """Cancel the jobs of a user and/or a server that are queued or rendering (the watcher shows and refunds
        each as it does any cancel); how many. With the queue unreachable, the ones it could not reach run on."""
        stopped = 0
        for record in await self.ledger.unfinished(user_id=user_id, guild_id=guild_id):
            try:
                result = await self.queue.cancel(record.job_id)
            except (RedisError, OSError):
                log.warning("could not cancel job %s", record.job_id, exc_info=True)
                continue
            stopped += result in (CancelResult.REMOVED, CancelResult.STOPPING)
        return stopped
