"""Which attachment URLs the bot downloads: allow-listed hosts over https; plain http only where named."""

from __future__ import annotations

from types import SimpleNamespace

import aiohttp
import pytest
import yarl
from aiohttp import web

from bot.exts.video._declare import _media
from bot.exts.video._fetch import _allowed
from bot.exts.video._interact import download_all
from bot.i18n import Catalogs
from bot.settings import BotSettings
from generation.text import Text

CATALOGS = Catalogs.load()

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


class Told:
    """A request's answers, as the user would read them (English)."""

    def __init__(self) -> None:
        self.refusals: list[str] = []

    async def refuse(self, text: object) -> None:
        self.refusals.append(str(CATALOGS.voice("en-US")(text)) if isinstance(text, Text) else str(text))


async def test_a_requests_files_together_stay_within_three_times_the_download_limit(unused_tcp_port: int) -> None:
    files = {f"/attachments/{n}.png": bytes([n]) * 400_000 for n in range(5)}  # 0.4 MB each

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=files[request.path])

    app = web.Application()
    app.router.add_get("/attachments/{name}", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    base = f"http://127.0.0.1:{unused_tcp_port}"
    try:
        async with aiohttp.ClientSession() as http:
            settings = BotSettings.model_construct(max_image_mb=0.5, attachment_hosts="", discord_cdn_base=base)
            services = SimpleNamespace(settings=settings, http=http)
            urls = [f"{base}{path}" for path in files]
            told = Told()
            got = await download_all(services, urls[:3], told)
            assert got == list(files.values())[:3], told.refusals
            assert await download_all(services, urls[:4], told) is None, "1.6 MB together: more than 1.5"
            assert told.refusals == ["together, the files are larger than 1.5 MB"]
            files["/attachments/big.png"] = b"x" * 600_000
            assert await download_all(services, [f"{base}/attachments/big.png"], told) is None
            assert told.refusals[-1] == "the file is larger than 0.5 MB", "one file over the limit says so"
    finally:
        await runner.cleanup()
