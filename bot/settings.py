"""Bot settings from the environment / `.env`, validated at start-up."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, PositiveFloat, PositiveInt, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["BotSettings"]

_PLACEHOLDERS = {"", "changeme", "change-me", "your-token-here", "your_token_here", "token", "placeholder", "xxx"}


class BotSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOTIONBOT_", env_file=".env", env_ignore_empty=True, extra="ignore")

    discord_token: SecretStr = Field(validation_alias="DISCORD_TOKEN")
    # REST base (a proxy such as nirn-proxy works); the gateway URL comes from GET /gateway/bot on it.
    discord_api_base: str = Field("https://discord.com/api/v10", validation_alias="DISCORD_API_BASE")
    # Hosts the bot downloads images from (host or host:port), comma-separated: Discord's CDN and the
    # media proxy that serves link previews (embeds).
    attachment_hosts: str = (
        "cdn.discordapp.com,media.discordapp.net,images-ext-1.discordapp.net,images-ext-2.discordapp.net"
    )
    # Discord's CDN, where avatars, stickers and custom emoji are (a proxy works); the bot downloads from its
    # host too.
    discord_cdn_base: str = Field("https://cdn.discordapp.com", validation_alias="DISCORD_CDN_BASE")
    dev_guild_id: int | None = None  # sync commands to this server only (instant) instead of globally
    max_image_mb: PositiveFloat = 25.0  # the largest image or video the bot downloads
    max_video_seconds: PositiveFloat = 5.0  # the longest video /restyle takes (longer ones are refused, not cut)
    progress_interval_s: PositiveFloat = 5.0  # at most one status edit per job this often (`edit_interval`)
    # The most a request waits for Discord to show its status (it holds an intake slot meanwhile); a status
    # still on its way then goes on apart (`VideoRequests._show`).
    status_wait_s: PositiveFloat = 10.0
    token_lifetime_s: PositiveInt = 14 * 60  # deliver through the interaction until then (Discord: 15 min)
    watch_interval_s: PositiveFloat = 1.0
    unserved_timeout_s: PositiveFloat = 1800.0  # a queued job no live worker can run fails (refunded) after this
    input_retention_days: PositiveInt = 7  # keep input images this long, for Reroll and Remix
    record_retention_days: PositiveInt = 90  # keep finished requests (prompt, options, links) and credit use this long
    metrics_port: int = 9110  # Prometheus /metrics; 0 = off
    # The privileged Message Content intent (switched on in the Developer Portal too): without it Discord hides
    # the pictures of messages that do not mention the bot, so a mention in a reply cannot see the picture.
    message_content_intent: bool = False
    # Offer the commands and menus to users who add the app to their own account (Developer Portal ->
    # Installation -> User Install on): they then work in any server, DM or group DM the user is in, the bot
    # answering through the interaction (README: Add it to your account).
    user_install: bool = False

    @field_validator("discord_token")
    @classmethod
    def _real_token(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value().strip()
        if token.lower() in _PLACEHOLDERS or token.lower().startswith("your") or len(token) < 20:
            raise ValueError(
                "DISCORD_TOKEN is missing or a placeholder: put the bot token from "
                "https://discord.com/developers/applications (Bot -> Reset Token) in .env"
            )
        return SecretStr(token)

    @field_validator("discord_cdn_base")
    @classmethod
    def _a_web_address(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"DISCORD_CDN_BASE must be a web address like https://cdn.discordapp.com, got {value!r}")
        return value.strip()

    @property
    def allowed_hosts(self) -> frozenset[str]:
        """Where the bot downloads from (`host` over https, `scheme://host` otherwise): the attachment hosts and
        the CDN's."""
        hosts = {host.strip().lower() for host in self.attachment_hosts.split(",") if host.strip()}
        cdn = urlsplit(self.discord_cdn_base.lower())
        return frozenset(hosts | {cdn.netloc if cdn.scheme == "https" else f"{cdn.scheme}://{cdn.netloc}"})

    @property
    def cdn(self) -> str:
        """Discord's CDN base, without a trailing slash."""
        return self.discord_cdn_base.rstrip("/")
