"""The running clock (not only the trigger arithmetic) across DST changes, with time moved by time-machine."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
import time_machine

from app.config import Settings
from app.schedules import ScheduleInput, ScheduleService
from app.signals import ChangeNotifier
from tests.helpers import wait_for
from tests.integration.test_clock import _start_clock, _stop_clock


def _fire_times(redis_client) -> list[str]:
    return sorted(json.loads(v)["kwargs"]["fire_time"] for v in redis_client.hvals("dramatiq:default.msgs"))


@pytest.fixture
def settings_(db, redis_url, redis_client) -> Settings:
    return Settings.from_env({"DATABASE_URL": db.url, "REDIS_URL": redis_url, "RECONCILE_INTERVAL": "600"})


def test_spring_forward_gap_fires_once_right_after_the_gap(settings_, db, redis_client) -> None:
    # 2026-03-08, New York: 02:00 EST jumps to 03:00 EDT, so 02:30 does not exist that day.
    with time_machine.travel(datetime(2026, 3, 8, 6, 59, 57, tzinfo=UTC), tick=True):
        service = ScheduleService(db.engine, ChangeNotifier(redis_client))
        item = ScheduleInput.parse(
            "ny", "nightly", {"job": "noop", "cron": "30 2 * * *", "timezone": "America/New_York"}
        )
        service.upsert(item)
        clock, thread = _start_clock(settings_)
        try:
            fired = wait_for(lambda: _fire_times(redis_client), timeout=8, what="the 02:30 fire after the gap")
            assert fired == ["2026-03-08T07:00:00+00:00"]  # 03:00 EDT, the first instant after the gap
            job = clock.scheduler.get_job(item.trigger.key)
            assert job.next_run_time.astimezone(UTC) == datetime(2026, 3, 9, 6, 30, tzinfo=UTC)  # 02:30 EDT
        finally:
            _stop_clock(clock, thread)


def test_fall_back_repeated_hour_fires_once(settings_, db, redis_client) -> None:
    # 2026-11-01, New York: 01:00-02:00 happens twice (EDT, then EST); 01:30 must fire once.
    with time_machine.travel(datetime(2026, 11, 1, 5, 29, 57, tzinfo=UTC), tick=True):
        service = ScheduleService(db.engine, ChangeNotifier(redis_client))
        item = ScheduleInput.parse(
            "ny", "nightly", {"job": "noop", "cron": "30 1 * * *", "timezone": "America/New_York"}
        )
        service.upsert(item)
        clock, thread = _start_clock(settings_)
        try:
            fired = wait_for(lambda: _fire_times(redis_client), timeout=8, what="the first 01:30")
            assert fired == ["2026-11-01T05:30:00+00:00"]  # 01:30 EDT
            job = clock.scheduler.get_job(item.trigger.key)
            # Not 06:30Z (01:30 EST, the repeat) but the next day's 01:30 EST.
            assert job.next_run_time.astimezone(UTC) == datetime(2026, 11, 2, 6, 30, tzinfo=UTC)
        finally:
            _stop_clock(clock, thread)


def test_wildcard_hour_pattern_keeps_its_real_interval_through_the_change(settings_, db, redis_client) -> None:
    # Every 15 minutes keeps firing every 15 real minutes through the fall-back repeat (both 01:45s).
    with time_machine.travel(datetime(2026, 11, 1, 5, 44, 58, tzinfo=UTC), tick=True) as traveller:
        service = ScheduleService(db.engine, ChangeNotifier(redis_client))
        service.upsert(
            ScheduleInput.parse(
                "ny", "quarter", {"job": "noop", "cron": "*/15 * * * *", "timezone": "America/New_York"}
            )
        )
        clock, thread = _start_clock(settings_)
        try:
            wait_for(lambda: _fire_times(redis_client), timeout=8, what="01:45 EDT")
            for expected in ("2026-11-01T06:00:00+00:00", "2026-11-01T06:45:00+00:00"):
                traveller.move_to(datetime.fromisoformat(expected).timestamp() - 2)
                clock.scheduler.wakeup()
                wait_for(lambda e=expected: e in _fire_times(redis_client), timeout=8, what=expected)
            time.sleep(0.5)
        finally:
            _stop_clock(clock, thread)
    fires = _fire_times(redis_client)
    assert fires[0] == "2026-11-01T05:45:00+00:00"  # 01:45 EDT
    assert "2026-11-01T06:00:00+00:00" in fires  # 01:00 EST (the repeated hour begins)
    assert "2026-11-01T06:45:00+00:00" in fires  # 01:45 EST, the second 01:45 wall time
    # Moving time forward skipped some quarters: they were fired late (coalesced), never twice.
    assert len(fires) == len(set(fires))
