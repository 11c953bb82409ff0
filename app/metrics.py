"""Counters and histograms that the clock and workers publish through Redis for the web's ``/metrics``.

On a PaaS only the web process has a port, so the other processes cannot be scraped. They add to
shared series in one Redis hash instead (HINCRBYFLOAT, atomic across processes); the web process
renders them in Prometheus' text format alongside what it reads live (queue depths, schedules).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping

import redis

log = logging.getLogger(__name__)

#: Redis hash of every published series: field ``name|{"label":"value"}`` -> value.
METRICS_KEY = "tenantcron:metrics"

#: Upper bounds (seconds) of the fire-lateness histogram buckets.
LATENESS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

#: Upper bounds (seconds) of the run-duration histogram buckets.
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


def _field(name: str, labels: Mapping[str, str]) -> str:
    return f"{name}|{json.dumps(dict(labels), sort_keys=True, separators=(',', ':'))}"


def parse_field(field: str) -> tuple[str, dict[str, str]]:
    name, _, labels = field.partition("|")
    return name, json.loads(labels or "{}")


class Metrics:
    """Publishes series to Redis; a Redis failure never breaks the caller (metrics are best effort).

    Parameters:
      client: Redis client, or None to publish nothing.
    """

    def __init__(self, client: redis.Redis | None):
        self.client = client

    def inc(self, name: str, labels: Mapping[str, str] | None = None, amount: float = 1) -> None:
        self._write({_field(name, labels or {}): amount})

    def observe(
        self, name: str, value: float, buckets: tuple[float, ...], labels: Mapping[str, str] | None = None
    ) -> None:
        """Add one observation to a histogram: two fields, whatever the number of buckets.

        Only the bucket the value falls in is counted (``{name}_bucket`` with ``le``) and the sum
        (``{name}_sum``); the reader makes the buckets cumulative and the count, as Prometheus has them.
        """
        labels = dict(labels or {})
        bound = next((repr(b) for b in buckets if value <= b), "+Inf")
        self._write({_field(f"{name}_bucket", {**labels, "le": bound}): 1, _field(f"{name}_sum", labels): value})

    def _write(self, amounts: Mapping[str, float]) -> None:
        """Add to each field, in one pipeline (a Redis failure loses them: metrics are best effort)."""
        self._send(amounts)

    def _send(self, amounts: Mapping[str, float]) -> bool:
        if self.client is None or not amounts:
            return True
        try:
            pipe = self.client.pipeline(transaction=False)
            for field, amount in amounts.items():
                pipe.hincrbyfloat(METRICS_KEY, field, amount)
            pipe.execute()
            return True
        except redis.RedisError as exc:
            log.debug("metrics not published", extra={"event": "metric_failed", "error": str(exc)})
            return False


class BufferedMetrics(Metrics):
    """Metrics added up in the process and written to Redis by ``flush`` (one pipeline for all), for
    hot paths such as a worker's per-run counts; the worker's monitor thread flushes every second.

    Parameters:
      client: Redis client, or None to publish nothing.
    """

    def __init__(self, client: redis.Redis | None):
        super().__init__(client)
        self._pending: dict[str, float] = {}
        self._lock = threading.Lock()

    def _write(self, amounts: Mapping[str, float]) -> None:
        if self.client is None:
            return
        with self._lock:
            for field, amount in amounts.items():
                self._pending[field] = self._pending.get(field, 0.0) + amount

    def flush(self) -> None:
        """Write what was added since the last flush; on a Redis error it is kept for the next one."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not self._send(pending):
            self._write(pending)
