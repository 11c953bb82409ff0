"""Enqueue fires onto Dramatiq's Redis queues in pipelined batches.

``RedisBroker.enqueue`` sends one message per round trip (~3,400/s here). A fan-out of 100,000
fires needs batches: this module writes the same two structures Dramatiq's ``dispatch.lua``
"enqueue" command writes (``HSET {ns}:{queue}.msgs id data`` and ``RPUSH {ns}:{queue} id``), one
MULTI/EXEC transaction per batch so a worker never pops an id whose data is not there yet.
Messages are rendered from a template rather than through ``json.dumps`` of a dict: the payload
is stored as JSON text and passed through untouched.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from app.cron import jitter_delay

#: Messages per MULTI/EXEC batch.
BATCH_SIZE = 5_000

#: Priorities an enqueued run may have: ``high`` goes to the front of its queue.
PRIORITIES = ("normal", "high")

_MESSAGE = (
    '{"queue_name":"%s","actor_name":"%s","args":[],"kwargs":{"schedule_id":%s,"tenant_id":%s,'
    '"key":%s,"fire_time":"%s","triggered_by":"%s","payload":%s,"run_id":%s},'
    '"options":{"redis_message_id":"%s"%s%s},"message_id":"%s","message_timestamp":%d}'
)


def message_options(
    *,
    max_attempts: int | None = None,
    backoff_ms: int | None = None,
    backoff_max_ms: int | None = None,
    time_limit_ms: int | None = None,
    priority: str | None = None,
) -> str:
    """Dramatiq message options overriding the actor's defaults, rendered for the message template.

    Dramatiq's Retries and TimeLimit middleware read ``max_retries``, ``min_backoff``,
    ``max_backoff`` and ``time_limit`` from a message's options before its actor's.
    """
    options = {
        "max_retries": max_attempts - 1 if max_attempts is not None else None,
        "min_backoff": backoff_ms,
        "max_backoff": backoff_max_ms,
        "time_limit": time_limit_ms,
        "priority": priority if priority == "high" else None,
    }
    return "".join(f',"{name}":{json.dumps(value)}' for name, value in options.items() if value is not None)


def execution_options(
    max_attempts: int | None, backoff_ms: int | None, backoff_max_ms: int | None, time_limit_ms: int | None
) -> str:
    """The message options of a schedule's execution settings (None keeps the job's)."""
    if max_attempts is None and backoff_ms is None and backoff_max_ms is None and time_limit_ms is None:
        return ""  # the common case, on the fan-out's hot path
    return message_options(
        max_attempts=max_attempts, backoff_ms=backoff_ms, backoff_max_ms=backoff_max_ms, time_limit_ms=time_limit_ms
    )


def schedule_options(row: Mapping[str, Any]) -> str:
    """``execution_options`` of a schedule row."""
    return execution_options(row["max_attempts"], row["backoff_ms"], row["backoff_max_ms"], row["time_limit_ms"])


@dataclass(frozen=True)
class Fire:
    """One run to start, ready to become a message.

    Parameters:
      schedule_id: the schedule fired, or None for an ad-hoc job.
      tenant_id: the tenant.
      key: the schedule's key (None for an ad-hoc job).
      job: the catalogue job.
      payload_json: the payload as JSON text.
      jitter: seconds of deterministic jitter (scheduled fires only).
      options: rendered message options (``message_options``).
      run_id: the run row that already exists for it (ad-hoc jobs, requeued runs), else None.
      high_priority: put the message at the front of its queue.
    """

    schedule_id: int | None
    tenant_id: str
    key: str | None
    job: str
    payload_json: str
    jitter: int = 0
    options: str = ""
    run_id: int | None = None
    high_priority: bool = False


def message_id(schedule_id: int, fire_time: datetime) -> str:
    """The deterministic message id of a fire: schedule id + fire time."""
    return f"{schedule_id}@{fire_time.strftime('%Y%m%dT%H%M%S')}"


def fire_time_text(fire_time: datetime) -> str:
    return fire_time.strftime("%Y-%m-%dT%H:%M:%S+00:00")


class Dispatcher:
    """Writes fire messages to Dramatiq queues in Redis.

    Parameters:
      client: Redis client of the broker.
      namespace: Dramatiq's key namespace (RedisBroker's ``namespace``).
      batch_size: messages per transaction.
    """

    def __init__(self, client: redis.Redis, namespace: str = "dramatiq", batch_size: int = BATCH_SIZE):
        self.client = client
        self.namespace = namespace
        self.batch_size = batch_size

    def enqueue(
        self,
        fires: Iterable[Fire],
        fire_time: datetime,
        routes: dict[str, tuple[str, str]],
        triggered_by: str = "scheduled",
    ) -> int:
        """Enqueue one message per fire. ``routes`` maps job name -> (queue, actor). Returns the count.

        A fire due later than now (its jitter delay, or an ad-hoc job's delay) goes to the queue's
        delay queue, due at fire time + its jitter delay. A ``high`` priority message goes to the
        front of its queue.

        Raises redis.RedisError when Redis fails; a batch is all or nothing, so a caller that retries
        re-sends at most whole batches (and a repeated message is harmless: runs are claimed once).
        """
        when = fire_time_text(fire_time)
        fire_ms = int(fire_time.timestamp() * 1000)
        stamp = fire_time.strftime("%Y%m%dT%H%M%S")
        attempt = uuid.uuid4().hex[:12]  # keeps Redis ids unique if the caller re-sends a batch
        pending: dict[tuple[str, bool], list[tuple[str, str]]] = defaultdict(list)
        count = 0
        buffered = 0
        now_ms = int(time.time() * 1000)
        for fire in fires:
            route = routes.get(fire.job)
            if route is None:
                continue
            queue, actor = route
            rid = f"{attempt}-{fire.schedule_id}" if fire.run_id is None else f"{attempt}-r{fire.run_id}"
            eta = ""
            delay = jitter_delay(fire.schedule_id, fire_time, fire.jitter) if fire.jitter else 0
            due_ms = fire_ms + delay * 1000
            if delay or due_ms > now_ms:
                # Dramatiq's delay queue: a worker moves it to ``queue`` once eta has passed.
                queue = f"{queue}.DQ"
                eta = f',"eta":{due_ms}'
            pending[(queue, fire.high_priority)].append(
                (
                    rid,
                    _MESSAGE
                    % (
                        queue,
                        actor,
                        fire.schedule_id if fire.schedule_id is not None else "null",
                        json.dumps(fire.tenant_id),
                        json.dumps(fire.key),
                        when,
                        triggered_by,
                        fire.payload_json,
                        fire.run_id if fire.run_id is not None else "null",
                        rid,
                        eta,
                        fire.options,
                        f"{fire.schedule_id}@{stamp}" if fire.run_id is None else f"run-{fire.run_id}",
                        now_ms,
                    ),
                )
            )
            buffered += 1
            if buffered >= self.batch_size:
                count += self._flush(pending)
                pending.clear()
                buffered = 0
                now_ms = int(time.time() * 1000)
        if buffered:
            count += self._flush(pending)
        return count

    def _flush(self, pending: dict[tuple[str, bool], list[tuple[str, str]]]) -> int:
        pipe = self.client.pipeline(transaction=True)
        count = 0
        for (queue, front), items in pending.items():
            base = f"{self.namespace}:{queue}"
            pipe.hset(f"{base}.msgs", mapping=dict(items))
            ids = [rid for rid, _ in items]
            pipe.lpush(base, *ids) if front else pipe.rpush(base, *ids)
            count += len(items)
        pipe.execute()
        return count
