"""Runs: one row per (schedule, fire time), claimed by exactly one worker at a time.

The UNIQUE (schedule_id, fire_time) key is the guarantee behind "no duplicate run": every path
that would run a fire (a scheduled message, a redelivery, a re-fire after a clock crash) must first
claim this row, and a claim only succeeds while the run is still open.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, literal, or_, select, update

from app.models import runs, schedules
from app.sql import insert

#: Statuses a new attempt may take over (besides a running one whose lease has expired).
CLAIMABLE = ("queued", "retrying")


@dataclass(frozen=True)
class Claim:
    """A run this worker now owns."""

    run_id: int
    attempt: int
    started_at: datetime


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def shape_run(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "schedule_id": row["schedule_id"],
        "tenant_id": row["tenant_id"],
        "fire_time": _iso(row["fire_time"]),
        "triggered_by": row["triggered_by"],
        "status": row["status"],
        "attempts": row["attempts"],
        "started_at": _iso(row["started_at"]),
        "finished_at": _iso(row["finished_at"]),
        "duration_ms": row["duration_ms"],
        "error": row["error"],
    }


class RunStore:
    """Run bookkeeping shared by workers (claim, finish), the clock (missed fires) and the API (reads).

    Parameters:
      engine: the database engine.
    """

    def __init__(self, engine: Engine):
        self.engine = engine

    def claim(
        self,
        schedule_id: int,
        fire_time: datetime,
        *,
        triggered_by: str,
        message_id: str,
        lease: timedelta,
        now: datetime | None = None,
    ) -> Claim | None:
        """Take the run of (schedule, fire time), creating it if needed.

        Returns None when the run is not this worker's to do: it already finished, another worker
        holds an unexpired lease on it, or the schedule no longer exists.
        """
        now = now or datetime.now(UTC)
        r = runs.c
        with self.engine.begin() as conn:
            source = select(
                schedules.c.id,
                schedules.c.tenant_id,
                literal(fire_time, runs.c.fire_time.type),
                literal(triggered_by),
                literal("running"),
                literal(1),
                literal(message_id),
                literal(now, runs.c.started_at.type),
                literal(now + lease, runs.c.lease_until.type),
                literal(now, runs.c.created_at.type),
                literal(now, runs.c.updated_at.type),
            ).where(schedules.c.id == schedule_id)
            stmt = insert(conn, runs).from_select(
                [
                    "schedule_id",
                    "tenant_id",
                    "fire_time",
                    "triggered_by",
                    "status",
                    "attempts",
                    "message_id",
                    "started_at",
                    "lease_until",
                    "created_at",
                    "updated_at",
                ],
                source,
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=[r.schedule_id, r.fire_time],
                set_={
                    "status": "running",
                    "attempts": r.attempts + 1,
                    "message_id": stmt.excluded.message_id,
                    "started_at": stmt.excluded.started_at,
                    "lease_until": stmt.excluded.lease_until,
                    "updated_at": stmt.excluded.updated_at,
                    "finished_at": None,
                },
                where=or_(r.status.in_(CLAIMABLE), and_(r.status == "running", r.lease_until < now)),
            ).returning(r.id, r.attempts)
            row = conn.execute(stmt).first()
        return Claim(row.id, row.attempts, now) if row else None

    def finish(self, claim: Claim, status: str, *, error: str | None = None, now: datetime | None = None) -> None:
        """Record the end of an attempt: succeeded, failed (final) or retrying (another attempt follows)."""
        now = now or datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.id == claim.run_id, runs.c.attempts == claim.attempt)
                .values(
                    status=status,
                    error=error,
                    finished_at=now if status != "retrying" else None,
                    duration_ms=int((now - claim.started_at).total_seconds() * 1000),
                    lease_until=None,
                    updated_at=now,
                )
            )

    def get(self, schedule_id: int, fire_time: datetime) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(runs).where(runs.c.schedule_id == schedule_id, runs.c.fire_time == fire_time))
                .mappings()
                .first()
            )
        return shape_run(row) if row else None

    def list_for_schedule(self, schedule_id: int, limit: int = 100) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(runs).where(runs.c.schedule_id == schedule_id).order_by(runs.c.fire_time.desc()).limit(limit)
                )
                .mappings()
                .all()
            )
        return [shape_run(row) for row in rows]
