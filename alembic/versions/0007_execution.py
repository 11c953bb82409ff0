"""execution: overlap policy and retry settings per schedule; ad-hoc runs; progress, cancellation;
attempt details; one running (and one waiting) run per singleton schedule

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

RUNNING = sa.text("status = 'running' AND singleton")
WAITING = sa.text("status = 'waiting'")


def upgrade() -> None:
    with op.batch_alter_table("schedules") as batch:
        batch.add_column(sa.Column("overlap", sa.String(16), nullable=False, server_default="skip"))
        batch.add_column(sa.Column("max_attempts", sa.Integer))
        batch.add_column(sa.Column("backoff_ms", sa.Integer))
        batch.add_column(sa.Column("backoff_max_ms", sa.Integer))
        batch.add_column(sa.Column("time_limit_ms", sa.Integer))

    with op.batch_alter_table("runs") as batch:
        batch.alter_column("schedule_id", existing_type=Id, nullable=True)
        batch.add_column(sa.Column("job", sa.String(100)))
        batch.add_column(sa.Column("payload", sa.Text))
        batch.add_column(sa.Column("priority", sa.String(8)))
        batch.add_column(sa.Column("max_attempts", sa.Integer))
        batch.add_column(sa.Column("singleton", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("progress", sa.Integer))
        batch.add_column(sa.Column("progress_message", sa.String(500)))
    op.execute("UPDATE runs SET job = (SELECT job FROM schedules WHERE schedules.id = runs.schedule_id)")
    op.create_index(
        "uq_runs_one_running", "runs", ["schedule_id"], unique=True, sqlite_where=RUNNING, postgresql_where=RUNNING
    )
    op.create_index(
        "uq_runs_one_waiting", "runs", ["schedule_id"], unique=True, sqlite_where=WAITING, postgresql_where=WAITING
    )
    op.create_index("ix_runs_created_at", "runs", ["created_at"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])

    with op.batch_alter_table("run_attempts") as batch:
        batch.add_column(sa.Column("detail", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("run_attempts") as batch:
        batch.drop_column("detail")
    op.drop_index("ix_audit_log_at", "audit_log")
    op.drop_index("ix_runs_created_at", "runs")
    op.drop_index("uq_runs_one_waiting", "runs")
    op.drop_index("uq_runs_one_running", "runs")
    op.execute("DELETE FROM runs WHERE schedule_id IS NULL")
    with op.batch_alter_table("runs") as batch:
        for column in ("progress_message", "progress", "cancel_requested", "singleton", "max_attempts", "priority"):
            batch.drop_column(column)
        batch.drop_column("payload")
        batch.drop_column("job")
        batch.alter_column("schedule_id", existing_type=Id, nullable=False)
    with op.batch_alter_table("schedules") as batch:
        for column in ("time_limit_ms", "backoff_max_ms", "backoff_ms", "max_attempts", "overlap"):
            batch.drop_column(column)
