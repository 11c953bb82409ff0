"""The schedule API through falcon.testing, on a real database and Redis."""

import json
from datetime import UTC, datetime

import pytest
from falcon import testing

from api.app import create_app
from app.cron import trigger_key
from app.signals import CHANNEL

WEBHOOK = {"job": "webhook", "cron": "0 */6 * * *", "payload": {"url": "https://example.test/hook"}}


@pytest.fixture
def client(settings, db, redis_client) -> testing.TestClient:
    return testing.TestClient(create_app(settings, engine=db.engine, redis_client=redis_client))


def test_put_creates_then_replaces_idempotently(client) -> None:
    created = client.simulate_put("/v1/tenants/42/schedules/products", json=WEBHOOK)
    assert created.status_code == 201
    body = created.json
    assert body["tenant_id"] == "42" and body["key"] == "products" and body["version"] == 1
    assert body["cron"] == "0 */6 * * *" and body["timezone"] == "UTC"
    next_fire = datetime.fromisoformat(body["next_fire_at"])
    assert next_fire > datetime.now(UTC) and next_fire.hour % 6 == 0 and next_fire.minute == 0

    replayed = client.simulate_put("/v1/tenants/42/schedules/products", json=WEBHOOK)
    assert replayed.status_code == 200
    assert replayed.json["id"] == body["id"] and replayed.json["version"] == 2

    changed = client.simulate_put(
        "/v1/tenants/42/schedules/products", json={**WEBHOOK, "cron": "@hourly", "timezone": "Europe/Berlin"}
    )
    assert changed.status_code == 200
    assert changed.json["cron"] == "0 * * * *" and changed.json["timezone"] == "Europe/Berlin"
    assert client.simulate_get("/v1/tenants/42/schedules/products").json["cron"] == "0 * * * *"


def test_put_publishes_a_change_signal(client, redis_client) -> None:
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(CHANNEL)
    pubsub.get_message(timeout=1)
    client.simulate_put("/v1/tenants/7/schedules/orders", json=WEBHOOK)
    message = pubsub.get_message(timeout=2)
    assert message is not None
    keys = json.loads(message["data"])["trigger_keys"]
    assert keys == [trigger_key("0 */6 * * *", "UTC")]


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"cron": "* * * * *"}, "job"),
        ({"job": "webhook", "payload": {"url": "https://x.test"}}, "cron"),
        ({**WEBHOOK, "job": "nope"}, "job"),
        ({**WEBHOOK, "cron": "61 * * * *"}, "cron"),
        ({**WEBHOOK, "cron": "* * * *"}, "cron"),
        ({**WEBHOOK, "timezone": "Mars/Olympus"}, "timezone"),
        ({**WEBHOOK, "payload": {}}, "payload"),
        ({**WEBHOOK, "payload": {"url": "ftp://x"}}, "payload"),
        ({**WEBHOOK, "paused": "yes"}, "paused"),
        ({**WEBHOOK, "colour": "blue"}, "colour"),
    ],
)
def test_bad_input_is_400_naming_the_field(client, doc, field) -> None:
    response = client.simulate_put("/v1/tenants/42/schedules/products", json=doc)
    assert response.status_code == 400
    details = response.json["error"]["details"]
    assert field in [d["field"] for d in details], details
    assert all(d["message"] for d in details)
    assert client.simulate_get("/v1/tenants/42/schedules/products").status_code == 404


def test_malformed_json_and_non_object_bodies_are_4xx(client) -> None:
    assert client.simulate_put("/v1/tenants/42/schedules/p", body="{nope").status_code == 400
    response = client.simulate_put("/v1/tenants/42/schedules/p", json=[1, 2])
    assert response.status_code == 400 and response.json["error"]["details"][-1]["field"] == "body"


def test_bad_tenant_or_key_in_path_is_400(client) -> None:
    response = client.simulate_put("/v1/tenants/-bad/schedules/p", json=WEBHOOK)
    assert response.status_code == 400
    assert [d["field"] for d in response.json["error"]["details"]] == ["tenant_id"]


def test_get_and_delete_unknown_schedule_are_404_json(client) -> None:
    for method in (client.simulate_get, client.simulate_delete):
        response = method("/v1/tenants/42/schedules/missing")
        assert response.status_code == 404
        assert "missing" in response.json["error"]["message"]


def test_delete_removes(client) -> None:
    client.simulate_put("/v1/tenants/42/schedules/p", json=WEBHOOK)
    assert client.simulate_delete("/v1/tenants/42/schedules/p").status_code == 204
    assert client.simulate_get("/v1/tenants/42/schedules/p").status_code == 404


def test_list_filters_and_paginates_with_a_cursor(client) -> None:
    for tenant in ("a", "b"):
        for i in range(5):
            doc = WEBHOOK if i % 2 == 0 else {"job": "noop", "cron": f"{i} * * * *"}
            client.simulate_put(f"/v1/tenants/{tenant}/schedules/s{i}", json=doc)

    seen, cursor = [], None
    while True:
        params = {"tenant": "a", "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = client.simulate_get("/v1/schedules", params=params).json
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [s["key"] for s in seen] == [f"s{i}" for i in range(5)]
    assert {s["tenant_id"] for s in seen} == {"a"}
    assert all(s["next_fire_at"] for s in seen)

    noop = client.simulate_get("/v1/schedules", params={"job": "noop"}).json["items"]
    assert sorted((s["tenant_id"], s["key"]) for s in noop) == [("a", "s1"), ("a", "s3"), ("b", "s1"), ("b", "s3")]

    tenant_b = client.simulate_get("/v1/tenants/b/schedules").json["items"]
    assert len(tenant_b) == 5 and {s["tenant_id"] for s in tenant_b} == {"b"}

    bad = client.simulate_get("/v1/schedules", params={"limit": "0"})
    assert bad.status_code == 400


def test_paused_schedule_has_no_next_fire(client) -> None:
    response = client.simulate_put("/v1/tenants/42/schedules/p", json={**WEBHOOK, "paused": True})
    assert response.json["paused"] is True and response.json["next_fire_at"] is None


def test_interval_schedule_shows_its_next_fire_on_the_epoch_grid(client) -> None:
    body = client.simulate_put("/v1/tenants/9/schedules/i", json={"job": "noop", "every": "90m"}).json
    assert body["every"] == "1h30m" and body["cron"] is None and body["state"] == "active"
    assert int(datetime.fromisoformat(body["next_fire_at"]).timestamp()) % 5400 == 0


def test_window_and_fire_limit_shape_next_fire_and_state(client) -> None:
    start = "2030-01-01T00:00:00+00:00"
    future = client.simulate_put(
        "/v1/tenants/9/schedules/w", json={"job": "noop", "cron": "0 * * * *", "start_at": start}
    ).json
    assert future["next_fire_at"] == start and future["start_at"] == start
    ended = client.simulate_put(
        "/v1/tenants/9/schedules/e", json={"job": "noop", "cron": "0 * * * *", "end_at": "2020-01-01T00:00:00Z"}
    ).json
    assert ended["state"] == "finished" and ended["next_fire_at"] is None
    limited = client.simulate_put(
        "/v1/tenants/9/schedules/l", json={"job": "noop", "cron": "* * * * *", "max_fires": 2}
    )
    assert limited.json["max_fires"] == 2 and limited.json["fire_count"] == 0 and limited.json["state"] == "active"


def test_stagger_gives_each_tenant_its_own_minute(client) -> None:
    doc = {"job": "noop", "cron": "0 */6 * * *", "stagger": True}
    offsets = {client.simulate_put(f"/v1/tenants/{t}/schedules/s", json=doc).json["offset_seconds"] for t in range(40)}
    assert len(offsets) > 30 and all(o % 60 == 0 and o < 6 * 3600 for o in offsets)
    again = client.simulate_put("/v1/tenants/3/schedules/s", json=doc).json
    assert again["offset_seconds"] == client.simulate_get("/v1/tenants/3/schedules/s").json["offset_seconds"]
    fire = datetime.fromisoformat(again["next_fire_at"])
    assert (fire.hour * 3600 + fire.minute * 60) % (6 * 3600) == again["offset_seconds"]


def test_preview_shows_next_fires_across_a_dst_gap(client) -> None:
    response = client.simulate_get(
        "/v1/preview",
        params={"cron": "30 2 * * *", "timezone": "America/New_York", "count": "3", "after": "2026-03-07T00:00:00Z"},
    )
    assert response.status_code == 200
    assert [f["utc"] for f in response.json["fires"]] == [
        "2026-03-07T07:30:00+00:00",  # 02:30 EST
        "2026-03-08T07:00:00+00:00",  # 02:30 does not exist: 03:00 EDT, right after the gap
        "2026-03-09T06:30:00+00:00",  # 02:30 EDT
    ]
    assert response.json["fires"][1]["local"] == "2026-03-08T03:00:00-04:00"


def test_preview_of_an_interval_and_its_errors(client) -> None:
    fires = client.simulate_get("/v1/preview", params={"every": "15m", "count": "2", "after": "2026-01-01T00:07:00Z"})
    assert [f["utc"] for f in fires.json["fires"]] == ["2026-01-01T00:15:00+00:00", "2026-01-01T00:30:00+00:00"]
    bad = client.simulate_get("/v1/preview", params={"cron": "0 0 * * 8", "count": "500", "timezone": "Nowhere"})
    assert bad.status_code == 400
    assert sorted(d["field"] for d in bad.json["error"]["details"]) == ["count", "timezone"]
    bad_dow = client.simulate_get("/v1/preview", params={"cron": "0 0 * * 8"})
    assert bad_dow.json["error"]["details"][0]["field"] == "day-of-week"


def test_nul_characters_are_bad_input_not_a_crash(client) -> None:
    """PostgreSQL text cannot hold NUL: found by the schemathesis fuzzer as a 500."""
    listed = client.simulate_get("/v1/schedules", params={"tenant": "a\x00b"})
    assert listed.status_code in (200, 400)  # SQLite stores NUL; PostgreSQL refuses it: 400, never 500
    if listed.status_code == 400:
        assert "NUL" in listed.json["error"]["message"]
    noted = client.simulate_put("/v1/tenants/42/schedules/p", json={**WEBHOOK, "paused": True, "paused_note": "x\x00"})
    assert noted.status_code in (200, 201, 400)
