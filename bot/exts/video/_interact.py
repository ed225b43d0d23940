"""The steps every clip callback takes: who asked, acknowledging within Discord's 3 s, downloading a file,
and the server's language for messages no interaction asked for."""

from __future__ import annotations

import discord

from bot.exts.video._fetch import FetchError, TooLarge, fetch
from bot.exts.video._intake import FILES_HELD
from bot.exts.video._replies import InteractionReply, Reply, Requester
from bot.i18n import Voice
from bot.services import Services
from bot.spaces import space_of
from generation.text import _
from storage.guilds import GuildSettings

__all__ = ["defer", "download", "download_all", "hidden", "requester", "server_voice"]


def requester(interaction: discord.Interaction) -> Requester:
    """Who pressed or typed, where, with which roles and upload limit."""
    roles = tuple(role.id for role in getattr(interaction.user, "roles", ()))
    channel, guild = interaction.channel_id or 0, interaction.guild_id or 0
    nsfw = getattr(interaction.channel, "is_nsfw", lambda: False)()
    size, own = interaction.filesize_limit, space_of(interaction) != guild
    return Requester(interaction.user.id, guild, channel, roles, size, nsfw, around(interaction.channel), own)


def around(channel: object) -> tuple[int, ...]:
    """What a channel is in, as far as the bot knows: a thread's channel (a forum post's forum), and the
    category. An admin who allows videos in a channel or a category allows them in what it holds."""
    found = [parent] if (parent := getattr(channel, "parent_id", None)) else []
    try:
        category = getattr(channel, "category_id", None)
    except discord.ClientException:  # a thread whose channel the bot has not seen
        category = None
    return tuple(found + ([category] if category else []))


async def defer(interaction: discord.Interaction, services: Services) -> InteractionReply:
    """Acknowledge at once (within 3 s, before any other I/O) with a public "thinking…" message."""
    return await InteractionReply.defer(interaction, services.settings.token_lifetime_s, services.pending)


async def download(services: Services, url: str, reply: Reply, room: int | None = None) -> bytes | None:
    """The file at `url` from Discord's CDN, or None after telling the user why not; `room`: the bytes its
    request's other files leave it (`download_all`)."""
    settings = services.settings
    limit = int(settings.max_image_mb * 2**20)
    try:
        most = limit if room is None else min(limit, room)
        return await fetch(services.http, url, settings.allowed_hosts, most)
    except TooLarge as exc:
        together = room is not None and room < limit
        total = f"{FILES_HELD * limit / 2**20:.3g}"
        await reply.refuse(_("together, the files are larger than {mb} MB", mb=total) if together else exc.text)
        return None
    except FetchError as exc:
        gone = exc.status in (403, 404) and url.startswith(f"{settings.cdn}/") and "/attachments/" not in url
        await reply.refuse(
            _("Discord no longer has that picture: the avatar, sticker or emoji changed") if gone else exc.text
        )
        return None


async def download_all(services: Services, urls: list[str], reply: Reply) -> list[bytes] | None:
    """The files at `urls`, in order, each within the download limit and all of them within FILES_HELD times
    it (what one intake slot holds), or None after telling the user why not."""
    room = FILES_HELD * int(services.settings.max_image_mb * 2**20)
    found = []
    for url in urls:
        if (data := await download(services, url, reply, room)) is None:
            return None
        found.append(data)
        room -= len(data)
    return found


def hidden(client: discord.Client, message: discord.Message) -> bool:
    """Whether Discord hid what `message` holds: without the Message Content intent a message that does not
    mention the bot comes with no text, attachments or embeds."""
    shown = message.content or message.attachments or message.embeds or message.stickers or message.message_snapshots
    return not (client.intents.message_content or shown or message.author == client.user)


async def server_voice(
    client: discord.Client, services: Services, guild_id: int, settings: GuildSettings | None = None
) -> Voice:
    """The language of a server's channel messages (late deliveries, the moderation log): the admins'
    `language` setting (from `settings` where the caller has them), else the server's preferred locale in
    Discord, else English."""
    chosen = (settings or await services.guilds.get(guild_id)).language
    guild = client.get_guild(guild_id) if guild_id else None
    return services.catalogs.voice(chosen or (guild.preferred_locale if guild is not None else None))
