"""Who may open the dashboard, and that its actions need the page's CSRF token (the pages themselves
are driven in Chromium by tests/e2e/test_dashboard.py)."""

from __future__ import annotations

import base64
import dataclasses
import re

from falcon import testing

from api.app import create_app
from app.tokens import TokenService


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _app(settings, db, redis_client, **changes) -> testing.TestClient:
    settings = dataclasses.replace(settings, **changes)
    return testing.TestClient(create_app(settings, engine=db.engine, redis_client=redis_client))


def test_the_dashboard_is_off_without_credentials_unless_local_mode(settings, db, redis_client) -> None:
    off = _app(settings, db, redis_client, local_mode=False, dashboard_password=None)
    assert off.simulate_get("/dashboard/schedules").status_code == 404
    local = _app(settings, db, redis_client, local_mode=True, dashboard_password=None)
    assert local.simulate_get("/dashboard/schedules").status_code == 200
    remote = local.simulate_get("/dashboard/schedules", remote_addr="203.0.113.9")
    assert remote.status_code == 401  # local mode admits loopback callers only; others need credentials


def test_basic_credentials_or_an_admin_token_open_it(settings, db, redis_client) -> None:
    client = _app(settings, db, redis_client, local_mode=False, dashboard_password="s3cret")
    denied = client.simulate_get("/dashboard/schedules")
    assert denied.status_code == 401 and denied.headers["www-authenticate"].startswith("Basic")
    assert client.simulate_get("/dashboard/schedules", headers=_basic("admin", "wrong")).status_code == 401
    assert client.simulate_get("/dashboard/schedules", headers=_basic("admin", "s3cret")).status_code == 200
    tokens = TokenService(db.engine)
    admin, tenant = tokens.create("ops"), tokens.create("t42", tenant_id="42")
    assert client.simulate_get("/dashboard/runs", headers=_basic("ops", admin)).status_code == 200
    assert client.simulate_get("/dashboard/runs", headers={"Authorization": f"Bearer {admin}"}).status_code == 200
    assert client.simulate_get("/dashboard/runs", headers=_basic("t42", tenant)).status_code == 401  # admins only


def test_actions_need_the_pages_csrf_token_and_the_same_origin(settings, db, redis_client) -> None:
    client = _app(settings, db, redis_client, local_mode=False, dashboard_password="s3cret")
    auth = _basic("admin", "s3cret")
    created = client.simulate_put(
        "/v1/tenants/42/schedules/s", json={"job": "noop", "cron": "* * * * *"}, headers=_bearer(db)
    )
    assert created.status_code == 201
    page = client.simulate_get("/dashboard/schedules", headers=auth).text
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
    form = {"Content-Type": "application/x-www-form-urlencoded", **auth}
    forged = client.simulate_post("/dashboard/schedules/42/s/pause", body="csrf=nope", headers=form)
    assert forged.status_code == 403
    cross = client.simulate_post(
        "/dashboard/schedules/42/s/pause", body=f"csrf={token}", headers={**form, "Origin": "https://evil.example"}
    )
    assert cross.status_code == 403
    done = client.simulate_post(
        "/dashboard/schedules/42/s/pause", body=f"csrf={token}&next=https://evil.example/", headers=form
    )
    assert done.status_code == 303 and done.headers["location"].startswith("/dashboard/schedules?done=")
    assert client.simulate_get("/v1/tenants/42/schedules/s", headers=_bearer(db)).json["paused"] is True


def _bearer(db) -> dict[str, str]:
    return {"Authorization": f"Bearer {TokenService(db.engine).create('api')}"}
