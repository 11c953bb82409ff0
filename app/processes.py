"""Which clock and worker processes are alive: what each publishes in Redis, and how the web reads it.

On a PaaS only the web process answers HTTP, so the clock and the workers publish their presence in
Redis (a JSON document each, with the time of their last beat), and the web process reads them for
``/ready``, ``/metrics`` and the dashboard. A process whose beat is older than its staleness bound
is reported stale (and, after an hour, forgotten).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import redis

#: Redis hash of clock processes: clock id -> JSON presence (role ``leader`` or ``standby``).
CLOCKS_KEY = "tenantcron:clocks"

#: Redis key the leading clock refreshes (JSON ``{"at", "pid"}``) while it leads.
CLOCK_HEARTBEAT_KEY = "tenantcron:clock:heartbeat"

#: Redis list of the leading clock's recent fires, newest first (JSON each).
RECENT_FIRES_KEY = "tenantcron:clock:recent-fires"

#: How many recent fires are kept.
RECENT_FIRES = 100

#: Redis hash of worker processes: Dramatiq broker id -> JSON presence.
WORKERS_KEY = "tenantcron:workers"

#: Seconds after which a worker's presence counts as stale (workers beat every 2 s).
WORKER_STALE_AFTER = 15.0

#: Seconds after which a stale presence is dropped from the hash.
FORGET_AFTER = 3600.0


def clock_stale_after(leader_ttl: int) -> float:
    """Seconds after which a clock's presence is stale (clocks beat every third of LEADER_TTL)."""
    return max(3.0 * leader_ttl, 15.0)


def publish(client: redis.Redis, key: str, member: str, presence: Mapping[str, Any]) -> None:
    """Write one process's presence, stamped with the time of this beat."""
    client.hset(key, member, json.dumps({**presence, "beat_at": time.time()}))


def read(client: redis.Redis, key: str, stale_after: float) -> list[dict[str, Any]]:
    """Every process's presence with ``age`` (seconds since its beat) and ``healthy``; forgets old ones."""
    now = time.time()
    out, forget = [], []
    for member, raw in client.hgetall(key).items():
        try:
            presence = json.loads(raw)
        except ValueError:
            forget.append(member)
            continue
        age = now - float(presence.get("beat_at", 0))
        if age > FORGET_AFTER:
            forget.append(member)
            continue
        out.append({**presence, "age": round(age, 1), "healthy": age <= stale_after})
    if forget:
        client.hdel(key, *forget)
    return sorted(out, key=lambda p: (p.get("role") != "leader", p.get("host", ""), p.get("pid", 0)))


def recent_fires(client: redis.Redis, count: int = 20) -> list[dict[str, Any]]:
    """The leading clock's most recent fires, newest first."""
    return [json.loads(raw) for raw in client.lrange(RECENT_FIRES_KEY, 0, count - 1)]
