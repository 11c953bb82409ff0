"""Tenant schedules: create-or-replace, patch, read, list, delete, pause, resume, trigger; their runs."""

from __future__ import annotations

import falcon

from api.auth import principal_of, require_tenant
from api.params import whole_number
from app.errors import ValidationError
from app.runs import RunStore
from app.schedules import MAX_PAGE, ScheduleInput, ScheduleService
from app.tiers import TierService


def page_params(req: falcon.Request) -> tuple[int, int]:
    errors = []
    cursor = req.get_param("cursor") or "0"
    limit = req.get_param("limit") or "100"
    if whole_number(cursor) is None:
        errors.append({"field": "cursor", "message": "must be the next_cursor of a previous page"})
    if whole_number(limit) is None or not 1 <= int(limit) <= MAX_PAGE:
        errors.append({"field": "limit", "message": f"must be a whole number from 1 to {MAX_PAGE}"})
    if errors:
        raise ValidationError(errors)
    return int(cursor), int(limit)


def _note(req: falcon.Request) -> str | None:
    if not req.content_length:
        return None
    doc = req.get_media()
    if not isinstance(doc, dict) or set(doc) - {"note"}:
        raise ValidationError([{"field": "body", "message": 'must be empty or {"note": "why"}'}])
    note = doc.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > 1000):
        raise ValidationError([{"field": "note", "message": "must be a string of at most 1000 characters"}])
    return note


def _list(service: ScheduleService, req: falcon.Request, resp: falcon.Response, tenant_id: str | None) -> None:
    after, limit = page_params(req)
    items, cursor = service.list(tenant_id=tenant_id, job=req.get_param("job"), after_id=after, limit=limit)
    resp.media = {"items": items, "next_cursor": str(cursor) if cursor is not None else None}


class ScheduleResource:
    """``/v1/tenants/{tenant_id}/schedules/{key}``: one schedule, addressed by its tenant's key."""

    def __init__(self, service: ScheduleService):
        self.service = service

    def on_put(self, req: falcon.Request, resp: falcon.Response, tenant_id: str, key: str) -> None:
        principal = require_tenant(req, tenant_id)
        schedule, created = self.service.upsert(ScheduleInput.parse(tenant_id, key, req.get_media()), principal.name)
        resp.status = falcon.HTTP_201 if created else falcon.HTTP_200
        resp.media = schedule

    def on_patch(self, req: falcon.Request, resp: falcon.Response, tenant_id: str, key: str) -> None:
        principal = require_tenant(req, tenant_id)
        resp.media = self.service.patch(tenant_id, key, req.get_media(), principal.name)

    def on_get(self, req: falcon.Request, resp: falcon.Response, tenant_id: str, key: str) -> None:
        require_tenant(req, tenant_id)
        resp.media = self.service.get(tenant_id, key)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, tenant_id: str, key: str) -> None:
        principal = require_tenant(req, tenant_id)
        self.service.delete(tenant_id, key, principal.name)
        resp.status = falcon.HTTP_204


class ScheduleActionResource:
    """``POST /v1/tenants/{tenant_id}/schedules/{key}/{pause|resume|trigger}``."""

    def __init__(self, service: ScheduleService):
        self.service = service

    def on_post_pause(self, req: falcon.Request, resp: falcon.Response, tenant_id: str, key: str) -> None:
        principal = require_tenant(req, tenant_id)
        self.service.get(tenant_id, key)  # 404 before anything else
        resp.media = self.service.pause(tenant_id, key, _note(req), principal.name)

    def on_post_resume(self, req: falcon.Request, resp: falcon.Response, tenant_id: str, key: str) -> None:
        principal = require_tenant(req, tenant_id)
        self.service.get(tenant_id, key)
        resp.media = self.service.resume(tenant_id, key, principal.name)

    def on_post_trigger(self, req: falcon.Request, resp: falcon.Response, tenant_id: str, key: str) -> None:
        principal = require_tenant(req, tenant_id)
        resp.status = falcon.HTTP_202
        resp.media = self.service.trigger(tenant_id, key, principal.name)


class TenantSchedulesResource:
    """``/v1/tenants/{tenant_id}/schedules``: list a tenant's schedules; DELETE removes them all."""

    def __init__(self, service: ScheduleService):
        self.service = service

    def on_get(self, req: falcon.Request, resp: falcon.Response, tenant_id: str) -> None:
        require_tenant(req, tenant_id)
        _list(self.service, req, resp, tenant_id)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, tenant_id: str) -> None:
        principal = require_tenant(req, tenant_id)
        resp.media = {"removed": self.service.delete_tenant(tenant_id, principal.name)}


class TenantActionResource:
    """``POST /v1/tenants/{tenant_id}/{pause|resume}``: every schedule of the tenant at once."""

    def __init__(self, service: ScheduleService):
        self.service = service

    def on_post_pause(self, req: falcon.Request, resp: falcon.Response, tenant_id: str) -> None:
        principal = require_tenant(req, tenant_id)
        changed = self.service.pause_tenant(tenant_id, _note(req), principal.name)
        resp.media = {"paused": len(changed), "keys": [s["key"] for s in changed]}

    def on_post_resume(self, req: falcon.Request, resp: falcon.Response, tenant_id: str) -> None:
        principal = require_tenant(req, tenant_id)
        changed = self.service.resume_tenant(tenant_id, principal.name)
        resp.media = {"resumed": len(changed), "keys": [s["key"] for s in changed]}


class SchedulesResource:
    """``/v1/schedules``: all schedules the caller may see, filtered by ``tenant`` and ``job``."""

    def __init__(self, service: ScheduleService):
        self.service = service

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = principal_of(req)
        tenant = req.get_param("tenant")
        if not principal.is_admin:
            if tenant is not None and tenant != principal.tenant_id:
                resp.media = {"items": [], "next_cursor": None}
                return
            tenant = principal.tenant_id
        _list(self.service, req, resp, tenant)


class ScheduleRunsResource:
    """``/v1/tenants/{tenant_id}/schedules/{key}/runs``: a schedule's most recent runs."""

    def __init__(self, service: ScheduleService, runs: RunStore):
        self.service = service
        self.runs = runs

    def on_get(self, req: falcon.Request, resp: falcon.Response, tenant_id: str, key: str) -> None:
        require_tenant(req, tenant_id)
        schedule = self.service.get(tenant_id, key)
        limit = req.get_param_as_int("limit", min_value=1, max_value=MAX_PAGE, default=100)
        resp.media = {"items": self.runs.list_for_schedule(schedule["id"], limit)}


class AuditResource:
    """``/v1/tenants/{tenant_id}/audit``: every change to the tenant's schedules, oldest first."""

    def __init__(self, service: ScheduleService):
        self.service = service

    def on_get(self, req: falcon.Request, resp: falcon.Response, tenant_id: str) -> None:
        require_tenant(req, tenant_id)
        after, limit = page_params(req)
        items, cursor = self.service.audit.list(self.service.engine, tenant_id, after_id=after, limit=limit)
        resp.media = {"items": items, "next_cursor": str(cursor) if cursor is not None else None}


class TierResource:
    """``PUT /v1/tenants/{tenant_id}/tier`` ``{"tier": "premium", "data": {...}}``; ``GET /v1/tiers``."""

    def __init__(self, tiers: TierService):
        self.tiers = tiers

    def on_put(self, req: falcon.Request, resp: falcon.Response, tenant_id: str) -> None:
        principal = require_tenant(req, tenant_id)
        doc = req.get_media()
        if not isinstance(doc, dict) or set(doc) - {"tier", "data"}:
            raise ValidationError([{"field": "body", "message": 'must be {"tier": name, "data": {...}}'}])
        resp.media = self.tiers.apply(tenant_id, doc.get("tier"), doc.get("data", {}), principal.name)

    def on_get_list(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"tiers": self.tiers.tiers}
