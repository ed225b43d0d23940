"""Which attachment URLs the bot downloads: allow-listed hosts over https; plain http only where named."""

from __future__ import annotations

import pytest
import yarl

from bot.exts.video._declare import _media
from bot.exts.video._fetch import _allowed
from bot.settings import BotSettings

HOSTS = frozenset({"cdn.discordapp.com", "http://127.0.0.1:8080"})


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://cdn.discordapp.com/attachments/1/2/cat.png", True),
        ("http://cdn.discordapp.com/attachments/1/2/cat.png", False),  # not downgraded to plain http
        ("https://cdn.discordapp.com.evil.example/cat.png", False),
        ("http://127.0.0.1:8080/attachments/cat.png", True),  # named with its scheme
        ("https://127.0.0.1:8080/attachments/cat.png", False),
        ("http://127.0.0.1:9090/attachments/cat.png", False),
        ("ftp://cdn.discordapp.com/cat.png", False),
    ],
)
def test_only_named_hosts_and_schemes_are_fetched(url: str, allowed: bool) -> None:
    assert _allowed(yarl.URL(url), HOSTS) is allowed


def test_a_gif_sticker_comes_from_discords_media_proxy_which_the_default_hosts_allow() -> None:
    media = _media("https://cdn.discordapp.com")
    assert media == "https://media.discordapp.net", "Discord's CDN serves no GIF sticker"
    assert _allowed(yarl.URL(f"{media}/stickers/1.gif"), BotSettings.model_construct().allowed_hosts)
    assert _media("http://127.0.0.1:8080") == "http://127.0.0.1:8080", "a proxy (or a test server) serves both"
