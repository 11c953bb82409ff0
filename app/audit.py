"""The audit log: every change to a tenant's schedules, with who, what, before, after and when."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.engine import Connection

from app.models import audit_log

#: One change: (action, tenant id, schedule key, before, after); before/after are shaped schedules.
Change = tuple[str, str, str | None, dict[str, Any] | None, dict[str, Any] | None]


def _dump(value: dict[str, Any] | None) -> str | None:
    return json.dumps(value, separators=(",", ":"), sort_keys=True) if value is not None else None


class AuditLog:
    """Writes audit rows inside the caller's transaction, so a change and its record commit together."""

    def record_many(self, conn: Connection, actor: str, changes: Iterable[Change], at: datetime) -> None:
        rows = [
            {
                "tenant_id": tenant_id,
                "actor": actor,
                "action": action,
                "schedule_key": key,
                "before": _dump(before),
                "after": _dump(after),
                "at": at,
            }
            for action, tenant_id, key, before, after in changes
        ]
        if rows:
            conn.execute(insert(audit_log), rows)

    def list(
        self, engine: Engine, tenant_id: str, *, after_id: int = 0, limit: int = 100
    ) -> tuple[list[dict], int | None]:
        """A tenant's audit entries, oldest first, paginated by id."""
        with engine.connect() as conn:
            rows = (
                conn.execute(
                    select(audit_log)
                    .where(audit_log.c.tenant_id == tenant_id, audit_log.c.id > after_id)
                    .order_by(audit_log.c.id)
                    .limit(limit + 1)
                )
                .mappings()
                .all()
            )
        items = [
            {
                "id": r["id"],
                "actor": r["actor"],
                "action": r["action"],
                "schedule_key": r["schedule_key"],
                "before": json.loads(r["before"]) if r["before"] else None,
                "after": json.loads(r["after"]) if r["after"] else None,
                "at": r["at"].isoformat(),
            }
            for r in rows[:limit]
        ]
        return items, (rows[limit - 1]["id"] if len(rows) > limit else None)
