"""Queue depths, read from Dramatiq's Redis structures."""

from __future__ import annotations

from collections.abc import Iterable

import redis

from app.jobs import QUEUES


def queue_depths(client: redis.Redis, namespace: str = "dramatiq", queues: Iterable[str] = QUEUES) -> list[dict]:
    """Per queue: messages waiting, delayed (retries and delayed jobs), in progress (fetched by a
    worker, not yet acknowledged) and dead. One round trip."""
    names = tuple(queues)
    pipe = client.pipeline(transaction=False)
    for queue in names:
        base = f"{namespace}:{queue}"
        pipe.llen(base)
        pipe.hlen(f"{base}.msgs")
        pipe.hlen(f"{base}.DQ.msgs")
        pipe.zcard(f"{base}.XQ")
    values = pipe.execute()
    out = []
    for i, queue in enumerate(names):
        waiting, stored, delayed, dead = values[4 * i : 4 * i + 4]
        in_progress = max(0, stored - waiting)
        out.append({"queue": queue, "waiting": waiting, "delayed": delayed, "in_progress": in_progress, "dead": dead})
    return out
