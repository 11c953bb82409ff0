"""A tenant onboarded through the API has its three Shopify resources synced on its tier's schedule,
by the real web, worker and clock processes, against a local fake Shopify."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from client import TenantCron
from tests.conftest import BACKENDS
from tests.e2e.processes import Processes, create_token, free_port, http_status, service_env
from tests.fake_shopify import FakeShopify, make_nodes
from tests.helpers import wait_for

pytestmark = pytest.mark.e2e

SHOP, TOKEN = "acme.myshopify.com", "shpat_e2e_0123456789"
SIZES = {"products": 230, "orders": 40, "customers": 12}


@pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True)
def test_onboarded_tenant_is_synced_by_the_clock(fresh_database_url: str, redis_url: str, redis_client, tmp_path: Path):
    tiers = tmp_path / "tiers.json"
    tiers.write_text(
        json.dumps(
            {
                "shopify-test": [
                    {
                        "key": f"sync-{r}",
                        "job": f"shopify-{r}",
                        "cron": "*/3 * * * * *",
                        "stagger": False,
                        "payload": {"integration_id": "{integration_id}", "type": "incremental"},
                    }
                    for r in SIZES
                ]
            }
        )
    )
    port = free_port()
    with FakeShopify() as shopify:
        shopify.add_shop(SHOP, TOKEN, **{r: make_nodes(r, n) for r, n in SIZES.items()})
        env = service_env(
            fresh_database_url,
            redis_url,
            port,
            WEB_CONCURRENCY="1",
            WORKER_PROCESSES="1",
            WORKER_THREADS="4",
            INTEGRATIONS_KEY=Fernet.generate_key().decode(),
            SHOPIFY_API_URL=shopify.api_url,
            TIERS_FILE=str(tiers),
        )
        procs = Processes(env, tmp_path)
        procs.run("release")
        token = create_token(env, "main-app")
        for name in ("web", "worker", "clock"):
            procs.start(name)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(lambda: http_status(f"{base}/health") == 200, timeout=30, what="web /health")
            with TenantCron(base, token) as api:
                api.http.put(
                    "/v1/tenants/42/integrations/shopify/store-1", json={"shop_domain": SHOP, "access_token": TOKEN}
                ).raise_for_status()
                applied = api.apply_tier("42", "shopify-test", {"integration_id": "store-1"})
                assert applied["created"] == ["sync-customers", "sync-orders", "sync-products"]

                def synced() -> dict[str, dict] | None:
                    done = {}
                    for resource in SIZES:
                        runs = [r for r in api.runs("42", f"sync-{resource}") if r["status"] == "succeeded"]
                        if not runs:
                            return None
                        done[resource] = runs[-1]  # the oldest: the first, full-history sync
                    return done

                first_runs = wait_for(synced, timeout=60, what="a successful sync of every resource")
                for resource, run in first_runs.items():
                    assert run["result"]["fetched"] == SIZES[resource], (resource, run)
                    assert run["result"]["created"] == SIZES[resource]
                    assert run["triggered_by"] == "scheduled"
        finally:
            results = procs.stop_all()
    for name, (code, _) in results.items():
        assert code == 0, f"{name} exited with {code}:\n{procs.output(name)[-3000:]}"
    assert TOKEN not in "".join(procs.output(name) for name in ("web", "worker", "clock"))  # never logged
