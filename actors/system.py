"""The service's own cron jobs (declared with their patterns in app.jobs, kept as schedules by the clock)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from actors.registry import JobContext, job_actor, runtime
from app.deadletters import DeadLetterService
from app.metrics import Metrics
from app.queues import queue_depths

log = logging.getLogger(__name__)

#: Redis key holding when (epoch ms) the newest dead letter the watch has reported died.
DEAD_LETTERS_SEEN_KEY = "tenantcron:dead-letters:seen"

#: The longest retry delay a schedule may ask for: a retrying run untouched for longer (plus the
#: stale margin) has lost its message.
MAX_RETRY_DELAY = timedelta(days=1)


@job_actor("system-stale-runs")
def stale_runs(ctx: JobContext, payload: dict[str, Any]) -> dict[str, int]:
    """Fail runs whose worker vanished long ago; re-send open runs whose message was lost."""
    rt = runtime()
    stale_after = timedelta(seconds=ctx.settings.stale_run_after)
    failed = rt.runs.fail_abandoned(stale_after)
    for run in failed:
        log.error(
            "run failed: its worker vanished",
            extra={
                "event": "run_abandoned",
                "run_id": run["id"],
                "tenant_id": run["tenant_id"],
                "schedule_id": run["schedule_id"],
                "job": run["job"],
            },
        )
    resent = rt.requeuer.enqueue(rt.runs.stalled(stale_after, MAX_RETRY_DELAY)) if rt.requeuer else 0
    if resent:
        log.warning("open runs re-sent", extra={"event": "runs_resent", "count": resent})
    Metrics(rt.redis).inc("tenantcron_runs_abandoned_total", amount=len(failed))
    return {"failed": len(failed), "resent": resent}


@job_actor("system-retention")
def retention(ctx: JobContext, payload: dict[str, Any]) -> dict[str, int]:
    """Delete ended runs and audit rows older than RETENTION_DAYS."""
    cutoff = datetime.now(UTC) - timedelta(days=ctx.settings.retention_days)
    deleted_runs, deleted_audit = runtime().runs.delete_before(cutoff)
    log.info(
        "retention applied",
        extra={"event": "retention", "cutoff": cutoff.isoformat(), "runs": deleted_runs, "audit": deleted_audit},
    )
    return {"runs_deleted": deleted_runs, "audit_deleted": deleted_audit}


@job_actor("system-dead-letters")
def dead_letter_watch(ctx: JobContext, payload: dict[str, Any]) -> dict[str, int]:
    """Log each dead letter that appeared since the last watch, and count it as a metric."""
    rt = runtime()
    service = DeadLetterService(rt.redis, rt.engine, rt.requeuer, ctx.settings.namespace)
    seen = float(rt.redis.get(DEAD_LETTERS_SEEN_KEY) or 0)
    new = service.newer_than(seen)
    metrics = Metrics(rt.redis)
    for letter in new:
        log.error(
            "new dead letter",
            extra={
                "event": "dead_letter",
                "dead_letter": letter.id,
                "queue": letter.queue,
                "job": letter.job,
                "tenant_id": letter.tenant_id,
                "schedule_id": letter.schedule_id,
                "schedule_key": letter.schedule_key,
                "run_id": letter.run_id,
                "error": letter.error,
            },
        )
        metrics.inc("tenantcron_dead_letters_total", {"queue": letter.queue, "job": letter.job})
    if new:
        rt.redis.set(DEAD_LETTERS_SEEN_KEY, max(letter.dead_at_ms for letter in new))
    total = sum(queue["dead"] for queue in queue_depths(rt.redis, ctx.settings.namespace))
    return {"new": len(new), "total": total}
