"""``GET /metrics``: Prometheus text format, through the official client library.

Two sources: series the clock and workers publish in Redis (app.metrics: fires, missed fires,
fire lateness, runs by job and outcome, run durations, dead letters seen), and figures read live
at scrape time (schedules by state, queue depths, dead letters, live processes).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import falcon
import redis
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from sqlalchemy import Engine, case, func, or_, select

from api.auth import require_admin
from app.metrics import DURATION_BUCKETS, LATENESS_BUCKETS, METRICS_KEY, parse_field
from app.models import schedules
from app.processes import CLOCKS_KEY, WORKER_STALE_AFTER, WORKERS_KEY, clock_stale_after, read
from app.queues import queue_depths

#: HELP text of the counters the clock and workers publish (by family name).
COUNTERS = {
    "tenantcron_fires": "Trigger fires the clock enqueued",
    "tenantcron_fire_messages": "Messages the clock enqueued for fires",
    "tenantcron_missed_fires": "Schedule fires recorded as missed (later than the catch-up window)",
    "tenantcron_runs": "Run attempts ended, by job and status",
    "tenantcron_dead_letters": "Dead letters reported by the dead-letter watch, by queue and job",
    "tenantcron_runs_abandoned": "Runs failed because their worker vanished",
}

#: HELP text and bucket bounds of the histograms they publish.
HISTOGRAMS = {
    "tenantcron_fire_lateness_seconds": (
        "Seconds between a fire's time and its messages being enqueued",
        LATENESS_BUCKETS,
    ),
    "tenantcron_run_duration_seconds": ("Seconds a run attempt took, by job", DURATION_BUCKETS),
}


class ServiceCollector:
    """Collects every tenantcron series at scrape time.

    Parameters:
      engine: the database engine.
      client: the broker's Redis client (None: only database figures).
      namespace: Dramatiq's key namespace.
      leader_ttl: the clock's LEADER_TTL (how old a clock beat may be).
    """

    def __init__(self, engine: Engine, client: redis.Redis | None, namespace: str, leader_ttl: int):
        self.engine = engine
        self.client = client
        self.namespace = namespace
        self.leader_ttl = leader_ttl

    def collect(self):
        yield self._schedules()
        if self.client is None:
            return
        yield from self._published()
        depth = GaugeMetricFamily(
            "tenantcron_queue_messages", "Messages per queue and state", labels=["queue", "state"]
        )
        dead = GaugeMetricFamily("tenantcron_dead_letter_messages", "Dead letters held per queue", labels=["queue"])
        for row in queue_depths(self.client, self.namespace):
            for state in ("waiting", "delayed", "in_progress"):
                depth.add_metric([row["queue"], state], row[state])
            dead.add_metric([row["queue"]], row["dead"])
        yield depth
        yield dead
        processes = GaugeMetricFamily(
            "tenantcron_processes", "Clock and worker processes by health", labels=["kind", "health"]
        )
        for kind, key, stale in (
            ("clock", CLOCKS_KEY, clock_stale_after(self.leader_ttl)),
            ("worker", WORKERS_KEY, WORKER_STALE_AFTER),
        ):
            found = read(self.client, key, stale)
            processes.add_metric([kind, "healthy"], sum(p["healthy"] for p in found))
            processes.add_metric([kind, "stale"], sum(not p["healthy"] for p in found))
        yield processes

    def _schedules(self) -> GaugeMetricFamily:
        s = schedules.c
        now = datetime.now(UTC)
        state = case(
            (s.paused.is_(True), "paused"),
            (or_(s.max_fires <= s.fire_count, s.end_at < now), "finished"),
            else_="active",
        )
        family = GaugeMetricFamily("tenantcron_schedules", "Schedules by state", labels=["state"])
        with self.engine.connect() as conn:
            counts = dict(conn.execute(select(state, func.count()).group_by(state)).all())
        for name in ("active", "paused", "finished"):
            family.add_metric([name], counts.get(name, 0))
        return family

    def _published(self):
        series: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
        for field, value in self.client.hgetall(METRICS_KEY).items():
            name, labels = parse_field(field.decode())
            series[name].append((labels, float(value)))
        for family, help_text in COUNTERS.items():
            points = series.get(f"{family}_total", []) + series.get(family, [])
            if points:
                names = sorted({k for labels, _ in points for k in labels})
                counter = CounterMetricFamily(family, help_text, labels=names)
                for labels, value in points:
                    counter.add_metric([labels.get(k, "") for k in names], value)
                yield counter
        for family, (help_text, bounds) in HISTOGRAMS.items():
            if series.get(f"{family}_bucket"):
                yield self._histogram(family, help_text, bounds, series)

    @staticmethod
    def _histogram(family: str, help_text: str, bounds: tuple[float, ...], series) -> HistogramMetricFamily:
        """Published per-bucket counts (each observation counted once, in its own bucket) made
        cumulative, as Prometheus' buckets are."""
        counts: dict[tuple, dict[str, float]] = defaultdict(dict)
        for labels, value in series[f"{family}_bucket"]:
            key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
            counts[key][labels["le"]] = value
        sums = {tuple(sorted(labels.items())): value for labels, value in series.get(f"{family}_sum", [])}
        names = sorted({k for key in counts for k, _ in key})
        histogram = HistogramMetricFamily(family, help_text, labels=names)
        for key, per_bucket in counts.items():
            running, buckets = 0.0, []
            for le in [*(repr(b) for b in bounds), "+Inf"]:
                running += per_bucket.get(le, 0.0)
                buckets.append((le, running))
            values = dict(key)
            histogram.add_metric([values.get(k, "") for k in names], buckets, sums.get(key, 0.0))
        return histogram


class MetricsResource:
    """Serves the collector's series to admin tokens (Prometheus: ``authorization: {credentials: <token>}``)."""

    def __init__(self, collector: ServiceCollector):
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        require_admin(req)
        resp.content_type = CONTENT_TYPE_LATEST
        resp.data = generate_latest(self.registry)
