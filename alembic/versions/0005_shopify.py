"""Shopify integrations, synced records, sync state; run results

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from app.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "shopify_integrations",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("integration_id", sa.String(100), nullable=False),
        sa.Column("shop_domain", sa.String(255), nullable=False),
        sa.Column("token_ciphertext", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_shopify_integrations"),
        sa.UniqueConstraint("tenant_id", "integration_id", name="uq_shopify_integrations_tenant_id"),
    )
    op.create_table(
        "shopify_records",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("integration_id", sa.String(100), nullable=False),
        sa.Column("resource", sa.String(20), nullable=False),
        sa.Column("shopify_id", sa.String(100), nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("synced_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_shopify_records"),
        sa.UniqueConstraint(
            "tenant_id", "integration_id", "resource", "shopify_id", name="uq_shopify_records_tenant_id"
        ),
    )
    op.create_table(
        "shopify_sync_state",
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("integration_id", sa.String(100), nullable=False),
        sa.Column("resource", sa.String(20), nullable=False),
        sa.Column("high_water", UTCDateTime),
        sa.Column("last_success_at", UTCDateTime),
        sa.PrimaryKeyConstraint("tenant_id", "integration_id", "resource", name="pk_shopify_sync_state"),
    )
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("result", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("result")
    op.drop_table("shopify_sync_state")
    op.drop_table("shopify_records")
    op.drop_table("shopify_integrations")
