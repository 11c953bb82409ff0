"""Tiers applied over HTTP, and the typed client driving the API (through a WSGI transport)."""

import json

import httpx
import pytest

from api.app import create_app
from app.config import Settings
from app.schedules import ScheduleService
from app.signals import ChangeNotifier
from app.tiers import TierConfigError, TierService, load_tiers
from app.tokens import TokenService
from client import ApiError, TenantCron

DATA = {"integration_id": "store-1"}


@pytest.fixture
def api(db, redis_url, redis_client) -> TenantCron:
    settings = Settings.from_env({"DATABASE_URL": db.url, "REDIS_URL": redis_url})
    app = create_app(settings, engine=db.engine, redis_client=redis_client)
    token = TokenService(db.engine).create("main-app")
    with TenantCron("http://tenantcron.test", token, transport=httpx.WSGITransport(app=app)) as client:
        yield client


def test_applying_tiers_creates_changes_and_removes_only_tier_schedules(api, db, tmp_path) -> None:
    api.upsert_schedule("42", "custom-report", job="noop", cron="0 8 * * MON")
    free = api.apply_tier("42", "free", DATA)
    assert free["created"] == ["sync-orders", "sync-products"] and free["removed"] == []
    schedules = {s["key"]: s for s in api.list_schedules(tenant="42")}
    orders = schedules["sync-orders"]
    assert orders["tier"] == "free" and orders["job"] == "shopify-orders" and orders["cron"] == "0 */6 * * *"
    assert orders["stagger"] is True and 0 <= orders["offset_seconds"] < 6 * 3600
    assert orders["payload"] == {"integration_id": "store-1", "type": "incremental"}

    again = api.apply_tier("42", "free", DATA)
    assert again["created"] == [] and again["updated"] == ["sync-orders", "sync-products"] and again["removed"] == []

    premium = api.apply_tier("42", "premium", DATA)
    assert premium["created"] == ["sync-customers"] and premium["updated"] == ["sync-orders", "sync-products"]
    assert api.get_schedule("42", "sync-orders")["cron"] == "*/15 * * * *"

    fewer = tmp_path / "tiers.json"
    fewer.write_text(
        json.dumps(
            {
                "basic": [
                    {
                        "key": "sync-orders",
                        "job": "shopify-orders",
                        "every": "1h",
                        "payload": {"integration_id": "{integration_id}"},
                    }
                ]
            }
        )
    )
    basic = TierService(ScheduleService(db.engine, ChangeNotifier(None)), load_tiers(fewer)).apply("42", "basic", DATA)
    assert basic["updated"] == ["sync-orders"] and basic["removed"] == ["sync-customers", "sync-products"]
    assert sorted(s["key"] for s in api.list_schedules(tenant="42")) == ["custom-report", "sync-orders"]
    assert [e["action"] for e in api.audit("42")].count("delete") == 2


def test_tier_errors_name_what_is_wrong(api) -> None:
    with pytest.raises(ApiError) as unknown:
        api.apply_tier("42", "platinum", DATA)
    assert unknown.value.status == 400 and unknown.value.details[0]["field"] == "tier"
    with pytest.raises(ApiError) as missing:
        api.apply_tier("42", "premium", {})
    assert [d["field"] for d in missing.value.details] == ["data.integration_id"]


def test_a_bad_tiers_file_is_refused_at_start(tmp_path) -> None:
    bad = tmp_path / "tiers.json"
    bad.write_text(json.dumps({"gold": [{"key": "x", "job": "noop", "cron": "61 * * * *"}]}))
    with pytest.raises(TierConfigError, match="gold.*'x'.*minute"):
        load_tiers(bad)
    bad.write_text(json.dumps({"gold": [{"key": "x", "job": "noop", "every": "1h"}, {"key": "x", "job": "noop"}]}))
    with pytest.raises(TierConfigError, match="distinct keys"):
        load_tiers(bad)


def test_client_lifecycle_round_trip(api) -> None:
    created = api.upsert_schedule("7", "orders", job="noop", every="30m", timezone="UTC")
    assert created["every"] == "30m" and created["state"] == "active"
    assert api.patch_schedule("7", "orders", every="1h")["every"] == "1h"
    assert api.pause("7", "orders", note="card declined")["paused_note"] == "card declined"
    assert api.resume("7", "orders")["paused"] is False
    assert api.trigger("7", "orders")["message_id"].startswith(f"{created['id']}@")
    assert api.pause_tenant("7")["paused"] == 1 and api.resume_tenant("7")["resumed"] == 1
    assert [f["utc"][:16] for f in api.preview(every="1h", count=2)][0].endswith(":00")
    assert api.runs("7", "orders") == []
    assert (
        api.bulk_upsert([{"tenant_id": "7", "key": f"k{i}", "job": "noop", "every": "1h"} for i in range(3)])["created"]
        == 3
    )
    assert len(list(api.list_schedules(tenant="7", page_size=2))) == 4  # pages followed
    assert api.remove_tenant("7") == 4
    with pytest.raises(ApiError) as gone:
        api.get_schedule("7", "orders")
    assert gone.value.status == 404 and "orders" in gone.value.message


def test_client_retries_connection_errors_only() -> None:
    with TenantCron("http://127.0.0.1:1", retries=2, timeout=1) as api, pytest.raises(httpx.ConnectError):
        api.health()


def test_client_enqueues_follows_cancels_and_retries_jobs(api) -> None:
    run = api.enqueue_job("7", "noop", delay="10m", priority="high", max_attempts=2)
    assert run["status"] == "queued" and run["priority"] == "high" and run["max_attempts"] == 2
    assert api.cancel_run(run["id"])["outcome"] == "cancelled"
    assert api.get_run(run["id"])["status"] == "cancelled"
    assert api.retry_run(run["id"])["status"] == "queued"
    assert api.dead_letters(tenant="7") == [] and api.retry_dead_letters(tenant="7") == 0
    with pytest.raises(ApiError) as bad:
        api.enqueue_job("7", "nope")
    assert bad.value.status == 400 and bad.value.details[0]["field"] == "job"
