"""What a user sees when a command, button or form fails in a way no handler planned for: one short,
private message, never a "thinking…" that spins forever. The traceback goes to the log."""

from __future__ import annotations

import contextlib
import logging
import time

import discord
from discord import app_commands
from redis.exceptions import RedisError

from bot.i18n import voice_of
from generation.text import Said, Text, _

__all__ = ["NOT_CHARGED", "QUEUE_DOWN", "MotionTree", "describe", "tell", "theirs"]

log = logging.getLogger(__name__)

NOT_CHARGED = _("You were not charged; try again in a minute.")
QUEUE_DOWN = _("the video queue is unavailable right now. {not_charged}", not_charged=NOT_CHARGED)


def _original(error: BaseException) -> BaseException:
    return getattr(error, "original", None) or error.__cause__ or error


def _discords_trouble(error: BaseException) -> bool:
    """Whether Discord itself failed (5xx, or a rate limit that outlasted discord.py's retries)."""
    original = _original(error)
    return isinstance(original, discord.HTTPException) and (original.status >= 500 or original.status == 429)


def _expired(error: BaseException) -> bool:
    """Whether Discord no longer knows the interaction (10062): it was not acknowledged within its 3 s (every
    try met a Discord fault, or the bot was held up). Nothing can answer it any more."""
    original = _original(error)
    return isinstance(original, discord.NotFound) and original.code == 10062


def describe(error: BaseException) -> Text:
    """A short sentence for the user about `error`."""
    original = _original(error)
    if isinstance(original, RedisError | OSError):
        return QUEUE_DOWN
    if _discords_trouble(error):
        return _("Discord is having trouble right now; please try again in a minute.")
    if isinstance(original, Said):  # a check's refusal that no handler caught: its words are for the user
        return original.text
    if isinstance(error, app_commands.TransformerError):
        return _("I could not use `{value}` there; pick it from the list Discord offers.", value=str(error.value)[:40])
    if isinstance(error, app_commands.NoPrivateMessage):
        return _("that command only works in a server.")
    if isinstance(error, app_commands.MissingPermissions):
        return _("you need the Manage Server permission for that.")
    if isinstance(error, app_commands.CommandOnCooldown):
        return _("slow down: try again <t:{at}:R>.", at=int(time.time() + error.retry_after + 1))
    return _("something went wrong on my side. It is logged; please try again.")


async def tell(interaction: discord.Interaction, error: BaseException) -> None:
    """Log `error` and answer the user privately, whether or not the interaction was acknowledged."""
    if _expired(error):  # Discord told the user it did not respond; any answer now is refused too
        log.warning("interaction %s expired before it was acknowledged: %s", interaction.id, _original(error))
        return
    if isinstance(error, app_commands.CheckFailure | app_commands.TransformerError):
        log.info("interaction %s refused: %s", interaction.id, error)
    elif _discords_trouble(error):  # not a bug of ours: no traceback
        log.warning("interaction %s failed: Discord answered %s", interaction.id, _original(error))
    else:
        log.error("interaction %s failed", interaction.id, exc_info=error)
    text = f"⚠️ {voice_of(interaction)(describe(error))}"  # short by construction
    try:
        if interaction.response.is_done():
            with contextlib.suppress(discord.HTTPException):  # drop the public "thinking…" message
                await interaction.delete_original_response()
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException as exc:
        log.warning("could not tell user %s what went wrong: %s", interaction.user.id, exc)


async def theirs(interaction: discord.Interaction, user_id: int) -> bool:
    """Whether the presser of a button under a private answer is `user_id`, whose answer it is; anyone else
    (a copied custom id) is told it is not theirs."""
    if interaction.user.id == user_id:
        return True
    await interaction.response.send_message(voice_of(interaction)(_("That button is not yours.")), ephemeral=True)
    return False


class MotionTree(app_commands.CommandTree):
    """The bot's command tree: an error in any slash command or menu reaches the user as one short line."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        await tell(interaction, error)
