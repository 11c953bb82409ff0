"""Health, readiness, metrics and request-id logging, with a real clock, a real worker (in-process
threads here; the processes' own output is checked in tests/e2e), a real Redis and database."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import time
from datetime import UTC, datetime

import dramatiq
import pytest
import redis
from falcon import testing
from prometheus_client.parser import text_string_to_metric_families

import actors
from actors import registry
from api.app import create_app
from app.jobs import JOBS
from app.logs import configure
from app.processes import CLOCK_HEARTBEAT_KEY
from app.schedules import ScheduleInput, ScheduleService
from app.signals import ChangeNotifier
from tests.helpers import wait_for
from tests.integration.test_clock import _start_clock, _stop_clock


@pytest.fixture
def api(settings, db, redis_client) -> testing.TestClient:
    return testing.TestClient(create_app(settings, engine=db.engine, redis_client=redis_client))


@pytest.fixture
def worker(settings, redis_client):
    registry.configure(dataclasses.replace(settings, run_lease=5))
    worker = dramatiq.Worker(actors.broker, worker_timeout=50, worker_threads=2)
    worker.start()
    yield worker
    worker.stop()


def test_liveness_needs_nothing_but_the_process(settings, db) -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    client = testing.TestClient(create_app(settings, engine=db.engine, redis_client=dead))
    assert client.simulate_get("/health").json == {"status": "ok"}
    ready = client.simulate_get("/ready")
    assert ready.status_code == 503
    assert ready.json["checks"]["database"] == {"ok": True} and ready.json["checks"]["redis"]["ok"] is False


def test_ready_needs_a_fresh_clock_and_a_fresh_worker(settings, db, redis_client, api) -> None:
    not_yet = api.simulate_get("/ready")
    assert not_yet.status_code == 503
    checks = not_yet.json["checks"]
    assert checks["database"]["ok"] and checks["redis"]["ok"]
    assert "no clock" in checks["clock"]["error"] and "no worker" in checks["workers"]["error"]

    registry.configure(settings)
    worker = dramatiq.Worker(actors.broker, worker_timeout=50, worker_threads=1)
    worker.start()
    clock, thread = _start_clock(dataclasses.replace(settings, leader_ttl=2))
    try:
        ready = wait_for(lambda: (r := api.simulate_get("/ready")).status_code == 200 and r, timeout=15)
        assert ready.json["checks"]["workers"]["healthy"] == 1 and ready.json["checks"]["clock"]["ok"]
    finally:
        _stop_clock(clock, thread)
        worker.stop()
    redis_client.set(CLOCK_HEARTBEAT_KEY, json.dumps({"at": time.time() - 600, "pid": 1}))
    stale = api.simulate_get("/ready")
    assert stale.status_code == 503 and "stale" in stale.json["checks"]["clock"]["error"]


def _series(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_show_schedules_fires_lateness_runs_durations_and_queues(
    settings, db, redis_client, api, worker
) -> None:
    service = ScheduleService(db.engine, ChangeNotifier(redis_client))
    for key in ("a", "b"):
        service.upsert(ScheduleInput.parse("42", key, {"job": "noop", "cron": "* * * * * *"}))
    service.upsert(ScheduleInput.parse("42", "p", {"job": "noop", "cron": "0 0 1 1 *", "paused": True}))
    clock, thread = _start_clock(settings)
    try:
        wait_for(
            lambda: _series(api.simulate_get("/metrics").text).get(
                ("tenantcron_runs_total", (("job", "noop"), ("status", "succeeded")))
            ),
            timeout=15,
            what="runs counted",
        )
    finally:
        _stop_clock(clock, thread)
    response = api.simulate_get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=")
    series = _series(response.text)
    system = sum(spec.is_system for spec in JOBS.values())  # the clock registered the system jobs too
    assert series[("tenantcron_schedules", (("state", "active"),))] == 2 + system
    assert series[("tenantcron_schedules", (("state", "paused"),))] == 1
    assert series[("tenantcron_fires_total", ())] >= 1
    assert series[("tenantcron_fire_messages_total", ())] >= 2
    assert series[("tenantcron_fire_lateness_seconds_count", ())] >= 1
    assert series[("tenantcron_fire_lateness_seconds_bucket", (("le", "+Inf"),))] >= 1
    assert series[("tenantcron_run_duration_seconds_count", (("job", "noop"),))] >= 2
    assert series[("tenantcron_queue_messages", (("queue", "default"), ("state", "waiting")))] >= 0
    assert ("tenantcron_dead_letter_messages", (("queue", "webhooks"),)) in series
    assert series[("tenantcron_processes", (("health", "healthy"), ("kind", "worker")))] == 1


def test_metrics_are_for_admins(settings, db, redis_client) -> None:
    from app.tokens import TokenService

    client = testing.TestClient(
        create_app(dataclasses.replace(settings, local_mode=False), engine=db.engine, redis_client=redis_client)
    )
    assert client.simulate_get("/metrics").status_code == 401
    tenant = TokenService(db.engine).create("t", tenant_id="42")
    assert client.simulate_get("/metrics", headers={"Authorization": f"Bearer {tenant}"}).status_code == 403


def test_every_api_log_line_carries_the_request_id_which_the_response_returns(settings, db) -> None:
    stream = io.StringIO()
    configure("INFO", "web")
    root = logging.getLogger()
    root.handlers[0].stream = stream
    try:
        dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
        client = testing.TestClient(create_app(settings, engine=db.engine, redis_client=dead))
        client.simulate_put("/v1/tenants/42/schedules/k", json={"job": "noop", "cron": "* * * * *"})
        given = client.simulate_post("/v1/tenants/42/schedules/k/trigger", headers={"X-Request-ID": "req-abc.1"})
        made = client.simulate_get("/v1/tenants/42/schedules/k")
    finally:
        configure("INFO", "test")
    assert given.status_code == 503 and given.headers["x-request-id"] == "req-abc.1"
    assert len(made.headers["x-request-id"]) == 32
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    for_given = [line for line in lines if line.get("request_id") == "req-abc.1"]
    assert {line.get("event") for line in for_given} == {"http_503", "http_request"}  # the warning and the access line
    access = next(line for line in for_given if line["event"] == "http_request")
    assert access["status"] == 503 and access["tenant_id"] == "42" and access["schedule_key"] == "k"
    assert access["process"] == "web" and access["method"] == "POST"
    assert all("request_id" in line for line in lines if line.get("logger", "").startswith("api"))
    assert datetime.fromisoformat(lines[0]["ts"]).tzinfo == UTC or lines[0]["ts"].endswith("+0000")
