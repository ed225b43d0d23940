"""Download a user's image or clip: only from allow-listed hosts, never redirected, size-capped."""

from __future__ import annotations

import aiohttp
import yarl

__all__ = ["FetchError", "fetch"]


class FetchError(ValueError):
    """The file could not be fetched; the message is safe to show the user."""


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
        raise FetchError("that link is not a valid URL") from None
    if not _allowed(parsed, allowed_hosts):
        raise FetchError("I only download images uploaded to Discord")
    try:
        async with http.get(parsed, allow_redirects=False) as response:
            if response.status != 200:
                raise FetchError(f"Discord did not give me the file (HTTP {response.status}); try uploading it again")
            if (response.content_length or 0) > max_bytes:
                raise FetchError(f"the file is larger than {max_bytes // 2**20} MB")
            data = bytearray()
            async for chunk in response.content.iter_chunked(1 << 16):
                data += chunk
                if len(data) > max_bytes:
                    raise FetchError(f"the file is larger than {max_bytes // 2**20} MB")
            return bytes(data)
    except (aiohttp.ClientError, TimeoutError):
        raise FetchError("downloading the file failed; try again") from None
