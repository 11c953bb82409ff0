"""The app factory: ``create_app(settings)`` wires services into thin resources."""

from __future__ import annotations

import falcon
import redis
from sqlalchemy import Engine

from api import dashboard, errors
from api.auth import AuthMiddleware
from api.compat import CompatAddResource, CompatListResource, CompatRemoveResource
from api.dashboard.access import DashboardAccess
from api.openapi import OpenApiResource
from api.requestlog import RequestLogMiddleware
from api.resources.bulk import BulkSchedulesResource
from api.resources.deadletters import DeadLetterResource, DeadLettersResource
from api.resources.health import HealthResource, ReadyResource
from api.resources.integrations import ShopifyIntegrationResource
from api.resources.jobs import AdHocJobsResource, JobCatalogueResource
from api.resources.metrics import MetricsResource, ServiceCollector
from api.resources.preview import PreviewResource
from api.resources.queues import QueuesResource
from api.resources.runs import RunResource, RunsResource
from api.resources.schedules import (
    AuditResource,
    ScheduleActionResource,
    ScheduleResource,
    ScheduleRunsResource,
    SchedulesResource,
    TenantActionResource,
    TenantSchedulesResource,
    TierResource,
)
from app.adhoc import AdHocJobs
from app.config import Settings
from app.db import make_engine
from app.deadletters import DeadLetterService
from app.dispatch import Dispatcher
from app.integrations import IntegrationService
from app.requeue import RunRequeuer
from app.runs import RunStore
from app.schedules import ScheduleService
from app.signals import ChangeNotifier
from app.tiers import TierService, load_tiers
from app.tokens import TokenService


def create_app(
    settings: Settings, *, engine: Engine | None = None, redis_client: redis.Redis | None = None
) -> falcon.App:
    """Build the WSGI app. ``engine`` and ``redis_client`` default to ones made from ``settings``."""
    engine = engine or make_engine(settings.database_url)
    if redis_client is None and settings.redis_url:
        redis_client = redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
    dispatcher = Dispatcher(redis_client, settings.namespace) if redis_client is not None else None
    schedules = ScheduleService(engine, ChangeNotifier(redis_client), dispatcher=dispatcher)
    runs = RunStore(engine)
    requeuer = RunRequeuer(engine, dispatcher) if dispatcher is not None else None
    dead_letters = (
        DeadLetterService(redis_client, engine, requeuer, settings.namespace) if requeuer is not None else None
    )

    tokens = TokenService(engine)
    app = falcon.App(middleware=[RequestLogMiddleware(), AuthMiddleware(tokens, local_mode=settings.local_mode)])
    app.req_options.strip_url_path_trailing_slash = True
    errors.install(app)
    app.add_route("/health", HealthResource())
    app.add_route("/ready", ReadyResource(engine, redis_client, settings.leader_ttl))
    app.add_route(
        "/metrics", MetricsResource(ServiceCollector(engine, redis_client, settings.namespace, settings.leader_ttl))
    )
    app.add_route("/openapi.json", OpenApiResource())
    app.add_route("/v1/preview", PreviewResource())
    app.add_route("/v1/schedules", SchedulesResource(schedules))
    app.add_route("/v1/runs", RunsResource(runs, schedules))
    run = RunResource(runs, requeuer)
    app.add_route("/v1/runs/{run_id}", run)
    app.add_route("/v1/runs/{run_id}/cancel", run, suffix="cancel")
    app.add_route("/v1/runs/{run_id}/retry", run, suffix="retry")
    app.add_route("/v1/jobs", JobCatalogueResource())
    app.add_route("/v1/queues", QueuesResource(redis_client, settings.namespace))
    letters = DeadLettersResource(dead_letters)
    app.add_route("/v1/dead-letters", letters)
    app.add_route("/v1/dead-letters/retry", letters, suffix="retry")
    letter = DeadLetterResource(dead_letters)
    app.add_route("/v1/dead-letters/{letter_id}", letter)
    app.add_route("/v1/dead-letters/{letter_id}/retry", letter, suffix="retry")
    app.add_route("/v1/schedules/bulk", BulkSchedulesResource(schedules))
    tenant = "/v1/tenants/{tenant_id}"
    app.add_route(f"{tenant}/schedules", TenantSchedulesResource(schedules))
    app.add_route(f"{tenant}/pause", TenantActionResource(schedules), suffix="pause")
    app.add_route(f"{tenant}/resume", TenantActionResource(schedules), suffix="resume")
    app.add_route(f"{tenant}/audit", AuditResource(schedules))
    app.add_route(f"{tenant}/jobs", AdHocJobsResource(AdHocJobs(runs, requeuer)))
    integrations = ShopifyIntegrationResource(IntegrationService(engine, settings.integrations_key))
    app.add_route(f"{tenant}/integrations/shopify", integrations, suffix="list")
    app.add_route(f"{tenant}/integrations/shopify/{{integration_id}}", integrations)
    app.add_route("/api/schedules/add", CompatAddResource(schedules))
    app.add_route("/api/schedules/remove", CompatRemoveResource(schedules))
    app.add_route("/api/schedules/list", CompatListResource(schedules))
    tiers = TierResource(TierService(schedules, load_tiers(settings.tiers_file)))
    app.add_route(f"{tenant}/tier", tiers)
    app.add_route("/v1/tiers", tiers, suffix="list")
    app.add_route(f"{tenant}/schedules/{{key}}", ScheduleResource(schedules))
    actions = ScheduleActionResource(schedules)
    for action in ("pause", "resume", "trigger"):
        app.add_route(f"{tenant}/schedules/{{key}}/{action}", actions, suffix=action)
    app.add_route(f"{tenant}/schedules/{{key}}/runs", ScheduleRunsResource(schedules, runs))
    dashboard.install(
        app,
        DashboardAccess(settings, tokens),
        schedules=schedules,
        runs=runs,
        letters=dead_letters,
        client=redis_client,
        namespace=settings.namespace,
        leader_ttl=settings.leader_ttl,
    )
    return app
