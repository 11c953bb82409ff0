"""The ``webhook`` job: POST each fire to the URL in the schedule's payload, signed with HMAC-SHA256."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx

from actors.registry import JobContext, job_actor

#: Header carrying ``sha256=<hex HMAC-SHA256 of the raw body>`` under WEBHOOK_SECRET.
SIGNATURE_HEADER = "X-Tenantcron-Signature"


class WebhookFailed(Exception):
    """The receiver answered with a non-2xx status."""


def sign(secret: str, body: bytes) -> str:
    """The signature header value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@job_actor("webhook")
def webhook(ctx: JobContext, payload: dict[str, Any]) -> None:
    """POST {tenant_id, schedule_key, fire_time, payload, ...} to ``payload["url"]``; non-2xx retries."""
    body = json.dumps(
        {
            "tenant_id": ctx.tenant_id,
            "schedule_id": ctx.schedule_id,
            "schedule_key": ctx.key,
            "fire_time": ctx.fire_time.isoformat(),
            "triggered_by": ctx.triggered_by,
            "run_id": ctx.run_id,
            "attempt": ctx.attempt,
            "payload": payload,
        },
        separators=(",", ":"),
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "tenantcron-webhook/1",
        SIGNATURE_HEADER: sign(ctx.settings.webhook_secret, body),
        "X-Tenantcron-Delivery": f"{ctx.run_id}.{ctx.attempt}",
    }
    response = httpx.post(payload["url"], content=body, headers=headers, timeout=ctx.settings.webhook_timeout)
    if not response.is_success:
        raise WebhookFailed(f"{payload['url']} answered {response.status_code}")
