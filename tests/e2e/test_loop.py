"""The whole loop with every real part: the Procfile's release, web (gunicorn), worker (dramatiq) and clock
processes, a real Redis, a real database, and a local HTTP server receiving the webhooks."""

from __future__ import annotations

import collections
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from app.config import ROOT
from tests.conftest import BACKENDS
from tests.e2e.processes import Processes, create_token, free_port, http_status, service_env
from tests.helpers import WebhookReceiver, wait_for

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True)
def test_schedule_created_over_http_is_fired_executed_and_recorded_once_per_fire(
    fresh_database_url: str, redis_url: str, redis_client, tmp_path: Path
) -> None:
    port = free_port()
    env = service_env(
        fresh_database_url,
        redis_url,
        port,
        WEB_CONCURRENCY="1",
        WORKER_PROCESSES="2",
        WORKER_THREADS="2",
        WEBHOOK_SECRET="e2e-secret",
    )
    procs = Processes(env, tmp_path)
    procs.run("release")
    token = create_token(env, "e2e")
    http = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10)
    base = f"http://127.0.0.1:{port}"
    with WebhookReceiver() as receiver:
        for name in ("web", "worker", "clock"):
            procs.start(name)
        try:
            wait_for(lambda: http_status(f"{base}/health") == 200, timeout=30, what="web /health")
            doc = {"job": "webhook", "cron": "*/2 * * * * *", "payload": {"url": receiver.url}}
            created = http.put(f"{base}/v1/tenants/42/schedules/ping", json=doc)
            assert created.status_code == 201, created.text
            wait_for(lambda: len(receiver.requests) >= 3, timeout=30, what="three webhook deliveries")
            paused = http.put(f"{base}/v1/tenants/42/schedules/ping", json={**doc, "paused": True})
            assert paused.status_code == 200 and paused.json()["paused"] is True

            def settled() -> list[dict] | None:
                items = http.get(f"{base}/v1/tenants/42/schedules/ping/runs").json()["items"]
                done = items and all(r["status"] == "succeeded" for r in items)
                return items if done and len(items) == len(receiver.requests) else None

            runs = wait_for(settled, timeout=15, what="every run recorded as succeeded")
            time.sleep(2.5)  # a paused schedule fires no more
            assert len(receiver.requests) == len(runs)

            # "Sync now" works on a paused schedule too, and is recorded as a manual run.
            triggered = http.post(f"{base}/v1/tenants/42/schedules/ping/trigger")
            assert triggered.status_code == 202, triggered.text
            manual = wait_for(
                lambda: [r for r in settled() or [] if r["triggered_by"] == "manual"], timeout=15, what="manual run"
            )
            assert [r["fire_time"] for r in manual] == [triggered.json()["fire_time"]]

            # The command line drives the same API: apply a tier, list, pause with a note.
            def cli(*args: str) -> object:
                command = [sys.executable, "-m", "client", "--url", base, "--token", token, *args]
                done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
                assert done.returncode == 0, done.stderr
                return json.loads(done.stdout)

            tier = cli("tenants", "apply-tier", "42", "free", "--data", json.dumps({"integration_id": "store-1"}))
            assert tier["created"] == ["sync-orders", "sync-products"]
            listed = cli("schedules", "list", "--tenant", "42")
            assert sorted(s["key"] for s in listed) == ["ping", "sync-orders", "sync-products"]
            assert cli("schedules", "pause", "42", "sync-orders", "--note", "e2e")["paused_note"] == "e2e"
            job = cli("jobs", "enqueue", "42", "sleep", "--payload", json.dumps({"seconds": 0.2}))
            done = wait_for(lambda: (r := cli("runs", "get", str(job["id"])))["status"] == "succeeded" and r)
            assert done["triggered_by"] == "api" and done["result"] == {"slept": 0.2}
            assert cli("dead-letters", "list", "--tenant", "42") == []
        finally:
            results = procs.stop_all()

    deliveries = collections.Counter(r["json"]["fire_time"] for r in receiver.requests)
    assert max(deliveries.values()) == 1, f"a fire was delivered twice: {deliveries}"
    assert sorted(deliveries) == sorted(r["fire_time"] for r in runs + manual)
    scheduled = [r["json"]["fire_time"] for r in receiver.requests if r["json"]["triggered_by"] == "scheduled"]
    assert all(int(t[17:19]) % 2 == 0 for t in scheduled), "scheduled fires must fall on even seconds"
    assert all(r["attempts"] == 1 and r["triggered_by"] == "scheduled" for r in runs)

    for name, (code, seconds) in results.items():
        assert code == 0, f"{name} exited with {code}:\n{procs.output(name)[-3000:]}"
        assert seconds < 30, f"{name} took {seconds:.1f}s to stop"
    for name in ("web", "worker", "clock"):
        for line in procs.output(name).splitlines():
            json.loads(line)  # every log line of every process is one JSON object
    access = [json.loads(line) for line in procs.output("web").splitlines() if '"http_request"' in line]
    assert access and all(line["request_id"] and line["status"] for line in access)
    done = [json.loads(line) for line in procs.output("worker").splitlines() if '"run_succeeded"' in line]
    assert done and all({"tenant_id", "schedule_id", "run_id", "message_id"} <= line.keys() for line in done)
    fired = [json.loads(line) for line in procs.output("clock").splitlines() if '"trigger_fired"' in line]
    assert fired and all("lateness_ms" in line and line["process"] == "clock" for line in fired)
