"""one row per attempt of a run

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from app.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "run_attempts",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("run_id", Id, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_run_attempts"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_run_attempts_run_id", ondelete="CASCADE"),
        sa.UniqueConstraint("run_id", "attempt", name="uq_run_attempts_run_id"),
    )
    op.create_index("ix_runs_schedule_id_id", "runs", ["schedule_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_runs_schedule_id_id", "runs")
    op.drop_table("run_attempts")
