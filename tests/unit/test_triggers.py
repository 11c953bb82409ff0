"""The APScheduler triggers the clock stores: standard cron semantics, pickling, intervals."""

import pickle
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from scheduler.triggers import IntervalTrigger, StandardCronTrigger

NOW = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)  # a Wednesday


def test_first_fire_includes_now_when_now_is_a_fire_second() -> None:
    trigger = StandardCronTrigger("0 12 * * *")
    assert trigger.get_next_fire_time(None, NOW) == NOW
    assert trigger.get_next_fire_time(None, NOW + timedelta(microseconds=1)) == datetime(2026, 1, 8, 12, tzinfo=UTC)


def test_next_fire_after_a_previous_fire() -> None:
    trigger = StandardCronTrigger("*/20 * * * * *")
    assert trigger.get_next_fire_time(NOW, NOW) == NOW + timedelta(seconds=20)


def test_day_of_week_zero_is_sunday_unlike_apschedulers_from_crontab() -> None:
    ours = StandardCronTrigger("0 0 * * 0").get_next_fire_time(None, NOW)
    assert ours == datetime(2026, 1, 11, tzinfo=UTC) and ours.weekday() == 6  # Sunday
    theirs = CronTrigger.from_crontab("0 0 * * 0", timezone="UTC").get_next_fire_time(None, NOW)
    assert theirs.weekday() == 0  # APScheduler reads 0 as Monday: why user patterns never reach it


def test_day_fields_or_when_both_restricted_unlike_apscheduler() -> None:
    # The 13th OR any Friday: next is Friday the 9th (APScheduler would want Friday the 13th).
    ours = StandardCronTrigger("0 0 13 * 5").get_next_fire_time(None, NOW)
    assert ours == datetime(2026, 1, 9, tzinfo=UTC)
    theirs = CronTrigger.from_crontab("0 0 13 * 5", timezone="UTC").get_next_fire_time(None, NOW)
    assert theirs != ours


def test_zone_and_offset() -> None:
    trigger = StandardCronTrigger("0 9 * * *", "Europe/Berlin", offset=90)
    assert trigger.get_next_fire_time(None, NOW) == datetime(2026, 1, 8, 8, 1, 30, tzinfo=UTC)


def test_pickle_round_trip_keeps_behaviour() -> None:
    for trigger in (StandardCronTrigger("30 2 * * *", "America/New_York", offset=60), IntervalTrigger(900, 30)):
        copy = pickle.loads(pickle.dumps(trigger))
        assert str(copy) == str(trigger)
        start = datetime(2026, 3, 7, tzinfo=UTC)
        assert copy.get_next_fire_time(None, start) == trigger.get_next_fire_time(None, start)


def test_interval_trigger_is_epoch_aligned_with_offset() -> None:
    trigger = IntervalTrigger(900, offset=30)
    assert trigger.get_next_fire_time(None, NOW) == NOW + timedelta(seconds=30)
    assert trigger.get_next_fire_time(NOW + timedelta(seconds=30), NOW) == NOW + timedelta(seconds=930)
