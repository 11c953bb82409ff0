"""At most one run per (schedule, fire time): the claim is enforced by the runs table's unique key."""

import threading
from datetime import UTC, datetime, timedelta

import pytest

from app.runs import Claim, Refusal, RunStore
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
    assert isinstance(first, Claim) and first.attempt == 1
    again = runs.claim(sid, FIRE, triggered_by="scheduled", message_id="m1", lease=LEASE)
    assert isinstance(again, Refusal) and again.reason == "held" and again.run_id == first.run_id
    assert runs.get(sid, FIRE)["status"] == "running"


def test_finished_run_is_never_claimed_again(db) -> None:
    runs = RunStore(db.engine)
    sid = _schedule(db)
    claim = runs.claim(sid, FIRE, triggered_by="scheduled", message_id="m1", lease=LEASE)
    runs.finish(claim, "succeeded")
    refusal = runs.claim(sid, FIRE, triggered_by="scheduled", message_id="m1", lease=LEASE)
    assert isinstance(refusal, Refusal) and refusal.reason == "done"
    run = runs.get(sid, FIRE)
    assert run["status"] == "succeeded" and run["attempts"] == 1 and run["finished_at"]


def test_retrying_run_is_claimed_by_the_next_attempt(db) -> None:
    runs = RunStore(db.engine)
    sid = _schedule(db)
    claim = runs.claim(sid, FIRE, triggered_by="scheduled", message_id="m1", lease=LEASE)
    runs.finish(claim, "retrying", error="boom")
    again = runs.claim(sid, FIRE, triggered_by="scheduled", message_id="m1", lease=LEASE)
    assert isinstance(again, Claim) and again.attempt == 2 and again.run_id == claim.run_id


def test_expired_lease_lets_a_redelivered_message_take_over(db) -> None:
    runs = RunStore(db.engine)
    sid = _schedule(db)
    start = datetime.now(UTC)
    runs.claim(sid, FIRE, triggered_by="scheduled", message_id="m1", lease=LEASE, now=start)
    held = runs.claim(sid, FIRE, triggered_by="scheduled", message_id="m1", lease=LEASE, now=start)
    assert isinstance(held, Refusal) and held.retry_at == start + LEASE
    later = start + LEASE + timedelta(seconds=1)
    takeover = runs.claim(sid, FIRE, triggered_by="scheduled", message_id="m1", lease=LEASE, now=later)
    assert isinstance(takeover, Claim) and takeover.attempt == 2
    (lost,) = runs.get_by_id(takeover.run_id)["attempt_log"]
    assert lost["attempt"] == 1 and lost["status"] == "lost" and "lease expired" in lost["error"]


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
    assert sum(1 for r in results if isinstance(r, Claim)) == 1


def test_claim_for_a_deleted_schedule_is_refused(db) -> None:
    runs = RunStore(db.engine)
    sid = _schedule(db)
    ScheduleService(db.engine, ChangeNotifier(None)).delete("t1", "k1")
    refusal = runs.claim(sid, FIRE, triggered_by="scheduled", message_id="m1", lease=LEASE)
    assert isinstance(refusal, Refusal) and refusal.reason == "gone"


def _with_overlap(db, overlap: str) -> int:
    service = ScheduleService(db.engine, ChangeNotifier(None))
    doc = {"job": "noop", "cron": "* * * * *", "overlap": overlap}
    schedule, _ = service.upsert(ScheduleInput.parse("t1", f"k-{overlap}", doc))
    return schedule["id"]


def _claim(runs: RunStore, sid: int, minute: int, now: datetime | None = None):
    fire = FIRE + timedelta(minutes=minute)
    return runs.claim(sid, fire, triggered_by="scheduled", message_id=f"m{minute}", lease=LEASE, now=now)


def test_skip_records_the_overlapping_fire_as_skipped(db) -> None:
    runs = RunStore(db.engine)
    sid = _with_overlap(db, "skip")
    first = _claim(runs, sid, 0)
    second = _claim(runs, sid, 1)
    assert isinstance(first, Claim) and first.singleton
    assert isinstance(second, Refusal) and second.reason == "skipped"
    skipped = runs.get(sid, FIRE + timedelta(minutes=1))
    assert skipped["status"] == "skipped" and f"run {first.run_id}" in skipped["error"]
    runs.finish(first, "succeeded")
    assert isinstance(_claim(runs, sid, 2), Claim)  # the slot is free again


def test_concurrent_fires_of_a_skip_schedule_run_one_at_a_time(db) -> None:
    """Singleton by construction: racing claims of different fire times, one winner, the rest skipped."""
    runs = RunStore(db.engine)
    sid = _with_overlap(db, "skip")
    results, barrier = [], threading.Barrier(6)

    def claim(minute: int) -> None:
        barrier.wait()
        results.append(_claim(runs, sid, minute))

    threads = [threading.Thread(target=claim, args=(m,)) for m in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(isinstance(r, Claim) for r in results) == 1
    assert sorted(r.reason for r in results if isinstance(r, Refusal)) == ["skipped"] * 5


def test_buffer_one_keeps_one_waiting_run_and_skips_the_rest(db) -> None:
    runs = RunStore(db.engine)
    sid = _with_overlap(db, "buffer_one")
    first = _claim(runs, sid, 0)
    second, third = _claim(runs, sid, 1), _claim(runs, sid, 2)
    assert second.reason == "waiting" and third.reason == "skipped"
    # the buffered run's own message, arriving early, keeps waiting
    assert _claim(runs, sid, 1).reason == "waiting"
    assert runs.finish(first, "succeeded") == second.run_id  # the caller now enqueues it
    resumed = _claim(runs, sid, 1)
    assert isinstance(resumed, Claim) and resumed.run_id == second.run_id


def test_cancel_other_asks_the_running_run_to_stop_and_supersedes_the_waiting_one(db) -> None:
    runs = RunStore(db.engine)
    sid = _with_overlap(db, "cancel_other")
    first = _claim(runs, sid, 0)
    second = _claim(runs, sid, 1)
    assert second.reason == "waiting"
    assert runs.stop_requested([first.run_id]) == {first.run_id}
    third = _claim(runs, sid, 2)
    assert third.reason == "waiting"
    assert runs.get(sid, FIRE + timedelta(minutes=1))["status"] == "cancelled"
    assert runs.finish(first, "cancelled") == third.run_id
    assert runs.get(sid, FIRE)["status"] == "cancelled"


def test_allow_runs_overlapping_fires_concurrently(db) -> None:
    runs = RunStore(db.engine)
    sid = _with_overlap(db, "allow")
    assert all(isinstance(_claim(runs, sid, m), Claim) for m in range(3))


def test_a_vanished_workers_run_frees_the_slot_and_is_recorded_lost(db) -> None:
    runs = RunStore(db.engine)
    sid = _with_overlap(db, "skip")
    start = datetime.now(UTC)
    first = _claim(runs, sid, 0, now=start)
    later = start + LEASE + timedelta(seconds=1)
    second = _claim(runs, sid, 1, now=later)
    assert isinstance(second, Claim)
    abandoned = runs.get_by_id(first.run_id)
    assert abandoned["status"] == "retrying" and abandoned["attempt_log"][0]["status"] == "lost"


def test_cancel_before_start_means_it_never_runs_and_reopen_makes_it_claimable(db) -> None:
    runs = RunStore(db.engine)
    run = runs.create_adhoc("t1", "noop", {}, due=FIRE, priority="normal", max_attempts=None)
    assert runs.cancel(run["id"]) == "cancelled"
    assert runs.claim_run(run["id"], message_id="m", lease=LEASE).reason == "done"
    assert runs.cancel(run["id"]) == "ended"
    assert runs.reopen(run["id"])
    claim = runs.claim_run(run["id"], message_id="m", lease=LEASE)
    assert isinstance(claim, Claim) and claim.attempt == 1
    assert runs.cancel(run["id"]) == "stopping" and runs.stop_requested([run["id"]]) == {run["id"]}


def test_stale_and_stalled_runs_are_found(db) -> None:
    runs = RunStore(db.engine)
    sid = _schedule(db)
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    runs.claim(sid, FIRE, triggered_by="scheduled", message_id="m", lease=LEASE, now=long_ago)
    queued = runs.create_adhoc("t1", "noop", {}, due=long_ago, priority="normal", max_attempts=None)
    (failed,) = runs.fail_abandoned(timedelta(minutes=10))
    assert failed["status"] == "failed" and runs.get(sid, FIRE)["status"] == "failed"
    assert runs.stalled(timedelta(minutes=10), timedelta(days=1)) == [queued["id"]]


def test_retention_deletes_old_ended_runs_and_audit_rows_only(db) -> None:
    runs = RunStore(db.engine)
    sid = _schedule(db)
    old = datetime.now(UTC) - timedelta(days=40)
    ended = runs.claim(sid, FIRE, triggered_by="scheduled", message_id="m", lease=LEASE, now=old)
    runs.finish(ended, "failed", error="boom", now=old)
    still_open = runs.claim(sid, FIRE + timedelta(minutes=1), triggered_by="scheduled", message_id="m", lease=LEASE)
    deleted_runs, deleted_audit = runs.delete_before(datetime.now(UTC) - timedelta(days=30))
    assert deleted_runs == 1 and deleted_audit == 0  # the schedule's audit row is new
    assert runs.get_by_id(ended.run_id) is None and runs.get_by_id(still_open.run_id) is not None


def test_group_claims_and_finishes_agree_with_the_one_by_one_path(db) -> None:
    """The worker's group commit: many fires claimed in one statement, many attempts ended in one
    transaction, with the same outcomes as claim() and finish()."""
    from sqlalchemy.exc import IntegrityError

    from app.runs import ClaimRequest, Finish

    runs = RunStore(db.engine)
    service = ScheduleService(db.engine, ChangeNotifier(None))
    ids = [
        service.upsert(ScheduleInput.parse("t1", f"g{i}", {"job": "noop", "cron": "* * * * *"}))[0]["id"]
        for i in range(4)
    ]
    buffered = _with_overlap(db, "buffer_one")
    existing = runs.claim(ids[3], FIRE, triggered_by="scheduled", message_id="old", lease=LEASE)
    requests = [
        ClaimRequest(ids[0], FIRE, "scheduled", "a"),
        ClaimRequest(ids[1], FIRE, "manual", "b"),
        ClaimRequest(ids[0], FIRE, "scheduled", "a-again"),  # a repeated message in the same batch
        ClaimRequest(ids[3], FIRE, "scheduled", "c"),  # its run exists: the slow path decides
        ClaimRequest(999_999, FIRE, "scheduled", "d"),  # no such schedule
        ClaimRequest(buffered, FIRE, "scheduled", "e"),
    ]
    got = runs.claim_new_many(requests, LEASE)
    assert [type(g).__name__ for g in got] == ["Claim", "Claim", "NoneType", "NoneType", "NoneType", "Claim"]
    assert got[0].schedule_id == ids[0] and got[0].attempt == 1 and got[0].singleton
    assert runs.get(ids[1], FIRE)["triggered_by"] == "manual" and runs.get(ids[1], FIRE)["status"] == "running"
    assert runs.claim(ids[3], FIRE, triggered_by="scheduled", message_id="c", lease=LEASE).reason == "held"
    # The worker's fallback after a batch: starts from the existing run, and still creates a new one
    # (its batch may have failed for another request's sake).
    fallback = {"triggered_by": "scheduled", "message_id": "f", "lease": LEASE, "new_tried": True}
    assert runs.claim(ids[3], FIRE, **fallback).reason == "held"
    assert runs.claim(999_999, FIRE, **fallback).reason == "gone"
    assert isinstance(runs.claim(ids[2], FIRE, **fallback), Claim)
    with pytest.raises(IntegrityError):  # a second running run of a singleton schedule: fall back one by one
        runs.claim_new_many([ClaimRequest(ids[0], FIRE + timedelta(minutes=1), "scheduled", "x")], LEASE)

    later = _claim(runs, buffered, 1)
    assert later.reason == "waiting"
    now = datetime.now(UTC)
    woken = runs.finish_many(
        [
            Finish(got[0], "succeeded", now),
            Finish(got[1], "failed", now, error="boom"),
            Finish(got[5], "succeeded", now),
        ]
    )
    assert woken == [None, None, later.run_id]
    assert runs.get(ids[0], FIRE)["status"] == "succeeded" and runs.get(ids[1], FIRE)["error"] == "boom"
    assert [a["status"] for a in runs.get_by_id(got[1].run_id)["attempt_log"]] == ["failed"]
    assert existing.attempt == 1
