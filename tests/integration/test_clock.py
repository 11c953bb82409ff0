"""The clock against a real database and Redis: prompt changes, fan-out, catch-up, outages, leadership."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis
from falcon import testing

from api.app import create_app
from app.config import Settings
from app.cron import trigger_key
from app.dispatch import Dispatcher
from app.models import runs
from app.schedules import ScheduleInput, ScheduleService
from app.signals import ChangeNotifier
from scheduler.clock import Clock
from scheduler.fire import FanOut, FanOutAborted
from tests.helpers import wait_for


def _messages(client: redis.Redis, queue: str = "default") -> list[dict]:
    return [json.loads(v) for v in client.hvals(f"dramatiq:{queue}.msgs")]


def _start_clock(settings: Settings) -> tuple[Clock, threading.Thread]:
    clock = Clock(settings)
    thread = threading.Thread(target=clock.run, daemon=True)
    thread.start()
    return clock, thread


def _stop_clock(clock: Clock, thread: threading.Thread) -> None:
    clock.request_stop()
    thread.join(timeout=15)
    assert not thread.is_alive(), "clock did not stop within 15 s"
    clock.engine.dispose()


def _cron_at(instant: datetime) -> str:
    return f"{instant.second} {instant.minute} {instant.hour} {instant.day} {instant.month} *"


@pytest.fixture
def clock_settings(db, redis_url, redis_client) -> Settings:
    return Settings.from_env(
        {"DATABASE_URL": db.url, "REDIS_URL": redis_url, "RECONCILE_INTERVAL": "600", "LOCAL_MODE": "true"}
    )


def test_schedule_added_while_the_clock_sleeps_fires_on_time(clock_settings, db, redis_client) -> None:
    clock, thread = _start_clock(clock_settings)
    try:
        wait_for(lambda: clock.scheduler is not None and clock.scheduler.running, what="clock start")
        time.sleep(0.5)  # the scheduler has no jobs: it is asleep
        fire_at = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
        api = testing.TestClient(create_app(clock_settings, engine=db.engine, redis_client=redis_client))
        created = api.simulate_put("/v1/tenants/7/schedules/sync", json={"job": "noop", "cron": _cron_at(fire_at)})
        assert created.status_code == 201

        messages = wait_for(lambda: _messages(redis_client), timeout=5, what="the fire's message")
        assert len(messages) == 1
        message = messages[0]
        assert message["kwargs"]["schedule_id"] == created.json["id"]
        assert message["kwargs"]["fire_time"] == fire_at.isoformat()
        assert message["message_id"] == f"{created.json['id']}@{fire_at:%Y%m%dT%H%M%S}"
        lateness_ms = message["message_timestamp"] - fire_at.timestamp() * 1000
        assert 0 <= lateness_ms < 1000, lateness_ms
    finally:
        _stop_clock(clock, thread)


def test_periodic_reconcile_applies_a_change_whose_signal_was_lost(db, redis_url, redis_client) -> None:
    settings = Settings.from_env({"DATABASE_URL": db.url, "REDIS_URL": redis_url, "RECONCILE_INTERVAL": "1"})
    clock, thread = _start_clock(settings)
    try:
        wait_for(lambda: clock.scheduler is not None and clock.scheduler.running, what="clock start")
        silent = ScheduleService(db.engine, ChangeNotifier(None))  # publishes nothing
        silent.upsert(ScheduleInput.parse("t", "every-second", {"job": "noop", "cron": "* * * * * *"}))
        messages = wait_for(lambda: _messages(redis_client), timeout=5, what="a fire after reconcile")
        assert messages[0]["kwargs"]["key"] == "every-second"
    finally:
        _stop_clock(clock, thread)


def test_only_the_leader_fires_and_a_standby_takes_over(clock_settings, db, redis_client) -> None:
    service = ScheduleService(db.engine, ChangeNotifier(redis_client))
    service.upsert(ScheduleInput.parse("t", "tick", {"job": "noop", "cron": "* * * * * *"}))
    first, first_thread = _start_clock(clock_settings)
    wait_for(lambda: first.scheduler is not None and first.scheduler.running, what="leader start")
    second, second_thread = _start_clock(clock_settings)
    try:
        time.sleep(2.5)
        assert second.scheduler is None  # standby
        _stop_clock(first, first_thread)
        wait_for(lambda: second.scheduler is not None and second.scheduler.running, timeout=5, what="takeover")
        time.sleep(2.0)
    finally:
        _stop_clock(second, second_thread)
    fire_times = [m["kwargs"]["fire_time"] for m in _messages(redis_client)]
    assert len(fire_times) >= 3
    assert len(fire_times) == len(set(fire_times)), "a fire time was enqueued twice"


def _fan_out(db, redis_client, stopping=None, dispatcher=None, window: int = 300) -> FanOut:
    return FanOut(db.engine, dispatcher or Dispatcher(redis_client), window, stopping or threading.Event())


def _trigger(db, redis_client) -> tuple[str, int]:
    service = ScheduleService(db.engine, ChangeNotifier(None), clock=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    schedule, _ = service.upsert(ScheduleInput.parse("t", "k", {"job": "noop", "cron": "* * * * *"}))
    return trigger_key("* * * * *", "UTC"), schedule["id"]


def _run_rows(db) -> list[tuple]:
    with db.engine.connect() as conn:
        return conn.execute(runs.select().order_by(runs.c.fire_time)).mappings().all()


def test_fires_within_the_catchup_window_coalesce_into_one_run(db, redis_client) -> None:
    key, sid = _trigger(db, redis_client)
    now = datetime(2026, 6, 1, 12, 0, 30, tzinfo=UTC)
    due = [now - timedelta(minutes=m, seconds=30) for m in (2, 1, 0)]
    _fan_out(db, redis_client).fire(key, due, now=now)

    messages = _messages(redis_client)
    assert [m["kwargs"]["fire_time"] for m in messages] == [due[-1].isoformat()]
    rows = _run_rows(db)
    assert [(r["fire_time"], r["status"]) for r in rows] == [(due[0], "missed"), (due[1], "missed")]
    published = redis_client.hgetall("tenantcron:metrics")
    assert float(published[b"tenantcron_missed_fires_total|{}"]) == 2
    assert float(published[b"tenantcron_fires_total|{}"]) == 1
    assert float(published[b'tenantcron_fire_lateness_seconds_bucket|{"le":"30.0"}']) == 1  # 30 s late
    assert float(published[b"tenantcron_fire_lateness_seconds_sum|{}"]) == 30
    (recent,) = [json.loads(f) for f in redis_client.lrange("tenantcron:clock:recent-fires", 0, -1)]
    assert recent["fire_time"] == due[-1].isoformat() and recent["lateness_ms"] == 30_000 and recent["messages"] == 1


def test_fire_older_than_the_catchup_window_is_recorded_as_missed(db, redis_client) -> None:
    key, sid = _trigger(db, redis_client)
    now = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
    fire = now - timedelta(minutes=10)
    _fan_out(db, redis_client, window=300).fire(key, [fire], now=now)
    assert _messages(redis_client) == []
    rows = _run_rows(db)
    assert [(r["schedule_id"], r["fire_time"], r["status"]) for r in rows] == [(sid, fire, "missed")]
    assert "catch-up window" in rows[0]["error"]


def test_paused_and_not_yet_active_schedules_are_not_fired(db, redis_client) -> None:
    service = ScheduleService(db.engine, ChangeNotifier(None), clock=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    service.upsert(ScheduleInput.parse("t", "on", {"job": "noop", "cron": "* * * * *"}))
    service.upsert(ScheduleInput.parse("t", "off", {"job": "noop", "cron": "* * * * *", "paused": True}))
    late = ScheduleService(db.engine, ChangeNotifier(None), clock=lambda: datetime(2026, 1, 1, 0, 5, tzinfo=UTC))
    late.upsert(ScheduleInput.parse("t", "later", {"job": "noop", "cron": "* * * * *"}))

    fire = datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    _fan_out(db, redis_client).fire(trigger_key("* * * * *", "UTC"), [fire], now=fire)
    assert [m["kwargs"]["key"] for m in _messages(redis_client)] == ["on"]


class FlakyDispatcher(Dispatcher):
    """Fails the first ``failures`` enqueues as if Redis were down."""

    def __init__(self, client: redis.Redis, failures: int):
        super().__init__(client)
        self.failures = failures

    def enqueue(self, *args, **kwargs) -> int:
        if self.failures:
            self.failures -= 1
            raise redis.ConnectionError("Redis is down (simulated)")
        return super().enqueue(*args, **kwargs)


def test_enqueue_failure_is_retried_not_dropped(db, redis_client) -> None:
    key, sid = _trigger(db, redis_client)
    now = datetime.now(UTC).replace(microsecond=0)
    _fan_out(db, redis_client, dispatcher=FlakyDispatcher(redis_client, failures=2)).fire(key, [now], now=now)
    assert [m["kwargs"]["schedule_id"] for m in _messages(redis_client)] == [sid]


def test_stopping_during_an_outage_aborts_without_recording_the_fire(db, redis_client) -> None:
    key, sid = _trigger(db, redis_client)
    stopping = threading.Event()
    stopping.set()
    fan_out = _fan_out(db, redis_client, stopping=stopping, dispatcher=FlakyDispatcher(redis_client, failures=1))
    now = datetime.now(UTC)
    with pytest.raises(FanOutAborted):
        fan_out.fire(key, [now], now=now)
    assert _messages(redis_client) == [] and _run_rows(db) == []


def _upsert(db, key: str, doc: dict, at: datetime = datetime(2026, 1, 1, tzinfo=UTC)) -> dict:
    service = ScheduleService(db.engine, ChangeNotifier(None), clock=lambda: at)
    return service.upsert(ScheduleInput.parse("t", key, {"job": "noop", "cron": "* * * * *", **doc}))[0]


def test_fire_limit_stops_a_schedule_and_a_refire_still_counts_once(db, redis_client) -> None:
    limited = _upsert(db, "limited", {"max_fires": 2})
    _upsert(db, "unlimited", {})
    key = trigger_key("* * * * *", "UTC")
    fan_out = _fan_out(db, redis_client)
    minute = [datetime(2026, 1, 1, 0, m, tzinfo=UTC) for m in range(1, 5)]
    fan_out.fire(key, [minute[0]], now=minute[0])
    fan_out.fire(key, [minute[0]], now=minute[0])  # a re-fire after a crash: counted once, still sent
    fan_out.fire(key, [minute[1]], now=minute[1])
    fan_out.fire(key, [minute[2]], now=minute[2])  # third fire: the limited schedule is finished
    sent = sorted((m["kwargs"]["key"], m["kwargs"]["fire_time"]) for m in _messages(redis_client))
    assert [f for k, f in sent if k == "limited"] == [minute[0].isoformat()] * 2 + [minute[1].isoformat()]
    assert len([f for k, f in sent if k == "unlimited"]) == 4
    shown = ScheduleService(db.engine, ChangeNotifier(None)).get("t", "limited")
    assert shown["fire_count"] == 2 and shown["state"] == "finished" and shown["id"] == limited["id"]


def test_window_bounds_which_fires_happen(db, redis_client) -> None:
    _upsert(db, "windowed", {"start_at": "2026-01-01T00:02:00Z", "end_at": "2026-01-01T00:03:00Z"})
    key = trigger_key("* * * * *", "UTC")
    fan_out = _fan_out(db, redis_client)
    for m in range(1, 5):
        fire = datetime(2026, 1, 1, 0, m, tzinfo=UTC)
        fan_out.fire(key, [fire], now=fire)
    assert sorted(m["kwargs"]["fire_time"] for m in _messages(redis_client)) == [
        "2026-01-01T00:02:00+00:00",
        "2026-01-01T00:03:00+00:00",
    ]


def test_jittered_fires_wait_in_the_delay_queue_until_their_deterministic_eta(db, redis_client) -> None:
    from app.cron import jitter_delay

    schedule = _upsert(db, "jittery", {"jitter": 600})
    fire = datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    _fan_out(db, redis_client).fire(trigger_key("* * * * *", "UTC"), [fire], now=fire)
    delay = jitter_delay(schedule["id"], fire, 600)
    if delay == 0:  # 1 chance in 601 for a given schedule id: then it goes straight to the queue
        assert len(_messages(redis_client)) == 1 and _messages(redis_client, "default.DQ") == []
        return
    assert _messages(redis_client) == []
    (delayed,) = _messages(redis_client, "default.DQ")
    assert delayed["queue_name"] == "default.DQ"
    assert delayed["options"]["eta"] == int(fire.timestamp() * 1000) + delay * 1000
    assert delayed["kwargs"]["fire_time"] == fire.isoformat()  # the run keeps its nominal fire time


def test_reconcile_keeps_one_job_per_live_trigger_and_drops_finished_ones(db, redis_client) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    from scheduler.reconcile import Reconciler

    _upsert(db, "a", {"cron": "0 * * * *"})
    _upsert(db, "b", {"cron": "0 * * * *"})  # same trigger as a
    _upsert(db, "c", {"every": "15m", "cron": None})
    _upsert(db, "done", {"cron": "5 * * * *", "end_at": "2026-01-01T00:01:00Z"})
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start(paused=True)
    try:
        reconciler = Reconciler(db.engine, scheduler, catchup_window=300)
        assert reconciler.full() == (2, 0)
        assert sorted(str(job.trigger) for job in scheduler.get_jobs()) == ["cron[0 * * * * UTC]", "every[900s]"]
        ScheduleService(db.engine, ChangeNotifier(None)).delete("t", "c")
        assert reconciler.full() == (0, 1)
        assert reconciler.full() == (0, 0)
    finally:
        scheduler.shutdown(wait=False)
