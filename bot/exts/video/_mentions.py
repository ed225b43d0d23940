"""@motionbot in a message: a reply to a picture (or a picture attached) is animated with the flags its text
holds, a reply to a video (or one attached) is restyled to its words; in a direct message no mention is
needed. Without the Message Content intent Discord shows the bot only messages that mention the bot itself,
so the picture replied to, or a message that mentions the bot's role, may come empty: the user is told how
else to ask. A refused request that its author edits (a typo fixed) is read again, in place of the refusal."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import discord
from discord.ext import commands

from bot.errors import describe
from bot.exts.video._admission import Admission
from bot.exts.video._declare import has_link, image_url, keyframe_urls, request_words, video_url
from bot.exts.video._files import Files, most_keyframes
from bot.exts.video._interact import around, download, download_all, hidden, server_voice
from bot.exts.video._refusals import Refusals
from bot.exts.video._replies import MessageReply, Requester
from bot.exts.video._requests import VideoRequests
from bot.kept import Kept
from bot.services import Services
from generation.jobs import JobKind
from generation.options import OptionError, Options, parse_flags
from generation.text import Text, _
from storage.guilds import DM

__all__ = ["OWN_CLIP", "ROLE_UNREAD", "Mentions"]

log = logging.getLogger(__name__)
A_VIDEO_WORDS = _(
    "that is a video: say how it should look (`@motionbot a watercolor painting`) and I redraw it, give it "
    "another shape (`@motionbot -ar 9:16`) and I draw around it, or right-click its message → Apps → "
    "**Restyle video**"
)
HINT_EVERY_S = 600.0  # a user chatting in a DM is told how to ask at most this often
EDITS_READ_S = 600.0  # a refused request edited within this long is read again
PREVIEW_WAIT_S = 3.0  # how long a message with a link but no picture waits for the link's preview
OWN_CLIP = _(
    "to change one of my clips, use the buttons under it: **Remix** edits its prompt, **Reroll** makes another"
)
ROLE_UNREAD = _(
    "Discord does not show me messages that mention my role, only those that mention me. "
    "Type @ and pick me, the bot, not the role of the same name (or right-click a picture → Apps → **Animate image**)"
)


class Mentions:
    def __init__(self, bot: commands.Bot, services: Services, admission: Admission, requests: VideoRequests):
        self.bot, self.services, self.admission, self.requests = bot, services, admission, requests
        self.refusals = Refusals()  # how often each user was told no lately, and the replies on their way
        self._hinted: Kept[int, bool] = Kept(HINT_EVERY_S)  # users whose DM got how to ask lately
        # A refused message -> its refusal, its words, and whether it showed a picture of its own.
        self._refused: Kept[int, tuple[MessageReply, str, bool]] = Kept(EDITS_READ_S, most=2_000)

    async def on_message(self, message: discord.Message) -> None:
        """Animate the picture a message to the bot (a mention, a DM) replies to or carries; answer anything
        else addressed to the bot with how to ask."""
        if message.author.bot:
            return
        if not self._addressed(message):
            if self._role_unread(message):
                voice = await server_voice(self.bot, self.services, message.guild.id if message.guild else 0)
                with contextlib.suppress(discord.HTTPException):
                    await MessageReply(message, voice, self.refusals).refuse(ROLE_UNREAD)
            return
        try:
            await self._request(message)
        except Exception as exc:
            log.exception("mention %s failed", message.id)
            voice = self.services.catalogs.voice(None)
            with contextlib.suppress(Exception):  # the database may be what failed: then in English
                voice = await server_voice(self.bot, self.services, message.guild.id if message.guild else 0)
            with contextlib.suppress(Exception):  # Discord, or the database, failing again
                await MessageReply(message, voice, self.refusals, self.services.pending).refuse(describe(exc))

    async def on_edit(self, update: discord.RawMessageUpdateEvent) -> None:
        """Read a refused request again once its author edits its words, or once Discord adds the preview of
        a picture's link to a message that had no picture (a pasted link's preview comes a moment after the
        message): its refusal goes, the edited message is answered as a new one. Any other preview asks
        nothing."""
        refused = self._refused.get(update.message_id)
        if refused is None:
            return
        reply, words, pictured = refused
        pictured_now = image_url(update.message, self.services.settings.cdn, emoji=False) is not None
        if update.message.content == words and (pictured or not pictured_now):
            return
        self._refused.drop(update.message_id)
        if (told := reply.refusal) is not None and self.bot.user is not None:
            await told.withdraw(self.bot.user)
        await self.on_message(update.message)

    async def _refuse_unless_previewed(self, reply: MessageReply, text: Text) -> None:
        """Refuse a message that shows no picture; one with a link, only if the link's preview (which Discord
        adds a moment after the message, an edit that reads it again) has not come by PREVIEW_WAIT_S."""
        if not has_link(reply.message.content):
            return await reply.refuse(text)
        self._note_refusal(reply)  # what `on_edit` reads again once the preview comes
        await asyncio.sleep(PREVIEW_WAIT_S)
        noted = self._refused.get(reply.message.id)
        if noted is not None and noted[0] is reply:  # no preview came, or it was no picture
            await reply.refuse(text)

    def _note_refusal(self, reply: MessageReply) -> None:
        """Remember a refused request for a while, in case its author edits it (`on_edit`)."""
        pictured = image_url(reply.message, self.services.settings.cdn, emoji=False) is not None
        self._refused.keep(reply.message.id, (reply, reply.message.content, pictured))

    def _addressed(self, message: discord.Message) -> bool:
        """Whether the message is to the bot: a direct message, or one that names the bot."""
        return message.guild is None or self._named(message)  # a DM: the whole conversation is with the bot

    def _named(self, message: discord.Message) -> bool:
        """Whether the text mentions the bot, or its role (which Discord may pick when "@motionbot" is typed).
        A reply to the bot's own message with the ping on lists the bot in `mentions` without a word to it."""
        me = self.bot.user
        role = message.guild.self_role if message.guild is not None else None
        return me is not None and (
            me.id in message.raw_mentions or (role is not None and role.id in message.raw_role_mentions)
        )

    def _role_unread(self, message: discord.Message) -> bool:
        """Whether `message` mentions the bot's role, not the bot, and Discord hid its text: it shows the bot
        the content of messages that mention the bot itself only (without the Message Content intent)."""
        role = message.guild.self_role if message.guild is not None else None
        return role is not None and role in message.role_mentions and hidden(self.bot, message)

    def _hint_due(self, user_id: int) -> bool:
        """Whether to tell this user (in a DM) how to ask: at most once in HINT_EVERY_S of their chat."""
        if user_id in self._hinted:
            return False
        self._hinted.keep(user_id, True)
        return True

    async def _replied_to(self, message: discord.Message) -> discord.Message | None:
        """The message `message` replies to (fetched where Discord did not send it along), if there is one."""
        reference = message.reference
        if reference is None or not reference.message_id:
            return None
        if isinstance(reference.resolved, discord.Message):
            return reference.resolved
        try:
            return await message.channel.fetch_message(reference.message_id)
        except discord.HTTPException:
            return None

    async def _request(self, message: discord.Message) -> None:
        """Animate the picture the message carries or replies to, or restyle the video, to its words."""
        cdn = self.services.settings.cdn
        url = image_url(message, cdn, emoji=False)  # an emoji in the words is a picture only if nothing else is
        holder = message if url is not None else None  # the message whose pictures are animated, in order
        guild = message.guild.id if message.guild else 0
        voice, s = await server_voice(self.bot, self.services, guild), self.services
        lifetime = s.settings.token_lifetime_s
        reply = await MessageReply.noted(message, voice, self.refusals, lifetime, s.pending, self._note_refusal)
        source = await self._replied_to(message) if url is None else None
        if source is not None and source.author == self.bot.user:  # a reply to its own clip
            if self._named(message):  # more likely "@motionbot thanks!" than a request: its buttons change it
                return await reply.refuse(OWN_CLIP)
            source = None  # a DM's reply ("thanks!") is chat
        if source is not None:
            url, holder = image_url(source, cdn), source
            if url is None and hidden(self.bot, source):
                return await reply.refuse(
                    _(
                        "I cannot see the picture you replied to: Discord shows me only messages that mention me. "
                        "Right-click that message → Apps → **Animate image**, or attach the picture to your mention"
                    )
                )
        video = None  # no picture: a video (with the mention's words) is restyled to them
        if url is None:
            video = video_url(message) or (video_url(source) if source is not None else None)
        if url is None and video is None and message.guild is not None:  # in a DM an emoji is chat ("thanks <3")
            url = image_url(message, cdn)  # a custom emoji in the mention itself
        if url is None and video is None and message.guild is None:  # unless DMs are closed: then that is the answer
            if not self._hint_due(message.author.id):  # chat ("thanks!", "cool"): how to ask, once in a while
                self._note_refusal(reply)  # unanswered, yet read again if a picture's link shows its preview
                return await reply.answered()
            closed = await self.admission.precheck(Requester(message.author.id, DM, message.channel.id), Options())
            return await self._refuse_unless_previewed(
                reply,
                closed
                or _(
                    "send me a picture (with flags if you like: `-motion 3 -camera zoom in`) and I animate it; "
                    "for a clip from words, use `/imagine-video`"
                ),
            )
        if url is None and video is None:
            return await self._refuse_unless_previewed(
                reply,
                _(
                    "reply to a message with an image (or attach one) and mention me to animate it; "
                    "for a clip from words, use `/imagine-video`"
                ),
            )
        try:
            options = parse_flags(request_words(message.content))
        except OptionError as exc:
            return await reply.refuse(exc.text)
        # A video: redrawn to the words, or with a shape and no words (`-ar 9:16`), put on a frame of that shape.
        kind = JobKind.EXPAND if video is not None and not options.prompt and options.aspect else JobKind.RESTYLE
        if video is not None and not options.prompt and kind is JobKind.RESTYLE:
            return await reply.refuse(A_VIDEO_WORDS)
        roles = tuple(role.id for role in getattr(message.author, "roles", ()))
        nsfw = getattr(message.channel, "is_nsfw", lambda: False)()
        channel = message.channel
        who = Requester(message.author.id, guild, channel.id, roles, age_restricted=nsfw, around=around(channel))
        if (refusal := await self.admission.precheck(who, options)) is not None:
            return await reply.refuse(refusal)
        async with self.requests.intake.taking(who.user_id, reply) as taken:
            if not taken:
                return
            if url is None:  # a video, with words or a shape: neither is refused above
                assert video is not None
                if (data := await download(self.services, video, reply)) is not None:
                    await self.requests.new(who, reply, kind, options, Files(video=data))
                return
            pictures = await download_all(self.services, await self._pictures(holder, url, who.space), reply)
            if pictures is not None:
                await self.requests.new(who, reply, JobKind.IMAGE_TO_VIDEO, options, Files.keyframes(pictures))

    async def _pictures(self, holder: discord.Message | None, url: str, space: int) -> list[str]:
        """The pictures to animate: `url`, or with the other pictures uploaded with it after it (a clip from the
        first to the last, through those between, on an enabled keyframe model, as the Animate image menu
        makes it); a link's preview or a sticker beside an upload is not one of them."""
        found = keyframe_urls(holder, self.services.settings.cdn, emoji=False) if holder is not None else []
        return found[: await most_keyframes(self.services, space)] if found[:1] == [url] else [url]
