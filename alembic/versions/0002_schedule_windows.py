"""interval schedules, windows, fire limits, jitter and stagger

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from app.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("schedules") as batch:
        batch.alter_column("cron", existing_type=sa.String(200), nullable=True)
        batch.add_column(sa.Column("every_seconds", sa.Integer, nullable=True))
        batch.add_column(sa.Column("start_at", UTCDateTime, nullable=True))
        batch.add_column(sa.Column("end_at", UTCDateTime, nullable=True))
        batch.add_column(sa.Column("max_fires", sa.Integer, nullable=True))
        batch.add_column(sa.Column("fire_count", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_counted_fire", UTCDateTime, nullable=True))
        batch.add_column(sa.Column("jitter_seconds", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("stagger", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("offset_seconds", sa.Integer, nullable=False, server_default="0"))
        batch.create_check_constraint("ck_schedules_cron_or_every", "(cron IS NULL) <> (every_seconds IS NULL)")


def downgrade() -> None:
    op.execute("DELETE FROM schedules WHERE cron IS NULL")
    with op.batch_alter_table("schedules") as batch:
        batch.drop_constraint("ck_schedules_cron_or_every", type_="check")
        for column in ("offset_seconds", "stagger", "jitter_seconds", "last_counted_fire", "fire_count",
                       "max_fires", "end_at", "start_at", "every_seconds"):
            batch.drop_column(column)
        batch.alter_column("cron", existing_type=sa.String(200), nullable=False)
