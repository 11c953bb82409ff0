"""A small fake of Shopify's Admin GraphQL API for tests: paginated nodes, throttling and failures on demand.

Serves ``POST /{shop}/graphql.json``; point SHOPIFY_API_URL at ``{url}/{shop}/graphql.json``.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

RESOURCE = re.compile(r"\b(products|orders|customers)\(")
SINCE = re.compile(r"updated_at:>='([^']+)'")


def make_nodes(resource: str, count: int, start: datetime | None = None) -> list[dict[str, Any]]:
    start = start or datetime(2026, 1, 1, tzinfo=UTC)
    kind = {"products": "Product", "orders": "Order", "customers": "Customer"}[resource]
    return [
        {
            "id": f"gid://shopify/{kind}/{i}",
            "updatedAt": (start + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "title": f"{kind} {i}",
        }
        for i in range(1, count + 1)
    ]


class FakeShopify:
    """Holds each shop's token and records; answers like Shopify, including its throttle."""

    def __init__(self) -> None:
        self.shops: dict[str, dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []
        self.throttle_next = 0  # answer THROTTLED this many times
        self.http_failures: list[tuple[int, dict[str, str]]] = []  # (status, headers) to answer next
        self.currently_available = 1000
        self.active: dict[tuple[str, str], int] = {}
        self.max_concurrent: dict[tuple[str, str], int] = {}
        self.delay = 0.0
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                shop = self.path.strip("/").split("/")[0]
                status, payload, headers = fake.answer(shop, self.headers.get("X-Shopify-Access-Token"), body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{{shop}}/graphql.json"

    def add_shop(self, shop: str, token: str, **resources: list[dict[str, Any]]) -> None:
        self.shops[shop] = {
            "token": token,
            **{r: list(resources.get(r, [])) for r in ("products", "orders", "customers")},
        }

    def answer(self, shop: str, token: str | None, body: dict[str, Any]) -> tuple[int, dict, dict]:
        import time

        with self.lock:
            self.requests.append({"shop": shop, "body": body})
            if self.http_failures:
                status, headers = self.http_failures.pop(0)
                return status, {"errors": "failure on demand"}, headers
            if shop not in self.shops or token != self.shops[shop]["token"]:
                return 401, {"errors": "[API] Invalid API key or access token"}, {}
            cost = {
                "requestedQueryCost": 52,
                "actualQueryCost": 12,
                "throttleStatus": {
                    "maximumAvailable": 1000,
                    "currentlyAvailable": self.currently_available,
                    "restoreRate": 50,
                },
            }
            if self.throttle_next:
                self.throttle_next -= 1
                cost["throttleStatus"]["currentlyAvailable"] = 2
                return (
                    200,
                    {
                        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                        "extensions": {"cost": cost},
                    },
                    {},
                )
            resource = RESOURCE.search(body["query"]).group(1)
            key = (shop, resource)
            self.active[key] = self.active.get(key, 0) + 1
            self.max_concurrent[key] = max(self.max_concurrent.get(key, 0), self.active[key])
        try:
            if self.delay:
                time.sleep(self.delay)
            variables = body.get("variables") or {}
            nodes = sorted(self.shops[shop][resource], key=lambda n: (n["updatedAt"], n["id"]))
            match = SINCE.search(variables.get("query") or "")
            if match:
                nodes = [n for n in nodes if n["updatedAt"] >= match.group(1)]
            offset = int(variables.get("after") or 0)
            first = int(variables.get("first", 50))
            page = nodes[offset : offset + first]
            more = offset + first < len(nodes)
            data = {resource: {"nodes": page, "pageInfo": {"hasNextPage": more, "endCursor": str(offset + first)}}}
            return 200, {"data": data, "extensions": {"cost": cost}}, {}
        finally:
            with self.lock:
                self.active[key] -= 1

    def __enter__(self) -> FakeShopify:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
