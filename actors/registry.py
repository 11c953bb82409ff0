"""Binds catalogue jobs (app.jobs) to Dramatiq actors and wraps each execution in run bookkeeping.

A job function receives a JobContext and the schedule's payload::

    @job_actor("webhook")
    def webhook(ctx: JobContext, payload: dict) -> None:
        ...

Before the function runs, the worker claims the run of (schedule, fire time); a message whose run
already finished, or is held by another live worker, is acknowledged without running again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import dramatiq
import redis
from dramatiq.middleware import CurrentMessage
from sqlalchemy import Engine

from app.config import Settings
from app.db import make_engine
from app.jobs import JOBS, PermanentJobError
from app.runs import RunStore

log = logging.getLogger(__name__)

#: Extra time a claimed run's lease lasts beyond the job's time limit.
LEASE_MARGIN = timedelta(seconds=30)


@dataclass(frozen=True)
class JobContext:
    """What a job knows about the fire it is executing."""

    settings: Settings
    run_id: int
    attempt: int
    schedule_id: int
    tenant_id: str
    key: str
    fire_time: datetime
    triggered_by: str
    message_id: str


class Runtime:
    """What jobs share in a worker process: settings, the database engine, the broker's Redis."""

    settings: Settings | None = None
    engine: Engine | None = None
    redis: redis.Redis | None = None
    runs: RunStore | None = None


_runtime = Runtime()


def configure(settings: Settings, redis_client: redis.Redis | None = None) -> None:
    """Give the actors their settings, database and Redis (done once by ``actors/__init__``)."""
    _runtime.settings = settings
    _runtime.engine = (
        make_engine(settings.database_url, pool_size=10, max_overflow=10, pool_pre_ping=False, pool_recycle=1800)
        if not settings.database_url.startswith("sqlite")
        else make_engine(settings.database_url)
    )
    _runtime.redis = redis_client
    _runtime.runs = RunStore(_runtime.engine)


def runtime() -> Runtime:
    return _runtime


def job_actor(name: str) -> Callable[[Callable[[JobContext, dict[str, Any]], Any]], dramatiq.Actor]:
    """Register ``fn`` as the actor of catalogue job ``name`` with the catalogue's queue and retry options."""
    spec = JOBS[name]

    def decorator(fn: Callable[[JobContext, dict[str, Any]], Any]) -> dramatiq.Actor:
        lease = timedelta(milliseconds=spec.time_limit_ms) + LEASE_MARGIN

        def execute(
            schedule_id: int, tenant_id: str, key: str, fire_time: str, triggered_by: str, payload: dict[str, Any]
        ) -> None:
            message = CurrentMessage.get_current_message()
            message_id = message.message_id if message else ""
            retries = message.options.get("retries", 0) if message else 0
            fired = datetime.fromisoformat(fire_time).astimezone(UTC)
            ids = {
                "tenant_id": tenant_id,
                "schedule_id": schedule_id,
                "schedule_key": key,
                "job": name,
                "fire_time": fire_time,
                "message_id": message_id,
            }
            claim = _runtime.runs.claim(
                schedule_id, fired, triggered_by=triggered_by, message_id=message_id, lease=lease
            )
            if claim is None:
                log.info(
                    "run not claimed: already done, held by another worker, or schedule gone",
                    extra={"event": "run_skipped_duplicate", **ids},
                )
                return
            ids["run_id"] = claim.run_id
            ctx = JobContext(
                _runtime.settings,
                claim.run_id,
                claim.attempt,
                schedule_id,
                tenant_id,
                key,
                fired,
                triggered_by,
                message_id,
            )
            started = time.perf_counter()
            try:
                result = fn(ctx, payload)
            except PermanentJobError as exc:
                # Retrying cannot help: fail now, keep the remaining retries unused.
                _runtime.runs.finish(claim, "failed", error=f"{type(exc).__name__}: {exc}")
                log.error(
                    "run failed permanently",
                    extra={"event": "run_failed_permanently", "attempt": claim.attempt, "error": str(exc), **ids},
                )
                return
            except BaseException as exc:
                final = retries >= spec.max_retries
                _runtime.runs.finish(claim, "failed" if final else "retrying", error=f"{type(exc).__name__}: {exc}")
                log.warning(
                    "run attempt failed",
                    extra={
                        "event": "run_failed" if final else "run_retrying",
                        "attempt": claim.attempt,
                        "error": str(exc),
                        **ids,
                    },
                )
                raise
            _runtime.runs.finish(claim, "succeeded", result=result)
            log.info(
                "run succeeded",
                extra={
                    "event": "run_succeeded",
                    "attempt": claim.attempt,
                    "duration_ms": int((time.perf_counter() - started) * 1000),
                    **ids,
                },
            )

        execute.__name__ = name
        execute.__qualname__ = name
        execute.__module__ = fn.__module__
        execute.__doc__ = fn.__doc__
        return dramatiq.actor(
            execute,
            actor_name=name,
            queue_name=spec.queue,
            max_retries=spec.max_retries,
            min_backoff=spec.min_backoff_ms,
            max_backoff=spec.max_backoff_ms,
            time_limit=spec.time_limit_ms,
        )

    return decorator
