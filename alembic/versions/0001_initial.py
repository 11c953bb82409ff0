"""schedules, runs and the APScheduler job store table

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from app.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("job", sa.String(100), nullable=False),
        sa.Column("cron", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("trigger_key", sa.String(64), nullable=False),
        sa.Column("active_since", UTCDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_schedules"),
        sa.UniqueConstraint("tenant_id", "key", name="uq_schedules_tenant_key"),
    )
    op.create_index("ix_schedules_trigger_key", "schedules", ["trigger_key"])
    op.create_index("ix_schedules_job", "schedules", ["job"])

    op.create_table(
        "runs",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("schedule_id", Id, nullable=False),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("fire_time", UTCDateTime, nullable=False),
        sa.Column("triggered_by", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("message_id", sa.String(100)),
        sa.Column("started_at", UTCDateTime),
        sa.Column("finished_at", UTCDateTime),
        sa.Column("lease_until", UTCDateTime),
        sa.Column("duration_ms", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        sa.ForeignKeyConstraint(["schedule_id"], ["schedules.id"], name="fk_runs_schedule_id", ondelete="CASCADE"),
        sa.UniqueConstraint("schedule_id", "fire_time", name="uq_runs_schedule_fire_time"),
    )
    op.create_index("ix_runs_tenant_fire_time", "runs", ["tenant_id", "fire_time"])
    op.create_index("ix_runs_status", "runs", ["status"])

    # APScheduler 3's SQLAlchemyJobStore schema; its own create_all then finds it and does nothing.
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.String(191), nullable=False),
        sa.Column("next_run_time", sa.Float(25)),
        sa.Column("job_state", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_apscheduler_jobs"),
    )
    op.create_index("ix_apscheduler_jobs_next_run_time", "apscheduler_jobs", ["next_run_time"])


def downgrade() -> None:
    op.drop_table("apscheduler_jobs")
    op.drop_table("runs")
    op.drop_table("schedules")
