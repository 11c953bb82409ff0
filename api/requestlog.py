"""Request ids and access logs: one JSON line per request, and the request id on every line logged
while the request is handled (and in the ``X-Request-ID`` response header)."""

from __future__ import annotations

import logging
import re
import time
import uuid

import falcon

from app.logs import REQUEST_ID

log = logging.getLogger("api.access")

#: An incoming X-Request-ID is kept when it looks like an id (a proxy's or the main app's).
_VALID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RequestLogMiddleware:
    """Gives each request an id (the caller's ``X-Request-ID`` if sane), logs it when it ends."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        given = req.get_header("X-Request-ID")
        req.context.request_id = given if given and _VALID.fullmatch(given) else uuid.uuid4().hex
        req.context.request_id_token = REQUEST_ID.set(req.context.request_id)
        req.context.started = time.perf_counter()

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource, params: dict) -> None:
        req.context.params = params

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource, req_succeeded: bool) -> None:
        resp.set_header("X-Request-ID", req.context.request_id)
        params = req.context.get("params") or {}
        principal = req.context.get("principal")
        fields = {
            "event": "http_request",
            "method": req.method,
            "path": req.path,
            "status": resp.status_code,
            "duration_ms": round((time.perf_counter() - req.context.started) * 1000, 1),
            "remote_addr": req.remote_addr,
            "caller": principal.name if principal is not None else None,
            "tenant_id": params.get("tenant_id"),
            "schedule_key": params.get("key"),
            "run_id": params.get("run_id"),
        }
        log.info("request", extra={k: v for k, v in fields.items() if v is not None})
        REQUEST_ID.reset(req.context.request_id_token)
