"""The OpenAPI 3 document of the API, served at ``/openapi.json`` (a test fuzzes the app against it)."""

from __future__ import annotations

from typing import Any

import falcon

from app.jobs import OVERLAP_POLICIES, QUEUES
from app.models import RUN_STATUSES
from app.schedules import MAX_ATTEMPTS, MAX_JITTER, MAX_PAGE


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERROR = _json(_ref("Error"), "error")
_ERRORS = {"400": _json(_ref("Error"), "invalid input"), "401": _json(_ref("Error"), "no or bad token")}
_NOT_FOUND = {"404": _json(_ref("Error"), "no such schedule (or another tenant's)")}
_TENANT = {"name": "tenant_id", "in": "path", "required": True, "schema": {"type": "string"}}
_KEY = {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}
_PAGE = [
    {"name": "cursor", "in": "query", "schema": {"type": "string"}, "description": "next_cursor of the previous page"},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}},
]
_NOTE_BODY = {
    "required": False,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"note": {"type": "string", "maxLength": 1000}},
                "additionalProperties": False,
            }
        }
    },
}

_RUN = {"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}}
_LETTER = {"name": "letter_id", "in": "path", "required": True, "schema": {"type": "string"}}
_LETTER_FILTERS = [
    {"name": "tenant", "in": "query", "schema": {"type": "string"}},
    {"name": "queue", "in": "query", "schema": {"type": "string", "enum": list(QUEUES)}},
]
_LIST = {"type": "object", "required": ["items"], "properties": {"items": {"type": "array"}}}
_UNAVAILABLE = {"503": {"description": "Redis unreachable or not configured"}}

_INSTANT = {"type": "string", "format": "date-time"}
_NULLABLE_INSTANT = {"type": "string", "format": "date-time", "nullable": True}

_DURATION = {"oneOf": [{"type": "number", "minimum": 0}, {"type": "string"}], "description": "seconds, or e.g. 30s"}

_SCHEDULE_FIELDS: dict[str, Any] = {
    "job": {"type": "string", "description": "a job of the catalogue (GET /v1/jobs)"},
    "cron": {"type": "string", "description": "5 fields, 6 with seconds first, or an @alias; or give every"},
    "every": {"type": "string", "description": "an interval such as 90s, 15m, 6h, 1h30m; or give cron"},
    "timezone": {"type": "string", "default": "UTC", "description": "IANA zone of the pattern's wall clock"},
    "payload": {"type": "object", "additionalProperties": True},
    "paused": {"type": "boolean", "default": False},
    "paused_note": {"type": "string", "maxLength": 1000},
    "start_at": _INSTANT,
    "end_at": _INSTANT,
    "max_fires": {"type": "integer", "minimum": 1},
    "jitter": {
        "oneOf": [{"type": "integer", "minimum": 0, "maximum": MAX_JITTER}, {"type": "string"}],
        "description": "seconds, or a duration such as 30s",
    },
    "stagger": {"type": "boolean", "default": False},
    "overlap": {
        "type": "string",
        "enum": list(OVERLAP_POLICIES),
        "default": "skip",
        "description": "what a fire does while the previous run still runs",
    },
    "retry": {
        "type": "object",
        "properties": {
            "max_attempts": {"type": "integer", "minimum": 1, "maximum": MAX_ATTEMPTS},
            "backoff": _DURATION,
            "backoff_max": _DURATION,
        },
        "additionalProperties": False,
        "description": "overrides of the job's retry defaults (GET /v1/jobs)",
    },
    "time_limit": _DURATION,
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["status", "title", "message"],
                "properties": {
                    "status": {"type": "integer"},
                    "title": {"type": "string"},
                    "message": {"type": "string"},
                    "details": {"type": "array", "items": {"type": "object"}},
                },
            }
        },
    },
    "ScheduleInput": {"type": "object", "properties": _SCHEDULE_FIELDS, "additionalProperties": False},
    "Schedule": {
        "type": "object",
        "required": ["id", "tenant_id", "key", "job", "timezone", "payload", "paused", "state", "version"],
        "properties": {
            "id": {"type": "integer"},
            "tenant_id": {"type": "string"},
            "key": {"type": "string"},
            "job": {"type": "string"},
            "cron": {"type": "string", "nullable": True},
            "every": {"type": "string", "nullable": True},
            "timezone": {"type": "string"},
            "payload": {"type": "object"},
            "paused": {"type": "boolean"},
            "paused_note": {"type": "string", "nullable": True},
            "tier": {"type": "string", "nullable": True},
            "state": {"type": "string", "enum": ["active", "paused", "finished"]},
            "start_at": _NULLABLE_INSTANT,
            "end_at": _NULLABLE_INSTANT,
            "max_fires": {"type": "integer", "nullable": True},
            "fire_count": {"type": "integer"},
            "jitter": {"type": "integer"},
            "stagger": {"type": "boolean"},
            "offset_seconds": {"type": "integer"},
            "overlap": {"type": "string", "enum": list(OVERLAP_POLICIES)},
            "retry": {"type": "object", "nullable": True},
            "time_limit": {"type": "number", "nullable": True},
            "version": {"type": "integer"},
            "created_at": _INSTANT,
            "updated_at": _INSTANT,
            "next_fire_at": _NULLABLE_INSTANT,
            "last_run_status": {"type": "string", "nullable": True},
            "last_run_at": _NULLABLE_INSTANT,
            "succeeded_runs": {"type": "integer"},
            "failed_runs": {"type": "integer"},
        },
    },
    "ScheduleList": {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": _ref("Schedule")},
            "next_cursor": {"type": "string", "nullable": True},
        },
    },
    "Run": {
        "type": "object",
        "required": ["id", "schedule_id", "tenant_id", "fire_time", "triggered_by", "status", "attempts"],
        "properties": {
            "id": {"type": "integer"},
            "schedule_id": {"type": "integer", "nullable": True},
            "tenant_id": {"type": "string"},
            "job": {"type": "string", "nullable": True},
            "fire_time": _INSTANT,
            "triggered_by": {"type": "string", "enum": ["scheduled", "manual", "api"]},
            "status": {"type": "string", "enum": list(RUN_STATUSES)},
            "attempts": {"type": "integer"},
            "max_attempts": {"type": "integer", "nullable": True},
            "priority": {"type": "string", "nullable": True},
            "progress": {"type": "integer", "nullable": True},
            "progress_message": {"type": "string", "nullable": True},
            "stop_requested": {"type": "boolean"},
            "payload": {"type": "object", "nullable": True},
            "started_at": _NULLABLE_INSTANT,
            "finished_at": _NULLABLE_INSTANT,
            "duration_ms": {"type": "integer", "nullable": True},
            "error": {"type": "string", "nullable": True},
            "result": {"type": "object", "nullable": True},
            "attempt_log": {"type": "array", "items": {"type": "object"}},
        },
    },
    "DeadLetter": {
        "type": "object",
        "required": ["id", "queue", "job", "dead_at"],
        "properties": {
            "id": {"type": "string"},
            "queue": {"type": "string"},
            "job": {"type": "string"},
            "tenant_id": {"type": "string", "nullable": True},
            "schedule_id": {"type": "integer", "nullable": True},
            "schedule_key": {"type": "string", "nullable": True},
            "run_id": {"type": "integer", "nullable": True},
            "fire_time": {"type": "string", "nullable": True},
            "dead_at": _INSTANT,
            "error": {"type": "string", "nullable": True},
            "attempts": {"type": "integer", "nullable": True},
        },
    },
    "Integration": {
        "type": "object",
        "required": ["tenant_id", "integration_id", "shop_domain"],
        "properties": {
            "tenant_id": {"type": "string"},
            "integration_id": {"type": "string"},
            "shop_domain": {"type": "string"},
            "created_at": _INSTANT,
            "updated_at": _INSTANT,
        },
        "additionalProperties": False,
    },
    "CompatResult": {
        "type": "object",
        "required": ["success"],
        "properties": {
            "success": {"type": "boolean"},
            "message": {"type": "string"},
            "error": {"type": "string"},
            "schedule": {"type": "object"},
            "removed": {"type": "object"},
            "schedules": {"type": "array", "items": {"type": "object"}},
            "count": {"type": "integer"},
        },
    },
    "AuditEntry": {
        "type": "object",
        "required": ["id", "actor", "action", "at"],
        "properties": {
            "id": {"type": "integer"},
            "actor": {"type": "string"},
            "action": {
                "type": "string",
                "enum": [
                    "create",
                    "replace",
                    "pause",
                    "resume",
                    "trigger",
                    "delete",
                    "integration_create",
                    "integration_update",
                    "integration_delete",
                ],
            },
            "schedule_key": {"type": "string", "nullable": True},
            "before": {"type": "object", "nullable": True},
            "after": {"type": "object", "nullable": True},
            "at": _INSTANT,
        },
    },
}


def _op(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "responses": {**responses, **_ERRORS}, **extra}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def document() -> dict[str, Any]:
    schedule = _json(_ref("Schedule"), "the schedule")
    tenant_schedule = [_TENANT, _KEY]
    paths = {
        "/health": {
            "get": {
                "summary": "Liveness: the web process answers",
                "security": [],
                "responses": {"200": _json({"type": "object", "required": ["status"]}, "alive")},
            }
        },
        "/ready": {
            "get": {
                "summary": "Readiness: database, Redis, a fresh clock heartbeat, a fresh worker heartbeat",
                "security": [],
                "responses": {
                    "200": _json({"type": "object", "required": ["status", "checks"]}, "ready"),
                    "503": _json({"type": "object", "required": ["status", "checks"]}, "a component is not ready"),
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics (admin)",
                "responses": {
                    "200": {
                        "description": "Prometheus text format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    "401": _json(_ref("Error"), "no or bad token"),
                    "403": _json(_ref("Error"), "admin only"),
                },
            }
        },
        "/v1/preview": {
            "get": _op(
                "Next fire times of a pattern or interval, nothing saved",
                {"200": _json({"type": "object", "required": ["fires"]}, "fire times")},
                parameters=[
                    {"name": "cron", "in": "query", "schema": {"type": "string"}},
                    {"name": "every", "in": "query", "schema": {"type": "string"}},
                    {"name": "timezone", "in": "query", "schema": {"type": "string"}},
                    {"name": "count", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                    {"name": "after", "in": "query", "schema": _INSTANT},
                ],
            )
        },
        "/v1/schedules": {
            "get": _op(
                "List schedules (a tenant token sees its own)",
                {"200": _json(_ref("ScheduleList"), "a page")},
                parameters=[
                    {"name": "tenant", "in": "query", "schema": {"type": "string"}},
                    {"name": "job", "in": "query", "schema": {"type": "string"}},
                    *_PAGE,
                ],
            )
        },
        "/v1/runs": {
            "get": _op(
                "Runs, newest first (a tenant token sees its own)",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["items", "next_cursor"],
                            "properties": {
                                "items": {"type": "array", "items": _ref("Run")},
                                "next_cursor": {"type": "string", "nullable": True},
                            },
                        },
                        "a page",
                    ),
                    **_NOT_FOUND,
                },
                parameters=[
                    {"name": "tenant", "in": "query", "schema": {"type": "string"}},
                    {"name": "schedule_key", "in": "query", "schema": {"type": "string"}},
                    {"name": "job", "in": "query", "schema": {"type": "string"}},
                    {"name": "status", "in": "query", "schema": {"type": "string"}},
                    {"name": "since", "in": "query", "schema": _INSTANT},
                    {"name": "until", "in": "query", "schema": _INSTANT},
                    *_PAGE,
                ],
            )
        },
        "/v1/runs/{run_id}": {
            "parameters": [_RUN],
            "get": _op("One run with its attempts", {"200": _json(_ref("Run"), "the run"), **_NOT_FOUND}),
        },
        "/v1/runs/{run_id}/cancel": {
            "parameters": [_RUN],
            "post": _op(
                "Cancel: a run not yet running never runs; a running one is asked to stop",
                {
                    "200": _json(_ref("Run"), "cancelled"),
                    "202": _json(_ref("Run"), "asked to stop at its next checkpoint"),
                    "409": _json(_ref("Error"), "the run already ended"),
                    **_NOT_FOUND,
                },
            ),
        },
        "/v1/runs/{run_id}/retry": {
            "parameters": [_RUN],
            "post": _op(
                "Run a failed or cancelled run again, with a fresh retry budget",
                {
                    "202": _json(_ref("Run"), "queued again"),
                    "409": _json(_ref("Error"), "the run is not failed or cancelled"),
                    "503": _json(_ref("Error"), "Redis unreachable"),
                    **_NOT_FOUND,
                },
            ),
        },
        "/v1/jobs": {
            "get": _op("The job catalogue, with each job's defaults", {"200": _json(_LIST, "the jobs")}),
        },
        "/v1/tenants/{tenant_id}/jobs": {
            "parameters": [_TENANT],
            "post": _op(
                "Enqueue an ad-hoc job now or after a delay",
                {
                    "202": _json(_ref("Run"), "queued: follow it at /v1/runs/{id}"),
                    "503": _json(_ref("Error"), "Redis unreachable: nothing accepted"),
                    **_NOT_FOUND,
                },
                requestBody=_body(
                    {
                        "type": "object",
                        "required": ["job"],
                        "properties": {
                            "job": {"type": "string"},
                            "payload": {"type": "object"},
                            "delay": _DURATION,
                            "priority": {"type": "string", "enum": ["normal", "high"]},
                            "max_attempts": {"type": "integer", "minimum": 1, "maximum": MAX_ATTEMPTS},
                        },
                        "additionalProperties": False,
                    }
                ),
            ),
        },
        "/v1/queues": {
            "get": _op(
                "Per queue: waiting, delayed, in progress and dead messages (admin)",
                {"200": _json(_LIST, "queues"), "403": _json(_ref("Error"), "admin only"), **_UNAVAILABLE},
            ),
        },
        "/v1/dead-letters": {
            "get": _op(
                "Dead letters, newest first (a tenant token sees its own)",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["items", "total"],
                            "properties": {
                                "items": {"type": "array", "items": _ref("DeadLetter")},
                                "total": {"type": "integer"},
                            },
                        },
                        "a page",
                    ),
                    **_NOT_FOUND,
                    **_UNAVAILABLE,
                },
                parameters=[
                    *_LETTER_FILTERS,
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}},
                    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                ],
            ),
            "delete": _op(
                "Purge every matching dead letter (their failed runs stay)",
                {"200": _json({"type": "object", "required": ["purged"]}, "purged"), **_NOT_FOUND, **_UNAVAILABLE},
                parameters=_LETTER_FILTERS,
            ),
        },
        "/v1/dead-letters/retry": {
            "post": _op(
                "Retry every matching dead letter",
                {"200": _json({"type": "object", "required": ["retried"]}, "retried"), **_NOT_FOUND, **_UNAVAILABLE},
                parameters=_LETTER_FILTERS,
            ),
        },
        "/v1/dead-letters/{letter_id}": {
            "parameters": [_LETTER],
            "get": _op("One dead letter", {"200": _json(_ref("DeadLetter"), "the dead letter"), **_NOT_FOUND}),
            "delete": _op("Purge it", {"204": {"description": "purged"}, **_NOT_FOUND}),
        },
        "/v1/dead-letters/{letter_id}/retry": {
            "parameters": [_LETTER],
            "post": _op(
                "Retry it: its run gets a fresh message and retry budget",
                {"200": _json({"type": "object", "required": ["retried"]}, "retried"), **_NOT_FOUND},
            ),
        },
        "/v1/schedules/bulk": {
            "post": _op(
                "Create or replace up to 10,000 schedules, all or nothing",
                {"200": _json({"type": "object", "required": ["created", "replaced", "items"]}, "all written")},
                requestBody=_body(
                    {
                        "type": "object",
                        "required": ["items"],
                        "properties": {
                            "items": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": 10_000,
                                "items": {
                                    "type": "object",
                                    "required": ["tenant_id", "key"],
                                    "properties": {
                                        "tenant_id": {"type": "string"},
                                        "key": {"type": "string"},
                                        **_SCHEDULE_FIELDS,
                                    },
                                },
                            }
                        },
                    }
                ),
            )
        },
        "/v1/tenants/{tenant_id}/schedules": {
            "parameters": [_TENANT],
            "get": _op(
                "A tenant's schedules", {"200": _json(_ref("ScheduleList"), "a page"), **_NOT_FOUND}, parameters=_PAGE
            ),
            "delete": _op(
                "Remove all of a tenant's schedules (offboarding)",
                {"200": _json({"type": "object", "required": ["removed"]}, "how many were removed"), **_NOT_FOUND},
            ),
        },
        "/v1/tenants/{tenant_id}/pause": {
            "parameters": [_TENANT],
            "post": _op(
                "Pause every schedule of the tenant",
                {"200": _json({"type": "object"}, "paused"), **_NOT_FOUND},
                requestBody=_NOTE_BODY,
            ),
        },
        "/v1/tenants/{tenant_id}/resume": {
            "parameters": [_TENANT],
            "post": _op(
                "Resume every schedule of the tenant", {"200": _json({"type": "object"}, "resumed"), **_NOT_FOUND}
            ),
        },
        "/v1/tenants/{tenant_id}/integrations/shopify": {
            "parameters": [_TENANT],
            "get": _op(
                "The tenant's Shopify integrations (never their tokens)",
                {"200": _json({"type": "object", "required": ["items"]}, "integrations"), **_NOT_FOUND},
            ),
        },
        "/v1/tenants/{tenant_id}/integrations/shopify/{integration_id}": {
            "parameters": [
                _TENANT,
                {"name": "integration_id", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "put": _op(
                "Register or update (the token is stored encrypted, never returned)",
                {
                    "200": _json(_ref("Integration"), "updated"),
                    "201": _json(_ref("Integration"), "registered"),
                    "503": _json(_ref("Error"), "INTEGRATIONS_KEY is not set"),
                    **_NOT_FOUND,
                },
                requestBody=_body(
                    {
                        "type": "object",
                        "required": ["shop_domain", "access_token"],
                        "properties": {"shop_domain": {"type": "string"}, "access_token": {"type": "string"}},
                        "additionalProperties": False,
                    }
                ),
            ),
            "get": _op("One integration", {"200": _json(_ref("Integration"), "the integration"), **_NOT_FOUND}),
            "delete": _op("Remove", {"204": {"description": "removed"}, **_NOT_FOUND}),
        },
        "/api/schedules/add": {
            "post": {
                "summary": "Node service compatibility: add a Shopify sync schedule",
                "requestBody": _body({"type": "object"}),
                "responses": {
                    "200": _json(_ref("CompatResult"), "added"),
                    "400": _json(_ref("CompatResult"), "missing fields or unknown queue"),
                    "401": _json(_ref("Error"), "no or bad token"),
                    "404": _json(_ref("CompatResult"), "another tenant's organization"),
                },
            }
        },
        "/api/schedules/remove": {
            "post": {
                "summary": "Node service compatibility: remove a Shopify sync schedule",
                "requestBody": _body({"type": "object"}),
                "responses": {
                    "200": _json(_ref("CompatResult"), "removed"),
                    "400": _json(_ref("CompatResult"), "missing fields or unknown queue"),
                    "401": _json(_ref("Error"), "no or bad token"),
                    "404": _json(_ref("CompatResult"), "no such schedule"),
                },
            }
        },
        "/api/schedules/list": {
            "get": {
                "summary": "Node service compatibility: list Shopify sync schedules",
                "parameters": [
                    {"name": "organizationId", "in": "query", "schema": {"type": "string"}},
                    {"name": "queue", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": _json(_ref("CompatResult"), "schedules and count"),
                    "400": _json(_ref("CompatResult"), "unknown queue"),
                    "401": _json(_ref("Error"), "no or bad token"),
                },
            }
        },
        "/v1/tiers": {
            "get": _op(
                "The tiers and their entries", {"200": _json({"type": "object", "required": ["tiers"]}, "tiers")}
            )
        },
        "/v1/tenants/{tenant_id}/tier": {
            "parameters": [_TENANT],
            "put": _op(
                "Apply a tier: the tenant's tier-managed schedules become exactly the tier's (idempotent)",
                {
                    "200": _json(
                        {"type": "object", "required": ["tier", "created", "updated", "removed", "schedules"]},
                        "what changed",
                    ),
                    **_NOT_FOUND,
                },
                requestBody=_body(
                    {
                        "type": "object",
                        "required": ["tier"],
                        "properties": {"tier": {"type": "string"}, "data": {"type": "object"}},
                        "additionalProperties": False,
                    }
                ),
            ),
        },
        "/v1/tenants/{tenant_id}/audit": {
            "parameters": [_TENANT],
            "get": _op(
                "Every change to the tenant's schedules, oldest first",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["items", "next_cursor"],
                            "properties": {
                                "items": {"type": "array", "items": _ref("AuditEntry")},
                                "next_cursor": {"type": "string", "nullable": True},
                            },
                        },
                        "a page",
                    ),
                    **_NOT_FOUND,
                },
                parameters=_PAGE,
            ),
        },
        "/v1/tenants/{tenant_id}/schedules/{key}": {
            "parameters": tenant_schedule,
            "put": _op(
                "Create or replace (idempotent)",
                {"200": schedule, "201": schedule, **_NOT_FOUND},
                requestBody=_body(_ref("ScheduleInput")),
            ),
            "patch": _op(
                "Change only the fields given",
                {"200": schedule, **_NOT_FOUND},
                requestBody=_body(_ref("ScheduleInput")),
            ),
            "get": _op("One schedule with its next fire time", {"200": schedule, **_NOT_FOUND}),
            "delete": _op("Remove", {"204": {"description": "removed"}, **_NOT_FOUND}),
        },
        "/v1/tenants/{tenant_id}/schedules/{key}/pause": {
            "parameters": tenant_schedule,
            "post": _op("Pause, with an optional note", {"200": schedule, **_NOT_FOUND}, requestBody=_NOTE_BODY),
        },
        "/v1/tenants/{tenant_id}/schedules/{key}/resume": {
            "parameters": tenant_schedule,
            "post": _op("Resume (missed fires are not replayed)", {"200": schedule, **_NOT_FOUND}),
        },
        "/v1/tenants/{tenant_id}/schedules/{key}/trigger": {
            "parameters": tenant_schedule,
            "post": _op(
                "Run now (a manual run)",
                {
                    "202": _json(
                        {"type": "object", "required": ["schedule_id", "fire_time", "message_id"]}, "enqueued"
                    ),
                    "503": _json(_ref("Error"), "Redis unreachable: nothing enqueued"),
                    **_NOT_FOUND,
                },
            ),
        },
        "/v1/tenants/{tenant_id}/schedules/{key}/runs": {
            "parameters": tenant_schedule,
            "get": _op(
                "The schedule's latest runs",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["items"],
                            "properties": {"items": {"type": "array", "items": _ref("Run")}},
                        },
                        "runs, newest first",
                    ),
                    **_NOT_FOUND,
                },
                parameters=[
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}}
                ],
            ),
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "tenantcron", "version": "1", "description": "Multi-tenant cron and job service."},
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


class OpenApiResource:
    """``GET /openapi.json``: this document (public)."""

    def __init__(self) -> None:
        self.doc = document()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self.doc
