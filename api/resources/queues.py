"""``GET /v1/queues``: per queue, messages waiting, delayed, in progress and dead (admin only)."""

from __future__ import annotations

import falcon
import redis

from api.auth import require_admin
from app.queues import queue_depths


class QueuesResource:
    """Queue depths read from Redis."""

    def __init__(self, client: redis.Redis | None, namespace: str):
        self.client = client
        self.namespace = namespace

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        require_admin(req)
        if self.client is None:
            raise redis.ConnectionError("REDIS_URL is not set")
        resp.media = {"items": queue_depths(self.client, self.namespace)}
