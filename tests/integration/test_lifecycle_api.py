"""The tenant lifecycle over HTTP: auth and isolation, pause/resume, trigger, patch, offboarding, bulk, audit."""

import json

import pytest
from falcon import testing

from api.app import create_app
from app.config import Settings
from app.tokens import TokenService

HOOK = {"job": "webhook", "cron": "0 */6 * * *", "payload": {"url": "https://example.test/hook"}}


@pytest.fixture
def secured(db, redis_url, redis_client) -> Settings:
    return Settings.from_env({"DATABASE_URL": db.url, "REDIS_URL": redis_url})  # LOCAL_MODE off


@pytest.fixture
def app(secured, db, redis_client):
    return create_app(secured, engine=db.engine, redis_client=redis_client)


@pytest.fixture
def admin(app, db) -> testing.TestClient:
    token = TokenService(db.engine).create("main-app")
    return testing.TestClient(app, headers={"Authorization": f"Bearer {token}"})


def tenant_client(app, db, tenant: str) -> testing.TestClient:
    token = TokenService(db.engine).create(f"tenant-{tenant}", tenant)
    return testing.TestClient(app, headers={"Authorization": f"Bearer {token}"})


def test_every_endpoint_but_health_needs_a_valid_token(app, db) -> None:
    anonymous = testing.TestClient(app)
    assert anonymous.simulate_get("/health").status_code == 200
    for path in ("/v1/schedules", "/v1/tenants/1/schedules/a", "/v1/preview?every=5m"):
        response = anonymous.simulate_get(path)
        assert response.status_code == 401 and "Bearer" in response.headers["WWW-Authenticate"]
        assert "python -m app.tokens create" in response.json["error"]["message"]
    wrong = anonymous.simulate_get("/v1/schedules", headers={"Authorization": "Bearer tc_nope"})
    assert wrong.status_code == 401
    tokens = TokenService(db.engine)
    token = tokens.create("soon-revoked")
    assert anonymous.simulate_get("/v1/schedules", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert tokens.revoke("soon-revoked") == 1
    assert anonymous.simulate_get("/v1/schedules", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_tokens_are_stored_hashed(db) -> None:
    token = TokenService(db.engine).create("x")
    with db.engine.connect() as conn:
        stored = [row[0] for row in conn.exec_driver_sql("SELECT token_hash FROM api_tokens")]
    assert token not in stored and len(stored[0]) == 64


def test_local_mode_admits_loopback_only(db, redis_url, redis_client) -> None:
    local = Settings.from_env({"DATABASE_URL": db.url, "REDIS_URL": redis_url, "LOCAL_MODE": "true"})
    client = testing.TestClient(create_app(local, engine=db.engine, redis_client=redis_client))
    assert client.simulate_get("/v1/schedules").status_code == 200
    assert client.simulate_get("/v1/schedules", remote_addr="203.0.113.9").status_code == 401


def test_a_tenant_token_sees_and_changes_only_its_tenant(app, admin, db) -> None:
    admin.simulate_put("/v1/tenants/7/schedules/orders", json=HOOK)
    admin.simulate_put("/v1/tenants/42/schedules/orders", json=HOOK)
    t42 = tenant_client(app, db, "42")
    assert t42.simulate_get("/v1/tenants/42/schedules/orders").status_code == 200
    for method, path in [
        ("GET", "/v1/tenants/7/schedules/orders"),
        ("PUT", "/v1/tenants/7/schedules/orders"),
        ("PATCH", "/v1/tenants/7/schedules/orders"),
        ("DELETE", "/v1/tenants/7/schedules/orders"),
        ("POST", "/v1/tenants/7/schedules/orders/pause"),
        ("POST", "/v1/tenants/7/schedules/orders/trigger"),
        ("GET", "/v1/tenants/7/schedules/orders/runs"),
        ("GET", "/v1/tenants/7/schedules"),
        ("DELETE", "/v1/tenants/7/schedules"),
        ("POST", "/v1/tenants/7/pause"),
        ("GET", "/v1/tenants/7/audit"),
    ]:
        response = t42.simulate_request(method, path, json=HOOK if method in ("PUT", "PATCH") else None)
        assert response.status_code == 404, (method, path, response.status_code)
    # Another tenant's 404 looks exactly like a missing schedule's.
    assert t42.simulate_get("/v1/tenants/7/schedules/nope").json["error"]["title"] == "Not found"
    listed = t42.simulate_get("/v1/schedules").json["items"]
    assert [(s["tenant_id"], s["key"]) for s in listed] == [("42", "orders")]
    assert t42.simulate_get("/v1/schedules", params={"tenant": "7"}).json["items"] == []
    assert admin.simulate_get("/v1/tenants/7/schedules/orders").json["paused"] is False  # untouched


def test_pause_with_note_and_resume(admin, redis_client) -> None:
    admin.simulate_put("/v1/tenants/42/schedules/orders", json=HOOK)
    paused = admin.simulate_post("/v1/tenants/42/schedules/orders/pause", json={"note": "payment failed"})
    assert paused.status_code == 200
    assert paused.json["paused"] is True and paused.json["paused_note"] == "payment failed"
    assert paused.json["state"] == "paused" and paused.json["next_fire_at"] is None
    resumed = admin.simulate_post("/v1/tenants/42/schedules/orders/resume")
    assert resumed.json["paused"] is False and resumed.json["paused_note"] is None and resumed.json["next_fire_at"]
    assert admin.simulate_post("/v1/tenants/42/schedules/missing/pause").status_code == 404
    bad = admin.simulate_post("/v1/tenants/42/schedules/orders/pause", json={"note": 5})
    assert bad.status_code == 400 and bad.json["error"]["details"][0]["field"] == "note"


def test_pause_and_resume_a_whole_tenant(admin) -> None:
    for key in ("products", "orders", "customers"):
        admin.simulate_put(f"/v1/tenants/42/schedules/{key}", json=HOOK)
    admin.simulate_put("/v1/tenants/7/schedules/orders", json=HOOK)
    paused = admin.simulate_post("/v1/tenants/42/pause", json={"note": "card declined"}).json
    assert paused["paused"] == 3 and sorted(paused["keys"]) == ["customers", "orders", "products"]
    states = {
        s["key"]: (s["paused"], s["paused_note"]) for s in admin.simulate_get("/v1/tenants/42/schedules").json["items"]
    }
    assert set(states.values()) == {(True, "card declined")}
    assert admin.simulate_get("/v1/tenants/7/schedules/orders").json["paused"] is False
    assert admin.simulate_post("/v1/tenants/42/resume").json["resumed"] == 3
    assert admin.simulate_post("/v1/tenants/42/resume").json["resumed"] == 0  # idempotent


def test_trigger_now_enqueues_a_manual_fire(admin, redis_client) -> None:
    created = admin.simulate_put("/v1/tenants/42/schedules/orders", json=HOOK).json
    response = admin.simulate_post("/v1/tenants/42/schedules/orders/trigger")
    assert response.status_code == 202
    (message,) = [json.loads(v) for v in redis_client.hvals("dramatiq:webhooks.msgs")]
    assert message["kwargs"]["triggered_by"] == "manual"
    assert message["kwargs"]["schedule_id"] == created["id"]
    assert message["kwargs"]["fire_time"] == response.json["fire_time"]
    assert message["message_id"] == response.json["message_id"]
    assert admin.simulate_post("/v1/tenants/42/schedules/missing/trigger").status_code == 404


def test_patch_changes_only_what_it_names(admin) -> None:
    admin.simulate_put("/v1/tenants/42/schedules/orders", json={**HOOK, "timezone": "Europe/Berlin", "jitter": 30})
    patched = admin.simulate_patch("/v1/tenants/42/schedules/orders", json={"cron": "@hourly"})
    assert patched.status_code == 200
    body = patched.json
    assert body["cron"] == "0 * * * *" and body["timezone"] == "Europe/Berlin" and body["jitter"] == 30
    assert body["payload"] == HOOK["payload"] and body["version"] == 2
    to_interval = admin.simulate_patch("/v1/tenants/42/schedules/orders", json={"every": "30m"}).json
    assert to_interval["every"] == "30m" and to_interval["cron"] is None and to_interval["timezone"] == "Europe/Berlin"
    bad = admin.simulate_patch("/v1/tenants/42/schedules/orders", json={"jitter": -5})
    assert bad.status_code == 400
    assert admin.simulate_get("/v1/tenants/42/schedules/orders").json["jitter"] == 30
    assert admin.simulate_patch("/v1/tenants/42/schedules/missing", json={"every": "5m"}).status_code == 404


def test_offboarding_removes_all_of_a_tenants_schedules(admin) -> None:
    for key in ("products", "orders"):
        admin.simulate_put(f"/v1/tenants/42/schedules/{key}", json=HOOK)
    admin.simulate_put("/v1/tenants/7/schedules/orders", json=HOOK)
    assert admin.simulate_delete("/v1/tenants/42/schedules").json == {"removed": 2}
    assert admin.simulate_get("/v1/tenants/42/schedules").json["items"] == []
    assert admin.simulate_get("/v1/tenants/7/schedules/orders").status_code == 200
    assert admin.simulate_delete("/v1/tenants/42/schedules").json == {"removed": 0}


def test_audit_records_who_what_before_after_when(app, admin, db) -> None:
    admin.simulate_put("/v1/tenants/42/schedules/orders", json=HOOK)
    admin.simulate_patch("/v1/tenants/42/schedules/orders", json={"cron": "@daily"})
    admin.simulate_post("/v1/tenants/42/schedules/orders/pause", json={"note": "why"})
    admin.simulate_delete("/v1/tenants/42/schedules/orders")
    entries = tenant_client(app, db, "42").simulate_get("/v1/tenants/42/audit").json["items"]
    assert [e["action"] for e in entries] == ["create", "replace", "pause", "delete"]
    assert {e["actor"] for e in entries} == {"main-app"}
    assert entries[0]["before"] is None and entries[0]["after"]["cron"] == "0 */6 * * *"
    assert entries[1]["before"]["cron"] == "0 */6 * * *" and entries[1]["after"]["cron"] == "0 0 * * *"
    assert entries[2]["after"]["paused_note"] == "why"
    assert entries[3]["before"]["key"] == "orders" and entries[3]["after"] is None
    assert all(e["at"] for e in entries)


def test_bulk_is_all_or_nothing_with_per_item_errors(app, admin, db) -> None:
    good = [{"tenant_id": str(t), "key": "orders", **HOOK} for t in range(3)]
    bad = [*good, {"tenant_id": "9", "key": "x", "job": "webhook", "cron": "61 * * * *"}, good[0]]
    rejected = admin.simulate_post("/v1/schedules/bulk", json={"items": bad})
    assert rejected.status_code == 400
    assert [(d["index"], d["details"][0]["field"]) for d in rejected.json["error"]["details"]] == [
        (3, "cron"),
        (4, "key"),
    ]
    assert admin.simulate_get("/v1/schedules").json["items"] == []

    accepted = admin.simulate_post("/v1/schedules/bulk", json={"items": good})
    assert accepted.status_code == 200 and accepted.json["created"] == 3 and accepted.json["replaced"] == 0
    again = admin.simulate_post("/v1/schedules/bulk", json={"items": good}).json
    assert again["created"] == 0 and again["replaced"] == 3
    assert len(admin.simulate_get("/v1/schedules").json["items"]) == 3

    t1 = tenant_client(app, db, "1")
    foreign = t1.simulate_post("/v1/schedules/bulk", json={"items": good})
    assert foreign.status_code == 400 and {d["index"] for d in foreign.json["error"]["details"]} == {0, 2}
    assert admin.simulate_post("/v1/schedules/bulk", json={"items": []}).status_code == 400


def test_bulk_accepts_ten_thousand(admin) -> None:
    items = [
        {"tenant_id": f"t{i}", "key": "sync", "job": "noop", "every": "6h", "stagger": True} for i in range(10_000)
    ]
    response = admin.simulate_post("/v1/schedules/bulk", json={"items": items})
    assert response.status_code == 200 and response.json["created"] == 10_000
    too_many = admin.simulate_post("/v1/schedules/bulk", json={"items": items + items[:1]})
    assert too_many.status_code == 400


def test_trigger_without_redis_is_503_not_500(secured, db) -> None:
    app = create_app(Settings.from_env({"DATABASE_URL": db.url}), engine=db.engine)  # no REDIS_URL
    client = testing.TestClient(app, headers={"Authorization": f"Bearer {TokenService(db.engine).create('x')}"})
    client.simulate_put("/v1/tenants/42/schedules/orders", json=HOOK)
    response = client.simulate_post("/v1/tenants/42/schedules/orders/trigger")
    assert response.status_code == 503 and "Retry-After" in response.headers
