"""Run history: per-attempt records, filters and pagination, and each schedule's last run and counts."""

from datetime import UTC, datetime, timedelta

import pytest
from falcon import testing

from api.app import create_app
from app.runs import RunStore
from app.schedules import ScheduleInput, ScheduleService
from app.signals import ChangeNotifier
from app.tokens import TokenService

LEASE = timedelta(seconds=60)
T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def history(db):
    service = ScheduleService(db.engine, ChangeNotifier(None))
    ids = {}
    for tenant, key in (("42", "orders"), ("42", "products"), ("7", "orders")):
        ids[(tenant, key)] = service.upsert(ScheduleInput.parse(tenant, key, {"job": "noop", "every": "1h"}))[0]["id"]
    runs = RunStore(db.engine)
    # 42/orders: three fires; the second needs a retry, the third fails for good.
    for hour, outcomes in ((0, ["succeeded"]), (1, ["retrying", "succeeded"]), (2, ["retrying", "failed"])):
        fire = T0 + timedelta(hours=hour)
        for outcome in outcomes:
            claim = runs.claim(ids[("42", "orders")], fire, triggered_by="scheduled", message_id="m", lease=LEASE)
            runs.finish(claim, outcome, error=None if outcome == "succeeded" else f"boom at {hour}")
    claim = runs.claim(ids[("7", "orders")], T0, triggered_by="manual", message_id="m", lease=LEASE)
    runs.finish(claim, "succeeded")
    return ids


def test_each_attempt_is_recorded(db, history) -> None:
    runs = RunStore(db.engine)
    items, _ = runs.search(schedule_id=history[("42", "orders")])
    third = runs.get_by_id(items[0]["id"])
    assert third["status"] == "failed" and third["attempts"] == 2
    assert [(a["attempt"], a["status"], a["error"]) for a in third["attempt_log"]] == [
        (1, "failed", "boom at 2"),
        (2, "failed", "boom at 2"),
    ]
    assert all(a["duration_ms"] >= 0 and a["started_at"] <= a["finished_at"] for a in third["attempt_log"])


def test_schedules_show_their_last_run_and_counts(db, history) -> None:
    service = ScheduleService(db.engine, ChangeNotifier(None))
    orders = service.get("42", "orders")
    assert (orders["last_run_status"], orders["succeeded_runs"], orders["failed_runs"]) == ("failed", 2, 1)
    assert orders["last_run_at"] == (T0 + timedelta(hours=2)).isoformat()
    products = service.get("42", "products")
    assert (products["last_run_status"], products["succeeded_runs"], products["failed_runs"]) == (None, 0, 0)
    listed = {s["key"]: s for s in service.list(tenant_id="42")[0]}
    assert listed["orders"]["failed_runs"] == 1


def test_runs_api_filters_paginates_and_scopes(db, redis_client, settings, history) -> None:
    app = create_app(settings, engine=db.engine, redis_client=redis_client)
    admin = testing.TestClient(app)  # local mode
    everything = admin.simulate_get("/v1/runs").json["items"]
    assert len(everything) == 4
    failed = admin.simulate_get("/v1/runs", params={"status": "failed"}).json["items"]
    assert [r["fire_time"] for r in failed] == [(T0 + timedelta(hours=2)).isoformat()]
    window = admin.simulate_get(
        "/v1/runs", params={"tenant": "42", "since": "2026-03-01T00:30:00Z", "until": "2026-03-01T02:00:00Z"}
    ).json["items"]
    assert [r["fire_time"] for r in window] == [(T0 + timedelta(hours=1)).isoformat()]
    by_key = admin.simulate_get("/v1/runs", params={"tenant": "42", "schedule_key": "orders", "limit": "2"}).json
    assert len(by_key["items"]) == 2 and by_key["next_cursor"]
    rest = admin.simulate_get(
        "/v1/runs", params={"tenant": "42", "schedule_key": "orders", "limit": "2", "cursor": by_key["next_cursor"]}
    ).json
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    one = admin.simulate_get(f"/v1/runs/{failed[0]['id']}").json
    assert len(one["attempt_log"]) == 2
    bad = admin.simulate_get("/v1/runs", params={"status": "weird", "since": "yesterday"})
    assert bad.status_code == 400 and {d["field"] for d in bad.json["error"]["details"]} == {"status", "since"}
    assert admin.simulate_get("/v1/runs/999999").status_code == 404

    token = TokenService(db.engine).create("t7", "7")
    t7 = testing.TestClient(app, headers={"Authorization": f"Bearer {token}"})
    mine = t7.simulate_get("/v1/runs").json["items"]
    assert {r["tenant_id"] for r in mine} == {"7"} and len(mine) == 1
    assert t7.simulate_get(f"/v1/runs/{failed[0]['id']}").status_code == 404
    assert t7.simulate_get("/v1/runs", params={"tenant": "42"}).json["items"] == []
