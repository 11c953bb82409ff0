"""The change signal from the web process to the clock (Redis pub/sub).

A signal only speeds things up: the clock also reconciles periodically, so a lost signal delays a
change by at most one reconcile interval and never loses it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

import redis

log = logging.getLogger(__name__)

#: Pub/sub channel (under the namespace) carrying the trigger keys whose schedules changed.
CHANNEL = "tenantcron:schedule-changes"


class ChangeNotifier:
    """Publishes the trigger keys of changed schedules.

    Parameters:
      client: a Redis client, or None to publish nothing (the periodic reconcile still applies changes).
    """

    def __init__(self, client: redis.Redis | None):
        self.client = client

    def changed(self, trigger_keys: Iterable[str]) -> None:
        keys = sorted(set(trigger_keys))
        if not keys or self.client is None:
            return
        try:
            self.client.publish(CHANNEL, json.dumps({"trigger_keys": keys}))
        except redis.RedisError as exc:
            # The change is committed; the clock's periodic reconcile will pick it up.
            log.warning("change signal not sent", extra={"event": "signal_failed", "error": str(exc)})
