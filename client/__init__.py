"""A small typed client for the tenantcron API, on httpx.

    from client import TenantCron

    with TenantCron("https://cron.example.com", token="tc_...") as api:
        api.upsert_schedule("42", "products", job="webhook", cron="0 */6 * * *",
                            payload={"url": "https://app.example.com/hooks/sync"})
        for schedule in api.list_schedules(tenant="42"):
            print(schedule["key"], schedule["next_fire_at"])

Connection errors are retried (a request that never reached the server); anything the server
answered is not: a 4xx/5xx raises ApiError with the server's message and field details.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypedDict
from urllib.parse import quote

import httpx

__all__ = ["ApiError", "Schedule", "TenantCron"]


class Schedule(TypedDict, total=False):
    """A schedule as the API shows it."""

    id: int
    tenant_id: str
    key: str
    job: str
    cron: str | None
    every: str | None
    timezone: str
    payload: dict[str, Any]
    paused: bool
    paused_note: str | None
    state: str
    next_fire_at: str | None
    version: int


class ApiError(Exception):
    """The API answered with an error.

    Parameters:
      status: the HTTP status.
      message: what the API said was wrong.
      details: per-field (or per-item) problems, when the API listed them.
    """

    def __init__(self, status: int, message: str, details: list[dict[str, Any]] | None = None):
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.details = details or []


class TenantCron:
    """Client of one tenantcron deployment.

    Parameters:
      base_url: where the web process listens, e.g. ``https://cron.example.com``.
      token: an API token (``python -m app.tokens create``); None in local mode.
      timeout: seconds per request.
      retries: attempts to connect before giving up (connection errors only).
      transport: an httpx transport to use instead (tests pass one over a WSGI app).
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        transport: httpx.BaseTransport | None = None,
    ):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=timeout,
            transport=transport or httpx.HTTPTransport(retries=retries),
        )

    def __enter__(self) -> TenantCron:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        if response.is_error:
            try:
                error = response.json()["error"]
                raise ApiError(response.status_code, error.get("message", ""), error.get("details"))
            except (ValueError, KeyError, TypeError):
                raise ApiError(response.status_code, response.text[:500]) from None
        return response.json() if response.content else None

    @staticmethod
    def _path(tenant_id: str, key: str | None = None) -> str:
        base = f"/v1/tenants/{quote(tenant_id, safe='')}"
        return f"{base}/schedules/{quote(key, safe='')}" if key is not None else base

    # Schedules
    def upsert_schedule(self, tenant_id: str, key: str, **fields: Any) -> Schedule:
        """Create or replace (idempotent). Fields: job, cron or every, timezone, payload, paused, ..."""
        return self._call("PUT", self._path(tenant_id, key), json=fields)

    def patch_schedule(self, tenant_id: str, key: str, **changes: Any) -> Schedule:
        return self._call("PATCH", self._path(tenant_id, key), json=changes)

    def get_schedule(self, tenant_id: str, key: str) -> Schedule:
        return self._call("GET", self._path(tenant_id, key))

    def delete_schedule(self, tenant_id: str, key: str) -> None:
        self._call("DELETE", self._path(tenant_id, key))

    def list_schedules(
        self, *, tenant: str | None = None, job: str | None = None, page_size: int = 100
    ) -> Iterator[Schedule]:
        """Every matching schedule, fetching pages as needed."""
        params: dict[str, Any] = {"limit": page_size}
        if tenant is not None:
            params["tenant"] = tenant
        if job is not None:
            params["job"] = job
        while True:
            page = self._call("GET", "/v1/schedules", params=params)
            yield from page["items"]
            if page["next_cursor"] is None:
                return
            params["cursor"] = page["next_cursor"]

    def bulk_upsert(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Create or replace up to 10,000 schedules (each with tenant_id and key), all or nothing."""
        return self._call("POST", "/v1/schedules/bulk", json={"items": items})

    # Lifecycle
    def pause(self, tenant_id: str, key: str, note: str | None = None) -> Schedule:
        return self._call("POST", self._path(tenant_id, key) + "/pause", json={"note": note} if note else None)

    def resume(self, tenant_id: str, key: str) -> Schedule:
        return self._call("POST", self._path(tenant_id, key) + "/resume")

    def trigger(self, tenant_id: str, key: str) -> dict[str, Any]:
        """Run now; returns the manual fire's time and message id."""
        return self._call("POST", self._path(tenant_id, key) + "/trigger")

    def pause_tenant(self, tenant_id: str, note: str | None = None) -> dict[str, Any]:
        return self._call("POST", self._path(tenant_id) + "/pause", json={"note": note} if note else None)

    def resume_tenant(self, tenant_id: str) -> dict[str, Any]:
        return self._call("POST", self._path(tenant_id) + "/resume")

    def remove_tenant(self, tenant_id: str) -> int:
        """Remove all of a tenant's schedules; returns how many there were."""
        return self._call("DELETE", self._path(tenant_id) + "/schedules")["removed"]

    def apply_tier(self, tenant_id: str, tier: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Make the tenant's tier-managed schedules exactly the tier's; returns what changed."""
        return self._call("PUT", self._path(tenant_id) + "/tier", json={"tier": tier, "data": data or {}})

    # Ad-hoc jobs, runs and dead letters
    def enqueue_job(
        self,
        tenant_id: str,
        job: str,
        payload: dict[str, Any] | None = None,
        *,
        delay: float | str | None = None,
        priority: str | None = None,
        max_attempts: int | None = None,
    ) -> dict[str, Any]:
        """Enqueue an ad-hoc job; returns its run (follow it with ``get_run``)."""
        body = {
            "job": job,
            "payload": payload or {},
            "delay": delay,
            "priority": priority,
            "max_attempts": max_attempts,
        }
        return self._call(
            "POST", self._path(tenant_id) + "/jobs", json={k: v for k, v in body.items() if v is not None}
        )

    def get_run(self, run_id: int) -> dict[str, Any]:
        """One run with its attempts."""
        return self._call("GET", f"/v1/runs/{run_id}")

    def cancel_run(self, run_id: int) -> dict[str, Any]:
        """Cancel a run not yet running, or ask a running one to stop (``outcome`` says which)."""
        return self._call("POST", f"/v1/runs/{run_id}/cancel")

    def retry_run(self, run_id: int) -> dict[str, Any]:
        """Run a failed or cancelled run again."""
        return self._call("POST", f"/v1/runs/{run_id}/retry")

    def dead_letters(self, tenant: str | None = None, queue: str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in {"tenant": tenant, "queue": queue, "limit": 500}.items() if v is not None}
        return self._call("GET", "/v1/dead-letters", params=params)["items"]

    def retry_dead_letters(self, letter_id: str | None = None, tenant: str | None = None) -> int:
        """Retry one dead letter, or all of them (a tenant's); returns how many were sent again."""
        if letter_id is not None:
            return self._call("POST", f"/v1/dead-letters/{letter_id}/retry")["retried"]
        params = {"tenant": tenant} if tenant else {}
        return self._call("POST", "/v1/dead-letters/retry", params=params)["retried"]

    # Reads
    def runs(self, tenant_id: str, key: str, limit: int = 100) -> list[dict[str, Any]]:
        return self._call("GET", self._path(tenant_id, key) + "/runs", params={"limit": limit})["items"]

    def audit(self, tenant_id: str) -> list[dict[str, Any]]:
        return self._call("GET", self._path(tenant_id) + "/audit", params={"limit": 500})["items"]

    def preview(
        self, *, cron: str | None = None, every: str | None = None, timezone: str = "UTC", count: int = 5
    ) -> list[dict[str, str]]:
        params = {
            "timezone": timezone,
            "count": count,
            **({"cron": cron} if cron else {}),
            **({"every": every} if every else {}),
        }
        return self._call("GET", "/v1/preview", params=params)["fires"]

    def health(self) -> dict[str, Any]:
        response = self.http.get("/health")
        return response.json()
