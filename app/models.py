"""Tables. Alembic migrations create them; this module describes them for queries."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: Integer primary keys: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator):
    """An instant: stored in UTC, always returned timezone-aware in UTC (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an instant is expected")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: One row per tenant schedule: the truth the clock reconciles from.
schedules = Table(
    "schedules",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", String(128), nullable=False),
    Column("key", String(200), nullable=False),
    Column("job", String(100), nullable=False),
    # Exactly one of cron (a canonical pattern) and every_seconds (an interval) is set.
    Column("cron", String(200)),
    Column("every_seconds", Integer),
    Column("timezone", String(64), nullable=False, default="UTC"),
    Column("payload", Text, nullable=False, default="{}"),
    Column("paused", Boolean, nullable=False, default=False),
    Column("paused_note", Text),
    # The tier that manages this schedule (applying another tier changes or removes it), or None.
    Column("tier", String(50)),
    # Optional window and limit: fires before start_at or after end_at do not happen, nor any
    # after max_fires; fire_count counts fires enqueued (last_counted_fire makes counting idempotent).
    Column("start_at", UTCDateTime),
    Column("end_at", UTCDateTime),
    Column("max_fires", Integer),
    Column("fire_count", Integer, nullable=False, default=0),
    Column("last_counted_fire", UTCDateTime),
    # Each fire is delayed by a deterministic 0..jitter_seconds; stagger shifts the whole trigger by
    # a tenant-derived offset_seconds within its period.
    Column("jitter_seconds", Integer, nullable=False, default=0),
    Column("stagger", Boolean, nullable=False, default=False),
    Column("offset_seconds", Integer, nullable=False, default=0),
    # Schedules sharing a trigger (pattern or interval, zone, offset) share one clock job; see
    # app.cron.TriggerSpec.key.
    Column("trigger_key", String(64), nullable=False),
    # Fires before this instant do not belong to the schedule (created, moved or resumed later).
    Column("active_since", UTCDateTime, nullable=False),
    # What a fire does while the schedule's previous run is still running (app.runs.OVERLAP_POLICIES).
    Column("overlap", String(16), nullable=False, default="skip"),
    # Execution settings; None means the job's default (app.jobs.JobSpec).
    Column("max_attempts", Integer),
    Column("backoff_ms", Integer),
    Column("backoff_max_ms", Integer),
    Column("time_limit_ms", Integer),
    Column("version", Integer, nullable=False, default=1),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("tenant_id", "key", name="uq_schedules_tenant_key"),
    CheckConstraint("(cron IS NULL) <> (every_seconds IS NULL)", name="ck_schedules_cron_or_every"),
    Index("ix_schedules_trigger_key", "trigger_key"),
    Index("ix_schedules_job", "job"),
)

#: A running singleton run and a waiting (buffered) run: at most one of each per schedule.
_RUNNING = text("status = 'running' AND singleton")
_WAITING = text("status = 'waiting'")

#: One row per (schedule, fire time): the unique key is what makes a run happen at most once.
#: Ad-hoc jobs (no schedule) are runs too, with schedule_id NULL and their own job and payload.
runs = Table(
    "runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("schedule_id", Id, ForeignKey("schedules.id", ondelete="CASCADE")),
    Column("tenant_id", String(128), nullable=False),
    Column("job", String(100)),
    # An ad-hoc job's payload (JSON); a scheduled run uses its schedule's.
    Column("payload", Text),
    Column("priority", String(8)),
    Column("max_attempts", Integer),
    Column("fire_time", UTCDateTime, nullable=False),
    Column("triggered_by", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("message_id", String(100)),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("lease_until", UTCDateTime),
    Column("duration_ms", Integer),
    Column("error", Text),
    # What the job reported on success (JSON), e.g. a sync's fetched/created/updated counts.
    Column("result", Text),
    # True when the run holds its schedule's single running slot (overlap policy other than allow).
    Column("singleton", Boolean, nullable=False, default=False),
    # Set to ask a running run to stop at its next checkpoint (cancel, or superseded by a newer fire).
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("progress", Integer),
    Column("progress_message", String(500)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("schedule_id", "fire_time", name="uq_runs_schedule_fire_time"),
    Index("ix_runs_tenant_fire_time", "tenant_id", "fire_time"),
    Index("ix_runs_status", "status"),
    Index("ix_runs_schedule_id_id", "schedule_id", "id"),
    Index("ix_runs_created_at", "created_at"),
    Index("uq_runs_one_running", "schedule_id", unique=True, sqlite_where=_RUNNING, postgresql_where=_RUNNING),
    Index("uq_runs_one_waiting", "schedule_id", unique=True, sqlite_where=_WAITING, postgresql_where=_WAITING),
)

#: One row per finished attempt of a run: when, how long, how it ended, and why it failed.
run_attempts = Table(
    "run_attempts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", Id, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("error", Text),
    # What the job recorded about the attempt (JSON), e.g. a webhook's status code and latency.
    Column("detail", Text),
    UniqueConstraint("run_id", "attempt", name="uq_run_attempts_run_id"),
)

#: APScheduler 3's SQLAlchemyJobStore table, declared here so Alembic owns the schema
#: and the job store's own create_all is a no-op. Only the clock writes it.
apscheduler_jobs = Table(
    "apscheduler_jobs",
    metadata,
    Column("id", String(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)

#: API tokens, stored as SHA-256 hashes. A token with a tenant_id sees only that tenant; one
#: without is an admin token.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("tenant_id", String(128)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)

#: Every change to a tenant's schedules: who, what, before, after, when.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", String(128), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(32), nullable=False),
    Column("schedule_key", String(200)),
    Column("before", Text),
    Column("after", Text),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_audit_log_tenant_id", "tenant_id", "id"),
    Index("ix_audit_log_at", "at"),
)

#: A tenant's Shopify store: the Admin API token is stored encrypted (app.integrations).
shopify_integrations = Table(
    "shopify_integrations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", String(128), nullable=False),
    Column("integration_id", String(100), nullable=False),
    Column("shop_domain", String(255), nullable=False),
    Column("token_ciphertext", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("tenant_id", "integration_id", name="uq_shopify_integrations_tenant_id"),
)

#: Synced Shopify records, keyed by tenant, integration, resource and Shopify id: re-syncing upserts.
shopify_records = Table(
    "shopify_records",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", String(128), nullable=False),
    Column("integration_id", String(100), nullable=False),
    Column("resource", String(20), nullable=False),
    Column("shopify_id", String(100), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("data", Text, nullable=False),
    Column("synced_at", UTCDateTime, nullable=False),
    UniqueConstraint("tenant_id", "integration_id", "resource", "shopify_id", name="uq_shopify_records_tenant_id"),
)

#: Per (tenant, integration, resource): the newest updatedAt seen by the last successful sync.
shopify_sync_state = Table(
    "shopify_sync_state",
    metadata,
    Column("tenant_id", String(128), primary_key=True),
    Column("integration_id", String(100), primary_key=True),
    Column("resource", String(20), primary_key=True),
    Column("high_water", UTCDateTime),
    Column("last_success_at", UTCDateTime),
)

#: Run states. queued, waiting (buffered behind a running run), running and retrying are open;
#: the rest are terminal.
OPEN_STATUSES = ("queued", "waiting", "running", "retrying")
TERMINAL_STATUSES = ("succeeded", "failed", "skipped", "missed", "cancelled")
RUN_STATUSES = OPEN_STATUSES + TERMINAL_STATUSES
