"""``/v1/tenants/{tenant_id}/integrations/shopify[/{integration_id}]``: a tenant's Shopify stores.

The access token goes in and never comes out: responses show the shop, not the token.
"""

from __future__ import annotations

import falcon

from api.auth import require_tenant
from app.integrations import IntegrationService


class ShopifyIntegrationResource:
    """PUT registers or updates (201/200), GET shows, DELETE removes one integration."""

    def __init__(self, integrations: IntegrationService):
        self.integrations = integrations

    def on_put(self, req: falcon.Request, resp: falcon.Response, tenant_id: str, integration_id: str) -> None:
        principal = require_tenant(req, tenant_id)
        integration, created = self.integrations.upsert(tenant_id, integration_id, req.get_media(), principal.name)
        resp.status = falcon.HTTP_201 if created else falcon.HTTP_200
        resp.media = integration

    def on_get(self, req: falcon.Request, resp: falcon.Response, tenant_id: str, integration_id: str) -> None:
        require_tenant(req, tenant_id)
        resp.media = self.integrations.get(tenant_id, integration_id)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, tenant_id: str, integration_id: str) -> None:
        principal = require_tenant(req, tenant_id)
        self.integrations.delete(tenant_id, integration_id, principal.name)
        resp.status = falcon.HTTP_204

    def on_get_list(self, req: falcon.Request, resp: falcon.Response, tenant_id: str) -> None:
        require_tenant(req, tenant_id)
        resp.media = {"items": self.integrations.list(tenant_id)}
