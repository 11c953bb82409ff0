"""Ad-hoc jobs: "run this job for tenant 42 now (or in 10 minutes)", without a schedule.

An ad-hoc job is a run row first (committed, so an accepted job is never lost), then a message.
If Redis refuses the message the run is cancelled and the caller told to retry, so nothing is
left half-accepted. It runs under the same rules as a scheduled fire (claimed once, retried,
dead-lettered), and can be cancelled while queued (it then never runs) or asked to stop.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from app import cron
from app.dispatch import PRIORITIES
from app.errors import ValidationError
from app.jobs import JOBS, TENANT_JOBS, PayloadError
from app.requeue import RunRequeuer
from app.runs import RunStore
from app.schedules import IDENT, MAX_ATTEMPTS

#: The fields of an ad-hoc job request.
FIELDS = ("job", "payload", "delay", "priority", "max_attempts")

#: Longest delay (Dramatiq's delay queue holds messages up to 7 days).
MAX_DELAY = timedelta(days=7)


def _delay(value: Any) -> timedelta:
    if isinstance(value, str):
        value = cron.parse_every(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_DELAY.total_seconds():
        raise ValueError
    return timedelta(seconds=value)


class AdHocJobs:
    """Enqueues ad-hoc jobs.

    Parameters:
      runs: the run store.
      requeuer: sends the run's message (None: Redis is not configured, enqueueing answers 503).
      clock: returns the current instant.
    """

    def __init__(self, runs: RunStore, requeuer: RunRequeuer | None, clock=lambda: datetime.now(UTC)):
        self.runs = runs
        self.requeuer = requeuer
        self.now = clock

    def enqueue(self, tenant_id: str, doc: Any) -> dict[str, Any]:
        """Validate, record and send one job. Returns the run. Raises ValidationError or redis errors."""
        errors: list[dict[str, str]] = []
        if not IDENT.match(tenant_id):
            errors.append({"field": "tenant_id", "message": "must be 1-128 letters, digits, '.', '_', ':' or '-'"})
        if not isinstance(doc, Mapping):
            raise ValidationError(errors + [{"field": "body", "message": "must be a JSON object"}])
        for extra in sorted(set(doc) - set(FIELDS)):
            errors.append({"field": extra, "message": f"unknown field; allowed fields are {', '.join(FIELDS)}"})
        job, payload = doc.get("job"), doc.get("payload", {})
        if job not in TENANT_JOBS:
            errors.append({"field": "job", "message": f"one of {', '.join(TENANT_JOBS)}"})
        if not isinstance(payload, Mapping):
            errors.append({"field": "payload", "message": "must be a JSON object"})
        elif job in TENANT_JOBS:
            try:
                JOBS[job].check_payload(payload)
            except PayloadError as exc:
                errors.append({"field": "payload", "message": str(exc)})
        try:
            delay = _delay(doc.get("delay", 0))
        except (ValueError, cron.CronError):
            delay = timedelta(0)
            errors.append({"field": "delay", "message": "must be 0 to 7 days, as seconds or a duration such as '10m'"})
        priority = doc.get("priority", "normal")
        if priority not in PRIORITIES:
            message = f"one of {', '.join(PRIORITIES)} (high: front of its queue)"
            errors.append({"field": "priority", "message": message})
        max_attempts = doc.get("max_attempts")
        if max_attempts is not None and (
            isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or not 1 <= max_attempts <= MAX_ATTEMPTS
        ):
            errors.append({"field": "max_attempts", "message": f"a whole number from 1 to {MAX_ATTEMPTS}"})
        if errors:
            raise ValidationError(errors)
        if self.requeuer is None:
            raise redis.ConnectionError("REDIS_URL is not set: nothing can be enqueued")
        now = self.now()
        run = self.runs.create_adhoc(
            tenant_id, job, payload, due=now + delay, priority=priority, max_attempts=max_attempts, now=now
        )
        try:
            self.requeuer.enqueue([run["id"]])
        except redis.RedisError:
            self.runs.cancel(run["id"], "not enqueued: Redis was unreachable")
            raise
        return run
