"""The ``webhook`` job: POST each fire to the URL in the payload, signed with HMAC-SHA256.

Each attempt records the receiver's status code and the latency. A 2xx succeeds; a timeout, a
connection error, a 5xx, 408, 409, 425 or 429 is retried; any other 4xx fails the run at once
(the receiver refused it, and would again). A circuit breaker per target (scheme, host and port)
stops deliveries to a target after WEBHOOK_CIRCUIT_FAILURES consecutive failures, for
WEBHOOK_CIRCUIT_COOLDOWN seconds: attempts in that time fail without a request, saying why.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import redis

from actors.registry import JobContext, job_actor, runtime
from app.jobs import PermanentJobError

#: Header carrying ``sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`` under WEBHOOK_SECRET.
SIGNATURE_HEADER = "X-Tenantcron-Signature"

#: Header carrying the signing time (Unix seconds); receivers reject old ones to stop replays.
TIMESTAMP_HEADER = "X-Tenantcron-Timestamp"

#: Header carrying ``<run id>.<attempt>``: the same for a redelivery of one attempt.
DELIVERY_HEADER = "X-Tenantcron-Delivery"

#: Statuses after which another attempt may succeed; any other 4xx is final.
RETRYABLE_4XX = frozenset({408, 409, 425, 429})


class WebhookFailed(Exception):
    """The delivery failed in a way another attempt may fix (5xx, timeout, connection error)."""


class WebhookRejected(PermanentJobError):
    """The receiver refused the delivery with a 4xx that retrying will not change."""


class CircuitOpen(Exception):
    """The target failed too often in a row; it is left alone until its cool-down ends."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def target_of(url: str) -> str:
    """The circuit breaker's unit: scheme, host and port."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{parts.hostname}:{port}"


class CircuitBreaker:
    """Consecutive failed deliveries per target, shared by every worker through Redis.

    Parameters:
      client: Redis client (None: no breaker).
      failures: consecutive failures that open a target's circuit.
      cooldown: seconds an open circuit keeps requests from its target.
    """

    def __init__(self, client: redis.Redis | None, failures: int, cooldown: int):
        self.client = client
        self.failures = failures
        self.cooldown = cooldown

    def _key(self, target: str) -> str:
        return f"tenantcron:circuit:{target}"

    def open_until(self, target: str) -> tuple[float, int] | None:
        """(cool-down end as Unix time, consecutive failures) while the circuit is open, else None."""
        if self.client is None:
            return None
        failures, until = self.client.hmget(self._key(target), "failures", "open_until")
        if until is not None and float(until) > time.time():
            return float(until), int(failures or 0)
        return None

    def succeeded(self, target: str) -> None:
        if self.client is not None:
            self.client.delete(self._key(target))

    def failed(self, target: str) -> None:
        if self.client is None:
            return
        key = self._key(target)
        failures = self.client.hincrby(key, "failures", 1)
        if failures >= self.failures:  # open, or re-open after a failed trial delivery
            self.client.hset(key, "open_until", time.time() + self.cooldown)
        self.client.expire(key, max(self.cooldown * 10, 3600))


@job_actor("webhook")
def webhook(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """POST {tenant_id, schedule_key, fire_time, payload, ...} to ``payload["url"]``."""
    url = payload["url"]
    target = target_of(url)
    breaker = CircuitBreaker(runtime().redis, ctx.settings.circuit_failures, ctx.settings.circuit_cooldown)
    circuit = breaker.open_until(target)
    if circuit is not None:
        until, failures = circuit
        ctx.record(circuit="open", target=target)
        raise CircuitOpen(
            f"circuit open for {target} after {failures} consecutive failed deliveries: no request sent; "
            f"the target is tried again after {datetime.fromtimestamp(until, UTC).isoformat(timespec='seconds')}"
        )
    body = json.dumps(
        {
            "tenant_id": ctx.tenant_id,
            "schedule_id": ctx.schedule_id,
            "schedule_key": ctx.key,
            "fire_time": ctx.fire_time.isoformat(),
            "triggered_by": ctx.triggered_by,
            "run_id": ctx.run_id,
            "attempt": ctx.attempt,
            "payload": payload,
        },
        separators=(",", ":"),
    ).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "tenantcron-webhook/1",
        SIGNATURE_HEADER: sign(ctx.settings.webhook_secret, timestamp, body),
        TIMESTAMP_HEADER: str(timestamp),
        DELIVERY_HEADER: f"{ctx.run_id}.{ctx.attempt}",
    }
    ctx.checkpoint()
    started = time.perf_counter()
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=ctx.settings.webhook_timeout)
    except httpx.HTTPError as exc:
        ctx.record(latency_ms=int((time.perf_counter() - started) * 1000), failure=type(exc).__name__)
        breaker.failed(target)
        raise WebhookFailed(f"{url}: {type(exc).__name__}: {exc}") from None
    latency_ms = int((time.perf_counter() - started) * 1000)
    ctx.record(status_code=response.status_code, latency_ms=latency_ms)
    if response.is_success:
        breaker.succeeded(target)
        return {"status_code": response.status_code, "latency_ms": latency_ms}
    if 400 <= response.status_code < 500 and response.status_code not in RETRYABLE_4XX:
        breaker.succeeded(target)  # the target is up; it refuses this delivery
        raise WebhookRejected(f"{url} answered {response.status_code}: not retried (fix the request or receiver)")
    breaker.failed(target)
    raise WebhookFailed(f"{url} answered {response.status_code}")
