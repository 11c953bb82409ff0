"""Dead letters: messages Dramatiq gave up on (retries exhausted, or a permanent error).

Dramatiq keeps them per queue in Redis, ``{ns}:{queue}.XQ`` (ids scored by when they died) and
``{ns}:{queue}.XQ.msgs`` (the messages), for its dead-message TTL. This module lists them with
the tenant, schedule and error they concern (the error from the failed run), retries them (the
run is reopened and gets a fresh message with a fresh retry budget) and purges them. The failed
runs themselves stay in the database for the retention period either way.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from sqlalchemy import Engine, or_, select, tuple_

from app.jobs import QUEUES
from app.models import runs
from app.requeue import RunRequeuer
from app.runs import RunStore

log = logging.getLogger(__name__)

#: Messages fetched per HMGET while listing.
CHUNK = 500


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered message and what it concerns."""

    id: str
    queue: str
    job: str
    tenant_id: str | None
    schedule_id: int | None
    schedule_key: str | None
    run_id: int | None
    fire_time: str | None
    dead_at: datetime
    error: str | None
    attempts: int | None
    dead_at_ms: int = 0

    def as_dict(self) -> dict[str, Any]:
        shaped = {**self.__dict__, "dead_at": self.dead_at.isoformat()}
        del shaped["dead_at_ms"]
        return shaped


def _last_line(traceback_text: str | None) -> str | None:
    lines = [line for line in (traceback_text or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else None


class DeadLetterService:
    """Lists, retries and purges dead letters.

    Parameters:
      client: Redis client of the broker.
      engine: the database engine (runs).
      requeuer: sends the fresh message of a retried run.
      namespace: Dramatiq's key namespace.
      queues: the queues to look in.
    """

    def __init__(
        self,
        client: redis.Redis,
        engine: Engine,
        requeuer: RunRequeuer,
        namespace: str = "dramatiq",
        queues: Iterable[str] = QUEUES,
    ):
        self.client = client
        self.engine = engine
        self.requeuer = requeuer
        self.namespace = namespace
        self.queues = tuple(queues)
        self.runs = RunStore(engine)

    def _keys(self, queue: str) -> tuple[str, str]:
        base = f"{self.namespace}:{queue}.XQ"
        return base, f"{base}.msgs"

    def _raw(self, queue: str, since_ms: float | None = None) -> list[tuple[str, float, dict[str, Any]]]:
        zset, msgs = self._keys(queue)
        if since_ms is None:
            scored = self.client.zrange(zset, 0, -1, withscores=True)
        else:
            scored = self.client.zrangebyscore(zset, f"({since_ms}", "+inf", withscores=True)
        out = []
        for start in range(0, len(scored), CHUNK):
            chunk = scored[start : start + CHUNK]
            datas = self.client.hmget(msgs, [rid for rid, _ in chunk])
            for (rid, score), data in zip(chunk, datas, strict=True):
                if data is not None:
                    out.append((rid.decode(), score, json.loads(data)))
        return out

    def _runs_of(self, messages: list[dict[str, Any]]) -> dict[Any, Any]:
        """The runs the messages concern, keyed by run id and by (schedule id, fire time)."""
        pairs, ids = set(), set()
        for message in messages:
            kwargs = message.get("kwargs", {})
            if kwargs.get("run_id") is not None and kwargs.get("schedule_id") is None:
                ids.add(kwargs["run_id"])
            elif kwargs.get("schedule_id") is not None and kwargs.get("fire_time"):
                pairs.add((kwargs["schedule_id"], datetime.fromisoformat(kwargs["fire_time"]).astimezone(UTC)))
        found: dict[Any, Any] = {}
        r = runs.c
        pairs_list, ids_list = list(pairs), list(ids)
        with self.engine.connect() as conn:
            for start in range(0, max(len(pairs_list), len(ids_list)), CHUNK):
                clauses = []
                if pairs_list[start : start + CHUNK]:
                    clauses.append(tuple_(r.schedule_id, r.fire_time).in_(pairs_list[start : start + CHUNK]))
                if ids_list[start : start + CHUNK]:
                    clauses.append(r.id.in_(ids_list[start : start + CHUNK]))
                query = select(r.id, r.schedule_id, r.fire_time, r.error, r.attempts, r.status).where(or_(*clauses))
                for row in conn.execute(query):
                    found[row.id] = row
                    if row.schedule_id is not None:
                        found[(row.schedule_id, row.fire_time)] = row
        return found

    @staticmethod
    def _run_key(message: dict[str, Any]) -> Any:
        kwargs = message.get("kwargs", {})
        if kwargs.get("schedule_id") is not None and kwargs.get("fire_time"):
            return (kwargs["schedule_id"], datetime.fromisoformat(kwargs["fire_time"]).astimezone(UTC))
        return kwargs.get("run_id")

    def _letters(self, raw: list[tuple[str, str, float, dict[str, Any]]]) -> list[DeadLetter]:
        found = self._runs_of([message for _, _, _, message in raw])
        letters = []
        for rid, queue, score, message in raw:
            kwargs = message.get("kwargs", {})
            run = found.get(self._run_key(message))
            letters.append(
                DeadLetter(
                    id=rid,
                    queue=queue,
                    job=message.get("actor_name", ""),
                    tenant_id=kwargs.get("tenant_id"),
                    schedule_id=kwargs.get("schedule_id"),
                    schedule_key=kwargs.get("key"),
                    run_id=run.id if run is not None else kwargs.get("run_id"),
                    fire_time=kwargs.get("fire_time"),
                    dead_at=datetime.fromtimestamp(score / 1000, UTC),
                    error=(run.error if run is not None and run.error else None)
                    or _last_line(message.get("options", {}).get("traceback")),
                    attempts=run.attempts if run is not None else None,
                    dead_at_ms=int(score),
                )
            )
        return letters

    def list(
        self,
        *,
        tenant_id: str | None = None,
        queue: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> tuple[list[DeadLetter], int]:
        """Dead letters newest first, filtered. Returns (page, total matching); ``limit=None``: all of them."""
        raw = []
        for name in self.queues if queue is None else (queue,):
            raw.extend((rid, name, score, message) for rid, score, message in self._raw(name))
        if tenant_id is not None:
            raw = [item for item in raw if item[3].get("kwargs", {}).get("tenant_id") == tenant_id]
        raw.sort(key=lambda item: (item[2], item[0]), reverse=True)
        end = None if limit is None else offset + limit
        return self._letters(raw[offset:end]), len(raw)

    def newer_than(self, since_ms: float) -> list[DeadLetter]:
        """Dead letters that died after ``since_ms`` (epoch milliseconds), oldest first."""
        raw = [(rid, q, score, m) for q in self.queues for rid, score, m in self._raw(q, since_ms)]
        raw.sort(key=lambda item: item[2])
        return self._letters(raw)

    def get(self, letter_id: str) -> DeadLetter | None:
        for queue in self.queues:
            data = self.client.hget(self._keys(queue)[1], letter_id)
            if data is not None:
                score = self.client.zscore(self._keys(queue)[0], letter_id) or 0
                return self._letters([(letter_id, queue, score, json.loads(data))])[0]
        return None

    def retry(self, letters: Iterable[DeadLetter]) -> int:
        """Send each dead letter's run again, with a fresh retry budget. Returns how many were sent."""
        sent = 0
        for letter in letters:
            zset, msgs = self._keys(letter.queue)
            data = self.client.hget(msgs, letter.id)
            if data is None or not self.client.zrem(zset, letter.id):
                continue  # retried or purged meanwhile
            self.client.hdel(msgs, letter.id)
            if letter.run_id is not None and self.runs.reopen(letter.run_id):
                sent += self.requeuer.enqueue([letter.run_id])
            elif letter.run_id is None:
                sent += self._resend(letter.queue, json.loads(data))
            log.info(
                "dead letter retried",
                extra={
                    "event": "dead_letter_retried",
                    "dead_letter": letter.id,
                    "tenant_id": letter.tenant_id,
                    "schedule_id": letter.schedule_id,
                    "run_id": letter.run_id,
                },
            )
        return sent

    def _resend(self, queue: str, message: dict[str, Any]) -> int:
        """A dead message without a run (e.g. a job no worker knew): the same message, retries reset."""
        options = message.setdefault("options", {})
        for stale in ("retries", "traceback", "requeue_timestamp", "eta"):
            options.pop(stale, None)
        rid = f"retry-{message['message_id']}-{int(datetime.now(UTC).timestamp() * 1000)}"
        options["redis_message_id"] = rid
        message["queue_name"] = queue
        base = f"{self.namespace}:{queue}"
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(f"{base}.msgs", rid, json.dumps(message, separators=(",", ":")))
        pipe.rpush(base, rid)
        pipe.execute()
        return 1

    def purge(self, letters: Iterable[DeadLetter]) -> int:
        """Delete dead letters (their failed runs stay). Returns how many were deleted."""
        deleted = 0
        for letter in letters:
            zset, msgs = self._keys(letter.queue)
            pipe = self.client.pipeline(transaction=True)
            pipe.zrem(zset, letter.id)
            pipe.hdel(msgs, letter.id)
            removed, _ = pipe.execute()
            deleted += removed
        return deleted
