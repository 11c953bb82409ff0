"""Tenant schedules: create-or-replace, read, list, delete; and a schedule's runs."""

from __future__ import annotations

import falcon

from app.errors import ValidationError
from app.runs import RunStore
from app.schedules import MAX_PAGE, ScheduleInput, ScheduleService


def _page_params(req: falcon.Request) -> tuple[int, int]:
    errors = []
    cursor = req.get_param("cursor") or "0"
    limit = req.get_param("limit") or "100"
    if not cursor.isdigit():
        errors.append({"field": "cursor", "message": "must be the next_cursor of a previous page"})
    if not limit.isdigit() or not 1 <= int(limit) <= MAX_PAGE:
        errors.append({"field": "limit", "message": f"must be a whole number from 1 to {MAX_PAGE}"})
    if errors:
        raise ValidationError(errors)
    return int(cursor), int(limit)


def _list(service: ScheduleService, req: falcon.Request, resp: falcon.Response, tenant_id: str | None) -> None:
    after, limit = _page_params(req)
    items, cursor = service.list(tenant_id=tenant_id, job=req.get_param("job"), after_id=after, limit=limit)
    resp.media = {"items": items, "next_cursor": str(cursor) if cursor is not None else None}


class ScheduleResource:
    """``/v1/tenants/{tenant_id}/schedules/{key}``: one schedule, addressed by its tenant's key."""

    def __init__(self, service: ScheduleService):
        self.service = service

    def on_put(self, req: falcon.Request, resp: falcon.Response, tenant_id: str, key: str) -> None:
        doc = req.get_media()
        schedule, created = self.service.upsert(ScheduleInput.parse(tenant_id, key, doc))
        resp.status = falcon.HTTP_201 if created else falcon.HTTP_200
        resp.media = schedule

    def on_get(self, req: falcon.Request, resp: falcon.Response, tenant_id: str, key: str) -> None:
        resp.media = self.service.get(tenant_id, key)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, tenant_id: str, key: str) -> None:
        self.service.delete(tenant_id, key)
        resp.status = falcon.HTTP_204


class TenantSchedulesResource:
    """``/v1/tenants/{tenant_id}/schedules``: a tenant's schedules, paginated."""

    def __init__(self, service: ScheduleService):
        self.service = service

    def on_get(self, req: falcon.Request, resp: falcon.Response, tenant_id: str) -> None:
        _list(self.service, req, resp, tenant_id)


class SchedulesResource:
    """``/v1/schedules``: all schedules, filtered by ``tenant`` and ``job``, paginated."""

    def __init__(self, service: ScheduleService):
        self.service = service

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        _list(self.service, req, resp, req.get_param("tenant"))


class ScheduleRunsResource:
    """``/v1/tenants/{tenant_id}/schedules/{key}/runs``: a schedule's most recent runs."""

    def __init__(self, service: ScheduleService, runs: RunStore):
        self.service = service
        self.runs = runs

    def on_get(self, req: falcon.Request, resp: falcon.Response, tenant_id: str, key: str) -> None:
        schedule = self.service.get(tenant_id, key)
        limit = req.get_param_as_int("limit", min_value=1, max_value=MAX_PAGE, default=100)
        resp.media = {"items": self.runs.list_for_schedule(schedule["id"], limit)}
