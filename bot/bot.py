"""The bot: connects, loads the feature extensions and syncs commands. The features live in bot/exts/."""

from __future__ import annotations

import asyncio
import logging

import discord
import yarl
from discord import app_commands
from discord.ext import commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.errors import MotionTree
from bot.i18n import MotionTranslator
from bot.services import Services

__all__ = ["MotionBot"]

log = logging.getLogger(__name__)

EXTENSIONS = (
    "bot.exts.video",
    "bot.exts.quota",
    "bot.exts.preferences",
    "bot.exts.privacy",
    "bot.exts.admin",
    "bot.exts.help",
)
# What the bot needs in a channel (README, Quick start): the invite link it logs at start asks for these.
PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    attach_files=True,
    embed_links=True,
    read_message_history=True,
    add_reactions=True,
)
STATUS = "/animate a picture · /imagine-video · /help"  # the bot's status (one for every server: English)
DRAIN_S = 5.0  # on the way out: how long the commands, buttons and mentions under way get to answer
# The tasks discord.py runs a command, a button, a form or an event listener in (named by discord.py).
_HANDLERS = (
    "CommandTree-invoker",
    "discord-ui-view-dispatch-",
    "discord-ui-modal-dispatch-",
    "discord-ui-dynamic-item-",  # the result and status buttons, which work across restarts
    "discord.py: on_",
    "motionbot: ",  # what those start and leave running: a refusal on its way, a status message Discord is slow with
)


class MotionBot(commands.AutoShardedBot):
    """As many gateway connections (shards) as Discord recommends: one for a bot in a few servers, more as it
    grows (Discord requires them from 2,500 servers)."""

    def __init__(self, services: Services):
        # This bot has no voice: discord.py's start-up warnings about voice libraries would only mislead.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        intents = discord.Intents.default()  # a message that mentions the bot carries its content anyway
        # Privileged: lets a mention in a reply see the picture it replies to (README: Reply to an image).
        intents.message_content = services.settings.message_content_intent
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            tree_cls=MotionTree,
            # Nobody is pinged unless a message names whom (the requester, see _messages.JobMessages.post).
            allowed_mentions=discord.AllowedMentions.none(),
            activity=discord.CustomActivity(name=STATUS),  # under its name in the member list: how to start
        )
        self.services = services
        # discord.py has no setting for Discord's address, and a bot behind a proxy (or the tests' fake
        # Discord) needs one: the REST base is a class attribute, the gateway URL the REST API names
        # (setup_hook). These two lines are the only place the bot reaches into discord.py's internals.
        Route.BASE = services.settings.discord_api_base.rstrip("/")

    async def setup_hook(self) -> None:
        _, url, _ = await self.http.get_bot_gateway()  # from the REST base above: Discord, a proxy or a test
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if self.application_id is not None:
            scopes = ("bot", "applications.commands")
            invite = discord.utils.oauth_url(self.application_id, permissions=PERMISSIONS, scopes=scopes)
            log.info("add me to a server: %s", invite)
        if self.services.settings.user_install:
            self._offer_everywhere()
        await self.tree.set_translator(MotionTranslator(self.services.catalogs))  # names and descriptions
        guild_id = self.services.settings.dev_guild_id
        guild = discord.Object(guild_id) if guild_id else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        try:
            synced = await self.tree.sync(guild=guild)
        except discord.HTTPException:  # Discord keeps the commands of the last sync: carry on with those
            log.exception("could not sync the slash commands; the ones synced before stay in use")
            return
        log.info("synced %d commands %s", len(synced), f"to server {guild_id}" if guild_id else "globally")

    def _offer_everywhere(self) -> None:
        """Every command and menu (those that say otherwise aside: the server settings) for the servers the bot
        is in and for users who add the app to their account, in servers, the bot's DMs and group DMs."""
        self.tree.allowed_installs = app_commands.AppInstallationType(guild=True, user=True)
        self.tree.allowed_contexts = app_commands.AppCommandContext(guild=True, dm_channel=True, private_channel=True)
        if self.application_id is not None:
            link = discord.utils.oauth_url(self.application_id, scopes=("applications.commands",))
            log.info("add me to your account: %s&integration_type=1", link)

    async def on_message(self, message: discord.Message) -> None:
        return None  # no prefix commands; the video extension listens for mentions itself

    async def close(self) -> None:
        """Give the requests under way, and any that arrive meanwhile (the gateway is still read: an event
        already sent is not dropped), up to DRAIN_S to answer, then close. A user who pressed /animate as
        the bot stopped is told where it stands, not left thinking."""
        loop, me = asyncio.get_running_loop(), asyncio.current_task()
        deadline = loop.time() + DRAIN_S
        while handling := [t for t in asyncio.all_tasks() if t is not me and t.get_name().startswith(_HANDLERS)]:
            if loop.time() >= deadline:
                log.warning("closing with %d requests still under way", len(handling))
                break
            await asyncio.wait(handling, timeout=deadline - loop.time())
        await super().close()
