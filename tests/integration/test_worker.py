"""Fires enqueued by the clock's dispatcher, executed by a real Dramatiq worker on a real Redis."""

import dataclasses
import hashlib
import hmac
import json
from datetime import UTC, datetime

import dramatiq
import pytest

import actors
from actors import registry
from actors.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER
from app.dispatch import Dispatcher, Fire
from app.jobs import JOBS
from app.runs import RunStore
from app.schedules import ScheduleInput, ScheduleService
from app.signals import ChangeNotifier
from tests.helpers import WebhookReceiver, wait_for

ROUTES = {name: (spec.queue, name) for name, spec in JOBS.items()}
FIRE_TIME = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)


@pytest.fixture
def worker(settings, redis_client):
    # A short lease: a duplicate message that finds its run held looks again when the lease ends.
    registry.configure(dataclasses.replace(settings, run_lease=2))
    broker = actors.broker
    worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=2)
    worker.start()
    yield worker
    worker.stop()


def _fires(db, docs: dict[str, dict]) -> list[Fire]:
    service = ScheduleService(db.engine, ChangeNotifier(None))
    out = []
    for key, doc in docs.items():
        schedule, _ = service.upsert(ScheduleInput.parse("tenant-1", key, doc))
        out.append(Fire(schedule["id"], "tenant-1", key, doc["job"], json.dumps(doc.get("payload", {}))))
    return out


def test_webhook_is_posted_signed_and_recorded_once(db, redis_client, worker) -> None:
    with WebhookReceiver() as receiver:
        fires = _fires(db, {"orders": {"job": "webhook", "cron": "* * * * *", "payload": {"url": receiver.url}}})
        assert Dispatcher(redis_client).enqueue(fires, FIRE_TIME, ROUTES) == 1
        runs = RunStore(db.engine)
        run = wait_for(lambda: (r := runs.get(fires[0].schedule_id, FIRE_TIME)) and r["status"] == "succeeded" and r)

        assert len(receiver.requests) == 1
        request = receiver.requests[0]
        signed = request["headers"][TIMESTAMP_HEADER].encode() + b"." + request["body"]
        expected = "sha256=" + hmac.new(b"test-secret", signed, hashlib.sha256).hexdigest()
        assert request["headers"][SIGNATURE_HEADER] == expected
        assert request["json"]["tenant_id"] == "tenant-1"
        assert request["json"]["schedule_key"] == "orders"
        assert request["json"]["fire_time"] == FIRE_TIME.isoformat()
        assert request["json"]["payload"] == {"url": receiver.url}
        assert run["attempts"] == 1 and run["triggered_by"] == "scheduled"


def test_failed_webhook_is_retried_with_backoff_then_succeeds(db, redis_client, worker) -> None:
    with WebhookReceiver(fail_first=1) as receiver:
        fires = _fires(db, {"orders": {"job": "webhook", "cron": "* * * * *", "payload": {"url": receiver.url}}})
        Dispatcher(redis_client).enqueue(fires, FIRE_TIME, ROUTES)
        runs = RunStore(db.engine)
        run = wait_for(
            lambda: (r := runs.get(fires[0].schedule_id, FIRE_TIME)) and r["status"] == "succeeded" and r,
            timeout=15,
        )
        assert run["attempts"] == 2
        assert len(receiver.requests) == 2
        assert [r["json"]["attempt"] for r in receiver.requests] == [1, 2]


def test_repeated_messages_for_a_fire_run_once(db, redis_client, worker) -> None:
    """A clock that re-fires after a crash, or a redelivered message, does not run the fire again."""
    with WebhookReceiver() as receiver:
        fires = _fires(
            db,
            {
                "a": {"job": "webhook", "cron": "* * * * *", "payload": {"url": receiver.url}},
                "b": {"job": "noop", "cron": "* * * * *"},
            },
        )
        dispatcher = Dispatcher(redis_client)
        for _ in range(3):
            dispatcher.enqueue(fires, FIRE_TIME, ROUTES)
        actors.broker.join("webhooks", timeout=20_000)
        actors.broker.join("default", timeout=20_000)
        worker.join()
        runs = RunStore(db.engine)
        for fire in fires:
            run = runs.get(fire.schedule_id, FIRE_TIME)
            assert run["status"] == "succeeded" and run["attempts"] == 1
        assert len(receiver.requests) == 1


def test_message_for_a_deleted_schedule_is_dropped(db, redis_client, worker) -> None:
    fires = _fires(db, {"gone": {"job": "noop", "cron": "* * * * *"}})
    ScheduleService(db.engine, ChangeNotifier(None)).delete("tenant-1", "gone")
    Dispatcher(redis_client).enqueue(fires, FIRE_TIME, ROUTES)
    actors.broker.join("default", timeout=10_000)
    worker.join()
    assert RunStore(db.engine).get(fires[0].schedule_id, FIRE_TIME) is None


def test_exhausted_retries_fail_the_run_and_dead_letter_the_message(db, redis_client, worker) -> None:
    with WebhookReceiver(fail_first=1000) as receiver:
        fires = _fires(db, {"orders": {"job": "webhook", "cron": "* * * * *", "payload": {"url": receiver.url}}})
        Dispatcher(redis_client).enqueue(fires, FIRE_TIME, ROUTES)
        runs = RunStore(db.engine)
        run = wait_for(
            lambda: (r := runs.get(fires[0].schedule_id, FIRE_TIME)) and r["status"] == "failed" and r,
            timeout=30,
        )
        attempts = JOBS["webhook"].max_attempts
        assert run["attempts"] == attempts and "answered 500" in run["error"]
        assert len(receiver.requests) == attempts
        dead = wait_for(lambda: redis_client.zcard("dramatiq:webhooks.XQ"), what="dead letter")
        assert dead == 1


def test_jittered_fire_runs_after_its_delay_with_its_nominal_fire_time(db, redis_client, worker) -> None:
    from datetime import timedelta

    from app.cron import jitter_delay

    service = ScheduleService(db.engine, ChangeNotifier(None))
    schedule, _ = service.upsert(
        ScheduleInput.parse("tenant-1", "j", {"job": "noop", "cron": "* * * * *", "jitter": 3})
    )
    fire = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    while jitter_delay(schedule["id"], fire, 3) < 2:  # pick a fire time whose delay is 2-3 s
        fire += timedelta(seconds=1)
    delay = jitter_delay(schedule["id"], fire, 3)
    fires = [Fire(schedule["id"], "tenant-1", "j", "noop", "{}", jitter=3)]
    Dispatcher(redis_client).enqueue(fires, fire, ROUTES)
    runs = RunStore(db.engine)
    run = wait_for(lambda: (r := runs.get(schedule["id"], fire)) and r["status"] == "succeeded" and r, timeout=20)
    started = datetime.fromisoformat(run["started_at"])
    assert started >= fire + timedelta(seconds=delay)
    assert run["fire_time"] == fire.isoformat()
