"""Binds catalogue jobs (app.jobs) to Dramatiq actors and wraps each execution in run bookkeeping.

A job function receives a JobContext and the payload::

    @job_actor("webhook")
    def webhook(ctx: JobContext, payload: dict) -> None:
        ctx.checkpoint()                 # stops here if the run was asked to stop
        ctx.progress(50, "halfway")      # shown on the run while it runs
        ctx.record(status_code=200)      # kept with this attempt

Before the function runs, the worker claims the run: of (schedule, fire time) for a scheduled
fire, by run id for an ad-hoc job. A message whose run already ended, or that the schedule's
overlap policy skips or buffers, is acknowledged without running; one whose run another live
worker holds is looked at again when that worker's lease ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import dramatiq
import redis
from dramatiq.middleware import CurrentMessage
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from actors.groupcommit import GroupCommit
from actors.monitor import RunMonitor
from app.config import Settings
from app.db import make_engine
from app.dispatch import Dispatcher
from app.jobs import JOBS, PermanentJobError, RunCancelled
from app.metrics import DURATION_BUCKETS, BufferedMetrics
from app.requeue import RunRequeuer
from app.runs import Claim, ClaimRequest, Finish, Refusal, RunStore

log = logging.getLogger(__name__)


class JobContext:
    """What a job knows about the run it executes, and how it reports back.

    Parameters:
      settings: the service settings.
      claim: the claimed run and attempt.
      tenant_id, key, schedule_id: whose run it is (key and schedule_id are None for ad-hoc jobs).
      fire_time: the nominal fire time (an ad-hoc job's due time).
      triggered_by: ``scheduled``, ``manual`` or ``api``.
      message_id: the Dramatiq message id.
      runs: the run store (progress reports).
    """

    def __init__(
        self,
        settings: Settings,
        claim: Claim,
        *,
        tenant_id: str,
        key: str | None,
        schedule_id: int | None,
        fire_time: datetime,
        triggered_by: str,
        message_id: str,
        runs: RunStore | None = None,
    ):
        self.settings = settings
        self.claim = claim
        self.run_id = claim.run_id
        self.attempt = claim.attempt
        self.tenant_id = tenant_id
        self.key = key
        self.schedule_id = schedule_id
        self.fire_time = fire_time
        self.triggered_by = triggered_by
        self.message_id = message_id
        self.detail: dict[str, Any] = {}
        self._runs = runs
        self._stop = threading.Event()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def request_stop(self) -> None:
        """Ask the job to stop at its next checkpoint (the run monitor relays cancel requests here)."""
        self._stop.set()

    def checkpoint(self) -> None:
        """Raise RunCancelled if the run was asked to stop; jobs call it between units of work."""
        if self._stop.is_set():
            raise RunCancelled("asked to stop")

    def progress(self, percent: int | None, message: str | None = None) -> None:
        """Report progress (0-100, or None when unknown, and a short message), shown on the run while
        it runs; also a checkpoint."""
        percent = max(0, min(100, int(percent))) if percent is not None else None
        if self._runs is not None and self._runs.progress(self.claim, percent, (message or "")[:500] or None):
            self._stop.set()
        self.checkpoint()

    def record(self, **detail: Any) -> None:
        """Keep facts about this attempt (e.g. a status code, a latency) in its attempt record."""
        self.detail.update(detail)


class Runtime:
    """What jobs share in a worker process: settings, database, the broker's Redis, the run monitor."""

    settings: Settings | None = None
    engine: Engine | None = None
    redis: redis.Redis | None = None
    runs: RunStore | None = None
    requeuer: RunRequeuer | None = None
    monitor: RunMonitor | None = None
    claims: GroupCommit[ClaimRequest, Claim | None] | None = None
    finishes: GroupCommit[Finish, int | None] | None = None
    metrics: BufferedMetrics = BufferedMetrics(None)


_runtime = Runtime()


def configure(settings: Settings, broker: dramatiq.Broker | None = None) -> None:
    """Give the actors their settings, database and Redis, and add the run monitor to ``broker``.

    Called once by ``actors/__init__``; tests call it again (without a broker) to point the actors
    at another database, keeping the broker and its monitor.
    """
    _runtime.settings = settings
    _runtime.engine = (
        make_engine(settings.database_url, pool_size=10, max_overflow=10, pool_pre_ping=False, pool_recycle=1800)
        if not settings.database_url.startswith("sqlite")
        else make_engine(settings.database_url)
    )
    _runtime.runs = RunStore(_runtime.engine)
    lease = timedelta(seconds=settings.run_lease)
    _runtime.claims = GroupCommit(lambda items: _runtime.runs.claim_new_many(items, lease), name="claims")
    _runtime.finishes = GroupCommit(_runtime.runs.finish_many, name="finishes")
    if broker is not None:
        _runtime.redis = broker.client
        _runtime.monitor = RunMonitor(
            _runtime.runs,
            lease,
            maintenance_every=max(1.0, settings.worker_heartbeat_timeout / 6),
        )
        broker.add_middleware(_runtime.monitor)
    elif _runtime.monitor is not None:
        _runtime.monitor.runs = _runtime.runs
    client = _runtime.redis
    _runtime.metrics = BufferedMetrics(client)
    if _runtime.monitor is not None:
        _runtime.monitor.metrics = _runtime.metrics
    _runtime.requeuer = RunRequeuer(_runtime.engine, Dispatcher(client, settings.namespace)) if client else None


def runtime() -> Runtime:
    return _runtime


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _claim(
    schedule_id: int | None, run_id: int | None, fired: datetime, triggered_by: str, message_id: str
) -> Claim | Refusal:
    lease = timedelta(seconds=_runtime.settings.run_lease)
    if schedule_id is not None:
        try:  # the common case, a new run, claimed together with other threads' (group commit)
            claim = _runtime.claims.submit(ClaimRequest(schedule_id, fired, triggered_by, message_id))
        except IntegrityError:  # a singleton schedule's slot is taken: the overlap policy decides, below
            claim = None
        if claim is not None:
            return claim
        return _runtime.runs.claim(
            schedule_id, fired, triggered_by=triggered_by, message_id=message_id, lease=lease, new_tried=True
        )
    if run_id is not None:
        return _runtime.runs.claim_run(run_id, message_id=message_id, lease=lease)
    return Refusal("gone", detail="the message names neither a schedule nor a run")


def _look_again_later(message, refusal: Refusal) -> None:
    """Another worker holds the run: send this message again for when its lease ends (if that worker
    vanished, this message resumes the run; if not, it finds the run ended and is dropped)."""
    delay_ms = 1000
    if refusal.retry_at is not None:
        delay_ms = max(500, int((refusal.retry_at - datetime.now(UTC)).total_seconds() * 1000) + 500)
    dramatiq.get_broker().enqueue(message.copy(), delay=delay_ms)


def job_actor(name: str) -> Callable[[Callable[[JobContext, dict[str, Any]], Any]], dramatiq.Actor]:
    """Register ``fn`` as the actor of catalogue job ``name`` with the catalogue's queue and retry options."""
    spec = JOBS[name]

    def decorator(fn: Callable[[JobContext, dict[str, Any]], Any]) -> dramatiq.Actor:
        def execute(
            schedule_id: int | None,
            tenant_id: str,
            key: str | None,
            fire_time: str,
            triggered_by: str,
            payload: dict[str, Any],
            run_id: int | None = None,
        ) -> None:
            message = CurrentMessage.get_current_message()
            message_id = message.message_id if message else ""
            options = message.options if message else {}
            final = options.get("retries", 0) >= options.get("max_retries", spec.max_attempts - 1)
            fired = datetime.fromisoformat(fire_time).astimezone(UTC)
            ids = {
                "tenant_id": tenant_id,
                "schedule_id": schedule_id,
                "schedule_key": key,
                "run_id": run_id,
                "job": name,
                "fire_time": fire_time,
                "message_id": message_id,
            }
            outcome = _claim(schedule_id, run_id, fired, triggered_by, message_id)
            if isinstance(outcome, Refusal):
                if outcome.reason == "held" and message is not None:
                    _look_again_later(message, outcome)
                ids["run_id"] = outcome.run_id or run_id
                log.info(
                    f"run not started: {outcome.reason}",
                    extra={"event": f"run_{outcome.reason}", "detail": outcome.detail, **ids},
                )
                return
            ids["run_id"] = outcome.run_id
            ctx = JobContext(
                _runtime.settings,
                outcome,
                tenant_id=tenant_id,
                key=key,
                schedule_id=schedule_id,
                fire_time=fired,
                triggered_by=triggered_by,
                message_id=message_id,
                runs=_runtime.runs,
            )
            started = time.perf_counter()
            status, error, result, failure = "succeeded", None, None, None
            if _runtime.monitor is not None:
                _runtime.monitor.track(ctx)
            try:
                result = fn(ctx, payload)
            except RunCancelled as exc:
                status, error = "cancelled", f"stopped at a checkpoint: {exc}"
            except PermanentJobError as exc:
                # Retrying cannot help: fail now (Dramatiq dead-letters it: the actor ``throws`` it).
                status, error, failure = "failed", _error_text(exc), exc
            except BaseException as exc:
                status, error, failure = ("failed" if final else "retrying"), _error_text(exc), exc
            finally:
                if _runtime.monitor is not None:
                    _runtime.monitor.untrack(ctx)
            end = Finish(outcome, status, datetime.now(UTC), error, result, ctx.detail)
            try:
                waiting = _runtime.finishes.submit(end)  # together with other threads' (group commit)
            except Exception:  # the batch failed as a whole: this finish alone
                waiting = _runtime.runs.finish_many([end])[0]
            if waiting is not None and _runtime.requeuer is not None:
                _runtime.requeuer.enqueue([waiting])
            seconds = time.perf_counter() - started
            _runtime.metrics.inc("tenantcron_runs_total", {"job": name, "status": status})
            _runtime.metrics.observe("tenantcron_run_duration_seconds", seconds, DURATION_BUCKETS, {"job": name})
            log.log(
                logging.INFO if status in ("succeeded", "cancelled") else logging.WARNING,
                f"run {status}",
                extra={
                    "event": f"run_{status}",
                    "attempt": outcome.attempt,
                    "duration_ms": int(seconds * 1000),
                    "error": error,
                    **ids,
                },
            )
            if failure is not None:
                raise failure

        execute.__name__ = name
        execute.__qualname__ = name
        execute.__module__ = fn.__module__
        execute.__doc__ = fn.__doc__
        return dramatiq.actor(
            execute,
            actor_name=name,
            queue_name=spec.queue,
            max_retries=spec.max_attempts - 1,
            min_backoff=spec.backoff_ms,
            max_backoff=spec.backoff_max_ms,
            time_limit=spec.time_limit_ms,
            throws=(PermanentJobError,),
        )

    return decorator
