"""What the clip commands declare (the options they share, as users read them in Discord) and where the
pictures are: a message's files, link previews, stickers and custom emoji; a user's avatar."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import discord
from discord import app_commands

from bot.limits import clip
from generation.effects import effects
from generation.jobs import MAX_HIDDEN_TEXT
from generation.models import ModelSpec
from generation.options import MAX_FRAMES
from generation.styles import styles
from generation.text import _
from generation.values import CAMERA_MOVES, Aspect

__all__ = [
    "A_PICTURE",
    "A_VIDEO",
    "CHOICES",
    "DESCRIBE",
    "EFFECTS",
    "Fps",
    "Frames",
    "Motion",
    "Seed",
    "Steps",
    "Strength",
    "avatar_url",
    "emoji_names",
    "has_link",
    "hidden_words",
    "image_url",
    "image_urls",
    "keyframe_urls",
    "model_choices",
    "request_words",
    "video_url",
    "words",
]

_IMAGE_NAME = re.compile(r"\.(png|jpe?g|webp|gif|avif|hei[cf])$", re.IGNORECASE)
_VIDEO_NAME = re.compile(r"\.(mp4|m4v|webm|mov|gif)$", re.IGNORECASE)
MENTION = re.compile(r"<@[!&]?\d+>")
_LINK = re.compile(r"<?https?://\S+")  # a pasted link (in <…>: without its preview)
_EMOJI = re.compile(r"<(a?):(\w{2,32}):(\d{15,21})>")  # a custom emoji, as a message's text holds it
# The stickers that are pictures, as Discord serves them (a GIF: its first frame); a Lottie sticker is drawn.
_STICKERS = {
    discord.StickerFormatType.png: "png",
    discord.StickerFormatType.apng: "png",
    discord.StickerFormatType.gif: "gif",
}
A_VIDEO = _("that is a video, not a picture: right-click its message → Apps → **Restyle video** redraws it")
A_PICTURE = _("that is a picture, not a video: right-click its message → Apps → **Animate image** brings it to life")
_CHOICE_NAME = 100  # Discord's limit on the name of a choice (and of an autocomplete suggestion)

# The options both commands take: what users read in Discord, and the values they pick from.
DESCRIBE = {
    "motion": "How much things move, 0 (subtle) to 4 (a lot); default 1",
    "camera": "A camera move",
    "fps": "Frames per second, 8 to 24; default 24",
    "seed": "Same seed + same options = same clip",
    "model": "Which model renders it",
    "aspect": "Shape of the clip",
    "frames": "How many frames (up to the model's maximum)",
    "steps": "Denoising steps: more is slower and finer (up to the model's maximum)",
    "style": "A look: anime, 3d, cinematic, pixel, watercolor, … (models that read prompts)",
    "gif": "Send it as a GIF, which plays and loops right in the chat",
}
CHOICES = {
    "camera": [app_commands.Choice(name=move, value=move) for move in CAMERA_MOVES],
    "aspect": [app_commands.Choice(name=aspect.value, value=aspect.value) for aspect in Aspect],
    "style": [app_commands.Choice(name=style.description, value=name) for name, style in styles().items()][:25],
}
# What happens to the subject of a picture (/animate only): generation/effects.toml.
EFFECTS = [app_commands.Choice(name=effect.description, value=name) for name, effect in effects().items()][:25]
Motion = app_commands.Range[int, 0, 4]
Fps = app_commands.Range[int, 8, 24]
Seed = app_commands.Range[int, 0, 4294967295]
Frames = app_commands.Range[int, 2, MAX_FRAMES]
Steps = app_commands.Range[int, 1, 100]
Strength = app_commands.Range[float, 0.1, 1.0]


def _held(message: discord.Message) -> list[discord.Message | discord.MessageSnapshot]:
    """The message, then the messages it forwards (a forward holds its message's files in a snapshot)."""
    return [message, *message.message_snapshots]


def words(message: discord.Message) -> str:
    """The message's text, or that of the message it forwards."""
    return next((held.content for held in _held(message) if held.content), "")


def emoji_names(text: str) -> str:
    """`text` with each custom emoji (`<:pepe:1234…>`, which a model would read as noise) as its name."""
    return _EMOJI.sub(lambda emoji: emoji[2], text)


def hidden_words(text: str) -> str:
    """The words an illusion hides, as they will be drawn: invisible and control characters (a right-to-left
    override, a zero-width space) left out, spaces collapsed, at most MAX_HIDDEN_TEXT characters."""
    shown = "".join(char for char in text if not unicodedata.category(char).startswith("C"))
    return " ".join(shown.split())[:MAX_HIDDEN_TEXT].strip()


def has_link(text: str) -> bool:
    """Whether a message's text holds a link (whose preview Discord may add a moment later)."""
    return _LINK.search(text) is not None


def request_words(text: str) -> str:
    """A message's text as a request reads it: mentions and links left out (a pasted picture's link is the
    picture, by its preview, not words), a custom emoji read as its name."""
    return emoji_names(_LINK.sub("", MENTION.sub("", text)))


def image_urls(message: discord.Message, cdn: str, emoji: bool = True) -> list[str]:
    """The images on a message (or the message it forwards), in order: attachments, embeds' images or
    thumbnails, picture and GIF stickers, then (with `emoji`) the custom emoji in its text, as `cdn` (Discord's CDN)
    serves them."""
    urls = []
    for held in _held(message):
        urls += [
            attachment.url
            for attachment in held.attachments
            if (attachment.content_type or "").startswith("image/") or _IMAGE_NAME.search(attachment.filename)
        ]
        for embed in held.embeds:  # a link preview: Discord's media proxy copy, not the original site
            found = (embed.image.proxy_url, embed.thumbnail.proxy_url, embed.image.url, embed.thumbnail.url)
            urls += [url for url in found if url][:1]
        for sticker in held.stickers:
            if (kind := _STICKERS.get(sticker.format)) is not None:
                urls.append(f"{cdn if kind == 'png' else _media(cdn)}/stickers/{sticker.id}.{kind}")
        shown = _EMOJI.finditer(held.content) if emoji else ()
        urls += [f"{cdn}/emojis/{found[3]}.png?size=512" for found in shown]  # an animated one: its first frame
    return urls


def keyframe_urls(message: discord.Message, cdn: str, emoji: bool = True) -> list[str]:
    """The message's first picture, then, if it was uploaded, the other pictures uploaded with it, in order: the
    keyframes a clip goes through (a link's preview or a sticker beside an upload is not one of them)."""
    urls = image_urls(message, cdn, emoji)
    uploads = {attachment.url for held in _held(message) for attachment in held.attachments}
    return urls[:1] + ([url for url in urls[1:] if url in uploads] if urls[:1] and urls[0] in uploads else [])


def _media(cdn: str) -> str:
    """Where Discord serves GIF stickers, which its CDN does not: its media proxy, for Discord's own CDN; a
    proxy (or the tests' fake Discord) set as the CDN base serves them itself."""
    return "https://media.discordapp.net" if urlsplit(cdn).netloc == "cdn.discordapp.com" else cdn


def image_url(message: discord.Message, cdn: str, emoji: bool = True) -> str | None:
    """The first image on a message."""
    return next(iter(image_urls(message, cdn, emoji)), None)


def avatar_url(user: discord.User | discord.Member, cdn: str) -> str | None:
    """The picture a user shows in this server (their server avatar, else their own), as a still PNG from
    `cdn`; None for Discord's default avatar (its logo on a colour: nothing of theirs)."""
    if user.avatar is None and getattr(user, "guild_avatar", None) is None:
        return None
    shown = user.display_avatar.with_format("png").with_size(1024)  # an animated avatar: its first frame
    return cdn + shown.url.removeprefix(discord.Asset.BASE)


def video_url(message: discord.Message) -> str | None:
    """The first video (or GIF) on a message (or the message it forwards): an attachment, else an embed's
    video or GIF preview."""
    for held in _held(message):
        for attachment in held.attachments:
            kind = attachment.content_type or ""
            if kind.startswith("video/") or kind == "image/gif" or _VIDEO_NAME.search(attachment.filename):
                return attachment.url
        for embed in held.embeds:  # Discord's media proxy copy, never the original site
            if embed.video.proxy_url:
                return embed.video.proxy_url
    return None


def model_choices(
    models: Mapping[str, ModelSpec],
    allowed: Callable[[str], bool],
    served: set[str] | None,
    typed: str,
    fits: Callable[[ModelSpec], bool],
    offline: str,
) -> list[app_commands.Choice[str]]:
    """A `model` option's suggestions: the models this server allows that fit the command, each with what it
    is, those a worker serves now first (`served` None: unknown, all shown alike; none online: all, marked
    `offline`), filtered by what the user has typed so far in the name or the description."""
    able = [spec for name, spec in models.items() if allowed(name) and fits(spec)]
    online = [spec for spec in able if served is None or spec.name in served]
    typed = typed.strip().lower()
    shown = [
        (spec.name, f"{spec.name} — {spec.description}" if online else f"{spec.name} {offline} — {spec.description}")
        for spec in online or able
        if typed in spec.name or typed in spec.description.lower()
    ]
    return [app_commands.Choice(name=clip(label, _CHOICE_NAME), value=name) for name, label in shown[:25]]
