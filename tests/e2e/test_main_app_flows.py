"""The main app's flows, scripted with the client against the real web process (gunicorn):
onboarding, tier change, pause on payment failure, resume, sync now, disconnect, churn; bulk,
the Node service's endpoints and the audit trail."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from client import ApiError, TenantCron
from tests.conftest import BACKENDS
from tests.e2e.processes import Processes, create_token, free_port, http_status, service_env
from tests.helpers import wait_for

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True)
def test_main_app_flows(fresh_database_url: str, redis_url: str, redis_client, tmp_path: Path) -> None:
    port = free_port()
    env = service_env(
        fresh_database_url, redis_url, port, WEB_CONCURRENCY="2", INTEGRATIONS_KEY=Fernet.generate_key().decode()
    )
    procs = Processes(env, tmp_path)
    procs.run("release")

    admin_token, tenant_token = create_token(env, "main-app"), create_token(env, "tenant-7", "7")
    procs.start("web")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: http_status(f"{base}/health") == 200, timeout=30, what="web /health")
        with TenantCron(base, admin_token) as api, TenantCron(base, tenant_token) as tenant7:
            # Onboarding: the store, then the tier's syncs.
            api.http.put(
                "/v1/tenants/42/integrations/shopify/store-1",
                json={"shop_domain": "acme.myshopify.com", "access_token": "shpat_flow_0123456"},
            ).raise_for_status()
            assert api.apply_tier("42", "free", {"integration_id": "store-1"})["created"] == [
                "sync-orders",
                "sync-products",
            ]
            # Tier change: upgrade adds customers and speeds the others up.
            upgraded = api.apply_tier("42", "premium", {"integration_id": "store-1"})
            assert upgraded["created"] == ["sync-customers"] and upgraded["removed"] == []
            assert api.get_schedule("42", "sync-orders")["cron"] == "*/15 * * * *"
            # Payment failure: pause everything with a note; payment fixed: resume.
            assert api.pause_tenant("42", note="payment failed")["paused"] == 3
            assert {s["paused_note"] for s in api.list_schedules(tenant="42")} == {"payment failed"}
            assert api.resume_tenant("42")["resumed"] == 3
            # "Sync now".
            assert api.trigger("42", "sync-products")["fire_time"]
            # A one-off change without restating the schedule.
            assert api.patch_schedule("42", "sync-products", timezone="Europe/Berlin")["cron"] == "0 * * * *"
            # Bulk, all or nothing.
            bulk = [{"tenant_id": "7", "key": f"report-{i}", "job": "noop", "every": "1h"} for i in range(50)]
            assert api.bulk_upsert(bulk)["created"] == 50
            # A tenant token sees its own tenant only.
            assert {s["tenant_id"] for s in tenant7.list_schedules()} == {"7"}
            with pytest.raises(ApiError) as hidden:
                tenant7.get_schedule("42", "sync-orders")
            assert hidden.value.status == 404
            # The Node service's endpoints.
            added = api.http.post(
                "/api/schedules/add",
                json={"organizationId": 99, "integrationId": "x", "queue": "shopify-orders", "pattern": "0 * * * *"},
            ).json()
            assert added["success"] and added["schedule"]["id"] == "scheduled-orders-99"
            assert api.http.get("/api/schedules/list", params={"organizationId": "99"}).json()["count"] == 1
            removed = api.http.post("/api/schedules/remove", json={"organizationId": 99, "queue": "shopify-orders"})
            assert removed.json()["success"] and removed.status_code == 200
            # Disconnect, then churn.
            api.http.delete("/v1/tenants/42/integrations/shopify/store-1").raise_for_status()
            assert api.remove_tenant("42") == 3
            assert list(api.list_schedules(tenant="42")) == []
            actions = [e["action"] for e in api.audit("42")]
            assert actions[:4] == ["integration_create", "create", "create", "replace"]
            assert actions.count("delete") == 3 and "integration_delete" in actions
            assert "shpat" not in str(api.audit("42"))
            assert {e["actor"] for e in api.audit("42")} == {"main-app"}
    finally:
        results = procs.stop_all()
    assert results["web"][0] == 0, procs.output("web")[-2000:]
