"""The schedule domain: validate, create-or-replace, read, list and remove tenant schedules."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, case, delete, select

from app import cron
from app.errors import NotFound, ValidationError
from app.jobs import JOBS, PayloadError
from app.models import schedules
from app.signals import ChangeNotifier
from app.sql import insert

#: Tenant ids and schedule keys: what fits in a URL path segment without escaping.
IDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$")

#: Largest page of a list.
MAX_PAGE = 500


@dataclass(frozen=True)
class ScheduleInput:
    """A validated create-or-replace request for one schedule."""

    tenant_id: str
    key: str
    job: str
    cron: str
    timezone: str
    payload: dict[str, Any]
    paused: bool

    @classmethod
    def parse(cls, tenant_id: str, key: str, doc: Any) -> ScheduleInput:
        errors: list[dict[str, str]] = []

        def err(field: str, message: str) -> None:
            errors.append({"field": field, "message": message})

        if not isinstance(tenant_id, str) or not IDENT.match(tenant_id):
            err("tenant_id", "must be 1-128 characters of letters, digits, '.', '_', ':' or '-'")
        if not isinstance(key, str) or not KEY.match(key):
            err("key", "must be 1-200 characters of letters, digits, '.', '_', ':' or '-'")
        if not isinstance(doc, Mapping):
            raise ValidationError(errors + [{"field": "body", "message": "must be a JSON object"}])
        known = {"job", "cron", "timezone", "payload", "paused"}
        for extra in sorted(set(doc) - known):
            err(extra, f"unknown field; allowed fields are {', '.join(sorted(known))}")

        job = doc.get("job")
        if job is None:
            err("job", f"is required; one of {', '.join(sorted(JOBS))}")
        elif job not in JOBS:
            err("job", f"unknown job {job!r}; one of {', '.join(sorted(JOBS))}")

        pattern = doc.get("cron")
        canonical = ""
        if pattern is None:
            err("cron", "is required, e.g. '0 */6 * * *' or '@hourly'")
        elif not isinstance(pattern, str):
            err("cron", "must be a string such as '*/15 * * * *'")
        else:
            try:
                canonical = cron.normalize(pattern)
            except cron.CronError as exc:
                err("cron", str(exc))

        timezone = doc.get("timezone", "UTC")
        try:
            cron.zone_info(timezone)
        except cron.CronError as exc:
            err("timezone", str(exc))

        payload = doc.get("payload", {})
        if not isinstance(payload, Mapping):
            err("payload", "must be a JSON object")
        elif job in JOBS:
            try:
                JOBS[job].check_payload(payload)
            except PayloadError as exc:
                err("payload", str(exc))

        paused = doc.get("paused", False)
        if not isinstance(paused, bool):
            err("paused", "must be true or false")

        if errors:
            raise ValidationError(errors)
        return cls(tenant_id, key, job, canonical, timezone, dict(payload), paused)


def _shape(row: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    next_fire = None
    if not row["paused"]:
        after = max(now, row["active_since"])
        next_fire = cron.next_fire(row["cron"], row["timezone"], after, inclusive=True)
    return {
        "id": row["id"],
        "tenant_id": row["tenant_id"],
        "key": row["key"],
        "job": row["job"],
        "cron": row["cron"],
        "timezone": row["timezone"],
        "payload": json.loads(row["payload"]),
        "paused": row["paused"],
        "version": row["version"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
        "next_fire_at": next_fire.isoformat() if next_fire else None,
    }


class ScheduleService:
    """Reads and writes tenant schedules and tells the clock what changed.

    Parameters:
      engine: the database engine.
      notifier: publishes change signals to the clock after each commit.
      clock: returns the current instant (injected so tests can pin it).
    """

    def __init__(self, engine: Engine, notifier: ChangeNotifier, clock=lambda: datetime.now(UTC)):
        self.engine = engine
        self.notifier = notifier
        self.now = clock

    def upsert(self, item: ScheduleInput) -> tuple[dict[str, Any], bool]:
        """Create or replace the schedule (tenant, key). Returns (schedule, created)."""
        now = self.now()
        key = cron.trigger_key(item.cron, item.timezone)
        values = {
            "tenant_id": item.tenant_id,
            "key": item.key,
            "job": item.job,
            "cron": item.cron,
            "timezone": item.timezone,
            "payload": json.dumps(item.payload, separators=(",", ":"), sort_keys=True),
            "paused": item.paused,
            "trigger_key": key,
            "active_since": now,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        with self.engine.begin() as conn:
            stmt = insert(conn, schedules).values(**values)
            ex = stmt.excluded
            t = schedules.c
            # Fires before active_since are not the schedule's: reset it only when the trigger
            # changes or the schedule is resumed, so an idempotent replay changes nothing.
            keep_since = (t.trigger_key == ex.trigger_key) & ((t.paused == ex.paused) | ex.paused)
            stmt = stmt.on_conflict_do_update(
                index_elements=[t.tenant_id, t.key],
                set_={
                    "job": ex.job,
                    "cron": ex.cron,
                    "timezone": ex.timezone,
                    "payload": ex.payload,
                    "paused": ex.paused,
                    "trigger_key": ex.trigger_key,
                    "active_since": case((keep_since, t.active_since), else_=ex.active_since),
                    "version": t.version + 1,
                    "updated_at": ex.updated_at,
                },
            ).returning(*schedules.c)
            row = conn.execute(stmt).mappings().one()
        if not item.paused:
            self.notifier.changed([key])
        return _shape(row, now), row["version"] == 1

    def get(self, tenant_id: str, key: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(schedules).where(schedules.c.tenant_id == tenant_id, schedules.c.key == key))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound(f"tenant {tenant_id!r} has no schedule {key!r}")
        return _shape(row, self.now())

    def list(
        self,
        *,
        tenant_id: str | None = None,
        job: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """A page of schedules ordered by id. Returns (items, next cursor or None)."""
        limit = max(1, min(limit, MAX_PAGE))
        query = select(schedules).where(schedules.c.id > after_id).order_by(schedules.c.id).limit(limit + 1)
        if tenant_id is not None:
            query = query.where(schedules.c.tenant_id == tenant_id)
        if job is not None:
            query = query.where(schedules.c.job == job)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        now = self.now()
        items = [_shape(row, now) for row in rows[:limit]]
        cursor = rows[limit - 1]["id"] if len(rows) > limit else None
        return items, cursor

    def delete(self, tenant_id: str, key: str) -> None:
        with self.engine.begin() as conn:
            result = conn.execute(delete(schedules).where(schedules.c.tenant_id == tenant_id, schedules.c.key == key))
        if result.rowcount == 0:
            raise NotFound(f"tenant {tenant_id!r} has no schedule {key!r}")
        # No signal: a trigger left without schedules fires nothing and is dropped by the next
        # reconcile; a queued fire of the deleted schedule finds no schedule and is skipped.
