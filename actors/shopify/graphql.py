"""Shopify Admin GraphQL over httpx, as a good API citizen.

- Throttling: a THROTTLED answer waits until the bucket holds the query's cost
  ((requested - available) / restoreRate seconds), and after each answer the client waits out any
  deficit before the next page; a 429 waits for Retry-After.
- Transient failures (connection errors, timeouts, 5xx) are retried with backoff, a few times.
- A rejected token (401/403) raises InvalidShopifyToken; other client errors raise PermanentJobError.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from app.jobs import PermanentJobError

log = logging.getLogger(__name__)

#: Attempts for a transient failure (connection error, timeout, 5xx) before the run's own retry.
TRANSIENT_ATTEMPTS = 4
#: Longest wait (seconds) the client accepts for one throttle before giving the page another try.
MAX_THROTTLE_WAIT = 60.0


class InvalidShopifyToken(PermanentJobError):
    """Shopify rejected the access token (revoked or wrong)."""


class TransientShopifyError(Exception):
    """Shopify stayed unreachable or failing; the run is retried later."""


class ShopifyGraphQL:
    """One shop's Admin GraphQL endpoint.

    Parameters:
      url: the endpoint (SHOPIFY_API_URL with the shop filled in).
      access_token: the Admin API token (sent as X-Shopify-Access-Token, never logged).
      http: the httpx client (timeouts set by the caller).
      sleep: how to wait (tests pass a recorder).
    """

    def __init__(self, url: str, access_token: str, http: httpx.Client, sleep: Callable[[float], None] = time.sleep):
        self.url = url
        self.headers = {"X-Shopify-Access-Token": access_token, "Content-Type": "application/json"}
        self.http = http
        self.sleep = sleep
        self.throttled_seconds = 0.0

    def _wait(self, seconds: float, reason: str) -> None:
        seconds = min(max(seconds, 0.0), MAX_THROTTLE_WAIT)
        if seconds > 0:
            log.info("shopify throttle", extra={"event": "shopify_throttled", "reason": reason, "wait_s": seconds})
            self.throttled_seconds += seconds
            self.sleep(seconds)

    def query(self, document: str, variables: dict[str, Any]) -> dict[str, Any]:
        transient = 0
        while True:
            try:
                response = self.http.post(
                    self.url, json={"query": document, "variables": variables}, headers=self.headers
                )
            except httpx.TransportError as exc:
                transient = self._transient(transient, f"{type(exc).__name__}: {exc}")
                continue
            if response.status_code in (401, 403):
                raise InvalidShopifyToken(
                    f"Shopify rejected the access token ({response.status_code}); "
                    "update the integration with a valid token"
                )
            if response.status_code == 429:
                self._wait(float(response.headers.get("Retry-After", "2") or 2), "429")
                continue
            if response.status_code >= 500:
                transient = self._transient(transient, f"Shopify answered {response.status_code}")
                continue
            if response.status_code >= 400:
                raise PermanentJobError(f"Shopify answered {response.status_code}: {response.text[:200]}")
            body = response.json()
            cost = (body.get("extensions") or {}).get("cost") or {}
            status = cost.get("throttleStatus") or {}
            errors = body.get("errors") or []
            if any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors):
                deficit = cost.get("requestedQueryCost", 0) - status.get("currentlyAvailable", 0)
                self._wait(deficit / max(status.get("restoreRate", 50), 1) if deficit > 0 else 1.0, "THROTTLED")
                continue
            if errors:
                raise PermanentJobError(f"Shopify GraphQL errors: {[e.get('message') for e in errors][:3]}")
            requested = cost.get("requestedQueryCost", 0)
            available = status.get("currentlyAvailable")
            if available is not None and available < requested:
                self._wait((requested - available) / max(status.get("restoreRate", 50), 1), "bucket low")
            return body["data"]

    def _transient(self, attempts: int, reason: str) -> int:
        attempts += 1
        if attempts >= TRANSIENT_ATTEMPTS:
            raise TransientShopifyError(f"{reason} (after {attempts} attempts)")
        log.warning(
            "shopify transient error", extra={"event": "shopify_transient", "error": reason, "attempt": attempts}
        )
        self.sleep(min(2**attempts * 0.5, 10))
        return attempts
