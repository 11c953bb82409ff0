"""The schedule domain: validate, create-or-replace, read, list and remove tenant schedules."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from sqlalchemy import Engine, case, delete, select, tuple_, update

from app import cron
from app.audit import AuditLog
from app.dispatch import Dispatcher, Fire, message_id, schedule_options
from app.errors import NotFound, ValidationError
from app.jobs import JOBS, OVERLAP_POLICIES, ROUTES, TENANT_JOBS, PayloadError
from app.models import schedules
from app.runs import RunStore
from app.signals import ChangeNotifier
from app.sql import insert

#: Tenant ids and schedule keys: what fits in a URL path segment without escaping.
IDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$")

#: Largest page of a list.
MAX_PAGE = 500


#: What a replace overwrites: every column but the row's identity (id, tenant, key), its history
#: (created_at, version, fire count) and active_since, which the upsert decides.
REPLACED_COLUMNS = tuple(
    c.name
    for c in schedules.c
    if c.name
    not in {"id", "tenant_id", "key", "created_at", "version", "fire_count", "last_counted_fire", "active_since"}
)

#: Longest jitter a schedule may ask for.
MAX_JITTER = 3600

#: Bounds of a schedule's execution settings.
MAX_ATTEMPTS = 25
MAX_BACKOFF_MS = 86_400_000
MAX_TIME_LIMIT_MS = 86_400_000

#: Keys of a schedule's ``retry`` object.
RETRY_FIELDS = ("max_attempts", "backoff", "backoff_max")

FIELDS = (
    "job",
    "cron",
    "every",
    "timezone",
    "payload",
    "paused",
    "paused_note",
    "start_at",
    "end_at",
    "max_fires",
    "jitter",
    "stagger",
    "overlap",
    "retry",
    "time_limit",
)


def _milliseconds(value: Any, low_ms: int, high_ms: int) -> int:
    """A duration given as seconds (a number) or text such as '30s' or '5m', in milliseconds within bounds."""
    if isinstance(value, str):
        try:
            value = cron.parse_every(value)
        except cron.CronError:
            raise ValueError from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low_ms <= value * 1000 <= high_ms:
        raise ValueError  # NaN fails the comparison too
    return int(round(value * 1000))


def _seconds(ms: int | None) -> float | int | None:
    if ms is None:
        return None
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def _instant(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError
    return parsed.astimezone(UTC)


@dataclass(frozen=True)
class ScheduleInput:
    """A validated create-or-replace request for one schedule."""

    tenant_id: str
    key: str
    job: str
    cron: str | None
    every: int | None
    timezone: str
    payload: dict[str, Any]
    paused: bool
    start_at: datetime | None = None
    end_at: datetime | None = None
    max_fires: int | None = None
    jitter: int = 0
    stagger: bool = False
    paused_note: str | None = None
    tier: str | None = None
    overlap: str = "skip"
    max_attempts: int | None = None
    backoff_ms: int | None = None
    backoff_max_ms: int | None = None
    time_limit_ms: int | None = None

    @property
    def trigger(self) -> cron.TriggerSpec:
        """The trigger this schedule fires on (shifted by the tenant's offset when staggered)."""
        spec = cron.TriggerSpec(self.cron, self.every, self.timezone if self.cron else "UTC")
        return spec.staggered(self.tenant_id) if self.stagger else spec

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
        for extra in sorted(set(doc) - set(FIELDS)):
            err(extra, f"unknown field; allowed fields are {', '.join(FIELDS)}")

        job = doc.get("job")
        if job is None:
            err("job", f"is required; one of {', '.join(TENANT_JOBS)}")
        elif job not in TENANT_JOBS:
            err("job", f"unknown job {job!r}; one of {', '.join(TENANT_JOBS)}")

        pattern, every = doc.get("cron"), doc.get("every")
        canonical, seconds = None, None
        if (pattern is None) == (every is None):
            err("cron", "give exactly one of cron (e.g. '0 */6 * * *' or '@hourly') and every (e.g. '15m')")
        elif pattern is not None:
            if not isinstance(pattern, str):
                err("cron", "must be a string such as '*/15 * * * *'")
            else:
                try:
                    canonical = cron.normalize(pattern)
                except cron.CronError as exc:
                    err("cron", str(exc))
        else:
            try:
                seconds = cron.parse_every(every)
            except cron.CronError as exc:
                err("every", str(exc))

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

        note = doc.get("paused_note")
        if note is not None and (not isinstance(note, str) or len(note) > 1000):
            err("paused_note", "must be a string of at most 1000 characters")

        for flag in ("paused", "stagger"):
            if not isinstance(doc.get(flag, False), bool):
                err(flag, "must be true or false")

        window = {}
        for field in ("start_at", "end_at"):
            if doc.get(field) is not None:
                try:
                    window[field] = _instant(doc[field])
                except ValueError:
                    err(field, "must be an ISO 8601 instant with a UTC offset, e.g. 2026-12-01T00:00:00Z")
        if len(window) == 2 and window["end_at"] <= window["start_at"]:
            err("end_at", "must be after start_at")

        max_fires = doc.get("max_fires")
        if max_fires is not None and (isinstance(max_fires, bool) or not isinstance(max_fires, int) or max_fires < 1):
            err("max_fires", "must be a whole number of at least 1 (or null for no limit)")

        jitter = doc.get("jitter", 0)
        if isinstance(jitter, str):
            try:
                jitter = cron.parse_every(jitter)
            except cron.CronError:
                jitter = -1
        if isinstance(jitter, bool) or not isinstance(jitter, int) or not 0 <= jitter <= MAX_JITTER:
            err("jitter", f"must be 0-{MAX_JITTER} seconds, as a number or a duration such as '30s'")

        overlap = doc.get("overlap", "skip")
        if overlap not in OVERLAP_POLICIES:
            err("overlap", f"one of {', '.join(OVERLAP_POLICIES)} (what a fire does while the previous run still runs)")

        retry = doc.get("retry") or {}
        retry_ms: dict[str, int | None] = {"backoff": None, "backoff_max": None}
        max_attempts = None
        if not isinstance(retry, Mapping) or set(retry) - set(RETRY_FIELDS):
            err("retry", f"must be an object with any of {', '.join(RETRY_FIELDS)}")
            retry = {}
        if retry.get("max_attempts") is not None:
            max_attempts = retry["max_attempts"]
            if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or not 1 <= max_attempts <= 25:
                err("retry.max_attempts", f"must be a whole number from 1 to {MAX_ATTEMPTS} (attempts in all)")
        for field in ("backoff", "backoff_max"):
            if retry.get(field) is not None:
                try:
                    retry_ms[field] = _milliseconds(retry[field], 100, MAX_BACKOFF_MS)
                except ValueError:
                    err(f"retry.{field}", "must be 0.1 s to 1 day, as seconds or a duration such as '30s'")
        if retry_ms["backoff"] and retry_ms["backoff_max"] and retry_ms["backoff_max"] < retry_ms["backoff"]:
            err("retry.backoff_max", "must not be less than retry.backoff")

        time_limit_ms = None
        if doc.get("time_limit") is not None:
            try:
                time_limit_ms = _milliseconds(doc["time_limit"], 1000, MAX_TIME_LIMIT_MS)
            except ValueError:
                err("time_limit", "must be 1 s to 1 day, as seconds or a duration such as '10m'")

        if errors:
            raise ValidationError(errors)
        return cls(
            tenant_id,
            key,
            job,
            canonical,
            seconds,
            timezone,
            dict(payload),
            doc.get("paused", False),
            window.get("start_at"),
            window.get("end_at"),
            max_fires,
            jitter,
            doc.get("stagger", False),
            doc.get("paused_note"),
            overlap=overlap,
            max_attempts=max_attempts,
            backoff_ms=retry_ms["backoff"],
            backoff_max_ms=retry_ms["backoff_max"],
            time_limit_ms=time_limit_ms,
        )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def next_fire_of(row: Mapping[str, Any], now: datetime) -> datetime | None:
    """The schedule's next fire at or after ``now``, honouring pause, window and fire limit."""
    if row["paused"] or (row["max_fires"] is not None and row["fire_count"] >= row["max_fires"]):
        return None
    spec = cron.TriggerSpec(row["cron"], row["every_seconds"], row["timezone"], row["offset_seconds"])
    after = max(now, row["active_since"], row["start_at"] or now)
    fire = spec.next_fire(after, inclusive=True)
    if fire is None or (row["end_at"] is not None and fire > row["end_at"]):
        return None
    return fire


def _retry_shape(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The schedule's own retry settings (None: the job's defaults, listed at GET /v1/jobs)."""
    shaped = {
        "max_attempts": row["max_attempts"],
        "backoff": _seconds(row["backoff_ms"]),
        "backoff_max": _seconds(row["backoff_max_ms"]),
    }
    shaped = {k: v for k, v in shaped.items() if v is not None}
    return shaped or None


def _state(row: Mapping[str, Any], next_fire: datetime | None) -> str:
    if row["paused"]:
        return "paused"
    return "active" if next_fire else "finished"


def _shape(row: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    next_fire = next_fire_of(row, now)
    return {
        "id": row["id"],
        "tenant_id": row["tenant_id"],
        "key": row["key"],
        "job": row["job"],
        "cron": row["cron"],
        "every": cron.format_every(row["every_seconds"]) if row["every_seconds"] else None,
        "timezone": row["timezone"],
        "payload": json.loads(row["payload"]),
        "paused": row["paused"],
        "paused_note": row["paused_note"],
        "tier": row["tier"],
        "state": _state(row, next_fire),
        "start_at": _iso(row["start_at"]),
        "end_at": _iso(row["end_at"]),
        "max_fires": row["max_fires"],
        "fire_count": row["fire_count"],
        "jitter": row["jitter_seconds"],
        "stagger": row["stagger"],
        "offset_seconds": row["offset_seconds"],
        "overlap": row["overlap"],
        "retry": _retry_shape(row),
        "time_limit": _seconds(row["time_limit_ms"]),
        "version": row["version"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
        "next_fire_at": _iso(next_fire),
    }


def _row_values(item: ScheduleInput, now: datetime) -> dict[str, Any]:
    trigger = item.trigger
    return {
        "tenant_id": item.tenant_id,
        "key": item.key,
        "job": item.job,
        "cron": item.cron,
        "every_seconds": item.every,
        "timezone": item.timezone,
        "payload": json.dumps(item.payload, separators=(",", ":"), sort_keys=True),
        "paused": item.paused,
        "paused_note": item.paused_note if item.paused else None,
        "tier": item.tier,
        "start_at": item.start_at,
        "end_at": item.end_at,
        "max_fires": item.max_fires,
        "fire_count": 0,
        "jitter_seconds": item.jitter,
        "stagger": item.stagger,
        "offset_seconds": trigger.offset,
        "trigger_key": trigger.key,
        "overlap": item.overlap,
        "max_attempts": item.max_attempts,
        "backoff_ms": item.backoff_ms,
        "backoff_max_ms": item.backoff_max_ms,
        "time_limit_ms": item.time_limit_ms,
        "active_since": now,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


def as_document(schedule: Mapping[str, Any]) -> dict[str, Any]:
    """The create-or-replace body that reproduces a shaped schedule (what PATCH starts from)."""
    doc = {field: schedule[field] for field in FIELDS if field != "paused_note" and schedule.get(field) is not None}
    doc["paused"] = schedule["paused"]
    if schedule.get("paused_note"):
        doc["paused_note"] = schedule["paused_note"]
    return doc


class ScheduleService:
    """Reads and writes tenant schedules, records each change in the audit log and tells the clock.

    Parameters:
      engine: the database engine.
      notifier: publishes change signals to the clock after each commit.
      dispatcher: enqueues manual triggers (None: triggering is unavailable).
      clock: returns the current instant (injected so tests can pin it).
    """

    def __init__(
        self,
        engine: Engine,
        notifier: ChangeNotifier,
        clock=lambda: datetime.now(UTC),
        dispatcher: Dispatcher | None = None,
    ):
        self.engine = engine
        self.notifier = notifier
        self.dispatcher = dispatcher
        self.now = clock
        self.audit = AuditLog()
        self._statements: dict[str, Any] = {}

    def _upsert_statement(self, conn):
        """One create-or-replace statement, executed with many parameter sets (SQLAlchemy batches them
        into multi-row INSERTs itself). Built once per dialect: building it costs more than running it."""
        cached = self._statements.get(conn.dialect.name)
        if cached is not None:
            return cached
        stmt = insert(conn, schedules)
        ex = stmt.excluded
        t = schedules.c
        # Fires before active_since are not the schedule's: reset it only when the trigger
        # changes or the schedule is resumed, so an idempotent replay changes nothing.
        keep_since = (t.trigger_key == ex.trigger_key) & ((t.paused == ex.paused) | ex.paused)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.tenant_id, t.key],
            set_={
                **{name: getattr(ex, name) for name in REPLACED_COLUMNS},
                "active_since": case((keep_since, t.active_since), else_=ex.active_since),
                "version": t.version + 1,
            },
        ).returning(*schedules.c, sort_by_parameter_order=True)
        self._statements[conn.dialect.name] = stmt
        return stmt

    def _existing(self, conn, tenant_key_pairs: list[tuple[str, str]]) -> dict[tuple[str, str], dict]:
        found: dict[tuple[str, str], dict] = {}
        now = self.now()
        for start in range(0, len(tenant_key_pairs), 500):
            chunk = tenant_key_pairs[start : start + 500]
            rows = conn.execute(
                select(schedules).where(tuple_(schedules.c.tenant_id, schedules.c.key).in_(chunk))
            ).mappings()
            for row in rows:
                found[(row["tenant_id"], row["key"])] = _shape(row, now)
        return found

    def upsert(self, item: ScheduleInput, actor: str = "system") -> tuple[dict[str, Any], bool]:
        """Create or replace the schedule (tenant, key). Returns (schedule, created)."""
        (result,) = self.upsert_many([item], actor)
        return result

    def upsert_many(self, items: list[ScheduleInput], actor: str = "system") -> list[tuple[dict[str, Any], bool]]:
        """Create or replace many schedules in one transaction: all of them or none."""
        now = self.now()
        results: list[tuple[dict[str, Any], bool]] = []
        with self.engine.begin() as conn:
            before = self._existing(conn, [(i.tenant_id, i.key) for i in items])
            rows = [_row_values(item, now) for item in items]
            for row in conn.execute(self._upsert_statement(conn), rows).mappings():
                results.append((_shape(row, now), row["version"] == 1))
            self.audit.record_many(
                conn,
                actor,
                [
                    (
                        "create" if created else "replace",
                        s["tenant_id"],
                        s["key"],
                        before.get((s["tenant_id"], s["key"])),
                        s,
                    )
                    for s, created in results
                ],
                now,
            )
        self.notifier.changed(
            cron.TriggerSpec(
                s["cron"], cron.parse_every(s["every"]) if s["every"] else None, s["timezone"], s["offset_seconds"]
            ).key
            for s, _ in results
            if not s["paused"]
        )
        return results

    def patch(self, tenant_id: str, key: str, changes: Any, actor: str = "system") -> dict[str, Any]:
        """Change the fields given in ``changes``; everything not mentioned stays as it is."""
        if not isinstance(changes, Mapping):
            raise ValidationError([{"field": "body", "message": "must be a JSON object"}])
        doc = as_document(self.get(tenant_id, key))
        if "every" in changes:
            doc.pop("cron", None)
        if "cron" in changes:
            doc.pop("every", None)
        doc.update(changes)
        doc = {k: v for k, v in doc.items() if v is not None}
        schedule, _ = self.upsert(ScheduleInput.parse(tenant_id, key, doc), actor)
        return schedule

    def _set_paused(
        self,
        tenant_id: str,
        key: str | None,
        paused: bool,
        note: str | None,
        actor: str,
        jobs: tuple[str, ...] | None = None,
    ) -> list[dict]:
        now = self.now()
        where = [schedules.c.tenant_id == tenant_id, schedules.c.paused.is_(not paused)]
        if key is not None:
            where.append(schedules.c.key == key)
        if jobs is not None:
            where.append(schedules.c.job.in_(jobs))
        values: dict[str, Any] = {"paused": paused, "paused_note": note if paused else None, "updated_at": now}
        if not paused:
            values["active_since"] = now  # fires missed while paused are not replayed
        with self.engine.begin() as conn:
            pairs = [(tenant_id, k) for (k,) in conn.execute(select(schedules.c.key).where(*where))]
            before = self._existing(conn, pairs)
            rows = (
                conn.execute(
                    update(schedules)
                    .where(*where)
                    .values(**values, version=schedules.c.version + 1)
                    .returning(*schedules.c)
                )
                .mappings()
                .all()
            )
            after = [_shape(row, now) for row in rows]
            self.audit.record_many(
                conn,
                actor,
                [
                    ("pause" if paused else "resume", tenant_id, s["key"], before.get((tenant_id, s["key"])), s)
                    for s in after
                ],
                now,
            )
        if not paused:
            self.notifier.changed(row["trigger_key"] for row in rows)
        return after

    def pause(self, tenant_id: str, key: str, note: str | None = None, actor: str = "system") -> dict[str, Any]:
        self._set_paused(tenant_id, key, True, note, actor)
        return self.get(tenant_id, key)

    def resume(self, tenant_id: str, key: str, actor: str = "system") -> dict[str, Any]:
        self._set_paused(tenant_id, key, False, None, actor)
        return self.get(tenant_id, key)

    def pause_tenant(self, tenant_id: str, note: str | None = None, actor: str = "system") -> list[dict]:
        return self._set_paused(tenant_id, None, True, note, actor)

    def resume_tenant(self, tenant_id: str, actor: str = "system") -> list[dict]:
        return self._set_paused(tenant_id, None, False, None, actor)

    def pause_jobs(self, tenant_id: str, jobs: tuple[str, ...], note: str, actor: str = "system") -> list[dict]:
        """Pause the tenant's schedules of these jobs (e.g. its Shopify syncs when its token is revoked)."""
        return self._set_paused(tenant_id, None, True, note, actor, jobs)

    def trigger(self, tenant_id: str, key: str, actor: str = "system") -> dict[str, Any]:
        """Run the schedule now (triggered_by manual), under the same execution rules as a fire."""
        if self.dispatcher is None:
            raise redis.ConnectionError("REDIS_URL is not set: nothing can be enqueued")
        now = self.now().replace(microsecond=0)
        row = self._row(tenant_id, key)
        fire = Fire(row["id"], row["tenant_id"], row["key"], row["job"], row["payload"], options=schedule_options(row))
        self.dispatcher.enqueue([fire], now, ROUTES, triggered_by="manual")
        with self.engine.begin() as conn:
            self.audit.record_many(conn, actor, [("trigger", tenant_id, key, None, None)], self.now())
        return {"schedule_id": row["id"], "fire_time": now.isoformat(), "message_id": message_id(row["id"], now)}

    def _row(self, tenant_id: str, key: str) -> Mapping[str, Any]:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(schedules).where(schedules.c.tenant_id == tenant_id, schedules.c.key == key))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound(f"tenant {tenant_id!r} has no schedule {key!r}")
        return row

    def _with_run_summaries(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        summaries = RunStore(self.engine).summaries([item["id"] for item in items])
        empty = {"last_run_status": None, "last_run_at": None, "succeeded_runs": 0, "failed_runs": 0}
        for item in items:
            item.update(summaries.get(item["id"], empty))
        return items

    def get(self, tenant_id: str, key: str) -> dict[str, Any]:
        """One schedule, with its next fire and its last run's status and run counts."""
        return self._with_run_summaries([_shape(self._row(tenant_id, key), self.now())])[0]

    def list(
        self,
        *,
        tenant_id: str | None = None,
        job: str | None = None,
        state: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """A page of schedules ordered by id. Returns (items, next cursor or None).

        With ``state`` (active, paused, finished) a page may hold fewer items than ``limit``: whether
        a schedule has finished is known only once its next fire is computed."""
        limit = max(1, min(limit, MAX_PAGE))
        query = select(schedules).where(schedules.c.id > after_id).order_by(schedules.c.id).limit(limit + 1)
        if tenant_id is not None:
            query = query.where(schedules.c.tenant_id == tenant_id)
        if job is not None:
            query = query.where(schedules.c.job == job)
        if state is not None:
            query = query.where(schedules.c.paused.is_(state == "paused"))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        now = self.now()
        shaped = [_shape(row, now) for row in rows[:limit]]
        items = self._with_run_summaries([s for s in shaped if state is None or s["state"] == state])
        cursor = rows[limit - 1]["id"] if len(rows) > limit else None
        return items, cursor

    def delete(self, tenant_id: str, key: str, actor: str = "system") -> None:
        if not self._delete(tenant_id, key, actor):
            raise NotFound(f"tenant {tenant_id!r} has no schedule {key!r}")

    def delete_tenant(self, tenant_id: str, actor: str = "system") -> int:
        """Remove all of a tenant's schedules (offboarding). Returns how many there were."""
        return self._delete(tenant_id, None, actor)

    def _delete(self, tenant_id: str, key: str | None, actor: str) -> int:
        # No signal: a trigger left without schedules fires nothing and is dropped by the next
        # reconcile; a queued fire of a deleted schedule finds no schedule and is skipped.
        now = self.now()
        where = [schedules.c.tenant_id == tenant_id] + ([schedules.c.key == key] if key is not None else [])
        with self.engine.begin() as conn:
            gone = [_shape(row, now) for row in conn.execute(select(schedules).where(*where)).mappings()]
            conn.execute(delete(schedules).where(*where))
            self.audit.record_many(conn, actor, [("delete", tenant_id, s["key"], s, None) for s in gone], now)
        return len(gone)
