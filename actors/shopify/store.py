"""Synced Shopify records and per-resource sync state, tenant-keyed; re-syncing never duplicates."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select

from app.integrations import ShopifyCredentials
from app.models import shopify_records, shopify_sync_state
from app.sql import insert


def parse_instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


class RecordStore:
    """Upserts records by (tenant, integration, resource, Shopify id) and keeps each resource's high-water mark.

    Parameters:
      engine: the database engine.
    """

    def __init__(self, engine: Engine):
        self.engine = engine

    def high_water(self, creds: ShopifyCredentials, resource: str) -> datetime | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(shopify_sync_state.c.high_water).where(
                    shopify_sync_state.c.tenant_id == creds.tenant_id,
                    shopify_sync_state.c.integration_id == creds.integration_id,
                    shopify_sync_state.c.resource == resource,
                )
            ).scalar()

    def upsert(self, creds: ShopifyCredentials, resource: str, nodes: list[dict[str, Any]]) -> tuple[int, int]:
        """Write one page of nodes. Returns (created, updated); unchanged records count as neither."""
        if not nodes:
            return 0, 0
        now = datetime.now(UTC)
        r = shopify_records.c
        rows = {
            node["id"]: {
                "tenant_id": creds.tenant_id,
                "integration_id": creds.integration_id,
                "resource": resource,
                "shopify_id": node["id"],
                "updated_at": parse_instant(node["updatedAt"]),
                "data": json.dumps(node, separators=(",", ":"), sort_keys=True),
                "synced_at": now,
            }
            for node in nodes
        }
        with self.engine.begin() as conn:
            existing = dict(
                conn.execute(
                    select(r.shopify_id, r.data).where(
                        r.tenant_id == creds.tenant_id,
                        r.integration_id == creds.integration_id,
                        r.resource == resource,
                        r.shopify_id.in_(list(rows)),
                    )
                ).all()
            )
            changed = [row for sid, row in rows.items() if existing.get(sid) != row["data"]]
            if changed:
                stmt = insert(conn, shopify_records).values(changed)
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[r.tenant_id, r.integration_id, r.resource, r.shopify_id],
                        set_={
                            "updated_at": stmt.excluded.updated_at,
                            "data": stmt.excluded.data,
                            "synced_at": stmt.excluded.synced_at,
                        },
                    )
                )
        created = sum(1 for sid in rows if sid not in existing)
        return created, len(changed) - created

    def save_state(self, creds: ShopifyCredentials, resource: str, high_water: datetime | None) -> None:
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            stmt = insert(conn, shopify_sync_state).values(
                tenant_id=creds.tenant_id,
                integration_id=creds.integration_id,
                resource=resource,
                high_water=high_water,
                last_success_at=now,
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[
                        shopify_sync_state.c.tenant_id,
                        shopify_sync_state.c.integration_id,
                        shopify_sync_state.c.resource,
                    ],
                    set_={"high_water": stmt.excluded.high_water, "last_success_at": now},
                )
            )

    def count(self, tenant_id: str, resource: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.count()).where(
                    shopify_records.c.tenant_id == tenant_id, shopify_records.c.resource == resource
                )
            ).scalar()
