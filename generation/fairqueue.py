"""The order jobs start in (torch-free): per model, fair across servers first, then across users within a
server, at any queue depth.

arq keeps each job (its payload, its lock, its place in `keys.QUEUE`); this module keeps, beside it, who
waits for what, so that a worker finds the next job it may run in O(log n) of the queue:

    servers:{model}             ZSET  server -> round    the server whose turn it is has the lowest round
    users:{model}:{server}      ZSET  user -> round      the same among that server's users
    jobs:{model}:{server}:{user} ZSET  job -> enqueue ms  each user's jobs, oldest first
    clock:{model}               HASH  the round last served (servers, and per server its users)
    waiting:{model}             HASH  server -> how many of its jobs wait
    started                     ZSET  job -> ms          taken, not yet settled: put back if its worker died

Taking a job serves the lowest-round server, its lowest-round user and that user's oldest job, then
moves both one round on. A server or user that starts waiting joins the round being served, so a
newcomer waits one turn, not behind somebody's backlog. Ties go by name (Redis orders equal scores so).
The scripts name the per-server and per-user keys themselves: this needs a single Redis, not a cluster.

arq picks "the oldest job" and has no hook to choose another, so `fairworker.FairWorker` overrides its poll
loop to take jobs through `take` (this is why arq is pinned to one version).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["PREFIX", "FairQueue", "Place"]

PREFIX = "motionbot:fair:"

_ADD = """
local prefix, model, server, user, job, at, front = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local servers = prefix .. 'servers:' .. model
local users = prefix .. 'users:' .. model .. ':' .. server
local jobs = prefix .. 'jobs:' .. model .. ':' .. server .. ':' .. user
local clock = prefix .. 'clock:' .. model
if redis.call('ZADD', jobs, 'NX', front == '1' and 0 or tonumber(at), job) == 1 then
  redis.call('HINCRBY', prefix .. 'waiting:' .. model, server, 1)
end
local function join(set, member, field)
  if redis.call('ZSCORE', set, member) then return end
  local head = redis.call('ZRANGE', set, 0, 0, 'WITHSCORES')
  local round = head[2] or redis.call('HGET', clock, field) or 0
  redis.call('ZADD', set, tonumber(round), member)
end
join(users, user, 'u:' .. server)
join(servers, server, 's')
return 1
"""

_TAKE = """
local prefix, model, now = ARGV[1], ARGV[2], ARGV[3]
local servers = prefix .. 'servers:' .. model
local clock = prefix .. 'clock:' .. model
for _ = 1, 100 do
  local head = redis.call('ZRANGE', servers, 0, 0, 'WITHSCORES')
  if not head[1] then return false end
  local server, round = head[1], tonumber(head[2])
  local users = prefix .. 'users:' .. model .. ':' .. server
  local first = redis.call('ZRANGE', users, 0, 0, 'WITHSCORES')
  if not first[1] then
    redis.call('ZREM', servers, server)
  else
    local user, user_round = first[1], tonumber(first[2])
    local jobs = prefix .. 'jobs:' .. model .. ':' .. server .. ':' .. user
    local job = redis.call('ZRANGE', jobs, 0, 0)[1]
    if job then
      redis.call('ZREM', jobs, job)
      redis.call('HINCRBY', prefix .. 'waiting:' .. model, server, -1)
    end
    if redis.call('ZCARD', jobs) == 0 then redis.call('ZREM', users, user)
    else redis.call('ZADD', users, user_round + 1, user) end
    redis.call('HSET', clock, 'u:' .. server, user_round + 1)
    if redis.call('ZCARD', users) == 0 then redis.call('ZREM', servers, server)
    else redis.call('ZADD', servers, round + 1, server) end
    redis.call('HSET', clock, 's', round + 1)
    if job then
      redis.call('ZADD', prefix .. 'started', tonumber(now), job)
      return job
    end
  end
end
return false
"""

_HEAD = """
local prefix, model = ARGV[1], ARGV[2]
local server = redis.call('ZRANGE', prefix .. 'servers:' .. model, 0, 0)[1]
if not server then return false end
local user = redis.call('ZRANGE', prefix .. 'users:' .. model .. ':' .. server, 0, 0)[1]
if not user then return '0' end  -- an empty server entry: take clears it
local head = redis.call('ZRANGE', prefix .. 'jobs:' .. model .. ':' .. server .. ':' .. user, 0, 0, 'WITHSCORES')
return head[2] or '0'
"""

_REMOVE = """
local prefix, model, server, user, job = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local servers = prefix .. 'servers:' .. model
local users = prefix .. 'users:' .. model .. ':' .. server
local jobs = prefix .. 'jobs:' .. model .. ':' .. server .. ':' .. user
local removed = redis.call('ZREM', jobs, job)
if removed == 1 then redis.call('HINCRBY', prefix .. 'waiting:' .. model, server, -1) end
if redis.call('ZCARD', jobs) == 0 then redis.call('ZREM', users, user) end
if redis.call('ZCARD', users) == 0 then redis.call('ZREM', servers, server) end
redis.call('ZREM', prefix .. 'started', job)
return removed
"""

_POSITION = """
local prefix, model, server, user, job = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local per_user = prefix .. 'jobs:' .. model .. ':' .. server .. ':'
local rank = redis.call('ZRANK', per_user .. user, job)
if not rank then return false end
local users = redis.call('ZRANGE', prefix .. 'users:' .. model .. ':' .. server, 0, -1, 'WITHSCORES')
local sizes = {}
for i = 1, #users, 2 do sizes[#sizes + 1] = redis.call('ZCARD', per_user .. users[i]) end
local servers = redis.call('ZRANGE', prefix .. 'servers:' .. model, 0, -1, 'WITHSCORES')
return {rank, users, sizes, servers, redis.call('HGETALL', prefix .. 'waiting:' .. model)}
"""


@dataclass(frozen=True)
class Place:
    """Where a job waits: its model, server and user (what routes and orders it)."""

    model: str
    server: str
    user: str


class FairQueue:
    def __init__(self, redis: Any):
        self.redis = redis
        self._add = redis.register_script(_ADD)
        self._take = redis.register_script(_TAKE)
        self._remove = redis.register_script(_REMOVE)
        self._head = redis.register_script(_HEAD)
        self._position = redis.register_script(_POSITION)

    async def add(self, job_id: str, place: Place, at_ms: int, *, front: bool = False) -> None:
        """Queue a job (again); `front` puts it first among its user's jobs (a job whose worker died)."""
        args = [PREFIX, place.model, place.server, place.user, job_id, at_ms, "1" if front else "0"]
        await self._add(keys=[], args=args)

    async def take(self, model: str, now_ms: int) -> str | None:
        """The next job for `model`, taken out of the order (it is then 'started' until settled)."""
        job = await self._take(keys=[], args=[PREFIX, model, now_ms])
        return job.decode() if isinstance(job, bytes) else job or None

    async def remove(self, job_id: str, place: Place) -> bool:
        """Take a waiting job out (cancelled, failed, finished); True if it was waiting."""
        removed = await self._remove(keys=[], args=[PREFIX, place.model, place.server, place.user, job_id])
        return bool(removed)

    async def head_age(self, model: str) -> float | None:
        """When the job `take` would return next was queued (ms), or None when nothing waits (one round trip:
        every idle worker asks this for each model it serves on every poll)."""
        head = await self._head(keys=[], args=[PREFIX, model])
        return float(head) if head else None

    async def placed(self, job_id: str, place: Place) -> bool:
        """Whether a job waits in line or has been taken."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zscore(f"{PREFIX}jobs:{place.model}:{place.server}:{place.user}", job_id)
            pipe.zscore(f"{PREFIX}started", job_id)
            waiting, taken = await pipe.execute()
        return waiting is not None or taken is not None

    async def taken(self, job_id: str) -> bool:
        """Whether a worker took the job out of the order (and has not settled it)."""
        return await self.redis.zscore(f"{PREFIX}started", job_id) is not None

    async def started(self) -> list[str]:
        return [job.decode() for job in await self.redis.zrange(f"{PREFIX}started", 0, -1)]

    async def settled(self, job_id: str) -> None:
        await self.redis.zrem(f"{PREFIX}started", job_id)

    async def position(self, job_id: str, place: Place) -> int | None:
        """1-based: how many jobs of the same model start before this one, plus one, in the order `take`
        follows (if nothing else arrives). One round trip, one consistent snapshot: a script reads the job's
        rank, its server's users with their rounds and job counts, and all servers with theirs."""
        model, server, user = place.model, place.server, place.user
        found = await self._position(keys=[], args=[PREFIX, model, server, user, job_id])
        if not found:
            return None
        rank, user_pairs, user_sizes, server_pairs, waiting_pairs = found
        users, servers = _named(user_pairs), _named(server_pairs)
        if user not in users or server not in servers:
            return None
        waiting = {name: int(count) for name, count in _named(waiting_pairs).items()}
        # Within the server, users take turns by round: this job is in its user's round + rank.
        in_server = users[user] + rank
        index = rank + sum(
            _before(first, int(size), in_server, name < user)
            for (name, first), size in zip(users.items(), user_sizes, strict=True)
            if name != user
        )
        # Across servers the same, with this job in its server's round + its index there.
        overall = servers[server] + index
        ahead = sum(
            _before(first, waiting.get(name, 0), overall, name < server)
            for name, first in servers.items()
            if name != server
        )
        return index + ahead + 1


def _named(flat: list[bytes]) -> dict[str, float]:
    """A flat [name, value, name, value, …] reply (ZRANGE WITHSCORES, HGETALL) as a dict."""
    return {flat[i].decode(): float(flat[i + 1]) for i in range(0, len(flat), 2)}


def _before(first_round: float, waiting: int, round_: float, wins_ties: bool) -> int:
    """How many of a competitor's `waiting` jobs (in rounds first_round, first_round + 1, …) start before
    a job in `round_`; in the same round the one whose name sorts first goes first."""
    earlier = max(0, min(waiting, int(round_ - first_round)))
    same_round = first_round <= round_ < first_round + waiting and wins_ties
    return earlier + (1 if same_round else 0)
