"""The clock: leader election, APScheduler with the SQLAlchemy job store, change signals, reconcile."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid

import redis
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from app.config import Settings
from app.db import make_engine
from app.dispatch import Dispatcher
from app.processes import CLOCK_HEARTBEAT_KEY, CLOCKS_KEY, publish
from app.schedules import ScheduleService
from app.shutdown import stop_on_signals
from app.signals import CHANNEL, ChangeNotifier
from app.system import SystemSchedules
from scheduler.fire import FanOut, FanOutAborted, FireExecutor
from scheduler.leader import LeaderLock
from scheduler.reconcile import Reconciler

log = logging.getLogger(__name__)

#: Seconds between a standby clock's presence beats.
STANDBY_BEAT_EVERY = 2.0


class Clock:
    """The clock process.

    Parameters:
      settings: the service settings.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.stopping = threading.Event()
        self.engine = make_engine(settings.database_url)
        self.redis = redis.Redis.from_url(settings.require_redis_url(), health_check_interval=30)
        self.lock = LeaderLock(self.redis, settings.leader_ttl)
        self.scheduler: BackgroundScheduler | None = None
        self.id = uuid.uuid4().hex
        self.started_at = time.time()

    def _beat(self, role: str) -> None:
        """Publish this clock's presence (the dashboard and /metrics show leader and standbys)."""
        presence = {"id": self.id, "host": socket.gethostname(), "pid": os.getpid(), "role": role}
        publish(self.redis, CLOCKS_KEY, self.id, {**presence, "started_at": self.started_at})

    def request_stop(self) -> None:
        """Stop (from another thread; the process's signals set ``stopping`` through app.shutdown)."""
        log.info("stop requested", extra={"event": "clock_stopping"})
        self.stopping.set()

    def _abort(self, exc: FanOutAborted) -> None:
        # Leave the job store untouched so the next clock redoes this fire; runs are claimed once.
        log.error(
            "fan-out aborted by shutdown; the next clock re-fires it",
            extra={"event": "fanout_aborted", "trigger_key": exc.args[0]},
        )
        logging.shutdown()
        os._exit(3)

    def _build_scheduler(self) -> BackgroundScheduler:
        fan_out = FanOut(
            self.engine, Dispatcher(self.redis, self.settings.namespace), self.settings.catchup_window, self.stopping
        )
        return BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.engine, tablename="apscheduler_jobs")},
            executors={"default": FireExecutor(fan_out, self._abort)},
            timezone="UTC",
        )

    def _forget(self) -> None:
        try:
            self.redis.hdel(CLOCKS_KEY, self.id)
        except redis.RedisError:
            pass  # the presence goes stale and is dropped later

    def _wait_for_leadership(self) -> bool:
        announced = False
        next_beat = 0.0
        while not self.stopping.is_set():
            try:
                if time.monotonic() >= next_beat:
                    self._beat("standby")
                    next_beat = time.monotonic() + STANDBY_BEAT_EVERY
                if self.lock.acquire():
                    log.info("leader", extra={"event": "clock_leader"})
                    return True
                if not announced:
                    log.info("standby: another clock is leader", extra={"event": "clock_standby"})
                    announced = True
            except redis.RedisError as exc:
                log.warning("redis unreachable", extra={"event": "redis_unreachable", "error": str(exc)})
            self.stopping.wait(1.0)
        return False

    def _sync_system_schedules(self) -> None:
        """Make the system jobs' schedules match the code (before the first reconcile reads them)."""
        try:
            SystemSchedules(ScheduleService(self.engine, ChangeNotifier(None))).sync()
        except Exception:  # the clock must still fire tenant schedules; the next leadership retries it
            log.exception("system schedules not synced", extra={"event": "system_schedules_failed"})

    def run(self) -> int:
        """Run until SIGTERM/SIGINT. Returns the process exit code."""
        if not self._wait_for_leadership():
            self._forget()
            return 0
        self._sync_system_schedules()
        self.scheduler = self._build_scheduler()
        reconciler = Reconciler(self.engine, self.scheduler, self.settings.catchup_window)
        self.scheduler.start(paused=True)
        reconciler.full()
        self.scheduler.resume()
        log.info("clock started", extra={"event": "clock_started", "triggers": len(self.scheduler.get_jobs())})
        code = self._loop(reconciler)
        self.scheduler.shutdown(wait=True)
        try:
            self.lock.release()
        except redis.RedisError:
            pass
        self._forget()
        log.info("clock stopped", extra={"event": "clock_stopped"})
        return code

    def _loop(self, reconciler: Reconciler) -> int:
        pubsub = None
        next_full = time.monotonic() + self.settings.reconcile_interval
        renew_every = max(self.settings.leader_ttl / 3, 0.5)
        next_renew = time.monotonic()  # beat at once: /ready and the dashboard see the new leader
        held_until = time.monotonic() + self.settings.leader_ttl
        while not self.stopping.is_set():
            try:
                if pubsub is None:
                    pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                    pubsub.subscribe(CHANNEL)
                    reconciler.full()  # signals sent while unsubscribed
                message = pubsub.get_message(timeout=0.5)
                if message and message.get("type") == "message":
                    keys = json.loads(message["data"]).get("trigger_keys", [])
                    reconciler.apply(keys)
                now = time.monotonic()
                if now >= next_renew:
                    if not self.lock.renew():
                        log.error("leadership lost", extra={"event": "clock_leadership_lost"})
                        return 1
                    held_until = now + self.settings.leader_ttl
                    next_renew = now + renew_every
                    self.redis.set(
                        CLOCK_HEARTBEAT_KEY,
                        json.dumps({"at": time.time(), "pid": os.getpid(), "id": self.id}),
                        ex=max(self.settings.leader_ttl * 3, 30),
                    )
                    self._beat("leader")
                if now >= next_full:
                    reconciler.full()
                    next_full = now + self.settings.reconcile_interval
            except redis.RedisError as exc:
                log.warning("redis error in clock loop", extra={"event": "redis_unreachable", "error": str(exc)})
                pubsub = None
                if time.monotonic() > held_until:
                    # Another clock may have taken over: stop firing rather than fire twice.
                    log.error(
                        "leadership expired while Redis was unreachable", extra={"event": "clock_leadership_lost"}
                    )
                    return 1
                self.stopping.wait(0.5)
            except Exception:
                log.exception("clock loop error", extra={"event": "clock_loop_error"})
                self.stopping.wait(1.0)
        return 0


def main() -> int:
    from app.logs import configure

    settings = Settings.from_env()
    configure(settings.log_level, "clock")
    clock = Clock(settings)
    clock.stopping = stop_on_signals("clock")
    return clock.run()
