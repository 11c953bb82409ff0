"""``/health``: is the database reachable, is Redis reachable."""

from __future__ import annotations

import falcon
import redis
from sqlalchemy import Engine, text


class HealthResource:
    """Reports each dependency as ok or its error; 503 when any is down."""

    def __init__(self, engine: Engine, redis_client: redis.Redis | None):
        self.engine = engine
        self.redis = redis_client

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        checks = {"database": self._database(), "redis": self._redis()}
        healthy = all(c["ok"] for c in checks.values())
        resp.status = falcon.HTTP_200 if healthy else falcon.HTTP_503
        resp.media = {"status": "ok" if healthy else "unavailable", "checks": checks}

    def _database(self) -> dict:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return {"ok": True}
        except Exception as exc:  # any failure means "not reachable"
            return {"ok": False, "error": str(exc).splitlines()[0]}

    def _redis(self) -> dict:
        if self.redis is None:
            return {"ok": False, "error": "REDIS_URL is not set"}
        try:
            self.redis.ping()
            return {"ok": True}
        except redis.RedisError as exc:
            return {"ok": False, "error": str(exc)}
