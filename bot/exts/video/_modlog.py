"""The moderation log: every refused or flagged prompt, picture or clip is recorded in the ledger, counted,
and posted in the server's moderation log channel when it has one (never pinging anyone, the matched
words behind a spoiler, no clip). Posts go apart from the request (a log channel Discord holds back delays
no refusal), and one user's flood of refused prompts is posted a few times a minute, all of it recorded."""

from __future__ import annotations

import asyncio
import io
import logging
import time

import discord
from PIL import Image

from bot.background import Background
from bot.exts.video._interact import server_voice
from bot.exts.video._views import Buttons
from bot.kept import Kept
from bot.limits import clip, user_words
from bot.services import Services
from generation.images import ImageError, load_rgb
from generation.text import Text, _
from generation.video_input import poster
from storage.guilds import DM
from storage.moderation import ModerationEvent

__all__ = ["ModLog"]

log = logging.getLogger(__name__)
POSTS_A_MINUTE = 5  # posts about one user in a server in a minute; the rest are recorded, not posted
MOST_POSTING = 50  # posts waiting for Discord at once; beyond it, recorded, not posted

_SAID = {
    ("prompt", "refused"): _("Prompt refused"),
    ("input", "refused"): _("Input picture refused"),
    ("output", "refused"): _("Clip refused"),
    ("output", "spoiler"): _("Clip posted as a spoiler"),
    ("output", "reported"): _("Clip reported"),  # by a member (Report clip): the rule names them
}


class ModLog:
    def __init__(self, client: discord.Client, services: Services, buttons: Buttons):
        self.client, self.services, self.buttons = client, services, buttons
        self._posting = Background(MOST_POSTING)
        self._posted: Kept[tuple[int, int], list[float]] = Kept(60.0)  # (server, user) -> when posted

    async def report(self, event: ModerationEvent, picture: bytes | None = None) -> None:
        """Record `event`, count it, and post it in the server's moderation log channel, if it has one. A
        flagged input `picture` is shown there as a spoilered thumbnail only if that channel is age-restricted."""
        s = self.services
        s.metrics.safety.labels(event.kind, event.result).inc()
        await s.moderation.record(event)
        log.info("moderation: %s %s (%s), job %s", event.kind, event.result, event.rule, event.job_id)
        settings = await s.guilds.get(event.guild_id)  # DM (0): the operator's log, MOTIONBOT_DM_MOD_LOG_CHANNEL
        if not settings.mod_log_channel:
            return
        key, now = (event.guild_id, event.user_id), time.monotonic()
        posted = [when for when in self._posted.get(key) or [] if now - when < 60]  # about them, this minute
        if len(posted) >= POSTS_A_MINUTE or self._posting.full:
            log.info("moderation log: user %s reported often lately; recorded, not posted", event.user_id)
            return
        self._posted.keep(key, [*posted, now])
        last = len(posted) + 1 == POSTS_A_MINUTE
        self._posting.start(self._post(event, picture, last), "motionbot: modlog")

    async def _post(self, event: ModerationEvent, picture: bytes | None, last: bool) -> None:
        """Post `event` in the server's log channel, apart from the request (it is recorded already)."""
        try:
            await self._send(event, picture, last)
        except (discord.HTTPException, OSError) as exc:  # no right to post there, the channel gone, Discord down
            log.warning("could not post in the moderation log of server %s: %s", event.guild_id, exc)
        except Exception:
            log.exception("could not post in the moderation log of server %s", event.guild_id)

    async def _send(self, event: ModerationEvent, picture: bytes | None, last: bool) -> None:
        """Post `event` (`last`: and that more about this user this minute are recorded, not posted)."""
        s = self.services
        settings = await s.guilds.get(event.guild_id)
        channel_id = settings.mod_log_channel
        if not channel_id:
            return
        say = await server_voice(self.client, s, event.guild_id, settings)  # for the server's moderators
        what = say(_SAID.get((event.kind, event.result), _("{kind} {result}", kind=event.kind, result=event.result)))
        where = _("<@{user}> in <#{channel}>", user=event.user_id, channel=event.channel_id)
        lines = [
            say(_("🛡️ **{what}** by {rule}", what=what, rule=Text(event.rule))),
            say(where) + (say(_(" · job `{job}`", job=event.job_id[:8])) if event.job_id else ""),
        ]
        if event.excerpt:
            lines.append(say(_("prompt: {prompt}", prompt=user_words(event.excerpt, 300))))
        if event.matched:
            matched = user_words(event.matched, 300)  # its spoiler bars escaped too
            lines.append(say(_("matched: ||{matched}||", matched=matched)))
        if last:
            lines.append(say(_("More about <@{user}> this minute is recorded, not posted.", user=event.user_id)))
        channel = self.client.get_channel(channel_id) or await self.client.fetch_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            return
        files = []
        if picture is not None and getattr(channel, "is_nsfw", lambda: False)():
            thumbnail = await asyncio.to_thread(_thumbnail, picture)
            if thumbnail is not None:
                files.append(discord.File(io.BytesIO(thumbnail), filename="SPOILER_flagged.jpg"))
        # A report of a clip gets the button that deletes it, for the moderators reading the log (in a server: the
        # bot's token reaches no group DM, nor a server only a user's install of the app is in).
        reported = event.job_id if event.result == "reported" and event.guild_id != DM else None
        view = self.buttons.remove(reported, say) if reported else discord.utils.MISSING
        await channel.send(
            clip("\n".join(lines)), files=files, view=view, allowed_mentions=discord.AllowedMentions.none()
        )


def _thumbnail(picture: bytes) -> bytes | None:
    """A small JPEG of a flagged input (a picture or a video) for moderators (None if it cannot be read)."""
    try:
        image: Image.Image | None = load_rgb(picture, cover=(256, 256))
    except ImageError:
        image = poster(picture)  # a restyle's input is a video: its first frame
    if image is None:
        return None
    image.thumbnail((256, 256))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()
