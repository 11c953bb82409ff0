"""Shopify: integrations over the API, and the sync jobs against a local fake Shopify."""

import json
from datetime import UTC, datetime

import dramatiq
import httpx
import pytest
from cryptography.fernet import Fernet
from falcon import testing
from sqlalchemy import select

import actors
from actors import registry
from actors.shopify import sync
from actors.shopify.graphql import InvalidShopifyToken, ShopifyGraphQL
from actors.shopify.store import RecordStore
from api.app import create_app
from app.config import Settings
from app.dispatch import Dispatcher, Fire
from app.integrations import IntegrationService, ShopifyCredentials
from app.jobs import JOBS
from app.models import shopify_integrations, shopify_records
from app.runs import RunStore
from app.schedules import ScheduleInput, ScheduleService
from app.signals import ChangeNotifier
from tests.fake_shopify import FakeShopify, make_nodes
from tests.helpers import wait_for

KEY = Fernet.generate_key().decode()
SHOP, TOKEN = "acme.myshopify.com", "shpat_0123456789abcdef"
CREDS = ShopifyCredentials("42", "store-1", SHOP, TOKEN)
ROUTES = {name: (spec.queue, name) for name, spec in JOBS.items()}


@pytest.fixture
def shopify():
    with FakeShopify() as fake:
        yield fake


@pytest.fixture
def shop_settings(db, redis_url, shopify) -> Settings:
    return Settings.from_env(
        {
            "DATABASE_URL": db.url,
            "REDIS_URL": redis_url,
            "INTEGRATIONS_KEY": KEY,
            "SHOPIFY_API_URL": shopify.api_url,
            "LOCAL_MODE": "true",
        }
    )


def graphql(shopify, sleeps: list[float], token: str = TOKEN) -> ShopifyGraphQL:
    return ShopifyGraphQL(shopify.api_url.format(shop=SHOP), token, httpx.Client(timeout=5), sleep=sleeps.append)


# Integrations over the API


def test_integration_token_is_encrypted_and_never_returned(shop_settings, db, redis_client) -> None:
    api = testing.TestClient(create_app(shop_settings, engine=db.engine, redis_client=redis_client))
    path = "/v1/tenants/42/integrations/shopify/store-1"
    created = api.simulate_put(path, json={"shop_domain": SHOP, "access_token": TOKEN})
    assert created.status_code == 201 and TOKEN not in created.text
    assert created.json == {**created.json, "shop_domain": SHOP, "integration_id": "store-1", "tenant_id": "42"}
    with db.engine.connect() as conn:
        stored = conn.execute(select(shopify_integrations.c.token_ciphertext)).scalar()
    assert TOKEN not in stored and Fernet(KEY).decrypt(stored.encode()).decode() == TOKEN
    updated = api.simulate_put(path, json={"shop_domain": SHOP, "access_token": "shpat_rotated_token"})
    assert updated.status_code == 200 and "shpat" not in updated.text
    assert IntegrationService(db.engine, KEY).credentials("42", "store-1").access_token == "shpat_rotated_token"
    listed = api.simulate_get("/v1/tenants/42/integrations/shopify").json["items"]
    assert [i["integration_id"] for i in listed] == ["store-1"] and "shpat" not in json.dumps(listed)
    bad = api.simulate_put(path, json={"shop_domain": "acme.com", "access_token": "x"})
    assert bad.status_code == 400 and {d["field"] for d in bad.json["error"]["details"]} == {
        "shop_domain",
        "access_token",
    }
    assert api.simulate_delete(path).status_code == 204 and api.simulate_get(path).status_code == 404
    assert "shpat" not in repr(IntegrationService(db.engine, KEY).__dict__)


def test_integrations_need_the_key(db, redis_url, redis_client) -> None:
    settings = Settings.from_env({"DATABASE_URL": db.url, "REDIS_URL": redis_url, "LOCAL_MODE": "true"})
    api = testing.TestClient(create_app(settings, engine=db.engine, redis_client=redis_client))
    response = api.simulate_put(
        "/v1/tenants/42/integrations/shopify/s", json={"shop_domain": SHOP, "access_token": TOKEN}
    )
    assert response.status_code == 503 and "INTEGRATIONS_KEY" in response.json["error"]["message"]


# Sync logic against the fake


def test_full_sync_pages_through_everything_and_repeating_it_duplicates_nothing(db, shopify) -> None:
    shopify.add_shop(SHOP, TOKEN, products=make_nodes("products", 7))
    store, sleeps = RecordStore(db.engine), []
    first = sync(graphql(shopify, sleeps), store, CREDS, "products", "full", page_size=3)
    assert (first["fetched"], first["created"], first["updated"], first["pages"]) == (7, 7, 0, 3)
    again = sync(graphql(shopify, sleeps), store, CREDS, "products", "full", page_size=3)
    assert (again["fetched"], again["created"], again["updated"]) == (7, 0, 0)
    assert store.count("42", "products") == 7
    with db.engine.connect() as conn:
        ids = [r[0] for r in conn.execute(select(shopify_records.c.shopify_id).order_by(shopify_records.c.id))]
    assert ids == [f"gid://shopify/Product/{i}" for i in range(1, 8)]


def test_incremental_sync_fetches_only_what_changed_since_the_last_success(db, shopify) -> None:
    nodes = make_nodes("orders", 5)
    shopify.add_shop(SHOP, TOKEN, orders=nodes)
    store, sleeps = RecordStore(db.engine), []
    assert sync(graphql(shopify, sleeps), store, CREDS, "orders", "incremental", page_size=2)["created"] == 5
    changed = {**nodes[1], "updatedAt": "2026-02-01T00:00:00Z", "title": "changed"}
    shopify.shops[SHOP]["orders"] = [nodes[0], changed, *nodes[2:], *make_nodes("orders", 7)[5:]]
    result = sync(graphql(shopify, sleeps), store, CREDS, "orders", "incremental", page_size=2)
    # Since the high-water mark (node 5's updatedAt, inclusive): node 5 again (unchanged), 2 changed, 6 and 7 new.
    assert (result["fetched"], result["created"], result["updated"]) == (4, 2, 1)
    query = shopify.requests[-1]["body"]["variables"]["query"]
    assert query.startswith("updated_at:>=")
    assert store.count("42", "orders") == 7


def test_throttled_answers_wait_as_shopify_says(db, shopify) -> None:
    shopify.add_shop(SHOP, TOKEN, customers=make_nodes("customers", 3))
    shopify.throttle_next = 1
    shopify.http_failures = [(429, {"Retry-After": "3"})]
    sleeps: list[float] = []
    result = sync(graphql(shopify, sleeps), RecordStore(db.engine), CREDS, "customers", "full")
    assert result["fetched"] == 3
    # 429: Retry-After 3 s; THROTTLED: (52 requested - 2 available) / 50 per second = 1 s.
    assert sleeps == [3.0, 1.0] and result["throttled_s"] == 4.0


def test_a_low_bucket_is_waited_out_before_the_next_page(db, shopify) -> None:
    shopify.add_shop(SHOP, TOKEN, products=make_nodes("products", 2))
    shopify.currently_available = 27  # below the 52 a page costs: wait (52 - 27) / 50 = 0.5 s
    sleeps: list[float] = []
    sync(graphql(shopify, sleeps), RecordStore(db.engine), CREDS, "products", "full", page_size=1)
    assert sleeps == [0.5, 0.5]


def test_transient_failures_are_retried_and_a_bad_token_is_permanent(db, shopify) -> None:
    shopify.add_shop(SHOP, TOKEN, products=make_nodes("products", 1))
    shopify.http_failures = [(500, {}), (503, {})]
    sleeps: list[float] = []
    assert sync(graphql(shopify, sleeps), RecordStore(db.engine), CREDS, "products", "full")["fetched"] == 1
    assert sleeps == [1.0, 2.0]
    with pytest.raises(InvalidShopifyToken, match="rejected the access token"):
        sync(graphql(shopify, sleeps, token="shpat_revoked_token"), RecordStore(db.engine), CREDS, "products", "full")


# The jobs in a real worker


@pytest.fixture
def worker(shop_settings, redis_client):
    registry.configure(shop_settings)
    worker = dramatiq.Worker(actors.broker, worker_timeout=50, worker_threads=2)
    worker.start()
    yield worker
    worker.stop()


def _schedules(db, docs: dict[str, dict]) -> dict[str, dict]:
    service = ScheduleService(db.engine, ChangeNotifier(None))
    return {key: service.upsert(ScheduleInput.parse("42", key, doc))[0] for key, doc in docs.items()}


def _fire(redis_client, schedule: dict, when: datetime) -> None:
    fire = Fire(schedule["id"], "42", schedule["key"], schedule["job"], json.dumps(schedule["payload"]))
    Dispatcher(redis_client).enqueue([fire], when, ROUTES)


def test_sync_run_records_its_counts(db, redis_client, shopify, worker) -> None:
    shopify.add_shop(SHOP, TOKEN, products=make_nodes("products", 120))
    IntegrationService(db.engine, KEY).upsert("42", "store-1", {"shop_domain": SHOP, "access_token": TOKEN})
    schedule = _schedules(
        db,
        {
            "products": {
                "job": "shopify-products",
                "every": "6h",
                "payload": {"integration_id": "store-1", "type": "full"},
            }
        },
    )["products"]
    when = datetime(2026, 6, 1, tzinfo=UTC)
    _fire(redis_client, schedule, when)
    runs = RunStore(db.engine)
    run = wait_for(lambda: (r := runs.get(schedule["id"], when)) and r["status"] == "succeeded" and r, timeout=20)
    assert run["result"]["fetched"] == 120 and run["result"]["created"] == 120 and run["result"]["pages"] == 2
    assert RecordStore(db.engine).count("42", "products") == 120


def test_rejected_token_fails_at_once_and_pauses_the_tenants_shopify_schedules(
    db, redis_client, shopify, worker
) -> None:
    shopify.add_shop(SHOP, "shpat_the_real_token_")
    IntegrationService(db.engine, KEY).upsert("42", "store-1", {"shop_domain": SHOP, "access_token": TOKEN})
    payload = {"integration_id": "store-1"}
    made = _schedules(
        db,
        {
            "products": {"job": "shopify-products", "every": "1h", "payload": payload},
            "orders": {"job": "shopify-orders", "every": "1h", "payload": payload},
            "report": {"job": "noop", "every": "1h"},
        },
    )
    when = datetime(2026, 6, 1, tzinfo=UTC)
    _fire(redis_client, made["products"], when)
    runs = RunStore(db.engine)
    run = wait_for(lambda: (r := runs.get(made["products"]["id"], when)) and r["status"] == "failed" and r, timeout=20)
    assert run["attempts"] == 1 and "rejected the access token" in run["error"]
    service = ScheduleService(db.engine, ChangeNotifier(None))
    for key in ("products", "orders"):
        shown = service.get("42", key)
        assert shown["paused"] is True and "rejected the access token" in shown["paused_note"]
    assert service.get("42", "report")["paused"] is False
    # not retried, but dead-lettered: once the token is fixed, an operator retries it from there
    assert redis_client.zcard("dramatiq:shopify.XQ") == 1


def test_one_shop_never_runs_two_syncs_of_a_resource_at_once(db, redis_client, shopify, worker) -> None:
    shopify.add_shop(SHOP, TOKEN, orders=make_nodes("orders", 3))
    shopify.delay = 1.0
    IntegrationService(db.engine, KEY).upsert("42", "store-1", {"shop_domain": SHOP, "access_token": TOKEN})
    # Two schedules (so the overlap policy, which is per schedule, does not keep them apart).
    payload = {"integration_id": "store-1"}
    made = _schedules(
        db,
        {
            "orders": {"job": "shopify-orders", "every": "1h", "payload": payload},
            "orders-full": {"job": "shopify-orders", "every": "1h", "payload": {**payload, "type": "full"}},
        },
    )
    when = datetime(2026, 6, 1, 0, tzinfo=UTC)
    _fire(redis_client, made["orders"], when)
    _fire(redis_client, made["orders-full"], when)
    runs = RunStore(db.engine)
    done = [
        wait_for(lambda s=s: (r := runs.get(s["id"], when)) and r["status"] == "succeeded" and r, timeout=30)
        for s in made.values()
    ]
    assert shopify.max_concurrent[(SHOP, "orders")] == 1
    # Whichever came second found the shop busy once and was retried after the other sync.
    assert sorted(r["attempts"] for r in done) == [1, 2]
