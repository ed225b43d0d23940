"""A fake Discord for tests: the REST API and the gateway WebSocket on localhost, speaking the real protocol.

The unmodified bot connects to it through DISCORD_API_BASE. Tests push gateway events (slash commands,
button clicks, modal submits, context menus, messages) and read what the bot did: the interaction
callbacks, messages sent and edited (with their files), commands synced. Faults can be injected: a 429
on the next matching request, or expired interaction tokens (401 / 50027).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

from tests.discord_limits import EMPTY_MESSAGE, empty, invalid_form_body, problems

DISCORD_EPOCH_MS = 1420070400000
GUILD_ID, CHANNEL_ID, APP_ID, BOT_ID = 700000000000000001, 700000000000000002, 700000000000000003, 700000000000000004
# A channel Discord marks age-restricted (`nsfw: true`), and one for the moderation log.
NSFW_CHANNEL_ID, MODLOG_CHANNEL_ID = 700000000000000005, 700000000000000006
# A category with a channel in it, a forum, and two threads: one in #general, one a post in the forum.
CATEGORY_ID, STUDIO_CHANNEL_ID, FORUM_ID = 700000000000000007, 700000000000000008, 700000000000000009
THREAD_ID, FORUM_POST_ID = 700000000000000010, 700000000000000011
# A server the bot is not in (one of its channels) and a group DM: only users who added the app to their own
# account use it there, and the bot reaches them only through the interaction (its token opens no channel).
ELSEWHERE_GUILD_ID, ELSEWHERE_CHANNEL_ID, GROUP_DM_ID = 700000000000000012, 700000000000000013, 700000000000000014
_NO_ACCESS = (ELSEWHERE_CHANNEL_ID, GROUP_DM_ID)
# The server's channels: id -> (name, Discord's channel type, parent: a category, or a thread's channel).
_CHANNELS: dict[int, tuple[str, int, int | None]] = {
    CHANNEL_ID: ("general", 0, None),
    NSFW_CHANNEL_ID: ("after-dark", 0, None),
    MODLOG_CHANNEL_ID: ("mod-log", 0, None),
    CATEGORY_ID: ("studio", 4, None),
    STUDIO_CHANNEL_ID: ("renders", 0, CATEGORY_ID),
    FORUM_ID: ("requests", 15, None),
    THREAD_ID: ("a thread", 11, CHANNEL_ID),
    FORUM_POST_ID: ("my post", 11, FORUM_ID),
}


def channel_payload(channel_id: int, **more: Any) -> dict[str, Any]:
    """A channel (or thread) of the test server as Discord describes it."""
    name, kind, parent = _CHANNELS.get(channel_id, ("other", 0, None))
    payload = {
        "id": str(channel_id),
        "type": kind,
        "guild_id": str(GUILD_ID),
        "name": name,
        "position": list(_CHANNELS).index(channel_id) if channel_id in _CHANNELS else 0,
        "permission_overwrites": [],
        "nsfw": channel_id == NSFW_CHANNEL_ID,
        "parent_id": str(parent) if parent else None,
    }
    if kind == 11:
        payload |= {
            "owner_id": "1001",
            "message_count": 1,
            "member_count": 1,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": datetime.now(UTC).isoformat(),
                "locked": False,
            },
        }
    return payload | more


EVERYONE = GUILD_ID
MESSAGE_CONTENT = 1 << 15  # the privileged gateway intent
ACK_WINDOW_S = 3.0  # an interaction not acknowledged within this is gone (10062 Unknown interaction)
BOT_ROLE = 700000000000000007  # the role Discord makes for the bot when it joins (typing "@motionbot" may pick it)
ADMIN_PERMISSIONS = str(1 << 3 | 1 << 5 | 1 << 13 | 1 << 11 | 1 << 10 | 1 << 15)  # admin, manage guild/messages
MANAGER_PERMISSIONS = str(1 << 5 | 1 << 10 | 1 << 11 | 1 << 15 | 1 << 16)  # a member with Manage Server only
MEMBER_PERMISSIONS = str(1 << 10 | 1 << 11 | 1 << 15 | 1 << 16)  # view, send, attach, read history
_counter = itertools.count(1)


def snowflake() -> int:
    return ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) + (next(_counter) % 4096)


def user_payload(user_id: int, name: str = "user", bot: bool = False, avatar: str | None = None) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "discriminator": "0",
        "global_name": name,
        "avatar": avatar,
        "bot": bot,
    }


def _link_embed(proxy_url: str) -> dict[str, Any]:
    original = "https://example.com/cat.png"
    return {
        "type": "image",
        "url": original,
        "thumbnail": {"url": original, "proxy_url": proxy_url, "width": 160, "height": 90},
    }


def dm_channel(user_id: int) -> int:
    """The id of the bot's direct-message channel with a user."""
    return 800000000000000000 + user_id % 10**15


def role_payload(role_id: int, name: str) -> dict[str, Any]:
    return {
        "id": str(role_id),
        "name": name,
        "permissions": MEMBER_PERMISSIONS,
        "position": int(role_id != EVERYONE),
        "color": 0,
        "hoist": False,
        "managed": False,
        "mentionable": True,
        "flags": 0,
    }


@dataclass(frozen=True)
class UserRef:
    """A USER option value: Discord resolves it to the user and, when they are in the server, the member."""

    id: int
    in_server: bool = True


@dataclass(frozen=True)
class RoleRef:
    """A ROLE option value, resolved to the role."""

    id: int
    name: str = "role"


@dataclass(frozen=True)
class ChannelRef:
    """A CHANNEL option value, resolved to the server's text channel."""

    id: int


@dataclass
class Message:
    data: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)  # filename -> bytes
    edits: list[dict[str, Any]] = field(default_factory=list)  # every payload that changed it

    @property
    def id(self) -> int:
        return int(self.data["id"])

    @property
    def content(self) -> str:
        return str(self.data.get("content") or "")

    def buttons(self) -> list[dict[str, Any]]:
        return [c for row in self.data.get("components", []) for c in row.get("components", [])]


@dataclass
class Call:
    method: str
    path: str
    status: int
    payload: Any = None
    at: float = field(default_factory=time.monotonic)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # Exactly "application/json", as Discord sends it: discord.py compares the header literally.
    return web.Response(
        body=json.dumps(body).encode(), status=status, headers={"Content-Type": "application/json", **(headers or {})}
    )


class FakeDiscord:
    def __init__(self) -> None:
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.app.router.add_get("/gateway", self._gateway)
        self.app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        self.app.router.add_get("/attachments/{name}", self._attachment)
        self.app.router.add_get("/{kind:avatars|guilds|stickers|emojis}/{rest:.*}", self._cdn)
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.calls: list[Call] = []
        self.messages: dict[int, Message] = {}
        self.original: dict[str, int] = {}  # interaction token -> message id of its response
        self.token_channel: dict[str, int] = {}  # interaction token -> the channel it happened in
        self.made_at: dict[str, float] = {}  # interaction token -> when it was sent to the bot
        self.ack_window_s = ACK_WINDOW_S  # Discord's time to acknowledge an interaction
        self.ack_delays: list[float] = []  # how long the bot took to acknowledge each interaction
        self.callbacks: dict[str, list[dict[str, Any]]] = {}  # interaction token -> callback payloads
        self.presence: dict[str, Any] = {}  # what the bot said of itself at IDENTIFY (its status)
        self.commands: list[dict[str, Any]] = []
        self.uploads: dict[str, bytes] = {}  # attachments users "uploaded"
        self.cdn: dict[str, bytes] = {}  # avatars, stickers, custom emoji: "/avatars/<user>/<hash>.png" -> file
        self.expired_tokens: set[str] = set()
        self.faults: list[tuple[str, re.Pattern[str], int, dict[str, Any], re.Pattern[str] | None]] = []
        self.holds: list[
            tuple[str, re.Pattern[str], asyncio.Event, bool]
        ] = []  # requests kept waiting (a slow Discord)
        self.held = 0  # requests waiting on a hold now
        self.webhook_latency_s = 0.0  # how long each webhook call (edits, answers, deliveries) takes
        self.nonces: dict[str, int] = {}
        self.rejected: list[tuple[str, str, list[str]]] = []  # payloads refused for breaking Discord's limits
        self.fetched: list[str] = []  # the CDN files the bot downloaded
        self.user_messages: dict[int, dict[str, Any]] = {}  # users' messages (user_message), by id
        self.reactions: dict[int, list[str]] = {}  # message id -> the emoji the bot reacted with
        self.roles: dict[int, str] = {}  # the server's roles besides @everyone: id -> name
        self.component_message: dict[str, int] = {}  # interaction id -> the message its button is on
        self.guild_locale = "en-US"  # the server's preferred locale (set before the bot connects)
        self.ws: web.WebSocketResponse | None = None
        self.ready = asyncio.Event()
        self.identified = 0  # identifies of the shard that has the test server
        self.identifies: list[list[int]] = []  # the [shard, shard count] of every identify
        self.shards = 1  # the shard count Discord recommends (GET /gateway/bot)
        self.intents = 0  # what the bot last identified with
        self.content_intent_allowed = True  # the Developer Portal's Message Content switch
        self._seq = 0
        self._changed = asyncio.Condition()

    # ---- lifecycle ----

    async def start(self) -> FakeDiscord:
        self.runner = web.AppRunner(self.app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.runner is not None:
            await self.runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def cdn_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    # ---- gateway ----

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 5000}})
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if data["op"] == 1:
                await ws.send_json({"op": 11})
            elif data["op"] == 2:
                self.intents = int(data["d"].get("intents", 0))
                if self.intents & MESSAGE_CONTENT and not self.content_intent_allowed:
                    await ws.close(code=4014, message=b"Disallowed intent(s).")
                    break
                shard = data["d"].get("shard") or [0, 1]
                self.identifies.append(shard)
                self.presence = data["d"].get("presence") or {}
                if (GUILD_ID >> 22) % shard[1] != shard[0]:  # a shard without the test server: READY only
                    await ws.send_json({"op": 0, "t": "READY", "s": 1, "d": self._ready_payload(shard, [])})
                    continue
                self.ws, self._seq = ws, 0
                self.identified += 1
                await self._send_ready(shard)
        if self.ws is ws:
            self.ws = None
            self.ready.clear()
        return ws

    def _ready_payload(self, shard: list[int], guilds: list[int]) -> dict[str, Any]:
        return {
            "v": 10,
            "user": user_payload(BOT_ID, "motionbot", bot=True),
            "session_id": f"s{shard[0]}",
            "shard": shard,
            "resume_gateway_url": f"ws://{self.host}/gateway",
            "guilds": [{"id": str(guild), "unavailable": True} for guild in guilds],
            "application": {"id": str(APP_ID), "flags": 0},
        }

    async def _send_ready(self, shard: list[int]) -> None:
        await self.dispatch("READY", self._ready_payload(shard, [GUILD_ID]))
        await self.dispatch(
            "GUILD_CREATE",
            {
                "id": str(GUILD_ID),
                "name": "Test Server",
                "owner_id": "1",
                "unavailable": False,
                "member_count": 3,
                "large": False,
                "features": [],
                "emojis": [],
                "stickers": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "voice_states": [],
                "presences": [],
                "members": [],
                "joined_at": datetime.now(UTC).isoformat(),
                "premium_tier": 0,
                "preferred_locale": self.guild_locale,
                "mfa_level": 0,
                "verification_level": 0,
                "roles": [
                    role_payload(EVERYONE, "@everyone"),
                    role_payload(BOT_ROLE, "motionbot") | {"managed": True, "tags": {"bot_id": str(BOT_ID)}},
                    *(role_payload(i, n) for i, n in self.roles.items()),
                ],
                "channels": [channel_payload(c) for c, (_, kind, _) in _CHANNELS.items() if kind != 11],
                "threads": [channel_payload(c) for c, (_, kind, _) in _CHANNELS.items() if kind == 11],
            },
        )
        self.ready.set()
        await self._notify()

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        assert self.ws is not None, "the bot is not connected"
        self._seq += 1
        await self.ws.send_json({"op": 0, "t": event, "s": self._seq, "d": data})

    # ---- what users do ----

    def upload(self, name: str, data: bytes, content_type: str = "image/png") -> dict[str, Any]:
        """An attachment a user uploaded, served from the fake CDN (this server)."""
        key = f"{snowflake()}-{name}"
        self.uploads[key] = data
        return {
            "id": str(snowflake()),
            "filename": name,
            "size": len(data),
            "content_type": content_type,
            "url": f"http://{self.host}/attachments/{key}",
            "proxy_url": f"http://{self.host}/attachments/{key}",
        }

    def _base_interaction(
        self,
        kind: int,
        user_id: int,
        admin: bool | str,
        roles: list[int],
        dm: bool,
        channel_id: int = CHANNEL_ID,
        locale: str = "en-US",
    ) -> dict[str, Any]:
        """An interaction as Discord sends it; `locale` is the user's client language."""
        token = f"tok-{snowflake()}"
        self.token_channel[token] = channel_id
        self.made_at[token] = time.monotonic()
        payload: dict[str, Any] = {
            "id": str(snowflake()),
            "application_id": str(APP_ID),
            "type": kind,
            "token": token,
            "version": 1,
            "channel_id": str(channel_id),
            "locale": locale,
            "entitlements": [],
            "attachment_size_limit": 10 << 20,
            "app_permissions": ADMIN_PERMISSIONS,
        }
        if channel_id == GROUP_DM_ID:  # a group DM: the user's own install of the app
            payload |= {
                "user": user_payload(user_id),
                "context": 2,
                "channel": {"id": str(channel_id), "type": 3, "recipients": [user_payload(user_id), user_payload(9)]},
                "authorizing_integration_owners": {"1": str(user_id)},
            }
        elif dm:
            payload |= {
                "user": user_payload(user_id),
                "context": 1,
                "channel": {"id": str(channel_id), "type": 1, "recipients": [user_payload(user_id)]},
            }
        else:
            payload |= {
                "guild_id": str(GUILD_ID),
                "guild_locale": self.guild_locale,
                "context": 0,
                "channel": channel_payload(channel_id),
                "member": {
                    "user": user_payload(user_id),
                    "roles": [str(r) for r in roles],
                    "deaf": False,
                    "mute": False,
                    "flags": 0,
                    "joined_at": datetime.now(UTC).isoformat(),
                    # admin: True (every permission), False (a member's) or the permissions themselves
                    "permissions": admin
                    if isinstance(admin, str)
                    else ADMIN_PERMISSIONS
                    if admin
                    else MEMBER_PERMISSIONS,
                },
            }
        if channel_id == ELSEWHERE_CHANNEL_ID:  # a server the bot is not in: the user's own install of the app
            payload["guild_id"] = payload["channel"]["guild_id"] = str(ELSEWHERE_GUILD_ID)
            payload["guild"] = {"id": str(ELSEWHERE_GUILD_ID), "locale": "en-US", "features": []}
            payload["authorizing_integration_owners"] = {"1": str(user_id)}
        elif not dm:
            payload["authorizing_integration_owners"] = {"0": str(GUILD_ID)}
        return payload

    def _offered(self, name: str, channel_id: int) -> None:
        """Discord shows a command (or menu) in a server the bot is not in, or in a group DM, only where its
        sync said users may add it to their account and use it in such a place."""
        context = {ELSEWHERE_CHANNEL_ID: 0, GROUP_DM_ID: 2}.get(channel_id)
        if context is None:
            return
        command = next((c for c in self.commands if c["name"] == name), None)
        assert command is not None, f"no command {name!r} was synced"
        if 1 not in (command.get("integration_types") or [0]) or context not in (command.get("contexts") or [0, 1]):
            raise AssertionError(f"Discord does not offer {name!r} there: {command.get('integration_types')}")

    async def slash(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        user_id: int = 1001,
        admin: bool = False,
        roles: list[int] | None = None,
        dm: bool = False,
        attachments: dict[str, dict[str, Any]] | None = None,
        subcommand: list[str] | None = None,
        guild_id: int = GUILD_ID,
        channel_id: int = CHANNEL_ID,
        locale: str = "en-US",
    ) -> str:
        """Run a slash command; returns the interaction token. Attachment options: name -> upload();
        user and role options: UserRef / RoleRef values; `guild_id` another server the bot is in; `locale`
        the user's client language."""
        opts: list[dict[str, Any]] = []
        resolved: dict[str, Any] = {}
        for key, value in (options or {}).items():
            if isinstance(value, UserRef):
                opts.append({"name": key, "type": 6, "value": str(value.id)})
                resolved.setdefault("users", {})[str(value.id)] = user_payload(value.id)
                if value.in_server:
                    resolved.setdefault("members", {})[str(value.id)] = {
                        "roles": [],
                        "joined_at": datetime.now(UTC).isoformat(),
                        "deaf": False,
                        "mute": False,
                        "flags": 0,
                        "permissions": MEMBER_PERMISSIONS,
                    }
            elif isinstance(value, ChannelRef):
                opts.append({"name": key, "type": 7, "value": str(value.id)})
                resolved.setdefault("channels", {})[str(value.id)] = channel_payload(
                    value.id, permissions=ADMIN_PERMISSIONS
                )
            elif isinstance(value, RoleRef):
                opts.append({"name": key, "type": 8, "value": str(value.id)})
                resolved.setdefault("roles", {})[str(value.id)] = role_payload(value.id, value.name)
                await self.add_role(value.id, value.name)
            else:
                kind = {bool: 5, int: 4, float: 10}.get(type(value), 3)
                opts.append({"name": key, "type": kind, "value": value})
        for key, attachment in (attachments or {}).items():
            opts.append({"name": key, "type": 11, "value": attachment["id"]})
            resolved.setdefault("attachments", {})[attachment["id"]] = attachment
        for sub in reversed(subcommand or []):
            opts = [{"name": sub, "type": 1, "options": opts}]
        for role in roles or []:
            await self.add_role(role)
        self._offered(name, channel_id)
        payload = self._base_interaction(2, user_id, admin, roles or [], dm, channel_id, locale)
        if guild_id != GUILD_ID and not dm:
            payload["guild_id"] = payload["channel"]["guild_id"] = str(guild_id)
        payload["data"] = {"id": str(snowflake()), "name": name, "type": 1, "options": opts, "resolved": resolved}
        await self.dispatch("INTERACTION_CREATE", payload)
        return str(payload["token"])

    async def autocomplete(
        self, name: str, option: str, typed: str = "", *, guild_id: int = GUILD_ID, locale: str = "en-US"
    ) -> list[dict[str, Any]]:
        """Type into a slash command's `option` (one with autocomplete): the suggestions the bot answers with."""
        payload = self._base_interaction(4, 1001, False, [], False, locale=locale)
        if guild_id != GUILD_ID:
            payload["guild_id"] = payload["channel"]["guild_id"] = str(guild_id)
        focused = {"name": option, "type": 3, "value": typed, "focused": True}
        payload["data"] = {"id": str(snowflake()), "name": name, "type": 1, "options": [focused]}
        await self.dispatch("INTERACTION_CREATE", payload)
        token = str(payload["token"])
        [answer] = await self.wait_until(lambda: self.callbacks.get(token), timeout=20, what="the suggestions")
        assert answer["type"] == 8, answer
        return list(answer["data"]["choices"])

    async def add_role(self, role_id: int, name: str = "role") -> None:
        """A role created in the server (GUILD_ROLE_CREATE), as an admin would before handing it out."""
        if role_id not in self.roles:
            self.roles[role_id] = name
            await self.dispatch("GUILD_ROLE_CREATE", {"guild_id": str(GUILD_ID), "role": role_payload(role_id, name)})

    async def context_menu(
        self,
        name: str,
        target: dict[str, Any],
        *,
        user_id: int = 1001,
        locale: str = "en-US",
        channel_id: int = CHANNEL_ID,
    ) -> str:
        self._offered(name, channel_id)
        payload = self._base_interaction(2, user_id, False, [], False, channel_id, locale)
        payload["data"] = {
            "id": str(snowflake()),
            "name": name,
            "type": 3,
            "target_id": target["id"],
            "resolved": {"messages": {target["id"]: target}},
        }
        await self.dispatch("INTERACTION_CREATE", payload)
        return str(payload["token"])

    async def user_menu(
        self,
        name: str,
        target_id: int,
        *,
        avatar: str | None = None,
        server_avatar: str | None = None,
        user_id: int = 1001,
    ) -> str:
        """Pick a user menu (Apps) on a member whose own avatar (and server avatar) is the CDN file named by
        that hash, or who has none."""
        payload = self._base_interaction(2, user_id, False, [], False)
        member = {"roles": [], "joined_at": datetime.now(UTC).isoformat(), "avatar": server_avatar, "flags": 0}
        payload["data"] = {
            "id": str(snowflake()),
            "name": name,
            "type": 2,
            "target_id": str(target_id),
            "resolved": {
                "users": {str(target_id): user_payload(target_id, avatar=avatar)},
                "members": {str(target_id): member},
            },
        }
        await self.dispatch("INTERACTION_CREATE", payload)
        return str(payload["token"])

    async def click(
        self,
        message: Message,
        custom_id: str,
        *,
        user_id: int = 1001,
        admin: bool | str = False,
        guild_id: int = GUILD_ID,
        locale: str = "en-US",
        dm: bool = False,
        channel_id: int = CHANNEL_ID,
    ) -> str:
        """Press a button; `guild_id` another server's id for a message (or custom id) seen elsewhere; `dm`: a
        button on a message in the user's DM with the bot; `channel_id` the channel the message is in."""
        channel = dm_channel(user_id) if dm else channel_id
        payload = self._base_interaction(3, user_id, admin, [], dm, channel_id=channel, locale=locale)
        if guild_id != GUILD_ID and not dm:
            payload["guild_id"] = payload["channel"]["guild_id"] = str(guild_id)
        payload["message"] = message.data
        payload["data"] = {"custom_id": custom_id, "component_type": 2}
        self.component_message[str(payload["id"])] = message.id
        await self.dispatch("INTERACTION_CREATE", payload)
        return str(payload["token"])

    async def select(self, message: Message, custom_id: str, values: list[str], *, user_id: int = 1001) -> str:
        """Pick `values` in a select menu of `message` (a message component, as a button is pressed)."""
        payload = self._base_interaction(3, user_id, False, [], False, channel_id=CHANNEL_ID)
        payload["message"] = message.data
        payload["data"] = {"custom_id": custom_id, "component_type": 3, "values": values}
        self.component_message[str(payload["id"])] = message.id
        await self.dispatch("INTERACTION_CREATE", payload)
        return str(payload["token"])

    async def submit_modal(
        self,
        custom_id: str,
        values: dict[str, str],
        *,
        user_id: int = 1001,
        locale: str = "en-US",
        message: Message | None = None,
    ) -> str:
        """Submit a form; `message`: the message whose button opened it (Discord sends it with the form)."""
        payload = self._base_interaction(5, user_id, False, [], False, locale=locale)
        if message is not None:
            payload["message"] = message.data
        rows = [{"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]} for k, v in values.items()]
        payload["data"] = {"custom_id": custom_id, "components": rows}
        await self.dispatch("INTERACTION_CREATE", payload)
        return str(payload["token"])

    def user_message(
        self,
        content: str,
        *,
        user_id: int = 1001,
        attachments: list[dict[str, Any]] | None = None,
        mentions_bot: bool = False,
        reply_to: dict[str, Any] | None = None,
        link_preview: str | None = None,
        forwarding: dict[str, Any] | None = None,
        dm: bool = False,
        stickers: list[tuple[int, int]] | None = None,
    ) -> dict[str, Any]:
        """A user's message; `link_preview` (an upload's URL) adds the embed Discord makes for a pasted link,
        whose image is served by Discord's media proxy while its original URL points at another site;
        `forwarding`: a message forwarded (Forward in Discord's menu), whose text and files the forward holds
        in a snapshot, its own being empty; `dm`: sent to the bot in the user's DM with it; `stickers`: the
        (id, format: 1 PNG, 2 APNG, 3 Lottie, 4 GIF) of the stickers sent with it."""
        data: dict[str, Any] = {
            "id": str(snowflake()),
            "channel_id": str(CHANNEL_ID),
            "guild_id": str(GUILD_ID),
            "type": 19 if reply_to else 0,
            "author": user_payload(user_id),
            "content": content,
            "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mention_roles": re.findall(r"<@&(\d+)>", content),  # kept when Discord hides the content
            "pinned": False,
            "mentions": [user_payload(BOT_ID, "motionbot", bot=True)] if mentions_bot else [],
            "attachments": attachments or [],
            "embeds": [_link_embed(link_preview)] if link_preview else [],
            "sticker_items": [{"id": str(i), "name": "sticker", "format_type": kind} for i, kind in stickers or []],
            "components": [],
            "flags": 0,
            "member": {
                "roles": [],
                "joined_at": datetime.now(UTC).isoformat(),
                "deaf": False,
                "mute": False,
                "flags": 0,
            },
        }
        if dm:
            data["channel_id"] = str(dm_channel(user_id))
            del data["guild_id"], data["member"]
        self.user_messages[int(data["id"])] = data  # what GET /channels/…/messages/… answers for it
        if reply_to is not None:
            data["message_reference"] = {
                "message_id": reply_to["id"],
                "channel_id": str(CHANNEL_ID),
                "guild_id": str(GUILD_ID),
            }
            data["referenced_message"] = reply_to
        if forwarding is not None:
            data["message_reference"] = {
                "type": 1,
                "message_id": forwarding["id"],
                "channel_id": forwarding["channel_id"],
                "guild_id": str(GUILD_ID),
            }
            keys = (
                "type",
                "content",
                "embeds",
                "attachments",
                "sticker_items",
                "timestamp",
                "edited_timestamp",
                "flags",
                "mentions",
            )
            data["message_snapshots"] = [{"message": {key: forwarding[key] for key in keys}}]
        return data

    async def post(self, message: dict[str, Any]) -> None:
        """A user posts a message (MESSAGE_CREATE), as a bot without the Message Content intent sees it."""
        await self.dispatch("MESSAGE_CREATE", self.seen(message))

    async def edit(self, message: dict[str, Any], content: str | None = None, link_preview: str | None = None) -> None:
        """The user edits their message's text, or (`link_preview`: an upload's proxy URL) Discord adds the
        preview of a link in it, a moment after the message (MESSAGE_UPDATE, the whole message as it is now)."""
        if content is not None:
            message["content"] = content
            message["edited_timestamp"] = datetime.now(UTC).isoformat()
        if link_preview is not None:
            message["embeds"] = [_link_embed(link_preview)]
        await self.dispatch("MESSAGE_UPDATE", self.seen(message))

    def seen(self, message: dict[str, Any]) -> dict[str, Any]:
        """A message as the bot receives it: without the Message Content intent, Discord empties the content,
        attachments and embeds of any message that is not the bot's, not in a DM and does not mention it
        (a reply to the bot with the ping on mentions it); the message it replies to is judged on its own."""
        if self.intents & MESSAGE_CONTENT:
            return message
        seen = dict(message)
        if seen.get("referenced_message"):
            seen["referenced_message"] = self.seen(seen["referenced_message"])
        by_bot = seen["author"]["id"] == str(BOT_ID)
        mentioned = any(user["id"] == str(BOT_ID) for user in seen.get("mentions", []))
        if not (by_bot or mentioned or "guild_id" not in seen):
            seen |= {"content": "", "attachments": [], "embeds": [], "components": [], "message_snapshots": []}
        return seen

    # ---- faults ----

    def fail_next(
        self,
        method: str,
        path_pattern: str,
        status: int = 429,
        body: dict[str, Any] | None = None,
        *,
        file_named: str = "",
    ) -> None:
        """Answer the next matching request with an error (`file_named`: the next one that uploads a file whose
        name matches, e.g. a clip rather than a live preview)."""
        body = body or {"message": "You are being rate limited.", "retry_after": 0.3, "global": False}
        self.faults.append(
            (method, re.compile(path_pattern), status, body, re.compile(file_named) if file_named else None)
        )

    def hold(self, method: str, path_pattern: str, taken: bool = False) -> asyncio.Event:
        """Keep matching requests (REST calls, or downloads: "/attachments/<name>") waiting, unanswered, until
        the returned event is set; `taken`: a REST call is carried out at once, only its answer waits (Discord
        took it, its answer is slow to come back)."""
        gate = asyncio.Event()
        self.holds.append((method, re.compile(path_pattern), gate, taken))
        return gate

    # ---- reading what the bot did ----

    def calls_to(self, method: str, pattern: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and re.search(pattern, c.path)]

    def response_to(self, token: str) -> Message | None:
        message_id = self.original.get(token)
        return self.messages.get(message_id) if message_id else None

    def replies_to(self, message: dict[str, Any] | Message) -> list[Message]:
        """The messages that reply to `message` (a user's message, or one of the bot's), oldest first."""
        message_id = str(message["id"] if isinstance(message, dict) else message.id)
        return [
            m for m in self.messages.values() if (m.data.get("message_reference") or {}).get("message_id") == message_id
        ]

    async def wait_until(self, predicate: Any, timeout: float = 60.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        async with self._changed:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"timed out waiting for {what}")
                with contextlib.suppress(TimeoutError):  # re-check now and then, whatever woke us
                    await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # ---- REST ----

    async def _held_back(self, method: str, path: str, taken: bool = False) -> None:
        """Wait while a hold (see `hold`) matches this request (`taken`: its answer)."""
        self.holds = [hold for hold in self.holds if not hold[2].is_set()]
        for held_method, pattern, gate, after in self.holds:
            if held_method == method and pattern.search(path) and after == taken:
                self.held += 1
                await self._notify()
                try:
                    await gate.wait()
                finally:
                    self.held -= 1

    async def _cdn(self, request: web.Request) -> web.Response:
        """Discord's CDN: avatars, stickers and custom emoji, by path (the query, a size, is ignored)."""
        self.fetched.append(request.path)
        found = self.cdn.get(request.path)
        return web.Response(body=found) if found is not None else web.Response(status=404)

    async def _attachment(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        await self._held_back(request.method, f"/attachments/{name}")  # a slow CDN
        self.fetched.append(name)
        if name in self.uploads:
            return web.Response(body=self.uploads[name])
        for message in self.messages.values():
            for filename, data in message.files.items():
                if name == f"{message.id}-{filename}":
                    return web.Response(body=data)
        return web.Response(status=404)

    async def _read(self, request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            payload = json.loads(str(form.get("payload_json") or "{}"))
            files = {}
            for key, value in form.items():
                if key.startswith("files[") and hasattr(value, "file"):
                    files[value.filename] = value.file.read()
            return payload, files
        if request.can_read_body:
            return await request.json(), {}
        return {}, {}

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        if self.webhook_latency_s and path.startswith("/webhooks/"):
            await asyncio.sleep(self.webhook_latency_s)
        await self._held_back(request.method, path)
        try:
            payload, files = await self._read(request)
        except ConnectionResetError:  # the bot went away mid-upload (stopped, or killed by a test)
            return _json({"message": "the client went away"}, 400)
        for fault in list(self.faults):
            method, pattern, status, body, named = fault
            if (
                method == request.method
                and pattern.search(path)
                and (named is None or any(named.search(name) for name in files))
            ):
                self.faults.remove(fault)
                self.calls.append(Call(request.method, path, status))
                # Real 429s come through Google's front end; without "Via" discord.py assumes a Cloudflare ban.
                headers = {
                    "Retry-After": str(body.get("retry_after", 1)),
                    "X-RateLimit-Scope": "user",
                    "Via": "1.1 google",
                }
                return _json(body, status, headers if status == 429 else {})
        found = problems(payload) if request.method in ("POST", "PATCH", "PUT") else []
        if found:  # over Discord's limits: refused as Discord refuses it, and remembered for the tests
            self.rejected.append((request.method, path, found))
            self.calls.append(Call(request.method, path, 400, payload))
            return _json(invalid_form_body(found), 400)
        if self._leaves_empty(request.method, path, payload, files):
            self.rejected.append((request.method, path, ["Cannot send an empty message"]))
            self.calls.append(Call(request.method, path, 400, payload))
            return _json(EMPTY_MESSAGE, 400)
        if (m := re.match(r"/channels/(\d+)", path)) and int(m.group(1)) in _NO_ACCESS:
            status, body = 403, {"message": "Missing Access", "code": 50001}
        else:
            status, body = await self._handle(request.method, path, payload, files, request)
        self.calls.append(Call(request.method, path, status, payload))
        await self._notify()
        await self._held_back(request.method, path, taken=True)
        if status == 204:
            return web.Response(status=204)
        return _json(body, status)

    def _leaves_empty(self, method: str, path: str, payload: Any, files: dict[str, bytes]) -> bool:
        """Whether a request would post a message showing nothing, or edit one to show nothing."""
        if not isinstance(payload, dict):
            return False
        if re.fullmatch(r"/interactions/\d+/[^/]+/callback", path):
            return payload.get("type") == 4 and empty(payload.get("data") or {}, len(files))
        new = method == "POST" and re.fullmatch(r"/channels/\d+/messages|/webhooks/\d+/[^/]+", path)
        if new:
            return empty(payload, len(files))
        edit = method == "PATCH" and re.fullmatch(r"/(channels/\d+|webhooks/\d+/[^/]+)/messages/(@original|\d+)", path)
        if not edit:
            return False
        token = path.split("/")[3] if path.startswith("/webhooks/") else ""
        target = path.rsplit("/", 1)[1]
        message = self.messages.get(self.original.get(token, 0) if target == "@original" else int(target))
        if message is None:
            return False
        kept = [a for a in payload.get("attachments", message.data.get("attachments") or []) if a]
        after = {key: payload[key] if key in payload else message.data.get(key) for key in ("content", "embeds")}
        return empty(after | {"attachments": kept}, len(files))

    def _new_message(
        self,
        payload: dict[str, Any],
        files: dict[str, bytes],
        channel_id: int = CHANNEL_ID,
        interaction_token: str | None = None,
    ) -> Message:
        message_id = snowflake()
        if interaction_token is not None:  # an interaction's answers are in its channel
            channel_id = self.token_channel.get(interaction_token, channel_id)
        data = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "author": user_payload(BOT_ID, "motionbot", True),
            "content": payload.get("content") or "",
            "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": payload.get("embeds") or [],
            "pinned": False,
            "type": 0,
            "flags": payload.get("flags") or 0,
            "components": payload.get("components") or [],
        }
        if payload.get("message_reference"):  # Discord returns ids as strings
            reference = payload["message_reference"]
            data["message_reference"] = {k: str(v) if k.endswith("_id") and v else v for k, v in reference.items()}
        if interaction_token:
            data["webhook_id"] = str(APP_ID)
        message = Message(data)
        self._apply(message, payload, files)
        self.messages[message_id] = message
        return message

    def _apply(self, message: Message, payload: dict[str, Any], files: dict[str, bytes]) -> None:
        for key in ("content", "embeds", "components", "flags"):
            if key in payload:
                message.data[key] = payload[key] if payload[key] is not None else message.data.get(key)
        if "attachments" in payload or files:
            kept = {
                a["filename"] for a in payload.get("attachments", []) if "filename" in a and a["filename"] not in files
            }
            message.files = {name: data for name, data in message.files.items() if name in kept} | files
            alt = {a["filename"]: a["description"] for a in message.data.get("attachments", []) if "description" in a}
            alt |= {a["filename"]: a["description"] for a in payload.get("attachments", []) if a.get("description")}
            message.data["attachments"] = [
                {
                    "id": str(snowflake()),
                    "filename": name,
                    "size": len(data),
                    "content_type": "video/mp4",
                    "url": f"http://{self.host}/attachments/{message.id}-{name}",
                    "proxy_url": f"http://{self.host}/attachments/{message.id}-{name}",
                }
                | ({"description": alt[name]} if name in alt else {})
                for name, data in message.files.items()
            ]
        message.edits.append(payload | {"_files": sorted(files)})

    async def _handle(
        self, method: str, path: str, payload: Any, files: dict[str, bytes], request: web.Request
    ) -> tuple[int, Any]:
        if path == "/gateway/bot":
            limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
            return 200, {"url": f"ws://{self.host}/gateway", "shards": self.shards, "session_start_limit": limit}
        if path == "/users/@me":
            return 200, user_payload(BOT_ID, "motionbot", bot=True)
        if path == "/users/@me/channels" and method == "POST":  # open a DM with a user
            user = int(payload["recipient_id"])
            return 200, {"id": str(dm_channel(user)), "type": 1, "recipients": [user_payload(user)]}
        if path == "/oauth2/applications/@me":
            return 200, {
                "id": str(APP_ID),
                "name": "motionbot",
                "icon": None,
                "description": "",
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": user_payload(1, "owner"),
                "verify_key": "k",
                "flags": 0,
            }
        if m := re.fullmatch(r"/applications/\d+(/guilds/\d+)?/commands", path):
            if method == "PUT":
                self.commands = [
                    {"description": "", "options": []}
                    | c
                    | {"id": str(snowflake()), "application_id": str(APP_ID), "version": "1"}
                    for c in payload
                ]
            return 200, self.commands
        if m := re.fullmatch(r"/interactions/(\d+)/([^/]+)/callback", path):
            token = m.group(2)
            if token not in self.callbacks and token in self.made_at:
                late = time.monotonic() - self.made_at[token]
                self.ack_delays.append(late)
                if late > self.ack_window_s:  # Discord no longer knows it: the user saw "did not respond"
                    return 404, {"message": "Unknown interaction", "code": 10062}
            self.callbacks.setdefault(token, []).append(payload)
            kind = payload.get("type")
            message_id = None
            if kind in (4, 5):  # a new message (or "thinking…")
                message = self._new_message(payload.get("data") or {}, files, interaction_token=token)
                self.original[token] = message_id = message.id
            elif kind in (6, 7):  # (deferred) update of the message the button is on
                message_id = self.component_message.get(m.group(1))
                if kind == 7 and message_id in self.messages:
                    self._apply(self.messages[message_id], payload.get("data") or {}, files)
                elif message_id in self.messages:
                    self.original[token] = message_id
            body = {
                "interaction": {
                    "id": m.group(1),
                    "type": 2,
                    "response_message_id": str(message_id) if message_id else None,
                    "response_message_loading": kind == 5,
                }
            }
            if message_id and message_id in self.messages:
                body["resource"] = {"type": kind, "message": self.messages[message_id].data}
            return 200, body
        if m := re.fullmatch(r"/webhooks/(\d+)/([^/]+)(/messages/(@original|\d+))?", path):
            token = m.group(2)
            if token in self.expired_tokens:
                return 401, {"message": "Invalid Webhook Token", "code": 50027}
            target = m.group(4)
            if target is None and method == "POST":  # a followup message
                message = self._new_message(payload, files, interaction_token=token)
                self.original.setdefault(token, message.id)
                return 200, message.data
            message_id = self.original.get(token) if target == "@original" else int(target or 0)
            return self._existing(method, message_id, payload, files)
        if m := re.fullmatch(r"/channels/\d+/messages/(\d+)/reactions/([^/]+)/@me", path):
            mine = self.reactions.setdefault(int(m.group(1)), [])
            emoji = urllib.parse.unquote(m.group(2))
            if method == "PUT" and emoji not in mine:
                mine.append(emoji)
            elif method == "DELETE" and emoji in mine:
                mine.remove(emoji)
            return 204, None
        if m := re.fullmatch(r"/channels/(\d+)/messages(/(\d+))?", path):
            if m.group(3) is None and method == "POST":
                nonce = payload.get("nonce")
                if nonce and payload.get("enforce_nonce") and nonce in self.nonces:
                    return 200, self.messages[self.nonces[nonce]].data  # Discord de-duplicates by nonce
                message = self._new_message(payload, files, channel_id=int(m.group(1)))
                if nonce:
                    self.nonces[str(nonce)] = message.id
                return 200, message.data
            return self._existing(method, int(m.group(3) or 0), payload, files)
        return 404, {"message": f"fake Discord has no {method} {path}", "code": 0}

    def _existing(self, method: str, message_id: int | None, payload: Any, files: dict[str, bytes]) -> tuple[int, Any]:
        """GET, PATCH or DELETE a message the bot sent (through a webhook or the channel); GET a user's."""
        if method == "GET" and message_id in self.user_messages:
            return 200, self.seen(self.user_messages[message_id])
        if message_id not in self.messages:
            return 404, {"message": "Unknown Message", "code": 10008}
        if method == "PATCH":
            self._apply(self.messages[message_id], payload, files)
        elif method == "DELETE":
            del self.messages[message_id]
            return 204, None
        return 200, self.messages[message_id].data
