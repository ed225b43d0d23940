"""Download a user's image or clip: only from allow-listed hosts, never redirected, size-capped."""

from __future__ import annotations

import aiohttp
import yarl

from generation.text import Said, Text, _

__all__ = ["FetchError", "TooLarge", "fetch"]


class FetchError(Said, ValueError):
    """The file could not be fetched; the message is safe to show the user (`status`: Discord's answer)."""

    def __init__(self, text: Text, status: int | None = None):
        super().__init__(text)
        self.status = status


class TooLarge(FetchError):
    """The file is larger than the most the caller takes."""


def _allowed(url: yarl.URL, allowed_hosts: frozenset[str]) -> bool:
    """Whether an allow-list entry names this URL: `host` or `host:port` over https; an entry with a scheme
    (`http://127.0.0.1:8080`, a local test CDN) allows exactly that scheme."""
    host = (url.host or "").lower()
    for entry in allowed_hosts:
        scheme, named, where = entry.partition("://")
        if not named:
            scheme, where = "https", entry
        if url.scheme == scheme and where in (host, f"{host}:{url.port}"):
            return True
    return False


async def fetch(http: aiohttp.ClientSession, url: str, allowed_hosts: frozenset[str], max_bytes: int) -> bytes:
    """GET `url` if its host is allowed; refuse anything larger than `max_bytes`."""
    try:
        parsed = yarl.URL(url)
    except ValueError:
        raise FetchError(_("that link is not a valid URL")) from None
    if not _allowed(parsed, allowed_hosts):
        raise FetchError(_("I only download images uploaded to Discord"))
    try:
        async with http.get(parsed, allow_redirects=False) as response:
            if response.status != 200:
                raise FetchError(
                    _(
                        "Discord did not give me the file (HTTP {status}); try uploading it again",
                        status=response.status,
                    ),
                    response.status,
                )
            if (response.content_length or 0) > max_bytes:
                raise TooLarge(_("the file is larger than {mb} MB", mb=f"{max_bytes / 2**20:.3g}"))
            data = bytearray()
            async for chunk in response.content.iter_chunked(1 << 16):
                data += chunk
                if len(data) > max_bytes:
                    raise TooLarge(_("the file is larger than {mb} MB", mb=f"{max_bytes / 2**20:.3g}"))
            return bytes(data)
    except (aiohttp.ClientError, TimeoutError):
        raise FetchError(_("downloading the file failed; try again")) from None
