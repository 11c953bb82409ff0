"""Tenants' Shopify integrations. The Admin API access token is encrypted at rest (Fernet, key from
INTEGRATIONS_KEY), never returned by the API and never logged."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Engine, delete, select

from app.audit import AuditLog
from app.errors import NotFound, ValidationError
from app.models import shopify_integrations
from app.sql import insert

#: A shop's myshopify domain.
SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,60}\.myshopify\.com$")
INTEGRATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")


class IntegrationsDisabled(RuntimeError):
    """INTEGRATIONS_KEY is not set, so tokens cannot be stored."""


@dataclass(frozen=True)
class ShopifyCredentials:
    """What a sync needs: where the shop is and its (decrypted) token. Never logged."""

    tenant_id: str
    integration_id: str
    shop_domain: str
    access_token: str

    def __repr__(self) -> str:
        return f"ShopifyCredentials({self.tenant_id!r}, {self.integration_id!r}, {self.shop_domain!r}, <token>)"


def _where(tenant_id: str, integration_id: str) -> tuple:
    c = shopify_integrations.c
    return (c.tenant_id == tenant_id, c.integration_id == integration_id)


def _shape(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "tenant_id": row["tenant_id"],
        "integration_id": row["integration_id"],
        "shop_domain": row["shop_domain"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }


class IntegrationService:
    """Registers, updates, removes and reads Shopify integrations.

    Parameters:
      engine: the database engine.
      key: the Fernet key (INTEGRATIONS_KEY); None disables storing and reading tokens.
    """

    def __init__(self, engine: Engine, key: str | None):
        self.engine = engine
        self.fernet = Fernet(key) if key else None

    def _cipher(self) -> Fernet:
        if self.fernet is None:
            raise IntegrationsDisabled(
                "INTEGRATIONS_KEY is not set; generate one with "
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
            )
        return self.fernet

    def upsert(
        self, tenant_id: str, integration_id: str, doc: Any, actor: str = "system"
    ) -> tuple[dict[str, Any], bool]:
        errors = []
        if not INTEGRATION_ID.match(integration_id or ""):
            errors.append({"field": "integration_id", "message": "must be 1-100 letters, digits, '.', '_', ':' or '-'"})
        if not isinstance(doc, Mapping):
            raise ValidationError(errors + [{"field": "body", "message": "must be a JSON object"}])
        for extra in sorted(set(doc) - {"shop_domain", "access_token"}):
            errors.append({"field": extra, "message": "unknown field; allowed: shop_domain, access_token"})
        shop = doc.get("shop_domain")
        if not isinstance(shop, str) or not SHOP_DOMAIN.match(shop.lower()):
            errors.append({"field": "shop_domain", "message": "must be the store's domain, e.g. acme.myshopify.com"})
        token = doc.get("access_token")
        if not isinstance(token, str) or not 8 <= len(token) <= 500:
            errors.append({"field": "access_token", "message": "must be the Admin API access token (shpat_...)"})
        if errors:
            raise ValidationError(errors)
        now = datetime.now(UTC)
        ciphertext = self._cipher().encrypt(token.encode()).decode()
        values = {
            "tenant_id": tenant_id,
            "integration_id": integration_id,
            "shop_domain": shop.lower(),
            "token_ciphertext": ciphertext,
            "created_at": now,
            "updated_at": now,
        }
        with self.engine.begin() as conn:
            stmt = insert(conn, shopify_integrations).values(**values)
            stmt = stmt.on_conflict_do_update(
                index_elements=[shopify_integrations.c.tenant_id, shopify_integrations.c.integration_id],
                set_={
                    "shop_domain": stmt.excluded.shop_domain,
                    "token_ciphertext": stmt.excluded.token_ciphertext,
                    "updated_at": stmt.excluded.updated_at,
                },
            ).returning(*shopify_integrations.c)
            before = (
                conn.execute(select(shopify_integrations).where(*_where(tenant_id, integration_id))).mappings().first()
            )
            row = conn.execute(stmt).mappings().one()
            created = before is None
            AuditLog().record_many(
                conn,
                actor,
                [
                    (
                        "integration_create" if created else "integration_update",
                        tenant_id,
                        f"shopify/{integration_id}",
                        None if created else _shape(before),
                        _shape(row),
                    )
                ],
                now,
            )
        return _shape(row), created

    def _row(self, tenant_id: str, integration_id: str) -> Mapping[str, Any]:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(shopify_integrations).where(*_where(tenant_id, integration_id))).mappings().first()
            )
        if row is None:
            raise NotFound(f"tenant {tenant_id!r} has no Shopify integration {integration_id!r}")
        return row

    def get(self, tenant_id: str, integration_id: str) -> dict[str, Any]:
        return _shape(self._row(tenant_id, integration_id))

    def list(self, tenant_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(shopify_integrations)
                    .where(shopify_integrations.c.tenant_id == tenant_id)
                    .order_by(shopify_integrations.c.integration_id)
                )
                .mappings()
                .all()
            )
        return [_shape(row) for row in rows]

    def delete(self, tenant_id: str, integration_id: str, actor: str = "system") -> None:
        before = self.get(tenant_id, integration_id)
        with self.engine.begin() as conn:
            conn.execute(delete(shopify_integrations).where(*_where(tenant_id, integration_id)))
            AuditLog().record_many(
                conn,
                actor,
                [("integration_delete", tenant_id, f"shopify/{integration_id}", before, None)],
                datetime.now(UTC),
            )

    def credentials(self, tenant_id: str, integration_id: str) -> ShopifyCredentials:
        """The decrypted credentials, for the sync actors only."""
        row = self._row(tenant_id, integration_id)
        try:
            token = self._cipher().decrypt(row["token_ciphertext"].encode()).decode()
        except InvalidToken:
            raise IntegrationsDisabled(
                "the stored token does not decrypt with INTEGRATIONS_KEY (was the key rotated?)"
            ) from None
        return ShopifyCredentials(tenant_id, integration_id, row["shop_domain"], token)
