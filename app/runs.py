"""Runs: one row per (schedule, fire time), claimed by exactly one worker at a time.

The UNIQUE (schedule_id, fire_time) key is the guarantee behind "no duplicate run": every path
that would run a fire (a scheduled message, a redelivery, a re-fire after a clock crash, a manual
trigger in the same second) must first claim this row, and a claim only succeeds while the run is
open and nobody else holds a live lease on it. Ad-hoc jobs are runs without a schedule, claimed by
their run id.

A schedule's overlap policy is enforced by two partial unique indexes: at most one running
``singleton`` run and at most one ``waiting`` run per schedule. A fire that finds the slot taken
is skipped, buffered (waiting) or supersedes the running one, by policy.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Text,
    bindparam,
    case,
    column,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from app.models import TERMINAL_STATUSES, UTCDateTime, audit_log, run_attempts, runs, schedules
from app.sql import insert as dialect_insert

#: Open statuses a new attempt may take over (besides a running one whose lease has expired).
CLAIMABLE = ("queued", "waiting", "retrying")

#: Rounds a claim retries when it races another claim of the same schedule.
CLAIM_ROUNDS = 5

#: Error recorded for an attempt whose worker vanished (SIGKILL, crash, lost host).
LOST = "the worker running this attempt stopped without finishing it (its lease expired)"


@lru_cache(maxsize=64)
def _claim_many_statement(count: int):
    """The claim of ``count`` new runs, one statement that SQLite and PostgreSQL read alike: each fire's
    run is created as running; nothing happens for a run that already exists (the slower path then
    decides) or a schedule that is gone. A singleton run that would be its schedule's second running
    run violates uq_runs_one_running instead. Kept as text, built once per count: through the
    expression language the same statement costs ~1 ms of Python per run."""
    values = ", ".join(f"(:s{i}, :f{i}, :t{i}, :m{i})" for i in range(count))
    statement = text(
        f"""
        WITH v (schedule_id, fire_time, triggered_by, message_id) AS (VALUES {values})
        INSERT INTO runs (schedule_id, tenant_id, job, fire_time, triggered_by, status, attempts, message_id,
                          started_at, lease_until, singleton, cancel_requested, created_at, updated_at)
        SELECT s.id, s.tenant_id, s.job, v.fire_time, v.triggered_by, 'running', 1, v.message_id, :now,
               :lease_until, s.overlap <> 'allow', false, :now, :now
        FROM schedules s JOIN v ON s.id = v.schedule_id
        WHERE true
        ON CONFLICT (schedule_id, fire_time) DO NOTHING
        RETURNING id, schedule_id, fire_time, singleton
        """
    ).bindparams(
        *(bindparam(f"f{i}", type_=UTCDateTime) for i in range(count)),
        bindparam("now", type_=UTCDateTime),
        bindparam("lease_until", type_=UTCDateTime),
    )
    return statement.columns(column("id"), column("schedule_id"), column("fire_time", UTCDateTime), column("singleton"))


#: The attempt's own record (one per attempt; a repeated finish of the same attempt is ignored).
_ATTEMPT = text(
    """
    INSERT INTO run_attempts (run_id, attempt, status, started_at, finished_at, duration_ms, error, detail)
    VALUES (:run_id, :attempt, :status, :started_at, :now, :duration_ms, :error, :detail)
    ON CONFLICT (run_id, attempt) DO NOTHING
    """
).bindparams(bindparam("started_at", type_=UTCDateTime), bindparam("now", type_=UTCDateTime))

#: The end of an attempt, applied only while the run is still this attempt's.
_FINISH = text(
    """
    UPDATE runs SET status = :status, error = :error, finished_at = :finished_at, duration_ms = :duration_ms,
                    result = :result, lease_until = NULL, updated_at = :now,
                    progress = CASE WHEN :succeeded THEN 100 ELSE progress END
    WHERE id = :run_id AND attempts = :attempt AND status = 'running'
    """
).bindparams(bindparam("finished_at", type_=UTCDateTime), bindparam("now", type_=UTCDateTime))


@dataclass(frozen=True)
class Claim:
    """A run this worker now owns.

    Parameters:
      run_id: the run.
      attempt: this attempt's number (1 for the first).
      started_at: when this attempt started.
      schedule_id: the run's schedule (None for an ad-hoc job).
      singleton: whether the run holds its schedule's single running slot.
    """

    run_id: int
    attempt: int
    started_at: datetime
    schedule_id: int | None = None
    singleton: bool = False


@dataclass(frozen=True)
class Refusal:
    """Why a message does not run now.

    Parameters:
      reason: ``done`` (the run ended), ``gone`` (no such schedule or run), ``held`` (another worker
        holds a live lease; look again at ``retry_at``), ``skipped`` or ``waiting`` (the overlap
        policy recorded the fire as skipped, or buffered it behind the running run).
      run_id: the run concerned, when there is one.
      retry_at: for ``held``: when the other worker's lease ends.
      detail: a sentence for the log.
    """

    reason: str
    run_id: int | None = None
    retry_at: datetime | None = None
    detail: str = ""


def _ms(elapsed: timedelta) -> int:
    """Milliseconds, within the INTEGER column (an attempt lost weeks ago would overflow it)."""
    return max(0, min(int(elapsed.total_seconds() * 1000), 2**31 - 1))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def shape_run(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "schedule_id": row["schedule_id"],
        "tenant_id": row["tenant_id"],
        "job": row["job"],
        "fire_time": _iso(row["fire_time"]),
        "triggered_by": row["triggered_by"],
        "status": row["status"],
        "attempts": row["attempts"],
        "max_attempts": row["max_attempts"],
        "priority": row["priority"],
        "started_at": _iso(row["started_at"]),
        "finished_at": _iso(row["finished_at"]),
        "duration_ms": row["duration_ms"],
        "progress": row["progress"],
        "progress_message": row["progress_message"],
        "stop_requested": bool(row["cancel_requested"]) and row["status"] == "running",
        "error": row["error"],
        "result": json.loads(row["result"]) if row["result"] else None,
        "payload": json.loads(row["payload"]) if row["payload"] else None,
    }


def _shape_attempt(a: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "attempt": a["attempt"],
        "status": a["status"],
        "started_at": _iso(a["started_at"]),
        "finished_at": _iso(a["finished_at"]),
        "duration_ms": a["duration_ms"],
        "error": a["error"],
        "detail": json.loads(a["detail"]) if a["detail"] else None,
    }


def runs_from_schedules(
    conn: Connection,
    where: list,
    fire_time: datetime,
    triggered_by: str,
    status: str,
    error: str | None,
    now: datetime,
):
    """INSERT ... SELECT of one run per schedule matched by ``where``, all with this fire time, status
    and error, and no attempt (a skipped, waiting or missed fire). Returns the statement, in the
    connection's dialect so the caller may add ``on_conflict_do_nothing`` or ``returning``."""
    s = schedules.c
    finished = now if status in TERMINAL_STATUSES else None
    source = select(
        s.id,
        s.tenant_id,
        s.job,
        literal(fire_time, UTCDateTime),
        literal(triggered_by),
        literal(status),
        literal(0),
        s.overlap != "allow",
        literal(error, Text),
        literal(finished, UTCDateTime),
        literal(now, UTCDateTime),
        literal(now, UTCDateTime),
    ).where(*where)
    columns = [
        "schedule_id",
        "tenant_id",
        "job",
        "fire_time",
        "triggered_by",
        "status",
        "attempts",
        "singleton",
        "error",
        "finished_at",
        "created_at",
        "updated_at",
    ]
    return dialect_insert(conn, runs).from_select(columns, source)


@dataclass(frozen=True)
class Finish:
    """The end of one attempt, for ``RunStore.finish_many``."""

    claim: Claim
    status: str
    now: datetime
    error: str | None = None
    result: Any = None
    detail: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ClaimRequest:
    """A message's request for the run of (schedule, fire time), for ``RunStore.claim_new_many``."""

    schedule_id: int
    fire_time: datetime
    triggered_by: str
    message_id: str


def _claim_params(requests: list[ClaimRequest], now: datetime, lease: timedelta) -> dict[str, Any]:
    """The parameters of ``_claim_many_statement(len(requests))``."""
    params: dict[str, Any] = {"now": now, "lease_until": now + lease}
    for i, request in enumerate(requests):
        params.update(
            {
                f"s{i}": request.schedule_id,
                f"f{i}": request.fire_time,
                f"t{i}": request.triggered_by,
                f"m{i}": request.message_id,
            }
        )
    return params


class _Race(Exception):
    """Another claim changed the run between our read and our write: look again."""


class RunStore:
    """Run bookkeeping shared by workers (claim, progress, finish), the clock (missed fires), the API
    (reads, ad-hoc jobs, cancel, retry) and the system jobs (stale runs, retention).

    Parameters:
      engine: the database engine.
    """

    def __init__(self, engine: Engine):
        self.engine = engine

    # -- claiming ---------------------------------------------------------------------------

    def claim(
        self,
        schedule_id: int,
        fire_time: datetime,
        *,
        triggered_by: str,
        message_id: str,
        lease: timedelta,
        now: datetime | None = None,
        new_tried: bool = False,
    ) -> Claim | Refusal:
        """Take the run of (schedule, fire time), creating it if needed, under the schedule's overlap policy.

        ``new_tried``: the caller's ``claim_new_many`` did not create the run, so start with the
        existing run (or the taken slot) rather than trying to create it again."""
        now = now or datetime.now(UTC)
        statement = _claim_many_statement(1)
        params = _claim_params([ClaimRequest(schedule_id, fire_time, triggered_by, message_id)], now, lease)
        try_insert = not new_tried
        for _ in range(CLAIM_ROUNDS):
            try:
                with self.engine.begin() as conn:
                    if try_insert:
                        row = conn.execute(statement, params).first()
                        if row is not None:
                            return Claim(row.id, 1, now, schedule_id, bool(row.singleton))
                    outcome = self._claim_existing(conn, schedule_id, fire_time, triggered_by, message_id, lease, now)
                if outcome is not None:
                    return outcome
                try_insert = True
            except IntegrityError:  # the schedule's running (or waiting) slot is taken: decide by policy
                try_insert = False
            except _Race:
                try_insert = True
        return Refusal("held", retry_at=now + timedelta(seconds=1), detail="claims of this schedule contend")

    def claim_new_many(self, requests: list[ClaimRequest], lease: timedelta, now: datetime | None = None):
        """The fast path of ``claim`` for many fires in one statement (the worker's group commit):
        creates each fire's run as running when it does not exist yet. Returns, per request, its
        Claim, or None when the run already exists or the schedule is gone (the caller then calls
        ``claim``). Raises IntegrityError when a singleton schedule's slot is taken (callers fall back
        to ``claim`` one by one)."""
        now = now or datetime.now(UTC)
        first: dict[tuple[int, datetime], int] = {}
        for i, request in enumerate(requests):
            first.setdefault((request.schedule_id, request.fire_time), i)
        unique = [requests[i] for i in sorted(first.values())]
        statement = _claim_many_statement(len(unique))
        params = _claim_params(unique, now, lease)
        with self.engine.begin() as conn:
            made = {(row.schedule_id, row.fire_time): row for row in conn.execute(statement, params)}
        out: list[Claim | None] = []
        for i, request in enumerate(requests):
            row = made.get((request.schedule_id, request.fire_time))
            owner = first[(request.schedule_id, request.fire_time)] == i
            out.append(Claim(row.id, 1, now, request.schedule_id, bool(row.singleton)) if row and owner else None)
        return out

    def claim_run(
        self, run_id: int, *, message_id: str, lease: timedelta, now: datetime | None = None
    ) -> Claim | Refusal:
        """Take an ad-hoc run (one without a schedule) by its id."""
        now = now or datetime.now(UTC)
        for _ in range(CLAIM_ROUNDS):
            try:
                with self.engine.begin() as conn:
                    run = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
                    if run is None:
                        return Refusal("gone", run_id, detail="no such run")
                    refusal = self._refusal(run, now)
                    if refusal is not None:
                        return refusal
                    return self._take_over(conn, run, False, message_id, lease, now)
            except _Race:
                continue
        return Refusal("held", run_id, now + timedelta(seconds=1), "claims of this run contend")

    @staticmethod
    def _refusal(run: Mapping[str, Any], now: datetime) -> Refusal | None:
        if run["status"] in TERMINAL_STATUSES:
            return Refusal("done", run["id"], detail=f"the run already ended as {run['status']}")
        if run["status"] == "running" and run["lease_until"] is not None and run["lease_until"] >= now:
            return Refusal("held", run["id"], run["lease_until"], "another worker is running it")
        return None

    def _claim_existing(
        self,
        conn: Connection,
        schedule_id: int,
        fire_time: datetime,
        triggered_by: str,
        message_id: str,
        lease: timedelta,
        now: datetime,
    ) -> Claim | Refusal | None:
        """Claim when the fast path did not: the run exists, or the schedule's slot is taken.

        Returns None when the caller should try the fast path again (the slot came free)."""
        s, r = schedules.c, runs.c
        schedule = conn.execute(select(s.overlap).where(s.id == schedule_id)).first()
        if schedule is None:
            return Refusal("gone", detail="the schedule no longer exists")
        run = (
            conn.execute(select(runs).where(r.schedule_id == schedule_id, r.fire_time == fire_time)).mappings().first()
        )
        if run is not None:
            refusal = self._refusal(run, now)
            if refusal is not None:
                return refusal
            if run["status"] == "running":  # its worker vanished: take over, keeping its slot
                return self._take_over(conn, run, run["singleton"], message_id, lease, now)
        singleton = schedule.overlap != "allow"
        occupant = None
        if singleton:
            occupant = (
                conn.execute(
                    select(r.id, r.status, r.attempts, r.started_at, r.lease_until).where(
                        r.schedule_id == schedule_id, r.status == "running", r.singleton.is_(True)
                    )
                )
                .mappings()
                .first()
            )
            if occupant is not None and occupant["lease_until"] is not None and occupant["lease_until"] < now:
                self._abandon(conn, occupant, now)
                occupant = None
        if occupant is None:
            if run is None:
                return None
            return self._take_over(conn, run, singleton, message_id, lease, now)
        return self._overlap(conn, schedule_id, schedule.overlap, run, occupant["id"], fire_time, triggered_by, now)

    def _take_over(
        self,
        conn: Connection,
        run: Mapping[str, Any],
        singleton: bool,
        message_id: str,
        lease: timedelta,
        now: datetime,
    ) -> Claim:
        r = runs.c
        changed = conn.execute(
            update(runs)
            .where(r.id == run["id"], r.status == run["status"], r.attempts == run["attempts"])
            .values(
                status="running",
                attempts=r.attempts + 1,
                message_id=message_id,
                started_at=now,
                lease_until=now + lease,
                finished_at=None,
                singleton=singleton,
                cancel_requested=False,
                progress=None,
                progress_message=None,
                updated_at=now,
            )
        ).rowcount
        if changed != 1:
            raise _Race
        if run["status"] == "running":
            self._record_lost(conn, run, now)
        return Claim(run["id"], run["attempts"] + 1, now, run["schedule_id"], singleton)

    def _record_lost(self, conn: Connection, run: Mapping[str, Any], now: datetime) -> None:
        started = run["started_at"] or now
        conn.execute(
            _ATTEMPT,
            {
                "run_id": run["id"],
                "attempt": run["attempts"],
                "status": "lost",
                "started_at": started,
                "now": now,
                "duration_ms": _ms(now - started),
                "error": LOST,
                "detail": None,
            },
        )

    def _abandon(self, conn: Connection, run: Mapping[str, Any], now: datetime) -> None:
        """A running run whose worker vanished frees its schedule's slot; its redelivery may resume it."""
        r = runs.c
        changed = conn.execute(
            update(runs)
            .where(r.id == run["id"], r.status == "running", r.attempts == run["attempts"])
            .values(status="retrying", lease_until=None, error=LOST, updated_at=now)
        ).rowcount
        if changed != 1:
            raise _Race
        self._record_lost(conn, run, now)

    def _overlap(
        self,
        conn: Connection,
        schedule_id: int,
        policy: str,
        run: Mapping[str, Any] | None,
        occupant_id: int,
        fire_time: datetime,
        triggered_by: str,
        now: datetime,
    ) -> Refusal:
        """The schedule's previous run is still running: skip, buffer, or supersede it."""
        r = runs.c
        if run is not None and run["status"] == "waiting":
            return Refusal("waiting", run["id"], detail=f"waiting for run {occupant_id} to end")
        if policy == "cancel_other":
            conn.execute(update(runs).where(r.id == occupant_id).values(cancel_requested=True, updated_at=now))
            superseded = f"superseded by the fire at {fire_time.isoformat()}"
            conn.execute(
                update(runs)
                .where(r.schedule_id == schedule_id, r.status == "waiting")
                .values(status="cancelled", error=superseded, finished_at=now, updated_at=now)
            )
            run_id = self._set_status(conn, schedule_id, run, fire_time, triggered_by, "waiting", None, now)
            return Refusal("waiting", run_id, detail=f"run {occupant_id} was asked to stop; this one runs next")
        if policy == "buffer_one":
            waiting = conn.execute(select(r.id).where(r.schedule_id == schedule_id, r.status == "waiting")).first()
            if waiting is None:
                run_id = self._set_status(conn, schedule_id, run, fire_time, triggered_by, "waiting", None, now)
                return Refusal("waiting", run_id, detail=f"buffered until run {occupant_id} ends")
            reason = f"run {occupant_id} was still running and run {waiting.id} already waits (overlap: buffer_one)"
        else:
            reason = f"run {occupant_id} of this schedule was still running (overlap: skip)"
        run_id = self._set_status(conn, schedule_id, run, fire_time, triggered_by, "skipped", reason, now)
        return Refusal("skipped", run_id, detail=reason)

    def _set_status(
        self,
        conn: Connection,
        schedule_id: int,
        run: Mapping[str, Any] | None,
        fire_time: datetime,
        triggered_by: str,
        status: str,
        error: str | None,
        now: datetime,
    ) -> int:
        r = runs.c
        finished = now if status in TERMINAL_STATUSES else None
        if run is not None:
            changed = conn.execute(
                update(runs)
                .where(r.id == run["id"], r.status == run["status"], r.attempts == run["attempts"])
                .values(status=status, error=error, finished_at=finished, lease_until=None, updated_at=now)
            ).rowcount
            if changed != 1:
                raise _Race
            return run["id"]
        stmt = runs_from_schedules(
            conn, [schedules.c.id == schedule_id], fire_time, triggered_by, status, error, now
        ).returning(r.id)
        return conn.execute(stmt).scalar_one()

    # -- during and after an attempt ----------------------------------------------------------

    def finish(
        self,
        claim: Claim,
        status: str,
        *,
        error: str | None = None,
        result: Any = None,
        detail: Mapping[str, Any] | None = None,
        now: datetime | None = None,
    ) -> int | None:
        """Record the end of an attempt: ``succeeded``, ``failed`` (final), ``retrying`` (another attempt
        follows) or ``cancelled``.

        Returns the id of a run of the same schedule that was waiting for this one to end (overlap
        policy buffer_one or cancel_other), which the caller must now enqueue; else None.
        """
        (waiting,) = self.finish_many([Finish(claim, status, now or datetime.now(UTC), error, result, detail)])
        return waiting

    def finish_many(self, finishes: list[Finish]) -> list[int | None]:
        """``finish`` for many attempts in one transaction (the worker's group commit)."""
        rows = []
        for f in finishes:
            rows.append(
                {
                    "run_id": f.claim.run_id,
                    "attempt": f.claim.attempt,
                    "status": f.status,
                    "succeeded": f.status == "succeeded",
                    "error": f.error,
                    "started_at": f.claim.started_at,
                    "finished_at": f.now if f.status != "retrying" else None,
                    "duration_ms": _ms(f.now - f.claim.started_at),
                    "result": json.dumps(f.result, separators=(",", ":")) if f.result is not None else None,
                    "detail": json.dumps(dict(f.detail), separators=(",", ":"), default=str) if f.detail else None,
                    "now": f.now,
                }
            )
        singletons = {f.claim.schedule_id for f in finishes if f.claim.singleton and f.claim.schedule_id is not None}
        with self.engine.begin() as conn:
            conn.execute(_FINISH, rows)
            conn.execute(
                _ATTEMPT,
                [{**row, "status": "failed" if row["status"] == "retrying" else row["status"]} for row in rows],
            )
            waiting = (
                dict(
                    conn.execute(
                        select(runs.c.schedule_id, runs.c.id).where(
                            runs.c.schedule_id.in_(singletons), runs.c.status == "waiting"
                        )
                    ).all()
                )
                if singletons
                else {}
            )
        return [waiting.pop(f.claim.schedule_id, None) if f.claim.singleton else None for f in finishes]

    def progress(self, claim: Claim, percent: int | None, message: str | None = None) -> bool:
        """Record a running attempt's progress (None keeps the last percentage). Returns True when the
        run has been asked to stop."""
        r = runs.c
        values: dict[str, Any] = {"progress_message": message, "updated_at": datetime.now(UTC)}
        if percent is not None:
            values["progress"] = percent
        with self.engine.begin() as conn:
            row = conn.execute(
                update(runs)
                .where(r.id == claim.run_id, r.attempts == claim.attempt, r.status == "running")
                .values(**values)
                .returning(r.cancel_requested)
            ).first()
        return bool(row and row.cancel_requested)

    def renew_leases(self, run_ids: list[int], lease: timedelta, now: datetime | None = None) -> None:
        """Extend the leases of runs this worker is still running."""
        if not run_ids:
            return
        now = now or datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(
                update(runs).where(runs.c.id.in_(run_ids), runs.c.status == "running").values(lease_until=now + lease)
            )

    def stop_requested(self, run_ids: list[int]) -> set[int]:
        """Of these running runs, the ones asked to stop."""
        if not run_ids:
            return set()
        with self.engine.connect() as conn:
            return set(
                conn.execute(
                    select(runs.c.id).where(
                        runs.c.id.in_(run_ids), runs.c.status == "running", runs.c.cancel_requested.is_(True)
                    )
                ).scalars()
            )

    # -- operators and the API ------------------------------------------------------------------

    def create_adhoc(
        self,
        tenant_id: str,
        job: str,
        payload: Mapping[str, Any],
        *,
        due: datetime,
        priority: str,
        max_attempts: int | None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """A queued ad-hoc run (its message is sent by the caller once this is committed)."""
        now = now or datetime.now(UTC)
        with self.engine.begin() as conn:
            run_id = conn.execute(
                insert(runs)
                .values(
                    schedule_id=None,
                    tenant_id=tenant_id,
                    job=job,
                    payload=json.dumps(dict(payload), separators=(",", ":")),
                    priority=priority,
                    max_attempts=max_attempts,
                    fire_time=due,
                    triggered_by="api",
                    status="queued",
                    attempts=0,
                    singleton=False,
                    cancel_requested=False,
                    created_at=now,
                    updated_at=now,
                )
                .returning(runs.c.id)
            ).scalar_one()
        return self.get_by_id(run_id)

    def cancel(self, run_id: int, reason: str = "cancelled by request", now: datetime | None = None) -> str:
        """Cancel an open run: one not yet running never runs (``cancelled``); a running one is asked to
        stop at its next checkpoint (``stopping``); one that had already ended is left alone
        (``ended``). Returns the outcome."""
        now = now or datetime.now(UTC)
        r = runs.c
        with self.engine.begin() as conn:
            if conn.execute(
                update(runs)
                .where(r.id == run_id, r.status.in_(CLAIMABLE))
                .values(status="cancelled", error=reason, finished_at=now, lease_until=None, updated_at=now)
            ).rowcount:
                return "cancelled"
            if conn.execute(
                update(runs).where(r.id == run_id, r.status == "running").values(cancel_requested=True, updated_at=now)
            ).rowcount:
                return "stopping"
            return "ended"

    def reopen(self, run_id: int, now: datetime | None = None) -> bool:
        """Make a failed or cancelled run open again (queued), for an operator's retry."""
        now = now or datetime.now(UTC)
        r = runs.c
        with self.engine.begin() as conn:
            return bool(
                conn.execute(
                    update(runs)
                    .where(r.id == run_id, r.status.in_(("failed", "cancelled")))
                    .values(status="queued", finished_at=None, cancel_requested=False, updated_at=now)
                ).rowcount
            )

    # -- the system's own housekeeping --------------------------------------------------------

    def fail_abandoned(self, stale_after: timedelta, now: datetime | None = None) -> list[dict[str, Any]]:
        """Runs still marked running whose lease expired ``stale_after`` ago (their worker is gone and
        no redelivery took them over) end as failed. Returns them."""
        now = now or datetime.now(UTC)
        r = runs.c
        out = []
        with self.engine.begin() as conn:
            stale = (
                conn.execute(select(runs).where(r.status == "running", r.lease_until < now - stale_after).limit(1000))
                .mappings()
                .all()
            )
            for run in stale:
                changed = conn.execute(
                    update(runs)
                    .where(r.id == run["id"], r.status == "running", r.attempts == run["attempts"])
                    .values(status="failed", error=LOST, finished_at=now, lease_until=None, updated_at=now)
                ).rowcount
                if changed:
                    self._record_lost(conn, run, now)
                    out.append(shape_run({**run, "status": "failed", "error": LOST}))
        return out

    def stalled(self, stale_after: timedelta, retry_window: timedelta, now: datetime | None = None) -> list[int]:
        """Open runs that should have started by now but show no sign of a message: queued runs due
        ``stale_after`` ago, retrying runs untouched for longer than the longest retry delay, and
        waiting runs whose schedule has nothing running. Re-enqueueing them is safe (claims are once)."""
        now = now or datetime.now(UTC)
        r = runs.c
        busy = runs.alias("busy")
        running = exists().where(busy.c.schedule_id == r.schedule_id, busy.c.status == "running")
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(r.id)
                    .where(
                        or_(
                            (r.status == "queued") & (r.fire_time < now - stale_after),
                            (r.status == "retrying") & (r.updated_at < now - retry_window - stale_after),
                            (r.status == "waiting") & (r.updated_at < now - stale_after) & ~running,
                        )
                    )
                    .order_by(r.id)
                    .limit(1000)
                ).scalars()
            )

    def delete_before(self, cutoff: datetime, batch: int = 5_000) -> tuple[int, int]:
        """Delete ended runs (with their attempts) and audit rows older than ``cutoff``, in batches.
        Returns (runs deleted, audit rows deleted)."""
        r, a = runs.c, audit_log.c
        deleted_runs = deleted_audit = 0
        while True:
            with self.engine.begin() as conn:
                ids = list(
                    conn.execute(
                        select(r.id).where(r.created_at < cutoff, r.status.in_(TERMINAL_STATUSES)).limit(batch)
                    ).scalars()
                )
                if ids:
                    conn.execute(delete(run_attempts).where(run_attempts.c.run_id.in_(ids)))
                    deleted_runs += conn.execute(delete(runs).where(r.id.in_(ids))).rowcount
            if len(ids) < batch:
                break
        while True:
            with self.engine.begin() as conn:
                ids = list(conn.execute(select(a.id).where(a.at < cutoff).limit(batch)).scalars())
                if ids:
                    deleted_audit += conn.execute(delete(audit_log).where(a.id.in_(ids))).rowcount
            if len(ids) < batch:
                break
        return deleted_runs, deleted_audit

    # -- reads -------------------------------------------------------------------------------

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
        job: str | None = None,
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
            (operator.eq, r.job, job),
            (operator.eq, r.status, status),
            (operator.ge, r.fire_time, since),
            (operator.lt, r.fire_time, until),
            (operator.lt, r.id, before_id),
        ]
        for compare, field, value in filters:
            if value is not None:
                query = query.where(compare(field, value))
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
            shaped["attempt_log"] = [_shape_attempt(a) for a in attempts]
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
