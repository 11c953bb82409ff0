"""The job catalogue: every job a schedule may name, with its queue and execution options.

The API validates schedules against it, the clock routes fires by it, and ``actors.registry``
binds each entry to the Dramatiq actor that does the work. Adding a job is one entry here and one
decorated function in ``actors/``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class PayloadError(ValueError):
    """A schedule's payload does not suit its job; the message says what to change."""


class PermanentJobError(Exception):
    """Raised by a job when retrying cannot help (bad credentials, a malformed request): the run
    fails at once, without the remaining retries."""


class RunCancelled(Exception):
    """Raised at a job's checkpoint when its run was asked to stop (cancelled, or superseded by a newer
    fire under the cancel_other overlap policy): the run ends as cancelled, without retries."""


def _no_check(payload: Mapping[str, Any]) -> None:
    return None


#: What a fire does while the same schedule's previous run is still running.
OVERLAP_POLICIES = ("skip", "buffer_one", "allow", "cancel_other")


@dataclass(frozen=True)
class JobSpec:
    """What the service knows about a job before any worker runs it.

    Parameters:
      name: the job (and Dramatiq actor) name schedules refer to.
      queue: the Dramatiq queue its messages go to.
      max_attempts: attempts in all (the first one and its retries); a schedule may override it.
      backoff_ms: delay before the first retry; doubles each retry (Dramatiq adds jitter).
      backoff_max_ms: ceiling of the retry delay.
      time_limit_ms: how long one attempt may run before it is interrupted.
      check_payload: raises PayloadError when a payload cannot work for this job.
      cron: for the service's own system jobs: the pattern the clock keeps a schedule on (None: a
        job that tenants schedule or enqueue).
      timezone: the zone of ``cron``.
      description: one line for the catalogue.
    """

    name: str
    queue: str = "default"
    max_attempts: int = 3
    backoff_ms: int = 1_000
    backoff_max_ms: int = 60_000
    time_limit_ms: int = 60_000
    check_payload: Callable[[Mapping[str, Any]], None] = _no_check
    cron: str | None = None
    timezone: str = "UTC"
    description: str = ""

    @property
    def is_system(self) -> bool:
        return self.cron is not None


def check_webhook_payload(payload: Mapping[str, Any]) -> None:
    url = payload.get("url")
    if not isinstance(url, str) or not url:
        raise PayloadError("payload.url is required for the webhook job: the http(s) URL to POST each fire to")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PayloadError(f"payload.url {url!r} is not an absolute http(s) URL")


def check_sleep_payload(payload: Mapping[str, Any]) -> None:
    seconds = payload.get("seconds", 1)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= 3600:
        raise PayloadError("payload.seconds must be a number of seconds from 0 to 3600")


#: The Shopify resources a sync job exists for.
SHOPIFY_RESOURCES = ("products", "orders", "customers")


def check_shopify_payload(payload: Mapping[str, Any]) -> None:
    if not isinstance(payload.get("integration_id"), str) or not payload["integration_id"]:
        raise PayloadError("payload.integration_id is required: the tenant's Shopify integration to sync")
    if payload.get("type", "incremental") not in ("incremental", "full"):
        raise PayloadError("payload.type must be 'incremental' (changes since the last sync) or 'full'")


#: Every job schedules may name (and the system's own cron jobs), by name.
JOBS: dict[str, JobSpec] = {
    spec.name: spec
    for spec in (
        JobSpec(
            "webhook",
            queue="webhooks",
            check_payload=check_webhook_payload,
            time_limit_ms=30_000,
            description="POST a signed JSON body to payload.url",
        ),
        JobSpec("noop", max_attempts=1, time_limit_ms=10_000, description="do nothing (smoke tests, benchmarks)"),
        JobSpec(
            "sleep",
            max_attempts=1,
            time_limit_ms=3_700_000,
            check_payload=check_sleep_payload,
            description="sleep payload.seconds, reporting progress and stopping when asked (demos, tests)",
        ),
        *(
            JobSpec(
                f"shopify-{resource}",
                queue="shopify",
                max_attempts=4,
                backoff_ms=5_000,
                backoff_max_ms=300_000,
                time_limit_ms=15 * 60_000,
                check_payload=check_shopify_payload,
                description=f"sync the tenant's Shopify {resource} into the database",
            )
            for resource in SHOPIFY_RESOURCES
        ),
        JobSpec(
            "system-stale-runs",
            queue="system",
            max_attempts=1,
            cron="* * * * *",
            description="fail runs whose worker vanished; re-enqueue open runs whose message was lost",
        ),
        JobSpec(
            "system-retention",
            queue="system",
            max_attempts=2,
            time_limit_ms=30 * 60_000,
            cron="17 3 * * *",
            description="delete runs and audit rows older than the retention period",
        ),
        JobSpec(
            "system-dead-letters",
            queue="system",
            max_attempts=1,
            cron="* * * * *",
            description="log and count new dead letters",
        ),
    )
}

#: Jobs tenants may schedule or enqueue (the system's own are kept by the clock).
TENANT_JOBS = tuple(sorted(name for name, spec in JOBS.items() if not spec.is_system))

#: The queues of every job, for workers, dead letters and queue depths.
QUEUES = tuple(sorted({spec.queue for spec in JOBS.values()}))

#: Where each job's messages go: job name -> (queue, actor name).
ROUTES: dict[str, tuple[str, str]] = {name: (spec.queue, name) for name, spec in JOBS.items()}
