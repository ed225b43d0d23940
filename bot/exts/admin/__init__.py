"""/motionbot-admin: per-server settings, role tiers, grants, blocks and the service status. Discord hides
the group from members without Manage Server; `interaction_check` checks that permission again here, on
the server side, before any handler runs (a hidden command can still be called)."""

from __future__ import annotations

import time
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.blocklist import MAX_TERMS, PatternError, Policy, check_term
from bot.limits import clip, lines_within
from bot.services import Services
from storage.guilds import SettingError

SETTINGS = ["enabled", "daily_credits", "timezone", "cooldown_s", "max_queued", "max_frames", "max_pixels", "max_steps"]
_TRUE, _FALSE = {"true", "on", "yes", "1"}, {"false", "off", "no", "0"}


def _parse(key: str, text: str) -> Any:
    text = text.strip()
    if key == "enabled":
        if text.lower() not in _TRUE | _FALSE:
            raise SettingError("`enabled` must be on or off")
        return text.lower() in _TRUE
    if key == "timezone":
        return text
    if key.startswith("max_") and key != "max_queued" and text.lower() in ("none", "off", ""):
        return None
    try:
        return int(text)
    except ValueError:
        raise SettingError(f"`{key}` must be a whole number, got `{text[:40]}`") from None


@app_commands.guild_only()
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

    async def _done(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(lines_within(text.split("\n")), ephemeral=True)

    @app_commands.command(name="settings", description="Show this server's settings")
    async def show(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        settings = await self.services.guilds.get(interaction.guild_id)
        tiers = await self.services.guilds.role_tiers(interaction.guild_id)
        lines = [f"`{key}`: {getattr(settings, key)}" for key in SETTINGS]
        lines.append(
            "channels: "
            + (", ".join(f"<#{c}>" for c in settings.allowed_channels) if settings.allowed_channels else "all")
        )
        lines.append("models: " + (", ".join(settings.enabled_models) if settings.enabled_models else "all"))
        lines.append("role tiers: " + (", ".join(f"<@&{r}> {c}" for r, c in tiers.items()) or "none"))
        lines.append(f"content policy: `{settings.content}`; own block list: {len(settings.blocked_terms or ())} terms")
        lines.append("moderation log: " + (f"<#{settings.mod_log_channel}>" if settings.mod_log_channel else "off"))
        await self._done(interaction, "\n".join(lines))

    @app_commands.command(name="content", description="What content is allowed: strict, age-restricted or off")
    @app_commands.describe(
        policy="strict: no sexual content; age-restricted: only in age-restricted channels; off: yours to police"
    )
    @app_commands.choices(policy=[app_commands.Choice(name=p.value, value=p.value) for p in Policy])
    async def content(self, interaction: discord.Interaction, policy: str) -> None:
        assert interaction.guild_id is not None
        await self.services.guilds.update(interaction.guild_id, interaction.user.id, content=Policy(policy).value)
        said = {
            Policy.STRICT: "sexual content is refused everywhere",
            Policy.AGE_RESTRICTED: "sexual content only in age-restricted channels, posted as spoilers",
            Policy.OFF: "only the never-allowed list and this server's own list apply; this change is in the audit log",
        }
        await self._done(interaction, f"Content policy is now `{policy}`: {said[Policy(policy)]}.")

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
            shown = ", ".join(f"||{discord.utils.escape_markdown(t)}||" for t in terms) or "empty"
            return await self._done(interaction, clip(f"This server's block list ({len(terms)}): {shown}", 1900))
        if not term:
            return await self._done(interaction, "⚠️ Give the word or /pattern/ to add or remove.")
        try:
            checked = check_term(term)
        except PatternError as exc:
            return await self._done(interaction, f"⚠️ {exc}")
        if action == "add" and checked not in terms:
            if len(terms) >= MAX_TERMS:
                return await self._done(interaction, f"⚠️ The list is full ({MAX_TERMS} terms); remove some first.")
            terms.append(checked)
        elif action == "remove":
            if checked not in terms:
                return await self._done(interaction, "⚠️ That term is not on this server's list.")
            terms.remove(checked)
        await self.services.guilds.update(interaction.guild_id, interaction.user.id, blocked_terms=terms or None)
        verb = "Added to" if action == "add" else "Removed from"
        await self._done(interaction, f"{verb} this server's block list ({len(terms)} terms).")

    @app_commands.command(name="modlog", description="Where refused and flagged content is reported (none = off)")
    @app_commands.describe(channel="The moderation log channel; leave out to turn the log off")
    async def modlog(self, interaction: discord.Interaction, channel: discord.TextChannel | None = None) -> None:
        assert interaction.guild_id is not None
        value = channel.id if channel is not None else None
        await self.services.guilds.update(interaction.guild_id, interaction.user.id, mod_log_channel=value)
        await self._done(interaction, f"Moderation log: {channel.mention if channel else 'off'}.")

    @app_commands.command(name="set", description="Change a setting (limits accept 'none')")
    @app_commands.describe(setting="Which setting", value="The new value: a number, on/off, a time zone, or none")
    @app_commands.choices(setting=[app_commands.Choice(name=k, value=k) for k in SETTINGS])
    async def set_(self, interaction: discord.Interaction, setting: str, value: str) -> None:
        assert interaction.guild_id is not None
        try:
            parsed = _parse(setting, value)
            await self.services.guilds.update(interaction.guild_id, interaction.user.id, **{setting: parsed})
        except SettingError as exc:
            return await self._done(interaction, f"⚠️ {exc}")
        await self._done(interaction, f"`{setting}` is now {parsed}.")

    @app_commands.command(name="channels", description="Limit videos to some channels (clear = every channel)")
    @app_commands.describe(action="Add or remove a channel, or clear the list", channel="The channel")
    @app_commands.choices(action=[app_commands.Choice(name=a, value=a) for a in ("add", "remove", "clear")])
    async def channels(
        self, interaction: discord.Interaction, action: str, channel: discord.TextChannel | None = None
    ) -> None:
        assert interaction.guild_id is not None
        current = set((await self.services.guilds.get(interaction.guild_id)).allowed_channels or ())
        if action != "clear" and channel is None:
            return await self._done(interaction, "⚠️ Pick a channel.")
        if action == "add" and channel is not None:
            current.add(channel.id)
        elif action == "remove" and channel is not None:
            current.discard(channel.id)
        value = sorted(current) if action != "clear" and current else None
        await self.services.guilds.update(interaction.guild_id, interaction.user.id, allowed_channels=value)
        await self._done(
            interaction, "Videos allowed in: " + (", ".join(f"<#{c}>" for c in value) if value else "every channel")
        )

    @app_commands.command(name="models", description="Which models this server may use ('all' or a comma list)")
    @app_commands.describe(enabled="Model names separated by commas, or all")
    async def models(self, interaction: discord.Interaction, enabled: str) -> None:
        assert interaction.guild_id is not None
        names = [n.strip() for n in enabled.split(",") if n.strip()]
        unknown = [n for n in names if n not in self.services.models and n != "all"]
        if unknown:
            return await self._done(
                interaction, f"⚠️ Unknown models: {', '.join(unknown)} (known: {', '.join(self.services.models)})"
            )
        value = None if "all" in names or not names else names
        await self.services.guilds.update(interaction.guild_id, interaction.user.id, enabled_models=value)
        await self._done(interaction, "Models enabled: " + (", ".join(value) if value else "all"))

    @app_commands.command(name="tier", description="Give a role its own daily credits (0 removes the tier)")
    @app_commands.describe(role="The role", credits="Daily credits for its members (0 removes the tier)")
    async def tier(
        self, interaction: discord.Interaction, role: discord.Role, credits: app_commands.Range[int, 0, 1000000]
    ) -> None:
        assert interaction.guild_id is not None
        await self.services.guilds.set_role_tier(interaction.guild_id, role.id, credits or None, interaction.user.id)
        await self._done(interaction, f"{role.mention}: {credits or 'no tier'}" + (" credits a day" if credits else ""))

    @app_commands.command(name="grant", description="Give someone extra credits (negative takes back)")
    @app_commands.describe(user="Who gets them", credits="How many (negative takes back)")
    async def grant(
        self, interaction: discord.Interaction, user: discord.User, credits: app_commands.Range[int, -1000000, 1000000]
    ) -> None:
        assert interaction.guild_id is not None
        await self.services.quotas.grant(interaction.guild_id, user.id, credits, interaction.user.id)
        await self._done(interaction, f"Granted {credits} credits to {user.mention}.")

    @app_commands.command(name="reset", description="Give someone today's credits back")
    @app_commands.describe(user="Whose credits")
    async def reset(self, interaction: discord.Interaction, user: discord.User) -> None:
        assert interaction.guild_id is not None
        await self.services.quotas.reset(interaction.guild_id, user.id, interaction.user.id)
        await self._done(interaction, f"{user.mention} has today's credits back.")

    @app_commands.command(name="block", description="Stop someone from making videos here (or allow again)")
    @app_commands.describe(user="Who", blocked="True blocks, false allows again")
    async def block(self, interaction: discord.Interaction, user: discord.User, blocked: bool = True) -> None:
        assert interaction.guild_id is not None
        await self.services.quotas.block(interaction.guild_id, user.id, blocked, interaction.user.id)
        await self._done(interaction, f"{user.mention} is {'blocked' if blocked else 'allowed again'}.")

    @app_commands.command(name="status", description="Workers, GPUs, models, queue and render times")
    async def status(self, interaction: discord.Interaction) -> None:
        queue = self.services.queue
        workers = await queue.workers()
        depth = await queue.depth()
        lines = [f"Queue: **{depth}** jobs. Workers online: **{len(workers)}**."]
        for w in workers:
            busy = f"rendering `{w.current_job[:8]}`" if w.current_job else "idle"
            lines.append(
                f"• `{w.id}` on {w.host}: {w.gpu} ({w.gpu_memory_gb:g} GB), {', '.join(w.models)}; "
                f"{busy}, seen {time.time() - w.heartbeat_at:.0f} s ago"
            )
        for model in self.services.models:
            average = await queue.average_duration(model)
            if average is not None:
                lines.append(f"• {model}: {average:.1f} s per clip lately")
        await self._done(interaction, "\n".join(lines))


async def setup(bot: Any) -> None:
    await bot.add_cog(Admin(bot.services))
