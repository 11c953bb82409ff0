"""Runs: one row per (schedule, fire time), claimed by exactly one worker at a time.

The UNIQUE (schedule_id, fire_time) key is the guarantee behind "no duplicate run": every path
that would run a fire (a scheduled message, a redelivery, a re-fire after a clock crash) must first
claim this row, and a claim only succeeds while the run is still open.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, case, func, select, text

from app.models import UTCDateTime, run_attempts, runs

#: Statuses a new attempt may take over (besides a running one whose lease has expired).
CLAIMABLE = ("queued", "retrying")

#: The claim, one statement that SQLite and PostgreSQL read alike: create the run of (schedule,
#: fire time) as running, or take over an open one; nothing when the schedule is gone, the run has
#: finished, or another worker's lease is still valid. Kept as text: built once, compiled once
#: (the same statement through the expression language costs ~1 ms of Python per run).
_CLAIM = text(
    """
    INSERT INTO runs (schedule_id, tenant_id, fire_time, triggered_by, status, attempts, message_id,
                      started_at, lease_until, created_at, updated_at)
    SELECT id, tenant_id, :fire_time, :triggered_by, 'running', 1, :message_id, :now, :lease_until, :now, :now
    FROM schedules WHERE id = :schedule_id
    ON CONFLICT (schedule_id, fire_time) DO UPDATE SET
        status = 'running', attempts = runs.attempts + 1, message_id = excluded.message_id,
        started_at = excluded.started_at, lease_until = excluded.lease_until,
        updated_at = excluded.updated_at, finished_at = NULL
    WHERE runs.status IN ('queued', 'retrying') OR (runs.status = 'running' AND runs.lease_until < :now)
    RETURNING id, attempts
    """
).bindparams(
    bindparam("fire_time", type_=UTCDateTime),
    bindparam("now", type_=UTCDateTime),
    bindparam("lease_until", type_=UTCDateTime),
)

#: The attempt's own record (one per attempt; a repeated finish of the same attempt is ignored).
_ATTEMPT = text(
    """
    INSERT INTO run_attempts (run_id, attempt, status, started_at, finished_at, duration_ms, error)
    VALUES (:run_id, :attempt, :status, :started_at, :now, :duration_ms, :error)
    ON CONFLICT (run_id, attempt) DO NOTHING
    """
).bindparams(bindparam("started_at", type_=UTCDateTime), bindparam("now", type_=UTCDateTime))

#: The end of an attempt, applied only while the run is still this attempt's.
_FINISH = text(
    """
    UPDATE runs SET status = :status, error = :error, finished_at = :finished_at, duration_ms = :duration_ms,
                    result = :result, lease_until = NULL, updated_at = :now
    WHERE id = :run_id AND attempts = :attempt
    """
).bindparams(bindparam("finished_at", type_=UTCDateTime), bindparam("now", type_=UTCDateTime))


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
        "result": json.loads(row["result"]) if row["result"] else None,
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
        with self.engine.begin() as conn:
            row = conn.execute(
                _CLAIM,
                {
                    "schedule_id": schedule_id,
                    "fire_time": fire_time,
                    "triggered_by": triggered_by,
                    "message_id": message_id,
                    "now": now,
                    "lease_until": now + lease,
                },
            ).first()
        return Claim(row.id, row.attempts, now) if row else None

    def finish(
        self,
        claim: Claim,
        status: str,
        *,
        error: str | None = None,
        result: Any = None,
        now: datetime | None = None,
    ) -> None:
        """Record the end of an attempt: succeeded, failed (final) or retrying (another attempt follows)."""
        now = now or datetime.now(UTC)
        params = {
            "run_id": claim.run_id,
            "attempt": claim.attempt,
            "status": status,
            "error": error,
            "started_at": claim.started_at,
            "finished_at": now if status != "retrying" else None,
            "duration_ms": int((now - claim.started_at).total_seconds() * 1000),
            "result": json.dumps(result, separators=(",", ":")) if result is not None else None,
            "now": now,
        }
        with self.engine.begin() as conn:
            conn.execute(_FINISH, params)
            conn.execute(_ATTEMPT, {**params, "status": "failed" if status == "retrying" else status})

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

    def search(
        self,
        *,
        tenant_id: str | None = None,
        schedule_id: int | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Runs newest first, filtered; returns (page, cursor of the next page or None)."""
        r = runs.c
        query = select(runs).order_by(r.id.desc()).limit(limit + 1)
        filters = [
            (operator.eq, r.tenant_id, tenant_id),
            (operator.eq, r.schedule_id, schedule_id),
            (operator.eq, r.status, status),
            (operator.ge, r.fire_time, since),
            (operator.lt, r.fire_time, until),
            (operator.lt, r.id, before_id),
        ]
        for compare, column, value in filters:
            if value is not None:
                query = query.where(compare(column, value))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [shape_run(row) for row in rows[:limit]], (rows[limit - 1]["id"] if len(rows) > limit else None)

    def get_by_id(self, run_id: int) -> dict[str, Any] | None:
        """One run with its attempts (oldest first)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
            if row is None:
                return None
            attempts = conn.execute(
                select(run_attempts).where(run_attempts.c.run_id == run_id).order_by(run_attempts.c.attempt)
            ).mappings()
            shaped = shape_run(row)
            shaped["attempt_log"] = [
                {
                    "attempt": a["attempt"],
                    "status": a["status"],
                    "started_at": _iso(a["started_at"]),
                    "finished_at": _iso(a["finished_at"]),
                    "duration_ms": a["duration_ms"],
                    "error": a["error"],
                }
                for a in attempts
            ]
        return shaped

    def summaries(self, schedule_ids: list[int]) -> dict[int, dict[str, Any]]:
        """Per schedule: its last run's status and fire time, and its counts of succeeded and failed runs."""
        if not schedule_ids:
            return {}
        r = runs.c
        with self.engine.connect() as conn:
            counts = conn.execute(
                select(
                    r.schedule_id,
                    func.sum(case((r.status == "succeeded", 1), else_=0)),
                    func.sum(case((r.status == "failed", 1), else_=0)),
                    func.max(r.id),
                )
                .where(r.schedule_id.in_(schedule_ids))
                .group_by(r.schedule_id)
            ).all()
            last_ids = [row[3] for row in counts]
            last = (
                {
                    row.schedule_id: row
                    for row in conn.execute(select(r.schedule_id, r.status, r.fire_time).where(r.id.in_(last_ids)))
                }
                if last_ids
                else {}
            )
        return {
            sid: {
                "last_run_status": last[sid].status,
                "last_run_at": _iso(last[sid].fire_time),
                "succeeded_runs": int(ok or 0),
                "failed_runs": int(bad or 0),
            }
            for sid, ok, bad, _ in counts
        }
