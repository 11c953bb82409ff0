"""``/v1/runs``: run history filtered by tenant, schedule, status and fire-time range; one run with its attempts."""

from __future__ import annotations

from datetime import datetime

import falcon
import redis

from api.auth import principal_of, require_tenant
from api.params import whole_number
from app.errors import NotFound, ValidationError
from app.models import RUN_STATUSES
from app.requeue import RunRequeuer
from app.runs import RunStore
from app.schedules import MAX_PAGE, ScheduleService


def _instant(req: falcon.Request, name: str, errors: list) -> datetime | None:
    raw = req.get_param(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if value.tzinfo is None:
            raise ValueError
        return value
    except ValueError:
        errors.append({"field": name, "message": "must be an ISO 8601 instant with a UTC offset"})
        return None


class RunsResource:
    """``GET /v1/runs?tenant=&schedule_key=&status=&since=&until=&cursor=&limit=`` (newest first)."""

    def __init__(self, runs: RunStore, schedules: ScheduleService):
        self.runs = runs
        self.schedules = schedules

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = principal_of(req)
        errors: list[dict[str, str]] = []
        tenant, key, status = req.get_param("tenant"), req.get_param("schedule_key"), req.get_param("status")
        job = req.get_param("job")
        if status is not None and status not in RUN_STATUSES:
            errors.append({"field": "status", "message": f"one of {', '.join(RUN_STATUSES)}"})
        since, until = _instant(req, "since", errors), _instant(req, "until", errors)
        cursor, limit = req.get_param("cursor"), req.get_param("limit") or "100"
        if cursor is not None and whole_number(cursor) is None:
            errors.append({"field": "cursor", "message": "must be the next_cursor of a previous page"})
        if whole_number(limit) is None or not 1 <= int(limit) <= MAX_PAGE:
            errors.append({"field": "limit", "message": f"must be a whole number from 1 to {MAX_PAGE}"})
        if key is not None and tenant is None:
            errors.append({"field": "schedule_key", "message": "needs tenant too"})
        if errors:
            raise ValidationError(errors)
        if not principal.is_admin:
            if tenant is not None and tenant != principal.tenant_id:
                resp.media = {"items": [], "next_cursor": None}
                return
            tenant = principal.tenant_id
        schedule_id = self.schedules.get(tenant, key)["id"] if key is not None else None
        items, next_cursor = self.runs.search(
            tenant_id=tenant,
            schedule_id=schedule_id,
            job=job,
            status=status,
            since=since,
            until=until,
            before_id=int(cursor) if cursor else None,
            limit=int(limit),
        )
        resp.media = {"items": items, "next_cursor": str(next_cursor) if next_cursor is not None else None}


class RunResource:
    """``GET /v1/runs/{run_id}``: one run with every attempt (when, how long, how it ended, why);
    ``POST .../cancel``: cancel it (or ask it to stop); ``POST .../retry``: run a failed or cancelled
    run again, with a fresh retry budget."""

    def __init__(self, runs: RunStore, requeuer: RunRequeuer | None):
        self.runs = runs
        self.requeuer = requeuer

    def _run(self, req: falcon.Request, run_id: str) -> dict:
        number = whole_number(run_id)
        run = self.runs.get_by_id(number) if number is not None else None
        if run is None:
            raise NotFound(f"no run {run_id}")
        require_tenant(req, run["tenant_id"])
        return run

    def on_get(self, req: falcon.Request, resp: falcon.Response, run_id: str) -> None:
        resp.media = self._run(req, run_id)

    def on_post_cancel(self, req: falcon.Request, resp: falcon.Response, run_id: str) -> None:
        run = self._run(req, run_id)
        outcome = self.runs.cancel(run["id"], f"cancelled by {principal_of(req).name}")
        if outcome == "ended":
            raise falcon.HTTPConflict(
                title="Run ended", description=f"run {run['id']} already ended as {run['status']}"
            )
        resp.status = falcon.HTTP_200 if outcome == "cancelled" else falcon.HTTP_202
        resp.media = {**self.runs.get_by_id(run["id"]), "outcome": outcome}

    def on_post_retry(self, req: falcon.Request, resp: falcon.Response, run_id: str) -> None:
        run = self._run(req, run_id)
        if self.requeuer is None:
            raise redis.ConnectionError("REDIS_URL is not set: nothing can be enqueued")
        if not self.runs.reopen(run["id"]):
            raise falcon.HTTPConflict(
                title="Not retryable", description=f"run {run['id']} is {run['status']}; only failed or cancelled runs"
            )
        self.requeuer.enqueue([run["id"]])
        resp.status = falcon.HTTP_202
        resp.media = self.runs.get_by_id(run["id"])
