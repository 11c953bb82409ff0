"""``POST /v1/schedules/bulk``: create or replace up to 10,000 schedules, all or nothing."""

from __future__ import annotations

import falcon

from api.auth import principal_of
from app.errors import ValidationError
from app.schedules import ScheduleInput, ScheduleService

#: Most schedules one bulk request may carry.
MAX_BULK = 10_000


class BulkSchedulesResource:
    """Body: ``{"items": [{"tenant_id": ..., "key": ..., <schedule fields>}, ...]}``.

    Every item is validated first; one bad item rejects the whole request with a 400 listing each
    bad item by index. Otherwise all are written in one transaction.
    """

    def __init__(self, service: ScheduleService):
        self.service = service

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = principal_of(req)
        doc = req.get_media()
        items = doc.get("items") if isinstance(doc, dict) else None
        if not isinstance(items, list) or not items or len(items) > MAX_BULK:
            raise ValidationError([{"field": "items", "message": f"must be a list of 1 to {MAX_BULK} schedules"}])
        parsed: list[ScheduleInput] = []
        problems: list[dict] = []
        seen: set[tuple[str, str]] = set()
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                problems.append({"index": index, "details": [{"field": "item", "message": "must be a JSON object"}]})
                continue
            body = {k: v for k, v in item.items() if k not in ("tenant_id", "key")}
            tenant_id, key = item.get("tenant_id"), item.get("key")
            try:
                if not principal.may_access(str(tenant_id)):
                    raise ValidationError([{"field": "tenant_id", "message": "not a tenant this token may change"}])
                if (tenant_id, key) in seen:
                    raise ValidationError([{"field": "key", "message": "appears more than once in this request"}])
                seen.add((tenant_id, key))
                parsed.append(ScheduleInput.parse(tenant_id, key, body))
            except ValidationError as exc:
                problems.append({"index": index, "tenant_id": tenant_id, "key": key, "details": exc.errors})
        if problems:
            raise BulkRejected(problems)
        results = self.service.upsert_many(parsed, principal.name)
        resp.media = {
            "created": sum(1 for _, created in results if created),
            "replaced": sum(1 for _, created in results if not created),
            "items": [
                {
                    "tenant_id": s["tenant_id"],
                    "key": s["key"],
                    "id": s["id"],
                    "version": s["version"],
                    "next_fire_at": s["next_fire_at"],
                }
                for s, _ in results
            ],
        }


class BulkRejected(falcon.HTTPBadRequest):
    """400 naming every bad item; nothing was written."""

    def __init__(self, problems: list[dict]):
        super().__init__(
            title="Invalid input",
            description=f"{len(problems)} item(s) are invalid; nothing was written",
        )
        self.details = problems
