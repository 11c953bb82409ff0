"""Execution guarantees and policies, shown with a real worker process (the Procfile's ``worker``
command), a real Redis and a real database: exactly once under SIGKILL, overlap policies, retries,
time limits, dead letters, ad-hoc jobs, cancellation and progress, the system jobs, and the
webhook's per-attempt records and circuit breaker."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from falcon import testing
from sqlalchemy import select

from api.app import create_app
from app.dispatch import Dispatcher, Fire, schedule_options
from app.jobs import ROUTES
from app.metrics import METRICS_KEY
from app.models import runs, schedules
from app.processes import WORKERS_KEY
from app.runs import RunStore
from app.schedules import ScheduleInput, ScheduleService
from app.signals import ChangeNotifier
from app.system import SYSTEM_TENANT, SystemSchedules
from tests.e2e.processes import Processes, service_env
from tests.helpers import WebhookReceiver, wait_for

pytestmark = pytest.mark.e2e

#: Seconds: short leases and heartbeats so a killed worker's run is taken over within seconds.
FAST = {"RUN_LEASE": "3", "WORKER_HEARTBEAT_TIMEOUT": "3"}


def _start_worker(db, redis_url: str, tmp_path: Path, redis_client, processes: int = 1, **extra: str) -> Processes:
    env = service_env(
        db.url,
        redis_url,
        0,
        WORKER_PROCESSES=str(processes),
        WORKER_THREADS="4",
        WEBHOOK_SECRET="e2e-secret",
        **{**FAST, **extra},
    )
    procs = Processes(env, tmp_path)
    procs.start("worker")
    try:
        wait_for(lambda: redis_client.hlen(WORKERS_KEY) >= processes, timeout=30, what="worker presence in Redis")
    except AssertionError:
        procs.stop_all()
        raise
    return procs


@pytest.fixture
def worker(db, redis_url, redis_client, tmp_path) -> Iterator[Processes]:
    procs = _start_worker(db, redis_url, tmp_path, redis_client)
    yield procs
    results = procs.stop_all()
    assert results["worker"][0] == 0, procs.output("worker")[-3000:]


@pytest.fixture
def api(settings, db, redis_client) -> testing.TestClient:
    return testing.TestClient(create_app(settings, engine=db.engine, redis_client=redis_client))  # local mode


def _schedule(db, key: str, doc: dict, tenant: str = "42") -> dict:
    service = ScheduleService(db.engine, ChangeNotifier(None))
    return service.upsert(ScheduleInput.parse(tenant, key, {"cron": "* * * * *", **doc}))[0]


def _fire(db, redis_client, schedule: dict, when: datetime) -> None:
    """What the clock does at a fire: one message with the schedule's execution options."""
    with db.engine.connect() as conn:
        row = conn.execute(select(schedules).where(schedules.c.id == schedule["id"])).mappings().one()
    fire = Fire(row["id"], row["tenant_id"], row["key"], row["job"], row["payload"], options=schedule_options(row))
    Dispatcher(redis_client).enqueue([fire], when, ROUTES)


def _run(db, schedule: dict, when: datetime, *statuses: str, timeout: float = 20) -> dict:
    store = RunStore(db.engine)
    found = wait_for(
        lambda: (r := store.get(schedule["id"], when)) and r["status"] in statuses and r,
        timeout=timeout,
        what=f"run at {when:%H:%M} in {statuses}",
    )
    return store.get_by_id(found["id"])


def _runs_of(db, schedule: dict) -> list[dict]:
    with db.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(runs).where(runs.c.schedule_id == schedule["id"])).mappings()]


T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


def _at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


# -- exactly once -------------------------------------------------------------------------------


def test_a_sigkilled_workers_message_is_redelivered_and_its_run_ends_once(
    db, redis_url, redis_client, tmp_path
) -> None:
    """Two worker processes (forked, as on a PaaS); the one running the webhook is SIGKILLed mid-request.
    Its sibling keeps beating; the killed one's message is redelivered anyway, its lease expires, and
    the run is taken over: one run, ending succeeded, its first attempt recorded as lost."""
    procs = _start_worker(db, redis_url, tmp_path, redis_client, processes=2)
    try:
        with WebhookReceiver(script=[(200, 60.0)]) as receiver:  # the first delivery hangs
            schedule = _schedule(db, "hook", {"job": "webhook", "payload": {"url": receiver.url}})
            _fire(db, redis_client, schedule, _at(0))
            wait_for(lambda: receiver.requests, timeout=20, what="the first delivery")
            presences = [json.loads(v) for v in redis_client.hvals(WORKERS_KEY)]
            busy = wait_for(
                lambda: [p for p in (json.loads(v) for v in redis_client.hvals(WORKERS_KEY)) if p["in_flight"]],
                timeout=10,
                what="the busy worker process",
            )
            assert len({p["id"] for p in presences}) == 2  # each forked process has its own broker id
            os.kill(busy[0]["pid"], signal.SIGKILL)
            run = _run(db, schedule, _at(0), "succeeded", timeout=40)
            assert run["attempts"] == 2
            assert [a["status"] for a in run["attempt_log"]] == ["lost", "succeeded"]
            assert len(_runs_of(db, schedule)) == 1
            assert [r["json"]["run_id"] for r in receiver.requests] == [run["id"], run["id"]]
            assert [r["json"]["attempt"] for r in receiver.requests] == [1, 2]
    finally:
        results = procs.stop_all()
    assert results["worker"][0] == 0


def test_repeated_messages_and_a_manual_trigger_in_the_same_second_make_one_run(db, redis_client, worker, api) -> None:
    schedule = _schedule(db, "once", {"job": "sleep", "payload": {"seconds": 1}})
    for _ in range(3):
        _fire(db, redis_client, schedule, _at(0))
    run = _run(db, schedule, _at(0), "succeeded")
    assert run["attempts"] == 1 and len(_runs_of(db, schedule)) == 1
    triggered = api.simulate_post("/v1/tenants/42/schedules/once/trigger").json
    when = datetime.fromisoformat(triggered["fire_time"])
    _fire(db, redis_client, schedule, when)  # a scheduled fire racing the manual one
    _run(db, schedule, when, "succeeded", "skipped")
    time.sleep(2)
    assert len([r for r in _runs_of(db, schedule) if r["fire_time"] == when]) == 1


# -- overlap policies ------------------------------------------------------------------------


def test_skip_records_fires_that_come_while_the_previous_run_runs(db, redis_client, worker) -> None:
    schedule = _schedule(db, "s", {"job": "sleep", "payload": {"seconds": 3}})  # overlap: skip (default)
    _fire(db, redis_client, schedule, _at(0))
    _run(db, schedule, _at(0), "running")
    _fire(db, redis_client, schedule, _at(1))
    skipped = _run(db, schedule, _at(1), "skipped")
    first = _run(db, schedule, _at(0), "succeeded")
    assert f"run {first['id']}" in skipped["error"] and "overlap: skip" in skipped["error"]
    assert skipped["attempts"] == 0


def test_buffer_one_runs_one_buffered_fire_after_the_current_one(db, redis_client, worker) -> None:
    schedule = _schedule(db, "b", {"job": "sleep", "payload": {"seconds": 2}, "overlap": "buffer_one"})
    _fire(db, redis_client, schedule, _at(0))
    _run(db, schedule, _at(0), "running")
    _fire(db, redis_client, schedule, _at(1))
    _run(db, schedule, _at(1), "waiting")
    _fire(db, redis_client, schedule, _at(2))
    assert "already waits" in _run(db, schedule, _at(2), "skipped")["error"]
    first = _run(db, schedule, _at(0), "succeeded")
    second = _run(db, schedule, _at(1), "succeeded")
    assert second["started_at"] >= first["finished_at"]


def test_cancel_other_stops_the_running_run_and_runs_the_newer_fire(db, redis_client, worker) -> None:
    schedule = _schedule(db, "c", {"job": "sleep", "payload": {"seconds": 30}, "overlap": "cancel_other"})
    _fire(db, redis_client, schedule, _at(0))
    _run(db, schedule, _at(0), "running")
    _fire(db, redis_client, schedule, _at(1))
    old = _run(db, schedule, _at(0), "cancelled", timeout=10)
    assert "stopped at a checkpoint" in old["error"] and old["attempt_log"][-1]["status"] == "cancelled"
    newer = _run(db, schedule, _at(1), "running", timeout=10)
    assert newer["started_at"] >= old["finished_at"]
    assert RunStore(db.engine).cancel(newer["id"]) == "stopping"  # and the worker stops at once
    _run(db, schedule, _at(1), "cancelled", timeout=10)


def test_allow_runs_overlapping_fires_at_the_same_time(db, redis_client, worker) -> None:
    schedule = _schedule(db, "a", {"job": "sleep", "payload": {"seconds": 2}, "overlap": "allow"})
    _fire(db, redis_client, schedule, _at(0))
    _fire(db, redis_client, schedule, _at(1))
    first, second = _run(db, schedule, _at(0), "succeeded"), _run(db, schedule, _at(1), "succeeded")
    assert second["started_at"] < first["finished_at"]  # they overlapped


# -- retries, time limits, dead letters ----------------------------------------------------------


def test_retries_follow_the_schedule_then_the_dead_letter_is_listed_retried_and_purged(
    db, redis_client, worker, api
) -> None:
    with WebhookReceiver(fail_first=2) as receiver:
        doc = {"job": "webhook", "payload": {"url": receiver.url}, "retry": {"max_attempts": 2, "backoff": 0.2}}
        schedule = _schedule(db, "r", doc)
        _fire(db, redis_client, schedule, _at(0))
        failed = _run(db, schedule, _at(0), "failed")
        assert failed["attempts"] == 2 and "answered 500" in failed["error"]
        assert [(a["status"], a["detail"]["status_code"]) for a in failed["attempt_log"]] == [("failed", 500)] * 2
        assert all(a["detail"]["latency_ms"] >= 0 and a["duration_ms"] >= 0 for a in failed["attempt_log"])

        letters = wait_for(lambda: api.simulate_get("/v1/dead-letters").json["items"], what="the dead letter")
        (letter,) = letters
        assert (letter["tenant_id"], letter["schedule_key"], letter["run_id"]) == ("42", "r", failed["id"])
        assert "answered 500" in letter["error"] and letter["queue"] == "webhooks" and letter["dead_at"]
        assert api.simulate_get("/v1/dead-letters", params={"tenant": "7"}).json["items"] == []

        assert api.simulate_post(f"/v1/dead-letters/{letter['id']}/retry").json == {"retried": 1}
        retried = _run(db, schedule, _at(0), "succeeded")
        assert retried["attempts"] == 3 and len(receiver.requests) == 3
        assert api.simulate_get("/v1/dead-letters").json["total"] == 0

    with WebhookReceiver(status=500) as receiver:
        for minute in (1, 2):
            doc = {"job": "webhook", "payload": {"url": receiver.url}, "retry": {"max_attempts": 1}}
            _fire(db, redis_client, _schedule(db, f"p{minute}", doc), _at(minute))
        wait_for(lambda: api.simulate_get("/v1/dead-letters").json["total"] == 2, what="two dead letters")
        assert api.simulate_delete("/v1/dead-letters").json == {"purged": 2}
        assert api.simulate_get("/v1/dead-letters").json["total"] == 0
        assert api.simulate_get("/v1/runs", params={"status": "failed"}).json["items"]  # the runs stay


def test_a_permanent_error_skips_the_retries_and_is_dead_lettered(db, redis_client, worker, api) -> None:
    with WebhookReceiver(status=404) as receiver:
        schedule = _schedule(db, "gone", {"job": "webhook", "payload": {"url": receiver.url}})
        _fire(db, redis_client, schedule, _at(0))
        run = _run(db, schedule, _at(0), "failed")
        assert run["attempts"] == 1 and "answered 404: not retried" in run["error"]
        time.sleep(2)
        assert len(receiver.requests) == 1
        assert wait_for(lambda: api.simulate_get("/v1/dead-letters").json["total"]) == 1


def test_a_time_limit_interrupts_the_attempt(db, redis_client, worker) -> None:
    schedule = _schedule(db, "slow", {"job": "sleep", "payload": {"seconds": 20}, "time_limit": 1})
    _fire(db, redis_client, schedule, _at(0))
    run = _run(db, schedule, _at(0), "failed", timeout=15)
    assert "TimeLimitExceeded" in run["error"] and run["duration_ms"] < 5000


# -- ad-hoc jobs, cancellation, progress ------------------------------------------------------------


def test_an_ad_hoc_job_runs_reports_progress_and_can_be_stopped(db, worker, api) -> None:
    done = api.simulate_post("/v1/tenants/42/jobs", json={"job": "sleep", "payload": {"seconds": 0.5}})
    assert done.status_code == 202 and done.headers["location"] == f"/v1/runs/{done.json['id']}"
    finished = wait_for(lambda: (r := api.simulate_get(done.headers["location"]).json)["status"] == "succeeded" and r)
    assert finished["progress"] == 100 and finished["result"] == {"slept": 0.5} and finished["triggered_by"] == "api"

    long = api.simulate_post("/v1/tenants/42/jobs", json={"job": "sleep", "payload": {"seconds": 60}}).json
    running = wait_for(
        lambda: (r := api.simulate_get(f"/v1/runs/{long['id']}").json)["progress_message"] and r, what="progress"
    )
    assert running["status"] == "running" and "slept" in running["progress_message"]
    stop = api.simulate_post(f"/v1/runs/{long['id']}/cancel")
    assert stop.status_code == 202 and stop.json["outcome"] == "stopping" and stop.json["stop_requested"]
    stopped = wait_for(
        lambda: (r := api.simulate_get(f"/v1/runs/{long['id']}").json)["status"] == "cancelled" and r, timeout=10
    )
    assert stopped["duration_ms"] < 10_000
    assert api.simulate_post(f"/v1/runs/{long['id']}/cancel").status_code == 409


def test_a_delayed_ad_hoc_job_waits_and_a_cancelled_one_never_runs(db, worker, api) -> None:
    delayed = api.simulate_post("/v1/tenants/42/jobs", json={"job": "noop", "delay": 2}).json
    cancelled = api.simulate_post("/v1/tenants/42/jobs", json={"job": "noop", "delay": "2s"}).json
    assert api.simulate_post(f"/v1/runs/{cancelled['id']}/cancel").json["outcome"] == "cancelled"
    ran = wait_for(lambda: (r := api.simulate_get(f"/v1/runs/{delayed['id']}").json)["status"] == "succeeded" and r)
    assert datetime.fromisoformat(ran["started_at"]) >= datetime.fromisoformat(delayed["fire_time"])
    time.sleep(2)
    never = api.simulate_get(f"/v1/runs/{cancelled['id']}").json
    assert never["status"] == "cancelled" and never["attempts"] == 0 and never["started_at"] is None


def test_a_high_priority_job_jumps_the_queue(db, worker, api) -> None:
    def enqueue(seconds: float, priority: str = "normal") -> int:
        body = {"job": "sleep", "payload": {"seconds": seconds}, "priority": priority}
        return api.simulate_post("/v1/tenants/42/jobs", json=body).json["id"]

    blockers = [enqueue(2) for _ in range(4)]  # every worker thread busy
    wait_for(lambda: all(api.simulate_get(f"/v1/runs/{i}").json["status"] == "running" for i in blockers))
    normal = [enqueue(0.1) for _ in range(12)]
    high = enqueue(0.1, "high")

    def started(run_id: int) -> datetime:
        run = wait_for(lambda: (r := api.simulate_get(f"/v1/runs/{run_id}").json)["status"] == "succeeded" and r)
        return datetime.fromisoformat(run["started_at"])

    high_start = started(high)
    # A few normal ones were already prefetched by the worker; the high one overtakes the rest.
    assert sum(started(i) < high_start for i in normal) <= 8


def test_ad_hoc_input_errors_name_the_field(api) -> None:
    bad = api.simulate_post("/v1/tenants/42/jobs", json={"job": "nope", "delay": -1, "priority": "urgent"})
    assert bad.status_code == 400
    assert {d["field"] for d in bad.json["error"]["details"]} == {"job", "delay", "priority"}


# -- the system's own cron jobs ----------------------------------------------------------------


def test_system_schedules_are_registered_once_and_follow_the_code(db, monkeypatch) -> None:
    from app import jobs

    service = ScheduleService(db.engine, ChangeNotifier(None))
    first = SystemSchedules(service).sync()
    assert set(first["added"]) == {"system-stale-runs", "system-retention", "system-dead-letters"}
    assert SystemSchedules(service).sync() == {"added": [], "changed": [], "removed": []}  # a second clock
    service.pause(SYSTEM_TENANT, "system-retention", note="operator")
    changed = dict(jobs.JOBS)
    changed["system-retention"] = jobs.JobSpec("system-retention", queue="system", cron="0 4 * * *")
    del changed["system-dead-letters"]
    monkeypatch.setattr(jobs, "JOBS", changed)
    monkeypatch.setattr("app.system.JOBS", changed)
    assert SystemSchedules(service).sync() == {
        "added": [],
        "changed": ["system-retention"],
        "removed": ["system-dead-letters"],
    }
    items, _ = service.list(tenant_id=SYSTEM_TENANT)
    retention = next(i for i in items if i["key"] == "system-retention")
    assert len(items) == 2 and retention["cron"] == "0 4 * * *" and retention["paused"]


def test_system_jobs_fail_abandoned_runs_delete_old_ones_and_report_dead_letters(db, redis_client, worker, api) -> None:
    SystemSchedules(ScheduleService(db.engine, ChangeNotifier(None))).sync()
    store = RunStore(db.engine)
    schedule = _schedule(db, "victim", {"job": "noop", "overlap": "allow"})
    long_ago = datetime.now(UTC) - timedelta(days=40)
    store.claim(schedule["id"], _at(0), triggered_by="scheduled", message_id="m", lease=timedelta(1), now=long_ago)
    old = store.claim(
        schedule["id"], _at(1), triggered_by="scheduled", message_id="m", lease=timedelta(1), now=long_ago
    )
    store.finish(old, "succeeded", now=long_ago)

    def trigger(key: str) -> dict:
        fire = api.simulate_post(f"/v1/tenants/{SYSTEM_TENANT}/schedules/{key}/trigger").json
        sid, when = fire["schedule_id"], datetime.fromisoformat(fire["fire_time"])
        return _run(db, {"id": sid}, when, "succeeded")

    assert trigger("system-stale-runs")["result"] == {"failed": 1, "resent": 0}
    abandoned = store.get(schedule["id"], _at(0))
    assert abandoned["status"] == "failed" and "lease expired" in abandoned["error"]
    assert trigger("system-retention")["result"]["runs_deleted"] == 2  # both 40 days old, both ended
    assert store.get(schedule["id"], _at(1)) is None

    with WebhookReceiver(status=500) as receiver:
        doc = {"job": "webhook", "payload": {"url": receiver.url}, "retry": {"max_attempts": 1}}
        hook = _schedule(db, "hook", doc)
        _fire(db, redis_client, hook, _at(2))
        _run(db, hook, _at(2), "failed")
        wait_for(lambda: redis_client.zcard("dramatiq:webhooks.XQ"), what="a dead letter")
    time.sleep(1.1)  # a new second, so the manual trigger is a new run
    assert trigger("system-dead-letters")["result"] == {"new": 1, "total": 1}
    counted = redis_client.hget(METRICS_KEY, 'tenantcron_dead_letters_total|{"job":"webhook","queue":"webhooks"}')
    assert float(counted) == 1
    time.sleep(1.1)
    assert trigger("system-dead-letters")["result"] == {"new": 0, "total": 1}  # reported once
    assert '"event": "dead_letter"' in worker.output("worker")


# -- the webhook's circuit breaker ---------------------------------------------------------------


def test_the_circuit_opens_after_consecutive_failures_and_the_run_says_why(db, redis_client, worker) -> None:
    with WebhookReceiver(status=503) as receiver:
        doc = {"job": "webhook", "payload": {"url": receiver.url}, "retry": {"max_attempts": 1}, "overlap": "allow"}
        schedule = _schedule(db, "flaky", doc)
        for minute in range(5):
            _fire(db, redis_client, schedule, _at(minute))
            _run(db, schedule, _at(minute), "failed")
        _fire(db, redis_client, schedule, _at(5))
        skipped = _run(db, schedule, _at(5), "failed")
        assert "circuit open" in skipped["error"] and "5 consecutive failed deliveries" in skipped["error"]
        assert skipped["attempt_log"][0]["detail"]["circuit"] == "open"
        assert len(receiver.requests) == 5  # no request while open
