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


def _no_check(payload: Mapping[str, Any]) -> None:
    return None


@dataclass(frozen=True)
class JobSpec:
    """What the service knows about a job before any worker runs it.

    Parameters:
      name: the job (and Dramatiq actor) name schedules refer to.
      queue: the Dramatiq queue its messages go to.
      max_retries: retries after the first attempt (so attempts = max_retries + 1).
      min_backoff_ms: delay before the first retry; doubles each retry.
      max_backoff_ms: ceiling of the retry delay.
      time_limit_ms: how long one attempt may run before it is interrupted.
      check_payload: raises PayloadError when a payload cannot work for this job.
    """

    name: str
    queue: str = "default"
    max_retries: int = 2
    min_backoff_ms: int = 1_000
    max_backoff_ms: int = 60_000
    time_limit_ms: int = 60_000
    check_payload: Callable[[Mapping[str, Any]], None] = _no_check


def check_webhook_payload(payload: Mapping[str, Any]) -> None:
    url = payload.get("url")
    if not isinstance(url, str) or not url:
        raise PayloadError("payload.url is required for the webhook job: the http(s) URL to POST each fire to")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PayloadError(f"payload.url {url!r} is not an absolute http(s) URL")


#: The Shopify resources a sync job exists for.
SHOPIFY_RESOURCES = ("products", "orders", "customers")


def check_shopify_payload(payload: Mapping[str, Any]) -> None:
    if not isinstance(payload.get("integration_id"), str) or not payload["integration_id"]:
        raise PayloadError("payload.integration_id is required: the tenant's Shopify integration to sync")
    if payload.get("type", "incremental") not in ("incremental", "full"):
        raise PayloadError("payload.type must be 'incremental' (changes since the last sync) or 'full'")


#: Every job schedules may name, by name.
JOBS: dict[str, JobSpec] = {
    spec.name: spec
    for spec in (
        JobSpec("webhook", queue="webhooks", check_payload=check_webhook_payload, time_limit_ms=30_000),
        JobSpec("noop", queue="default", max_retries=0, time_limit_ms=10_000),
        *(
            JobSpec(
                f"shopify-{resource}",
                queue="shopify",
                max_retries=3,
                min_backoff_ms=5_000,
                max_backoff_ms=300_000,
                time_limit_ms=15 * 60_000,
                check_payload=check_shopify_payload,
            )
            for resource in SHOPIFY_RESOURCES
        ),
    )
}
