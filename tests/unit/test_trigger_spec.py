"""Intervals, stagger and jitter: the parts of a trigger beyond the cron pattern itself."""

from datetime import UTC, datetime, timedelta

import pytest

from app.cron import CronError, TriggerSpec, format_every, jitter_delay, parse_every, trigger_key

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("6h", 21600), ("1d", 86400), ("1h30m", 5400), (" 2H ", 7200)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_every(text) == seconds
    assert parse_every(format_every(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "15", "m15", "1.5h", "0s", "15 m", "367d", "-5m", "5w"])
def test_bad_durations_name_the_every_field(text: str) -> None:
    with pytest.raises(CronError) as info:
        parse_every(text)
    assert info.value.field == "every"


def test_intervals_are_aligned_to_the_epoch() -> None:
    spec = TriggerSpec(None, 900)
    assert spec.next_fires(T0 + timedelta(minutes=7), 3) == [T0 + timedelta(minutes=m) for m in (15, 30, 45)]
    assert spec.next_fire(T0 + timedelta(minutes=15), inclusive=True) == T0 + timedelta(minutes=15)
    assert spec.next_fire(T0 + timedelta(minutes=15)) == T0 + timedelta(minutes=30)
    assert spec.next_fire(T0 + timedelta(minutes=15, microseconds=1), inclusive=True) == T0 + timedelta(minutes=30)
    odd = TriggerSpec(None, 7 * 3600)  # 7 h does not divide a day: still one fixed grid
    fires = odd.next_fires(T0, 5)
    assert {(b - a) for a, b in zip(fires, fires[1:], strict=False)} == {timedelta(hours=7)}
    assert all(int(f.timestamp()) % (7 * 3600) == 0 for f in fires)


def test_offset_shifts_every_fire() -> None:
    plain, shifted = TriggerSpec("0 */6 * * *", None), TriggerSpec("0 */6 * * *", None, offset=17 * 60)
    assert [f + timedelta(minutes=17) for f in plain.next_fires(T0 - timedelta(seconds=1), 4)] == shifted.next_fires(
        T0, 4
    )
    assert shifted.next_fire(T0 + timedelta(minutes=17), inclusive=True) == T0 + timedelta(minutes=17)


def test_stagger_spreads_a_six_hourly_herd_over_360_minutes_deterministically() -> None:
    spec = TriggerSpec("0 */6 * * *", None)
    offsets = [spec.staggered(str(tenant)).offset for tenant in range(20_000)]
    assert len(set(offsets)) == 360
    assert all(o % 60 == 0 and 0 <= o < 6 * 3600 for o in offsets)
    assert spec.staggered("42") == spec.staggered("42")
    assert spec.staggered("42").key != spec.key


def test_stagger_of_second_patterns_and_intervals_uses_seconds() -> None:
    assert {TriggerSpec("*/10 * * * * *", None).staggered(str(t)).offset for t in range(500)} == set(range(10))
    assert {TriggerSpec(None, 90).staggered(str(t)).offset for t in range(2000)} == set(range(90))
    assert {TriggerSpec(None, 3600).staggered(str(t)).offset % 60 for t in range(100)} == {0}


def test_trigger_keys_separate_patterns_zones_offsets_and_intervals() -> None:
    keys = {
        TriggerSpec("0 * * * *", None).key,
        TriggerSpec("0 * * * *", None, "Europe/Berlin").key,
        TriggerSpec("0 * * * *", None, offset=60).key,
        TriggerSpec(None, 3600).key,
        TriggerSpec(None, 3600, offset=60).key,
    }
    assert len(keys) == 5
    assert TriggerSpec("0 * * * *", None).key == trigger_key("0 * * * *", "UTC")


def test_jitter_is_deterministic_bounded_and_spread() -> None:
    fire = datetime(2026, 6, 1, 12, tzinfo=UTC)
    delays = [jitter_delay(sid, fire, 30) for sid in range(3000)]
    assert delays == [jitter_delay(sid, fire, 30) for sid in range(3000)]
    assert set(delays) == set(range(31))
    assert jitter_delay(1, fire, 0) == 0
    assert len({jitter_delay(7, fire + timedelta(hours=h), 30) for h in range(200)}) > 20
