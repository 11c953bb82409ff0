"""The app factory: ``create_app(settings)`` wires services into thin resources."""

from __future__ import annotations

import falcon
import redis
from sqlalchemy import Engine

from api import errors
from api.resources.health import HealthResource
from api.resources.preview import PreviewResource
from api.resources.schedules import (
    ScheduleResource,
    ScheduleRunsResource,
    SchedulesResource,
    TenantSchedulesResource,
)
from app.config import Settings
from app.db import make_engine
from app.runs import RunStore
from app.schedules import ScheduleService
from app.signals import ChangeNotifier


def create_app(
    settings: Settings, *, engine: Engine | None = None, redis_client: redis.Redis | None = None
) -> falcon.App:
    """Build the WSGI app. ``engine`` and ``redis_client`` default to ones made from ``settings``."""
    engine = engine or make_engine(settings.database_url)
    if redis_client is None and settings.redis_url:
        redis_client = redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
    schedules = ScheduleService(engine, ChangeNotifier(redis_client))
    runs = RunStore(engine)

    app = falcon.App()
    app.req_options.strip_url_path_trailing_slash = True
    errors.install(app)
    app.add_route("/health", HealthResource(engine, redis_client))
    app.add_route("/v1/preview", PreviewResource())
    app.add_route("/v1/schedules", SchedulesResource(schedules))
    app.add_route("/v1/tenants/{tenant_id}/schedules", TenantSchedulesResource(schedules))
    app.add_route("/v1/tenants/{tenant_id}/schedules/{key}", ScheduleResource(schedules))
    app.add_route("/v1/tenants/{tenant_id}/schedules/{key}/runs", ScheduleRunsResource(schedules, runs))
    return app
