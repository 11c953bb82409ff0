"""``/health`` (liveness: the web process answers) and ``/ready`` (can the service do its work)."""

from __future__ import annotations

import json
import time

import falcon
import redis
from sqlalchemy import Engine, text

from app.processes import CLOCK_HEARTBEAT_KEY, WORKER_STALE_AFTER, WORKERS_KEY, clock_stale_after, read


class HealthResource:
    """Liveness: 200 while the process serves requests; dependencies are ``/ready``'s business."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok"}


class ReadyResource:
    """Readiness: the database and Redis answer, the leading clock's heartbeat is fresh, and at least
    one worker's is. Each component's state is in the JSON; any not ready makes it a 503.

    Parameters:
      engine: the database engine.
      client: the broker's Redis client (None: Redis is not configured).
      leader_ttl: the clock's LEADER_TTL (how old its heartbeat may be).
    """

    def __init__(self, engine: Engine, client: redis.Redis | None, leader_ttl: int):
        self.engine = engine
        self.client = client
        self.leader_ttl = leader_ttl

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        checks = {"database": self._database(), "redis": self._redis()}
        if checks["redis"]["ok"]:
            checks["clock"] = self._clock()
            checks["workers"] = self._workers()
        else:
            checks["clock"] = checks["workers"] = {"ok": False, "error": "Redis unreachable"}
        ready = all(c["ok"] for c in checks.values())
        resp.status = falcon.HTTP_200 if ready else falcon.HTTP_503
        resp.media = {"status": "ready" if ready else "not ready", "checks": checks}

    def _database(self) -> dict:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return {"ok": True}
        except Exception as exc:  # any failure means "not reachable"
            return {"ok": False, "error": str(exc).splitlines()[0]}

    def _redis(self) -> dict:
        if self.client is None:
            return {"ok": False, "error": "REDIS_URL is not set"}
        try:
            self.client.ping()
            return {"ok": True}
        except redis.RedisError as exc:
            return {"ok": False, "error": str(exc)}

    def _clock(self) -> dict:
        raw = self.client.get(CLOCK_HEARTBEAT_KEY)
        if raw is None:
            return {"ok": False, "error": "no clock is leading (none has beaten recently)"}
        age = time.time() - float(json.loads(raw)["at"])
        ok = age <= clock_stale_after(self.leader_ttl)
        return {
            "ok": ok,
            "heartbeat_age_s": round(age, 1),
            **({} if ok else {"error": "the clock's heartbeat is stale"}),
        }

    def _workers(self) -> dict:
        workers = read(self.client, WORKERS_KEY, WORKER_STALE_AFTER)
        healthy = sum(w["healthy"] for w in workers)
        state = {"ok": healthy > 0, "healthy": healthy, "stale": len(workers) - healthy}
        return state if healthy else {**state, "error": "no worker has beaten in the last 15 s"}
