"""``/v1/dead-letters``: list, retry and purge dead letters (one, or all that match a filter)."""

from __future__ import annotations

import falcon

from api.auth import principal_of, require_tenant
from api.params import whole_number
from app.deadletters import DeadLetter, DeadLetterService
from app.errors import NotFound, ValidationError
from app.jobs import QUEUES
from app.schedules import MAX_PAGE


def _filters(req: falcon.Request) -> tuple[str | None, str | None]:
    """(tenant, queue) from the query; a tenant-scoped caller only ever gets its own tenant."""
    principal = principal_of(req)
    tenant, queue = req.get_param("tenant"), req.get_param("queue")
    if queue is not None and queue not in QUEUES:
        raise ValidationError([{"field": "queue", "message": f"one of {', '.join(QUEUES)}"}])
    if not principal.is_admin:
        if tenant is not None and tenant != principal.tenant_id:
            raise NotFound(f"tenant {tenant!r} has nothing here")
        tenant = principal.tenant_id
    return tenant, queue


class DeadLettersResource:
    """``GET /v1/dead-letters?tenant=&queue=&limit=&offset=``; ``POST .../retry`` and ``DELETE`` act on
    every dead letter that matches the same filters."""

    def __init__(self, service: DeadLetterService | None):
        self.service = service

    def _service(self) -> DeadLetterService:
        if self.service is None:
            raise falcon.HTTPServiceUnavailable(title="Queue unavailable", description="REDIS_URL is not set")
        return self.service

    def _matching(self, req: falcon.Request) -> list[DeadLetter]:
        tenant, queue = _filters(req)
        letters, _ = self._service().list(tenant_id=tenant, queue=queue, limit=None)
        return letters

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        tenant, queue = _filters(req)
        limit, offset = req.get_param("limit") or "100", req.get_param("offset") or "0"
        if whole_number(limit) is None or not 1 <= int(limit) <= MAX_PAGE:
            raise ValidationError([{"field": "limit", "message": f"must be a whole number from 1 to {MAX_PAGE}"}])
        if whole_number(offset) is None:
            raise ValidationError([{"field": "offset", "message": "must be a whole number"}])
        letters, total = self._service().list(tenant_id=tenant, queue=queue, limit=int(limit), offset=int(offset))
        resp.media = {"items": [letter.as_dict() for letter in letters], "total": total}

    def on_post_retry(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"retried": self._service().retry(self._matching(req))}

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"purged": self._service().purge(self._matching(req))}


class DeadLetterResource:
    """``GET|DELETE /v1/dead-letters/{id}``, ``POST /v1/dead-letters/{id}/retry``."""

    def __init__(self, service: DeadLetterService | None):
        self.service = service

    def _letter(self, req: falcon.Request, letter_id: str) -> DeadLetter:
        letter = self.service.get(letter_id) if self.service is not None else None
        if letter is None:
            raise NotFound(f"no dead letter {letter_id!r}")
        require_tenant(req, letter.tenant_id or "")
        return letter

    def on_get(self, req: falcon.Request, resp: falcon.Response, letter_id: str) -> None:
        resp.media = self._letter(req, letter_id).as_dict()

    def on_post_retry(self, req: falcon.Request, resp: falcon.Response, letter_id: str) -> None:
        resp.media = {"retried": self.service.retry([self._letter(req, letter_id)])}

    def on_delete(self, req: falcon.Request, resp: falcon.Response, letter_id: str) -> None:
        self.service.purge([self._letter(req, letter_id)])
        resp.status = falcon.HTTP_204
