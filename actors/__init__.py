"""Dramatiq broker setup. Importing this package registers every actor (``dramatiq actors``)."""

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage

from actors import registry
from app.config import Settings
from app.logs import configure as configure_logging

settings = Settings.from_env()
configure_logging(settings.log_level, "worker")
broker = RedisBroker(url=settings.require_redis_url(), namespace=settings.namespace)
broker.add_middleware(CurrentMessage())
dramatiq.set_broker(broker)
registry.configure(settings, broker.client)

from actors import noop, shopify, webhook  # noqa: E402,F401  (registers the actors)
