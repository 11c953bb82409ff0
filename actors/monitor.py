"""The worker-side watch over running runs: leases, stop requests, heartbeats, redelivery.

One thread per worker process, started and stopped with Dramatiq's worker. Every second it relays
stop requests (cancel, or a newer fire superseding the run) to the jobs they concern; every third
of a lease it extends the leases of the runs this process is running, so a long job keeps its run
while a vanished worker's run is taken over soon after its lease ends. It also beats Dramatiq's
heartbeat, runs the broker's redelivery of gone workers' messages, and publishes this worker's
presence for health checks and the dashboard.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from dramatiq.middleware import Middleware

from app.metrics import BufferedMetrics
from app.processes import WORKERS_KEY, publish
from app.runs import RunStore

if TYPE_CHECKING:
    from actors.broker import ServiceBroker
    from actors.registry import JobContext

log = logging.getLogger(__name__)

#: Seconds between the monitor's rounds (stop requests are relayed this promptly).
INTERVAL = 1.0

#: Seconds between heartbeats and presence updates.
BEAT_EVERY = 2.0


class RunMonitor(Middleware):
    """Dramatiq middleware owning the monitor thread of a worker process.

    Parameters:
      runs: the run store.
      lease: how long a claim lasts without renewal.
      maintenance_every: seconds between redelivery passes over the broker's queues.
    """

    def __init__(self, runs: RunStore, lease: timedelta, maintenance_every: float):
        self.runs = runs
        self.lease = lease
        self.maintenance_every = maintenance_every
        self._running: dict[int, JobContext] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._worker_threads = 0
        self._started = time.time()
        self.metrics: BufferedMetrics | None = None

    def track(self, ctx: JobContext) -> None:
        with self._lock:
            self._running[ctx.run_id] = ctx

    def untrack(self, ctx: JobContext) -> None:
        with self._lock:
            self._running.pop(ctx.run_id, None)

    def after_worker_boot(self, broker: ServiceBroker, worker) -> None:
        self._worker_threads = getattr(worker, "worker_threads", 0)
        try:  # be seen at once, not a beat later
            broker.heartbeat()
            self._publish(broker, 0)
        except Exception as exc:
            log.warning("run monitor: redis unreachable", extra={"event": "monitor_redis", "error": str(exc)})
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, args=(broker,), name="run-monitor", daemon=True)
        self._thread.start()

    def after_worker_shutdown(self, broker: ServiceBroker, worker) -> None:
        # After, not before: Dramatiq's worker threads finish their runs during shutdown, and their
        # leases must keep being renewed (and stop requests relayed) meanwhile.
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.metrics is not None:
            self.metrics.flush()
        try:
            broker.client.hdel(WORKERS_KEY, broker.broker_id)
        except Exception:  # Redis gone at shutdown: the entry goes stale and is ignored
            pass

    def _loop(self, broker: ServiceBroker) -> None:
        next_renew = next_beat = next_maintenance = 0.0
        while not self._stop.wait(INTERVAL):
            now = time.monotonic()
            with self._lock:
                running = dict(self._running)
            if running:
                try:
                    for run_id in self.runs.stop_requested(list(running)):
                        running[run_id].request_stop()
                    if now >= next_renew:
                        self.runs.renew_leases(list(running), self.lease)
                        next_renew = now + self.lease.total_seconds() / 3
                except Exception as exc:
                    log.warning("run monitor: database unreachable", extra={"event": "monitor_db", "error": str(exc)})
            try:
                if self.metrics is not None:
                    self.metrics.flush()
                if now >= next_beat:
                    broker.heartbeat()
                    self._publish(broker, len(running))
                    next_beat = now + BEAT_EVERY
                if now >= next_maintenance:
                    broker.maintain()
                    next_maintenance = now + self.maintenance_every
            except Exception as exc:
                log.warning("run monitor: redis unreachable", extra={"event": "monitor_redis", "error": str(exc)})

    def _publish(self, broker: ServiceBroker, in_flight: int) -> None:
        presence = {
            "id": broker.broker_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "queues": sorted(broker.get_declared_queues()),
            "threads": self._worker_threads,
            "in_flight": in_flight,
            "started_at": self._started,
        }
        publish(broker.client, WORKERS_KEY, broker.broker_id, presence)
