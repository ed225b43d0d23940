"""Who may ask for a video where, and what their prompt may say: the checks that need no file.

`precheck` runs before any attachment is downloaded; `VideoRequests` runs the same checks again, with
everything else, when it prepares the job. A refusal is a `Refused` with the short message users see;
a refused prompt is also reported to the server's moderation log.
"""

from __future__ import annotations

from bot.exts.video._modlog import ModLog
from bot.exts.video._replies import Requester
from bot.pricing import Refused
from bot.services import Services
from generation.blocklist import Policy
from generation.jobs import Content, VideoJob
from generation.options import Options
from generation.text import Text, _
from storage.guilds import DM, GuildSettings
from storage.moderation import ModerationEvent

__all__ = ["Admission", "admit"]


def admit(who: Requester, settings: GuildSettings) -> None:
    """Refused where this server (or DMs) takes no video requests, or not in this channel."""
    if not settings.enabled:
        if who.own_install:
            raise Refused(_("I make videos only in servers that added me, not through your own install of the app"))
        raise Refused(
            _("I don't make videos in direct messages here")
            if who.guild_id == DM
            else _("video generation is turned off in this server")
        )
    if not settings.allows_channel(who.channel_id, who.around):
        channels = ", ".join(f"<#{c}>" for c in settings.allowed_channels or ())
        raise Refused(_("I can't make videos in this channel; try {channels}", channels=channels))


class Admission:
    """The checks on who, where and what prompt, with the services they read."""

    def __init__(self, services: Services, modlog: ModLog):
        self.services = services
        self.modlog = modlog

    async def precheck(self, who: Requester, options: Options, hidden: str = "") -> Text | None:
        """Why a request is refused before any file is fetched for it (the server, the channel, a blocked user,
        the prompt and the words an illusion hides), or None. `VideoRequests.start` checks all of it again,
        with everything else."""
        settings = await self.services.guilds.get(who.space)
        try:
            admit(who, settings)
            if (status := await self.services.quotas.status(who.space, who.user_id, who.role_ids)).blocked:
                raise Refused(status.refusal)
            asked = _words(options.prompt, options.effect, hidden)
            await self._check_prompt(who, asked, options.negative_prompt or "", settings, count=False)
        except Refused as exc:
            self.services.metrics.refused.labels("Refused").inc()
            return exc.text
        return None

    async def _check_prompt(
        self, who: Requester, prompt: str, negative: str, settings: GuildSettings, count: bool = True
    ) -> None:
        """Refused (and logged) if the prompt may not run here under the server's policy and block lists."""
        verdict = self.services.blocklist.check(
            prompt, Policy(settings.content), who.age_restricted, settings.blocked_terms or (), negative
        )
        if verdict is not None:
            event = ModerationEvent(
                who.space, who.channel_id, who.user_id, "prompt", "refused", str(verdict.rule), prompt, verdict.term
            )
            await self.modlog.report(event)
            raise Refused(
                _("this prompt is not allowed: it is refused by {rule}. You were not charged", rule=verdict.rule)
            )
        if count and (prompt or negative):
            self.services.metrics.safety.labels("prompt", "pass").inc()

    async def content(self, who: Requester, job: VideoJob, settings: GuildSettings) -> Content:
        """Check the prompt under the server's policy (Refused, logged, if it may not run here) and say what the
        worker's image check does for this job."""
        await self._check_prompt(who, _words(job.prompt, job.effect, job.hidden_text), job.negative_prompt, settings)
        policy = Policy(settings.content)
        if policy is Policy.OFF:
            return Content.UNCHECKED
        return Content.SPOILER if policy is Policy.AGE_RESTRICTED and who.age_restricted else Content.REFUSE


def _words(prompt: str, effect: str | None, hidden: str = "") -> str:
    """The words a request's check reads: its prompt, its effect by name (a server may block `explo*`), and
    the words an illusion hides (as plain to see as its prompt, once seen)."""
    return " ".join(part for part in (prompt, f"-effect {effect}" if effect else "", hidden) if part)
