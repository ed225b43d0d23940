"""/quota, /queue and /history: what you have left, where your videos are, and the ones you made."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import discord
from discord import app_commands
from discord.ext import commands
from redis.exceptions import RedisError

from bot.errors import theirs
from bot.exts.preferences import saved_flags, saved_preferences
from bot.i18n import Voice, more_lines, voice_of
from bot.limits import lines_within
from bot.pricing import default_price
from bot.records import message_link, named
from bot.services import Services
from bot.spaces import space_of
from generation.jobs import JobKind
from generation.options import Options, flags_line
from generation.queue_types import QueueStatus
from generation.text import Said, Text, _
from storage.guilds import GuildSettings
from storage.jobs import JobRecord, JobState
from storage.quotas import credits_of

HISTORY = 10  # the jobs a /history page lists
_PAGE = r"mb:history:(?P<user>[0-9]{1,20}):(?P<skip>[0-9]{1,6})"
# A job's state in the ledger or the queue (both say "queued" and "running"), as the user reads it.
_STATES = {JobState.QUEUED.value: _("queued"), JobState.RUNNING.value: _("rendering")}


def _prices(
    services: Services, settings: GuildSettings, served: set[str], defaults: Sequence[Options]
) -> tuple[list[Text], Text | None]:
    """What a clip asked for with no options costs this user in this server (with their default flags), and
    on which model; and an /animate with a prompt, where that runs on another model (the prompted-image
    default, while a worker serves it); last, the default flags these prices count."""
    found, counted = [], Options()

    def quote(kind: JobKind, prompted: bool = False) -> tuple[str, Text] | None:
        nonlocal counted
        try:
            priced = default_price(services, kind, settings, served, prompted, defaults)
        except Said:  # the server's limits leave no such clip (a refusal, or no plan): nothing to quote
            return None
        if priced is None:
            return None
        counted = counted.over(priced[2])
        return priced[0], credits_of(priced[1])

    if plain := quote(JobKind.IMAGE_TO_VIDEO):
        found.append(_("`/animate` with no options: {credits} (`{model}`)", model=plain[0], credits=plain[1]))
    steered = quote(JobKind.IMAGE_TO_VIDEO, prompted=True)
    if steered and steered[0] in served and (plain is None or steered[0] != plain[0]):
        found.append(_("`/animate` with a prompt: {credits} (`{model}`)", model=steered[0], credits=steered[1]))
    if text := quote(JobKind.TEXT_TO_VIDEO):
        found.append(_("`/imagine-video` with no options: {credits} (`{model}`)", model=text[0], credits=text[1]))
    if hidden := quote(JobKind.ILLUSION):
        found.append(_("`/illusion` with no options: {credits} (`{model}`)", model=hidden[0], credits=hidden[1]))
    if cast := quote(JobKind.INGREDIENTS):
        found.append(_("`/ingredients` with no options: {credits} (`{model}`)", model=cast[0], credits=cast[1]))
    flags = flags_line(counted)
    return found, _("These prices count your default flags `{flags}` (`/preferences`).", flags=flags) if flags else None


async def in_line(services: Services, records: list[JobRecord], say: Voice, whose: bool = False) -> list[str]:
    """A line per job on the way, in the order they will be made: its prompt, linked to its status message
    (where Cancel is), and its place in line; `whose`: who asked for it too."""
    seen = [(record, await services.queue.state(record.job_id)) for record in records]
    seen.sort(key=lambda job: job[1].position or (0 if job[1].status == QueueStatus.RUNNING else 1e9))
    lines = []
    for record, state in seen:
        where = _STATES.get(state.status, _("finishing"))
        if state.position and (at := state.ready_at(time.time())):
            where = _("#{position} in line, ready <t:{at}:R>", position=state.position, at=at)
        elif state.position:
            where = _("#{position} in line", position=state.position)
        shown = named(record, say)
        if record.status_message_id:
            shown = f"[{shown}]({message_link(record, record.status_message_id)})"
        lines.append(f"• {f'<@{record.user_id}> ' if whose else ''}{shown}: {say(where)}")
    return lines


class Quota(commands.Cog):
    def __init__(self, bot: Any, services: Services):
        self.bot, self.services = bot, services
        HistoryPage.services = services

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(HistoryPage)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(HistoryPage)

    @app_commands.command(name="quota", description="How many credits you have left today and when they reset")
    async def quota(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        s = self.services
        roles = [role.id for role in getattr(interaction.user, "roles", ())]
        space = space_of(interaction)  # this server's credits, or the user's own
        status = await s.quotas.status(space, interaction.user.id, roles)
        running = await s.ledger.unfinished(interaction.user.id)
        say, at = voice_of(interaction), int(status.resets_at.timestamp())
        left = (
            _(
                "Credits left today: **{left}** (used {used} of {allowance}, plus {granted} granted).",
                left=status.left,
                used=status.used,
                allowance=status.allowance,
                granted=status.granted,
            )
            if status.granted
            else _(
                "Credits left today: **{left}** (used {used} of {allowance}).",
                left=status.left,
                used=status.used,
                allowance=status.allowance,
            )
        )
        settings = await s.guilds.get(space)
        try:
            served = {model for worker in await s.queue.workers() for model in worker.models}
        except (RedisError, OSError):
            served = set()
        lines = [say(left), say(_("They reset <t:{at}:R> (<t:{at}:t>).", at=at))]
        defaults = (
            await saved_preferences(s.users, interaction.user.id),
            saved_flags(settings.default_flags or "", f"server {space}"),
        )
        prices, counted = _prices(s, settings, served, defaults)
        if prices:
            lines.append(" · ".join(say(price) for price in prices))
        if prices and counted:
            lines.append(say(counted))
        if status.banned:
            lines.insert(0, say(_("⛔ You are blocked from making videos with this bot.")))
        elif status.blocked:
            lines.insert(0, say(_("⛔ You are blocked from making videos in this server.")))
        if running:
            lines.append(say(_("Your videos on the way:")))
            lines += [f"• {named(r, say)} ({say(_STATES.get(r.state, r.state))})" for r in running]
        await interaction.followup.send(lines_within(lines, more=more_lines(say)), ephemeral=True)

    @app_commands.command(name="queue", description="How busy the video queue is and where your videos are")
    async def queue(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        s = self.services
        depth = await s.queue.depth()
        workers = await s.queue.workers()
        say = voice_of(interaction)
        busy = _(
            "Jobs in the queue: **{depth}** · GPU workers online: **{workers}**", depth=depth, workers=len(workers)
        )
        lines = [say(busy), *await in_line(s, await s.ledger.unfinished(interaction.user.id), say)]
        await interaction.followup.send(lines_within(lines, more=more_lines(say)), ephemeral=True)

    @app_commands.command(name="history", description="Your latest videos here, with links to them")
    async def history(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        text, view = await history_page(self.services, interaction, 0)
        await interaction.followup.send(text, view=view or discord.utils.MISSING, ephemeral=True)


async def history_page(
    services: Services, interaction: discord.Interaction, skip: int
) -> tuple[str, discord.ui.View | None]:
    """The presser's videos here, HISTORY of them after the newest `skip`, with Newer and Older buttons
    where there are more."""
    say, guild, user = voice_of(interaction), interaction.guild_id or 0, interaction.user.id
    records = await services.ledger.recent(user, HISTORY + 1, guild_id=guild, skip=skip)
    if not records:
        nothing = (
            _("No older videos of yours here.")
            if skip
            else _("You have not asked me for a video here yet. Try `/animate` or `/imagine-video`.")
        )
        return say(nothing), None
    shown = records[:HISTORY]
    if skip:
        lines = [say(_("Your videos here, {first} to {last}, newest first:", first=skip + 1, last=skip + len(shown)))]
    else:
        lines = [say(_("Your latest videos here, newest first:"))]
    lines += [f"• {named(record, say)} · <t:{int(record.created_at)}:R> · {say(_ended(record))}" for record in shown]
    view = discord.ui.View(timeout=None)
    if skip:
        view.add_item(HistoryPage(user, max(0, skip - HISTORY), say(_("Newer")), "◀️"))
    if len(records) > HISTORY:
        view.add_item(HistoryPage(user, skip + HISTORY, say(_("Older")), "▶️"))
    return lines_within(lines, more=more_lines(say)), view if view.children else None


class HistoryPage(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_PAGE):
    """Newer or Older under a /history answer: another page of it, in place. A dynamic item: it works after a
    restart."""

    services: ClassVar[Services]  # set by the Quota cog

    def __init__(self, user_id: int, skip: int, label: str = "", emoji: str | None = None):
        custom_id = f"mb:history:{user_id}:{skip}"
        button: discord.ui.Button[Any] = discord.ui.Button(label=label or "…", emoji=emoji, custom_id=custom_id)
        super().__init__(button)
        self.user_id, self.skip = user_id, skip

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> HistoryPage:
        return cls(int(match["user"]), int(match["skip"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        if not await theirs(interaction, self.user_id):
            return
        text, view = await history_page(self.services, interaction, self.skip)
        await interaction.response.edit_message(content=text, view=view)


def _ended(record: JobRecord) -> Text:
    """How a job ended (or that it has not), with a link to the clip where there is one."""
    if (record.result or {}).get("deleted"):
        return _("🗑️ deleted · {credits}", credits=credits_of(record.cost))
    if record.state is JobState.DELIVERED and record.result_message_id:
        # A clip sent by DM (the bot could not post in the channel) says which DM channel it is in.
        link = message_link(record, record.result_message_id, (record.result or {}).get("channel"))
        return _("✅ [the clip]({link}) · {credits}", link=link, credits=credits_of(record.cost))
    if record.state is JobState.FAILED and record.status_message_id:  # where its Try again button is (a DM?)
        link = message_link(record, record.status_message_id, (record.result or {}).get("channel"))
        return _("❌ [did not work]({link}) (not charged)", link=link)
    return {
        JobState.DELIVERED: _("✅ delivered · {credits}", credits=credits_of(record.cost)),
        JobState.FAILED: _("❌ did not work (not charged)"),
        JobState.CANCELLED: _("🚫 cancelled (not charged)"),
    }.get(record.state, _("⏳ on the way"))


async def setup(bot: Any) -> None:
    await bot.add_cog(Quota(bot, bot.services))
