"""/motionbot-admin: per-server settings, role tiers, grants, blocks and the service status. Discord hides
the group from members without Manage Server; `interaction_check` checks that permission again here, on
the server side, before any handler runs (a hidden command can still be called)."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import discord
from discord import app_commands
from discord.ext import commands

from bot.exts.admin._settings import SETTINGS, out_of_range, read_setting, setting_shown
from bot.exts.quota import in_line
from bot.i18n import ENGLISH, more_lines, voice_of
from bot.limits import CONTENT, lines_within
from bot.services import Services
from generation.blocklist import MAX_TERMS, PatternError, Policy, check_term
from generation.text import Text, _
from storage.guilds import SettingError
from storage.jobs import JobState
from storage.quotas import credits_of

# Where an admin may allow videos: a channel with text (its threads too), a forum (its posts), a category (its
# channels), or one thread.
Place = (
    discord.TextChannel
    | discord.VoiceChannel
    | discord.StageChannel
    | discord.ForumChannel
    | discord.CategoryChannel
    | discord.Thread
)

QUEUE_LISTED = 40  # the jobs `queue` looks up in the queue (a message shows about 15)
TIER_MOST = GRANT_MOST = 1_000_000


@app_commands.guild_only()
@app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)
@app_commands.allowed_installs(guilds=True, users=False)  # a server's own settings: where the bot is in it
@app_commands.default_permissions(manage_guild=True)
class Admin(commands.GroupCog, group_name="motionbot-admin", group_description="Server settings for motionbot"):
    def __init__(self, services: Services):
        self.services = services
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Every command of the group: in a server, by someone with Manage Server (the tree answers them)."""
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        if not interaction.permissions.manage_guild:
            raise app_commands.MissingPermissions(["manage_guild"])
        return True

    async def _done(self, interaction: discord.Interaction, *lines: Text | str) -> None:
        """Answer the admin privately, in their language."""
        say = voice_of(interaction)
        shown = [part for line in lines for part in say(line).split("\n")]
        if interaction.response.is_done():  # deferred: the answer follows
            await interaction.followup.send(lines_within(shown, more=more_lines(say)), ephemeral=True)
        else:
            await interaction.response.send_message(lines_within(shown, more=more_lines(say)), ephemeral=True)

    @app_commands.command(name="settings", description="Show this server's settings")
    async def show(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        settings = await self.services.guilds.get(interaction.guild_id)
        tiers = await self.services.guilds.role_tiers(interaction.guild_id)
        every, none = _("all"), _("none")
        lines: list[Text | str] = [f"`{key}`: {setting_shown(key, getattr(settings, key))}" for key in SETTINGS]
        channels = ", ".join(f"<#{c}>" for c in settings.allowed_channels or ())
        lines.append(_("channels: {channels}", channels=channels or every))
        lines.append(_("models: {models}", models=", ".join(settings.enabled_models or ()) or every))
        lines.append(_("role tiers: {tiers}", tiers=", ".join(f"<@&{r}> {c}" for r, c in tiers.items()) or none))
        terms = len(settings.blocked_terms or ())
        lines.append(
            _("content policy: `{policy}`; terms on its own block list: {terms}", policy=settings.content, terms=terms)
        )
        log_channel = f"<#{settings.mod_log_channel}>" if settings.mod_log_channel else _("off")
        lines.append(_("moderation log: {channel}", channel=log_channel))
        await self._done(interaction, *lines)

    @app_commands.command(name="content", description="What content is allowed: strict, age-restricted or off")
    @app_commands.describe(
        policy="strict: no sexual content; age-restricted: only in age-restricted channels; off: yours to police"
    )
    @app_commands.choices(policy=[app_commands.Choice(name=p.value, value=p.value) for p in Policy])
    async def content(self, interaction: discord.Interaction, policy: str) -> None:
        assert interaction.guild_id is not None
        await self.services.guilds.update(interaction.guild_id, interaction.user.id, content=Policy(policy).value)
        said = {
            Policy.STRICT: _("sexual content is refused everywhere"),
            Policy.AGE_RESTRICTED: _("sexual content only in age-restricted channels, posted as spoilers"),
            Policy.OFF: _(
                "only the never-allowed list and this server's own list apply; this change is in the audit log"
            ),
        }
        await self._done(
            interaction, _("Content policy is now `{policy}`: {said}.", policy=policy, said=said[Policy(policy)])
        )

    @app_commands.command(name="blocklist", description="This server's own blocked words and /patterns/")
    @app_commands.describe(
        action="Add or remove a term, or list them",
        term="A word (a trailing * matches any ending) or a /regular expression/",
    )
    @app_commands.choices(action=[app_commands.Choice(name=a, value=a) for a in ("add", "remove", "list")])
    async def blocklist(self, interaction: discord.Interaction, action: str, term: str | None = None) -> None:
        assert interaction.guild_id is not None
        terms = list((await self.services.guilds.get(interaction.guild_id)).blocked_terms or ())
        if action == "list":
            return await self._list_terms(interaction, terms)
        if not term:
            return await self._done(interaction, _("⚠️ Give the word or /pattern/ to add or remove."))
        try:
            checked = check_term(term)
        except PatternError as exc:
            return await self._done(interaction, _("⚠️ {error}", error=exc.text))
        if action == "add" and checked not in terms:
            if len(terms) >= MAX_TERMS:
                full = _("⚠️ The list is full ({most} terms); remove some first.", most=MAX_TERMS)
                return await self._done(interaction, full)
            terms.append(checked)
        elif action == "remove":
            if checked not in terms:
                return await self._done(interaction, _("⚠️ That term is not on this server's list."))
            terms.remove(checked)
        await self.services.guilds.update(interaction.guild_id, interaction.user.id, blocked_terms=terms or None)
        done = (
            _("Added to this server's block list (terms on it: {count}).", count=len(terms))
            if action == "add"
            else _("Removed from this server's block list (terms on it: {count}).", count=len(terms))
        )
        await self._done(interaction, done)

    async def _list_terms(self, interaction: discord.Interaction, terms: list[str]) -> None:
        """The server's terms behind spoilers, as many whole ones as fit in a message; when some do not fit,
        the whole list comes along as a text file."""
        say = voice_of(interaction)

        def listed(shown: str) -> str:
            return say(_("This server's block list ({count}): {terms}", count=len(terms), terms=shown))

        spoilered = [f"||{discord.utils.escape_markdown(t)}||" for t in terms]
        shown = lines_within(spoilered, CONTENT - 100 - len(listed("")), more=more_lines(say), sep=", ")
        whole = ", ".join(spoilered)
        if shown == whole:
            await interaction.response.send_message(listed(shown or say(_("empty"))), ephemeral=True)
        else:
            every = discord.File(io.BytesIO("".join(f"{t}\n" for t in terms).encode()), filename="blocklist.txt")
            await interaction.response.send_message(listed(shown), ephemeral=True, file=every)

    @app_commands.command(name="modlog", description="Where refused and flagged content is reported (none = off)")
    @app_commands.describe(channel="The moderation log channel; leave out to turn the log off")
    async def modlog(self, interaction: discord.Interaction, channel: discord.TextChannel | None = None) -> None:
        assert interaction.guild_id is not None
        value = channel.id if channel is not None else None
        await self.services.guilds.update(interaction.guild_id, interaction.user.id, mod_log_channel=value)
        await self._done(interaction, _("Moderation log: {channel}.", channel=channel.mention if channel else _("off")))

    @app_commands.command(name="set", description="Change a setting (limits accept 'none')")
    @app_commands.describe(
        setting="Which setting",
        value="The new value: a number, on/off, a time zone, a language (zh-CN), flags (-ar 9:16), or none",
    )
    @app_commands.choices(setting=[app_commands.Choice(name=k, value=k) for k in SETTINGS])
    async def set_(self, interaction: discord.Interaction, setting: str, value: str) -> None:
        assert interaction.guild_id is not None
        try:
            parsed = read_setting(setting, value, [ENGLISH, *self.services.catalogs.locales])
            now = await self.services.guilds.update(interaction.guild_id, interaction.user.id, **{setting: parsed})
        except SettingError as exc:
            return await self._done(interaction, _("⚠️ {error}", error=exc.text))
        # As it is kept (flags are written as the echo writes them).
        shown = setting_shown(setting, getattr(now, setting))
        await self._done(interaction, _("`{setting}` is now {value}.", setting=setting, value=shown))

    @app_commands.command(name="channels", description="Limit videos to some channels (clear = every channel)")
    @app_commands.describe(
        action="Add or remove a channel, or clear the list",
        channel="The channel (its threads too), a forum (its posts), or a category (its channels)",
    )
    @app_commands.choices(action=[app_commands.Choice(name=a, value=a) for a in ("add", "remove", "clear")])
    async def channels(self, interaction: discord.Interaction, action: str, channel: Place | None = None) -> None:
        assert interaction.guild_id is not None
        current = set((await self.services.guilds.get(interaction.guild_id)).allowed_channels or ())
        if action != "clear" and channel is None:
            return await self._done(interaction, _("⚠️ Pick a channel."))
        if action == "add" and channel is not None:
            current.add(channel.id)
        elif action == "remove" and channel is not None:
            current.discard(channel.id)
        value = sorted(current) if action != "clear" and current else None
        await self.services.guilds.update(interaction.guild_id, interaction.user.id, allowed_channels=value)
        allowed = ", ".join(f"<#{c}>" for c in value) if value else _("every channel")
        await self._done(interaction, _("Videos allowed in: {channels}", channels=allowed))

    @app_commands.command(name="models", description="Which models this server may use ('all' or a comma list)")
    @app_commands.describe(enabled="Model names separated by commas, or all")
    async def models(self, interaction: discord.Interaction, enabled: str) -> None:
        assert interaction.guild_id is not None
        names = [n.strip() for n in enabled.split(",") if n.strip()]
        unknown = [n for n in names if n not in self.services.models and n != "all"]
        if unknown:
            known = ", ".join(self.services.models)
            return await self._done(
                interaction, _("⚠️ Unknown models: {unknown} (known: {known})", unknown=", ".join(unknown), known=known)
            )
        value = None if "all" in names or not names else names
        await self.services.guilds.update(interaction.guild_id, interaction.user.id, enabled_models=value)
        await self._done(interaction, _("Models enabled: {models}", models=", ".join(value) if value else _("all")))

    @app_commands.command(name="tier", description="Give a role its own daily credits (0 removes the tier)")
    @app_commands.describe(role="The role", credits="Daily credits for its members (0 removes the tier)")
    async def tier(
        self, interaction: discord.Interaction, role: discord.Role, credits: app_commands.Range[int, 0, TIER_MOST]
    ) -> None:
        assert interaction.guild_id is not None
        if refused := out_of_range("credits", credits, 0, TIER_MOST):
            return await self._done(interaction, refused)
        await self.services.guilds.set_role_tier(interaction.guild_id, role.id, credits or None, interaction.user.id)
        said = _("{role}: {credits} a day", role=role.mention, credits=credits_of(credits)) if credits else None
        await self._done(interaction, said or _("{role}: no tier", role=role.mention))

    @app_commands.command(name="grant", description="Give someone extra credits (negative takes back)")
    @app_commands.describe(user="Who gets them", credits="How many (negative takes back)")
    async def grant(
        self,
        interaction: discord.Interaction,
        user: discord.User,
        credits: app_commands.Range[int, -GRANT_MOST, GRANT_MOST],
    ) -> None:
        assert interaction.guild_id is not None
        if refused := out_of_range("credits", credits, -GRANT_MOST, GRANT_MOST):
            return await self._done(interaction, refused)
        quotas = self.services.quotas
        await quotas.grant(interaction.guild_id, user.id, credits, interaction.user.id)
        extra = credits_of((await quotas.status(interaction.guild_id, user.id)).granted)
        if credits >= 0:
            said = _(
                "Granted {credits} to {user}; their extra credits: {extra}.",
                credits=credits_of(credits),
                user=user.mention,
                extra=extra,
            )
        else:
            said = _(
                "Took back {credits} from {user}; their extra credits: {extra}.",
                credits=credits_of(-credits),
                user=user.mention,
                extra=extra,
            )
        await self._done(interaction, said)

    @app_commands.command(name="reset", description="Give someone today's credits back")
    @app_commands.describe(user="Whose credits")
    async def reset(self, interaction: discord.Interaction, user: discord.User) -> None:
        assert interaction.guild_id is not None
        await self.services.quotas.reset(interaction.guild_id, user.id, interaction.user.id)
        await self._done(interaction, _("{user} has today's credits back.", user=user.mention))

    @app_commands.command(name="block", description="Stop someone from making videos here (or allow again)")
    @app_commands.describe(user="Who", blocked="True blocks, false allows again")
    async def block(self, interaction: discord.Interaction, user: discord.User, blocked: bool = True) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)  # cancelling their jobs asks the queue for each
        await self.services.quotas.block(interaction.guild_id, user.id, blocked, interaction.user.id)
        if not blocked:
            return await self._done(interaction, _("{user} is allowed again.", user=user.mention))
        done = _("{user} is blocked.", user=user.mention)
        # What they asked for before goes too.
        if stopped := await self.services.cancel_unfinished(user_id=user.id, guild_id=interaction.guild_id):
            done = _(
                "{done} Their videos on the way here are cancelled and refunded: {count}.", done=done, count=stopped
            )
        await self._done(interaction, done)

    @app_commands.command(name="status", description="Workers, GPUs, models, queue and render times")
    async def status(self, interaction: discord.Interaction) -> None:
        queue = self.services.queue
        workers = await queue.workers()
        depth = await queue.depth()
        lines: list[Text | str] = [
            _("Jobs in the queue: **{depth}** · GPU workers online: **{workers}**", depth=depth, workers=len(workers))
        ]
        for w in workers:
            busy = _("rendering `{job}`", job=w.current_job[:8]) if w.current_job else _("idle")
            lines.append(
                _(
                    "• `{worker}` on {host}: {gpu} ({memory} GB), {models}; {busy}, seen <t:{seen}:R>",
                    worker=w.id,
                    host=w.host,
                    gpu=w.gpu,
                    memory=f"{w.gpu_memory_gb:g}",
                    models=", ".join(w.models),
                    busy=busy,
                    seen=int(w.heartbeat_at),
                )
            )
        for model in self.services.models:
            average = await queue.average_duration(model)
            if average is not None:
                lines.append(_("• {model}: {seconds} s per clip lately", model=model, seconds=f"{average:.1f}"))
        assert interaction.guild_id is not None
        lines += await self._today(interaction.guild_id)
        await self._done(interaction, *lines)

    @app_commands.command(name="queue", description="This server's videos on the way: who asked, where in line")
    async def queue(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)  # a look at the queue for each job
        say = voice_of(interaction)
        records = await self.services.ledger.unfinished(guild_id=interaction.guild_id)
        head = _(
            "Videos on the way in this server: **{count}**. Each links to its status message, where moderators "
            "can cancel it.",
            count=len(records),
        )
        lines = [say(head), *await in_line(self.services, records[:QUEUE_LISTED], say, whose=True)]
        more, unlisted = more_lines(say), max(0, len(records) - QUEUE_LISTED)  # jobs not looked up at all
        if unlisted:
            lines.append(more(unlisted))
        # Where the message cuts the list, its "…and N more" counts the jobs cut and those never listed.
        counted = (lambda left: more(left - 1 + unlisted)) if unlisted else more
        await interaction.followup.send(lines_within(lines, more=counted), ephemeral=True)

    async def _today(self, guild_id: int) -> list[Text]:
        """This server's requests since its midnight (its time zone): how they ended, the credits they took."""
        zone = ZoneInfo((await self.services.guilds.get(guild_id)).timezone)
        midnight = datetime.combine(datetime.now(zone).date(), datetime.min.time(), tzinfo=zone)
        usage = await self.services.ledger.usage(guild_id, since=midnight.timestamp())
        jobs, by_model = usage["jobs"], usage["credits_by_model"]
        today = _(
            "Today in this server: requests **{requests}** · people {people} · delivered {delivered} · failed "
            "{failed} · cancelled {cancelled} · on the way {waiting} · {credits} spent",
            requests=sum(jobs.values()),
            people=usage["users"],
            delivered=jobs.get(JobState.DELIVERED, 0),
            failed=jobs.get(JobState.FAILED, 0),
            cancelled=jobs.get(JobState.CANCELLED, 0),
            waiting=jobs.get(JobState.QUEUED, 0) + jobs.get(JobState.RUNNING, 0),
            credits=credits_of(sum(by_model.values())),
        )
        spent = sorted(by_model.items(), key=lambda item: -item[1])
        lines = [today] + [_("• {model}: {credits} today", model=model, credits=credits_of(n)) for model, n in spent]
        events = await self.services.moderation.counts(guild_id, since=midnight.timestamp())
        if events:
            lines.append(
                _(
                    "Moderation today: refused {refused} · spoilered {spoilered} · reported {reported}",
                    refused=events.get("refused", 0),
                    spoilered=events.get("spoiler", 0),
                    reported=events.get("reported", 0),
                )
            )
        return lines


async def setup(bot: Any) -> None:
    await bot.add_cog(Admin(bot.services))
