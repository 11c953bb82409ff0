"""The Node service's endpoints, so the main app switches over by changing a base URL.

``POST /api/schedules/add``, ``POST /api/schedules/remove``, ``GET /api/schedules/list``: the same
request fields and JSON shapes (``success``, ``message``, ``schedule`` / ``removed`` /
``schedules`` + ``count``). Each maps onto an ordinary tenant schedule: tenant = organizationId,
key = ``scheduled-{resource}-{organizationId}``, job = the queue (``shopify-products`` ...), payload
= integration id, sync type and environment; so the native API, the dashboard and the audit log
see them too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import falcon

from api.auth import principal_of
from app.errors import NotFound, ValidationError
from app.jobs import SHOPIFY_RESOURCES
from app.schedules import IDENT, ScheduleInput, ScheduleService

#: Queues the Node service accepted.
QUEUES = tuple(f"shopify-{resource}" for resource in SHOPIFY_RESOURCES)


def _fail(resp: falcon.Response, status: str, message: str) -> None:
    resp.status = status
    resp.media = {"success": False, "message": message, "error": message}


def _names(queue: str, organization_id: str) -> tuple[str, str]:
    resource = queue.removeprefix("shopify-")
    return f"sync-{resource}-{organization_id}", f"scheduled-{resource}-{organization_id}"


def _item(schedule: dict[str, Any]) -> dict[str, Any]:
    name, scheduler_id = _names(schedule["job"], schedule["tenant_id"])
    next_fire = schedule["next_fire_at"]
    return {
        "queue": schedule["job"],
        "name": name,
        "id": scheduler_id,
        "key": scheduler_id,
        "pattern": schedule["cron"],
        "next": int(datetime.fromisoformat(next_fire).timestamp() * 1000) if next_fire else None,
        "organizationId": schedule["tenant_id"],
        "integrationId": schedule["payload"].get("integration_id"),
        "type": schedule["payload"].get("type", "incremental"),
        "environment": schedule["payload"].get("environment", "production"),
    }


def _organization(doc: dict[str, Any], field: str = "organizationId") -> str | None:
    value = doc.get(field)
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        return None
    return str(value)


def _request(req: falcon.Request, resp: falcon.Response, required: tuple[str, ...]) -> tuple[dict, str] | None:
    """The body and its organization id, or None after answering 400 (missing field or unknown queue)."""
    doc = req.get_media()
    if not isinstance(doc, dict):
        _fail(resp, falcon.HTTP_400, "body must be a JSON object")
        return None
    organization = _organization(doc)
    present = {"organizationId": organization, "integrationId": _organization(doc, "integrationId")}
    missing = [field for field in required if not present.get(field, doc.get(field))]
    if missing:
        _fail(resp, falcon.HTTP_400, f"missing required fields: {', '.join(missing)}")
        return None
    if doc["queue"] not in QUEUES:
        _fail(resp, falcon.HTTP_400, f"unknown queue {doc['queue']!r}; one of {', '.join(QUEUES)}")
        return None
    return doc, organization


class CompatAddResource:
    """``POST /api/schedules/add``."""

    def __init__(self, service: ScheduleService):
        self.service = service

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        parsed = _request(req, resp, ("organizationId", "integrationId", "queue", "pattern"))
        if parsed is None:
            return
        doc, organization = parsed
        integration = _organization(doc, "integrationId")
        kind, environment = doc.get("type", "incremental"), doc.get("environment", "production")
        if kind not in ("incremental", "full"):
            return _fail(resp, falcon.HTTP_400, "type must be 'incremental' or 'full'")
        if environment not in ("production", "staging"):
            return _fail(resp, falcon.HTTP_400, "environment must be 'production' or 'staging'")
        principal = principal_of(req)
        if not principal.may_access(organization):
            return _fail(resp, falcon.HTTP_404, f"organization {organization} not found")
        _, key = _names(doc["queue"], organization)
        body = {
            "job": doc["queue"],
            "cron": doc["pattern"],
            "timezone": doc.get("tz", "UTC"),
            "payload": {"integration_id": integration, "type": kind, "environment": environment},
        }
        try:
            schedule, _ = self.service.upsert(ScheduleInput.parse(organization, key, body), principal.name)
        except ValidationError as exc:
            return _fail(resp, falcon.HTTP_400, str(exc))
        resp.media = {"success": True, "message": f"Schedule {key} added", "schedule": _item(schedule)}


class CompatRemoveResource:
    """``POST /api/schedules/remove``."""

    def __init__(self, service: ScheduleService):
        self.service = service

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        parsed = _request(req, resp, ("organizationId", "queue"))
        if parsed is None:
            return
        doc, organization = parsed
        _, key = _names(doc["queue"], organization)
        principal = principal_of(req)
        try:
            if not principal.may_access(organization):
                raise NotFound(key)
            schedule = self.service.get(organization, key)
            self.service.delete(organization, key, principal.name)
        except NotFound:
            return _fail(resp, falcon.HTTP_404, f"no schedule {key} for organization {organization}")
        resp.media = {"success": True, "message": f"Schedule {key} removed", "removed": _item(schedule)}


class CompatListResource:
    """``GET /api/schedules/list[?organizationId=&queue=]``."""

    def __init__(self, service: ScheduleService):
        self.service = service

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        organization, queue = req.get_param("organizationId"), req.get_param("queue")
        if queue is not None and queue not in QUEUES:
            return _fail(resp, falcon.HTTP_400, f"unknown queue {queue!r}; one of {', '.join(QUEUES)}")
        principal = principal_of(req)
        if not principal.is_admin:
            if organization is not None and organization != principal.tenant_id:
                resp.media = {"success": True, "schedules": [], "count": 0}
                return
            organization = principal.tenant_id
        if organization is not None and not IDENT.match(organization):
            resp.media = {"success": True, "schedules": [], "count": 0}  # no tenant can have that id
            return
        items: list[dict[str, Any]] = []
        for job in [queue] if queue else QUEUES:
            cursor = 0
            while True:
                page, next_cursor = self.service.list(tenant_id=organization, job=job, after_id=cursor, limit=500)
                items += [_item(s) for s in page if s["key"] == _names(job, s["tenant_id"])[1]]
                if next_cursor is None:
                    break
                cursor = next_cursor
        resp.media = {"success": True, "schedules": items, "count": len(items)}
