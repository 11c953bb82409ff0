"""The Node service's endpoints: same requests, same JSON shapes, mapped onto tenant schedules."""

from datetime import datetime

import pytest
from falcon import testing

from api.app import create_app
from app.tokens import TokenService

ADD = {"organizationId": 42, "integrationId": "int-7", "queue": "shopify-products", "pattern": "0 */6 * * *"}


@pytest.fixture
def app(settings, db, redis_client):
    return create_app(settings, engine=db.engine, redis_client=redis_client)


@pytest.fixture
def client(app) -> testing.TestClient:
    return testing.TestClient(app)  # local mode: admin


def test_add_creates_the_schedule_the_node_service_named(client) -> None:
    response = client.simulate_post("/api/schedules/add", json=ADD)
    assert response.status_code == 200
    body = response.json
    assert body["success"] is True and "scheduled-products-42" in body["message"]
    item = body["schedule"]
    assert {k: item[k] for k in ("queue", "name", "id", "key", "pattern", "organizationId")} == {
        "queue": "shopify-products",
        "name": "sync-products-42",
        "id": "scheduled-products-42",
        "key": "scheduled-products-42",
        "pattern": "0 */6 * * *",
        "organizationId": "42",
    }
    assert item["type"] == "incremental" and item["environment"] == "production" and item["integrationId"] == "int-7"
    assert isinstance(item["next"], int) and datetime.fromtimestamp(item["next"] / 1000).minute == 0
    native = client.simulate_get("/v1/tenants/42/schedules/scheduled-products-42").json
    assert native["job"] == "shopify-products"
    assert native["payload"] == {"integration_id": "int-7", "type": "incremental", "environment": "production"}
    again = client.simulate_post("/api/schedules/add", json={**ADD, "pattern": "0 * * * *", "type": "full"})
    assert again.json["schedule"]["pattern"] == "0 * * * *" and again.json["schedule"]["type"] == "full"


def test_list_filters_by_organization_and_queue(client) -> None:
    client.simulate_post("/api/schedules/add", json=ADD)
    client.simulate_post("/api/schedules/add", json={**ADD, "queue": "shopify-orders", "pattern": "*/30 * * * *"})
    client.simulate_post("/api/schedules/add", json={**ADD, "organizationId": "7"})
    everything = client.simulate_get("/api/schedules/list").json
    assert everything["success"] is True and everything["count"] == 3 == len(everything["schedules"])
    org = client.simulate_get("/api/schedules/list", params={"organizationId": "42"}).json
    assert sorted(s["id"] for s in org["schedules"]) == ["scheduled-orders-42", "scheduled-products-42"]
    orders = client.simulate_get("/api/schedules/list", params={"queue": "shopify-orders"}).json
    assert [s["name"] for s in orders["schedules"]] == ["sync-orders-42"] and orders["count"] == 1


def test_remove_and_its_404(client) -> None:
    client.simulate_post("/api/schedules/add", json=ADD)
    removed = client.simulate_post("/api/schedules/remove", json={"organizationId": 42, "queue": "shopify-products"})
    assert removed.status_code == 200 and removed.json["success"] is True
    assert removed.json["removed"]["id"] == "scheduled-products-42"
    again = client.simulate_post("/api/schedules/remove", json={"organizationId": 42, "queue": "shopify-products"})
    assert again.status_code == 404 and again.json["success"] is False and again.json["message"]


@pytest.mark.parametrize(
    ("path", "doc", "words"),
    [
        ("/api/schedules/add", {k: v for k, v in ADD.items() if k != "pattern"}, "pattern"),
        ("/api/schedules/add", {k: v for k, v in ADD.items() if k != "organizationId"}, "organizationId"),
        ("/api/schedules/add", {**ADD, "queue": "shopify-refunds"}, "unknown queue"),
        ("/api/schedules/add", {**ADD, "pattern": "99 * * * *"}, "minute"),
        ("/api/schedules/add", {**ADD, "type": "partial"}, "type"),
        ("/api/schedules/add", {**ADD, "environment": "dev"}, "environment"),
        ("/api/schedules/remove", {"organizationId": 42}, "queue"),
        ("/api/schedules/remove", {"organizationId": 42, "queue": "nope"}, "unknown queue"),
    ],
)
def test_bad_requests_are_400_with_success_false(client, path, doc, words) -> None:
    response = client.simulate_post(path, json=doc)
    assert response.status_code == 400
    assert response.json["success"] is False and words in response.json["error"]


def test_unknown_queue_in_list_is_400(client) -> None:
    response = client.simulate_get("/api/schedules/list", params={"queue": "nope"})
    assert response.status_code == 400 and response.json["success"] is False


def test_compat_endpoints_need_a_token_and_respect_tenant_scope(db, redis_url, redis_client) -> None:
    from app.config import Settings

    app = create_app(
        Settings.from_env({"DATABASE_URL": db.url, "REDIS_URL": redis_url}), engine=db.engine, redis_client=redis_client
    )
    assert testing.TestClient(app).simulate_get("/api/schedules/list").status_code == 401
    admin = testing.TestClient(app, headers={"Authorization": f"Bearer {TokenService(db.engine).create('a')}"})
    admin.simulate_post("/api/schedules/add", json=ADD)
    admin.simulate_post("/api/schedules/add", json={**ADD, "organizationId": 7})
    t7 = testing.TestClient(app, headers={"Authorization": f"Bearer {TokenService(db.engine).create('t', '7')}"})
    assert [s["organizationId"] for s in t7.simulate_get("/api/schedules/list").json["schedules"]] == ["7"]
    assert t7.simulate_post("/api/schedules/add", json=ADD).status_code == 404
    assert (
        t7.simulate_post("/api/schedules/remove", json={"organizationId": 42, "queue": "shopify-products"}).status_code
        == 404
    )
