"""Dramatiq broker setup. Importing this package registers every actor (``python -m actors``)."""

import dramatiq
from dramatiq.middleware import CurrentMessage

from actors import registry
from actors.broker import ServiceBroker
from app.config import Settings
from app.logs import configure as configure_logging

settings = Settings.from_env()
configure_logging(settings.log_level, "worker")
broker = ServiceBroker(
    url=settings.require_redis_url(),
    namespace=settings.namespace,
    heartbeat_timeout=settings.worker_heartbeat_timeout * 1000,
    dead_message_ttl=settings.dead_letter_days * 86_400_000,
)
broker.add_middleware(CurrentMessage())
dramatiq.set_broker(broker)
registry.configure(settings, broker)

from actors import noop, shopify, sleep, system, webhook  # noqa: E402,F401  (registers the actors)
