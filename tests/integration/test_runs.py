"""At most one run per (schedule, fire time): the claim is enforced by the runs table's unique key."""

import threading
from datetime import UTC, datetime, timedelta

from app.runs import RunStore
from app.schedules import ScheduleInput, ScheduleService
from app.signals import ChangeNotifier

FIRE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


def _schedule(db) -> int:
    service = ScheduleService(db.engine, ChangeNotifier(None))
    schedule, _ = service.upsert(ScheduleInput.parse("t1", "k1", {"job": "noop", "cron": "* * * * *"}))
    return schedule["id"]


def test_second_claim_of_an_open_run_is_refused(db) -> None:
    runs = RunStore(db.engine)
    sid = _schedule(db)
    first = runs.claim(sid, FIRE, triggered_by="scheduled", message_id="m1", lease=LEASE)
    assert first is not None and first.attempt == 1
    assert runs.claim(sid, FIRE, triggered_by="scheduled", message_id="m1", lease=LEASE) is None
    assert runs.get(sid, FIRE)["status"] == "running"


def test_finished_run_is_never_claimed_again(db) -> None:
    runs = RunStore(db.engine)
    sid = _schedule(db)
    claim = runs.claim(sid, FIRE, triggered_by="scheduled", message_id="m1", lease=LEASE)
    runs.finish(claim, "succeeded")
    assert runs.claim(sid, FIRE, triggered_by="scheduled", message_id="m1", lease=LEASE) is None
    run = runs.get(sid, FIRE)
    assert run["status"] == "succeeded" and run["attempts"] == 1 and run["finished_at"]


def test_retrying_run_is_claimed_by_the_next_attempt(db) -> None:
    runs = RunStore(db.engine)
    sid = _schedule(db)
    claim = runs.claim(sid, FIRE, triggered_by="scheduled", message_id="m1", lease=LEASE)
    runs.finish(claim, "retrying", error="boom")
    again = runs.claim(sid, FIRE, triggered_by="scheduled", message_id="m1", lease=LEASE)
    assert again is not None and again.attempt == 2 and again.run_id == claim.run_id


def test_expired_lease_lets_a_redelivered_message_take_over(db) -> None:
    runs = RunStore(db.engine)
    sid = _schedule(db)
    start = datetime.now(UTC)
    runs.claim(sid, FIRE, triggered_by="scheduled", message_id="m1", lease=LEASE, now=start)
    assert runs.claim(sid, FIRE, triggered_by="scheduled", message_id="m1", lease=LEASE, now=start) is None
    later = start + LEASE + timedelta(seconds=1)
    takeover = runs.claim(sid, FIRE, triggered_by="scheduled", message_id="m1", lease=LEASE, now=later)
    assert takeover is not None and takeover.attempt == 2


def test_concurrent_claims_yield_exactly_one_winner(db) -> None:
    runs = RunStore(db.engine)
    sid = _schedule(db)
    results, barrier = [], threading.Barrier(8)

    def claim() -> None:
        barrier.wait()
        results.append(runs.claim(sid, FIRE, triggered_by="scheduled", message_id="m", lease=LEASE))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(1 for r in results if r is not None) == 1


def test_claim_for_a_deleted_schedule_is_refused(db) -> None:
    runs = RunStore(db.engine)
    sid = _schedule(db)
    ScheduleService(db.engine, ChangeNotifier(None)).delete("t1", "k1")
    assert runs.claim(sid, FIRE, triggered_by="scheduled", message_id="m1", lease=LEASE) is None
