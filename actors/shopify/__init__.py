"""The Shopify sync jobs: ``shopify-products``, ``shopify-orders``, ``shopify-customers``.

Each run syncs one resource of one tenant's store into ``shopify_records``: ``incremental`` fetches
what changed since the last successful sync (Shopify's ``updated_at`` filter from the stored
high-water mark), ``full`` fetches everything. Pages follow Shopify's cursors; records are upserted
by Shopify id, so repeating a sync never duplicates anything. The run's result counts what was
fetched, created and updated.

One store never runs two syncs of the same resource at once (a Redis lock per shop and resource;
a run that finds it held is retried later). A rejected token fails the run at once and pauses the
tenant's Shopify schedules with a note saying why.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from actors.registry import JobContext, job_actor, runtime
from actors.shopify.graphql import InvalidShopifyToken, ShopifyGraphQL
from actors.shopify.store import RecordStore, parse_instant
from app.errors import NotFound
from app.integrations import IntegrationsDisabled, IntegrationService
from app.jobs import SHOPIFY_RESOURCES, PermanentJobError
from app.schedules import ScheduleService
from app.signals import ChangeNotifier

log = logging.getLogger(__name__)

#: Records per page (Shopify allows up to 250).
PAGE_SIZE = 100

#: The fields kept of each record (the node JSON is stored whole).
FIELDS = {
    "products": "id title handle status vendor updatedAt",
    "orders": "id name createdAt updatedAt displayFinancialStatus totalPriceSet { shopMoney { amount currencyCode } }",
    "customers": "id email firstName lastName updatedAt",
}

QUERY = """
query Sync($first: Int!, $after: String, $query: String) {
  %(resource)s(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    nodes { %(fields)s }
    pageInfo { hasNextPage endCursor }
  }
}
"""

SHOPIFY_JOBS = tuple(f"shopify-{resource}" for resource in SHOPIFY_RESOURCES)


class ShopBusy(Exception):
    """Another sync of this shop and resource is running; this run is retried later."""


def sync(
    graphql: ShopifyGraphQL,
    store: RecordStore,
    creds,
    resource: str,
    kind: str,
    page_size: int = PAGE_SIZE,
    on_page: Callable[[int, int], None] = lambda pages, fetched: None,
) -> dict[str, Any]:
    """Fetch one resource page by page and upsert it. Returns the counts.

    ``on_page(pages, fetched)`` runs after each page (the job reports progress there, and stops if asked).
    """
    since = store.high_water(creds, resource) if kind == "incremental" else None
    search = f"updated_at:>='{since.strftime('%Y-%m-%dT%H:%M:%SZ')}'" if since else None
    document = QUERY % {"resource": resource, "fields": FIELDS[resource]}
    fetched = created = updated = pages = 0
    high: datetime | None = since
    cursor = None
    while True:
        data = graphql.query(document, {"first": page_size, "after": cursor, "query": search})[resource]
        nodes = data["nodes"]
        made, changed = store.upsert(creds, resource, nodes)
        fetched, created, updated, pages = fetched + len(nodes), created + made, updated + changed, pages + 1
        for node in nodes:
            stamp = parse_instant(node["updatedAt"])
            high = stamp if high is None or stamp > high else high
        on_page(pages, fetched)
        if not data["pageInfo"]["hasNextPage"]:
            break
        cursor = data["pageInfo"]["endCursor"]
    store.save_state(creds, resource, high)
    return {
        "type": kind,
        "fetched": fetched,
        "created": created,
        "updated": updated,
        "pages": pages,
        "throttled_s": round(graphql.throttled_seconds, 2),
    }


def _run(resource: str, ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    rt = runtime()
    integrations = IntegrationService(rt.engine, ctx.settings.integrations_key)
    try:
        creds = integrations.credentials(ctx.tenant_id, payload["integration_id"])
    except (NotFound, IntegrationsDisabled) as exc:
        raise PermanentJobError(str(exc)) from None
    lock_key = f"tenantcron:shopify-lock:{creds.shop_domain}:{resource}"
    token = uuid.uuid4().hex
    if rt.redis is not None and not rt.redis.set(lock_key, token, nx=True, px=15 * 60_000):
        raise ShopBusy(f"another {resource} sync of {creds.shop_domain} is running")
    try:
        url = ctx.settings.shopify_api_url.format(shop=creds.shop_domain)
        with httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0)) as http:
            result = sync(
                ShopifyGraphQL(url, creds.access_token, http),
                RecordStore(rt.engine),
                creds,
                resource,
                payload.get("type", "incremental"),
                on_page=lambda pages, fetched: ctx.progress(None, f"{fetched} {resource} fetched ({pages} pages)"),
            )
    except InvalidShopifyToken as exc:
        note = f"Shopify rejected the access token of integration {creds.integration_id}: update it, then resume"
        ScheduleService(rt.engine, ChangeNotifier(None)).pause_jobs(ctx.tenant_id, SHOPIFY_JOBS, note, "shopify")
        log.error(
            "shopify token rejected; schedules paused",
            extra={"event": "shopify_token_rejected", "tenant_id": ctx.tenant_id, "shop": creds.shop_domain},
        )
        raise exc
    finally:
        if rt.redis is not None and rt.redis.get(lock_key) == token.encode():
            rt.redis.delete(lock_key)
    log.info(
        "shopify sync done",
        extra={
            "event": "shopify_synced",
            "tenant_id": ctx.tenant_id,
            "resource": resource,
            "shop": creds.shop_domain,
            "counts": result,
        },
    )
    return result


@job_actor("shopify-products")
def shopify_products(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Sync the tenant's products."""
    return _run("products", ctx, payload)


@job_actor("shopify-orders")
def shopify_orders(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Sync the tenant's orders."""
    return _run("orders", ctx, payload)


@job_actor("shopify-customers")
def shopify_customers(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Sync the tenant's customers."""
    return _run("customers", ctx, payload)
