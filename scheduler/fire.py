"""From a trigger's fire to one Dramatiq message per schedule sharing that trigger.

The clock keeps one APScheduler job per distinct trigger (pattern + zone), not one per schedule,
so 100,000 tenants on ``0 */6 * * *`` cost one job-store update per fire. At fire time the member
schedules are read with one streamed query and enqueued in pipelined batches (app.dispatch).
Fires later than the catch-up window are recorded as ``missed`` runs instead, with one set-based
INSERT. The fan-out runs inside the scheduler thread, before APScheduler advances the job in its
store: a clock that dies mid fan-out re-fires on restart, and the runs table drops the repeats.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import redis
import sqlalchemy.exc
from apscheduler.executors.base import BaseExecutor
from sqlalchemy import Engine, or_, select, update

from app.dispatch import Dispatcher, Fire, execution_options
from app.jobs import ROUTES
from app.metrics import LATENESS_BUCKETS, Metrics
from app.models import runs, schedules
from app.processes import RECENT_FIRES, RECENT_FIRES_KEY
from app.runs import runs_from_schedules

log = logging.getLogger(__name__)

#: Rows fetched per round trip while streaming a trigger's members.
FETCH_SIZE = 5_000

#: Of several coalesced fire times, at most this many older ones are recorded as missed runs.
MAX_MISSED_RECORDED = 10

#: Backoff bounds (seconds) while the database or Redis is unreachable during a fan-out.
RETRY_MIN, RETRY_MAX = 0.2, 5.0


def member_filter(trigger_key: str, fire_time: datetime, *, limited_only: bool = False) -> list:
    """WHERE clauses selecting the schedules a fire of ``trigger_key`` at ``fire_time`` belongs to."""
    s = schedules.c
    clauses = [
        s.trigger_key == trigger_key,
        s.paused.is_(False),
        s.active_since <= fire_time,
        or_(s.start_at.is_(None), s.start_at <= fire_time),
        or_(s.end_at.is_(None), s.end_at >= fire_time),
    ]
    if limited_only:
        return [*clauses, s.max_fires.is_not(None), s.fire_count < s.max_fires]
    # A limited schedule belongs while it has fires left, or when this very fire was already
    # counted (a re-fire after a clock crash between counting and enqueueing).
    return [*clauses, or_(s.max_fires.is_(None), s.fire_count < s.max_fires, s.last_counted_fire == fire_time)]


class FanOut:
    """Turns one trigger fire into messages (or missed runs) for every member schedule.

    Parameters:
      engine: the database engine.
      dispatcher: writes messages to Redis.
      catchup_window: seconds; a fire later than this is recorded as missed, not run.
      stopping: set when the process must stop; a fan-out blocked on an outage then gives up.
    """

    def __init__(self, engine: Engine, dispatcher: Dispatcher, catchup_window: int, stopping: threading.Event):
        self.engine = engine
        self.dispatcher = dispatcher
        self.catchup_window = timedelta(seconds=catchup_window)
        self.stopping = stopping
        self.routes = ROUTES
        self.metrics = Metrics(dispatcher.client)

    def fire(
        self, trigger_key: str, fire_times: list[datetime], now: datetime | None = None, name: str | None = None
    ) -> None:
        """Handle the due fire times of one trigger (oldest first); ``name`` describes the trigger."""
        now = now or datetime.now(UTC)
        fire_times = sorted(fire_times)
        latest = fire_times[-1]
        missed = fire_times[:-1]
        if now - latest > self.catchup_window:
            missed.append(latest)
        else:
            count, duration_ms = self._retrying(self.enqueue, trigger_key, latest, now)
            self._observe(name or trigger_key, latest, now, count, duration_ms)
        if missed:
            if len(missed) > MAX_MISSED_RECORDED:
                log.warning(
                    "fires coalesced",
                    extra={
                        "event": "fires_coalesced",
                        "trigger_key": trigger_key,
                        "count": len(missed),
                        "first": missed[0].isoformat(),
                        "last": missed[-1].isoformat(),
                    },
                )
            for fire_time in missed[-MAX_MISSED_RECORDED:]:
                self._retrying(self.record_missed, trigger_key, fire_time, now)

    def _members(self, trigger_key: str, fire_time: datetime) -> Iterator[Fire]:
        s = schedules.c
        query = (
            select(
                s.id,
                s.tenant_id,
                s.key,
                s.job,
                s.payload,
                s.jitter_seconds,
                s.max_attempts,
                s.backoff_ms,
                s.backoff_max_ms,
                s.time_limit_ms,
            )
            .where(*member_filter(trigger_key, fire_time))
            .execution_options(stream_results=True, yield_per=FETCH_SIZE)
        )
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                options = execution_options(row[6], row[7], row[8], row[9])
                yield Fire(row[0], row[1], row[2], row[3], row[4], row[5], options)

    def _count_limited(self, trigger_key: str, fire_time: datetime) -> None:
        """Count this fire against max_fires, once per fire time, before it is enqueued."""
        s = schedules.c
        with self.engine.begin() as conn:
            conn.execute(
                update(schedules)
                .where(
                    *member_filter(trigger_key, fire_time, limited_only=True),
                    or_(s.last_counted_fire.is_(None), s.last_counted_fire < fire_time),
                )
                .values(fire_count=s.fire_count + 1, last_counted_fire=fire_time)
            )

    def _observe(self, name: str, fire_time: datetime, now: datetime, count: int, duration_ms: int) -> None:
        """Publish the fire for the dashboard (recent fires) and /metrics (fires, lateness)."""
        lateness = (now - fire_time).total_seconds()
        self.metrics.inc("tenantcron_fires_total")
        self.metrics.inc("tenantcron_fire_messages_total", amount=count)
        self.metrics.observe("tenantcron_fire_lateness_seconds", lateness, LATENESS_BUCKETS)
        fire = {
            "trigger": name,
            "fire_time": fire_time.isoformat(),
            "messages": count,
            "lateness_ms": int(lateness * 1000),
            "duration_ms": duration_ms,
        }
        try:
            pipe = self.dispatcher.client.pipeline(transaction=False)
            pipe.lpush(RECENT_FIRES_KEY, json.dumps(fire))
            pipe.ltrim(RECENT_FIRES_KEY, 0, RECENT_FIRES - 1)
            pipe.execute()
        except redis.RedisError:
            pass  # observability only: the fire itself is done

    def enqueue(self, trigger_key: str, fire_time: datetime, now: datetime) -> tuple[int, int]:
        """Count and enqueue one fire. Returns (messages, milliseconds it took)."""
        started = time.perf_counter()
        self._count_limited(trigger_key, fire_time)
        count = self.dispatcher.enqueue(self._members(trigger_key, fire_time), fire_time, self.routes)
        log.info(
            "trigger fired",
            extra={
                "event": "trigger_fired",
                "trigger_key": trigger_key,
                "fire_time": fire_time.isoformat(),
                "messages": count,
                "lateness_ms": int((now - fire_time).total_seconds() * 1000),
                "duration_ms": int((time.perf_counter() - started) * 1000),
            },
        )
        return count, int((time.perf_counter() - started) * 1000)

    def record_missed(self, trigger_key: str, fire_time: datetime, now: datetime) -> None:
        s = schedules.c
        late = f"fire was {int((now - fire_time).total_seconds())}s late, past the catch-up window"
        where = [s.trigger_key == trigger_key, s.paused.is_(False), s.active_since <= fire_time]
        with self.engine.begin() as conn:
            stmt = runs_from_schedules(conn, where, fire_time, "scheduled", "missed", late, now).on_conflict_do_nothing(
                index_elements=[runs.c.schedule_id, runs.c.fire_time]
            )
            # Counted from RETURNING: psycopg reports no rowcount for this INSERT ... SELECT.
            recorded = len(conn.execute(stmt.returning(runs.c.id)).all())
        self.metrics.inc("tenantcron_missed_fires_total", amount=recorded)
        log.warning(
            "fire missed",
            extra={
                "event": "fire_missed",
                "trigger_key": trigger_key,
                "fire_time": fire_time.isoformat(),
                "schedules": recorded,
            },
        )

    def _retrying(self, action, trigger_key: str, fire_time: datetime, now: datetime):
        """Run ``action`` until it succeeds: an outage delays a fire, it never drops it."""
        delay = RETRY_MIN
        while True:
            try:
                return action(trigger_key, fire_time, now)
            except (redis.RedisError, sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError) as exc:
                log.error(
                    "fan-out failed, retrying",
                    extra={
                        "event": "fanout_retry",
                        "trigger_key": trigger_key,
                        "fire_time": fire_time.isoformat(),
                        "error": str(exc),
                        "retry_in_s": delay,
                    },
                )
                if self.stopping.wait(delay):
                    raise FanOutAborted(trigger_key, fire_time) from exc
                delay = min(delay * 2, RETRY_MAX)


class FanOutAborted(Exception):
    """The process is stopping while a fan-out waits on an outage; the fire must be redone by the next clock."""


def fire_trigger(
    trigger_key: str,
    fan_out: FanOut | None = None,
    fire_times: list[datetime] | None = None,
    name: str | None = None,
) -> None:
    """The function every clock job refers to (by its textual reference in the job store).

    FireExecutor passes the FanOut service, APScheduler's due fire times and the job's name.
    """
    if fan_out is None or not fire_times:
        raise TypeError("fire_trigger is called by FireExecutor with fan_out and fire_times")
    fan_out.fire(trigger_key, fire_times, name=name)


class FireExecutor(BaseExecutor):
    """Runs fan-outs synchronously in the scheduler thread, passing APScheduler's run times along.

    APScheduler's stock executors drop the scheduled run times and apply misfire grace on their
    own; this one hands every due fire time to the fan-out, which applies the catch-up policy.

    Parameters:
      fan_out: the FanOut service given to each job function.
      on_abort: called when a fan-out is aborted by shutdown; it must end the process before
        APScheduler records the fire as done.
    """

    def __init__(self, fan_out: FanOut, on_abort):
        super().__init__()
        self.fan_out = fan_out
        self.on_abort = on_abort

    def submit_job(self, job, run_times) -> None:
        self._do_submit_job(job, run_times)

    def _do_submit_job(self, job, run_times) -> None:
        try:
            job.func(*job.args, fan_out=self.fan_out, fire_times=list(run_times), name=job.name)
        except FanOutAborted as exc:
            self.on_abort(exc)
        except Exception:
            log.exception("fan-out crashed", extra={"event": "fanout_crashed", "job_id": job.id})
