"""Schemathesis fuzzes the running app from its own OpenAPI document: no 5xx, no response off the schema."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from app.config import Settings
from app.schedules import ScheduleInput, ScheduleService
from app.signals import ChangeNotifier
from app.tokens import TokenService

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def api_app(db, redis_url, redis_client):
    settings = Settings.from_env({"DATABASE_URL": db.url, "REDIS_URL": redis_url})
    service = ScheduleService(db.engine, ChangeNotifier(None))
    for tenant in ("42", "7"):
        service.upsert(ScheduleInput.parse(tenant, "orders", {"job": "noop", "cron": "*/5 * * * *"}))
    return create_app(settings, engine=db.engine, redis_client=redis_client)


@pytest.fixture
def api_token(db) -> str:
    return TokenService(db.engine).create("fuzzer")


def test_api_matches_its_openapi_document(api_app, api_token) -> None:
    # Driven through hypothesis directly: schemathesis' pytest plugin does not run under pytest 9.
    schema = schemathesis.openapi.from_wsgi("/openapi.json", api_app)
    headers = {"Authorization": f"Bearer {api_token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 17

    for operation in operations:
        fuzz_operation(operation, headers)


def fuzz_operation(operation, headers: dict[str, str]) -> None:
    # /ready answers 503 by design here (no clock or worker runs): not a server error.
    checks = [c for c in CHECKS if not (operation.path == "/ready" and c is not_a_server_error)]

    @given(case=operation.as_strategy())
    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def fuzz(case) -> None:
        case.call_and_validate(headers=headers, checks=checks)

    fuzz()


def test_the_document_is_valid_openapi_and_covers_every_route(api_app) -> None:
    from openapi_spec_validator import validate

    from api.openapi import document

    doc = document()
    validate(doc)
    routes = {route.uri_template for route in api_app._router._roots for route in _walk(route)}
    api_routes = {r for r in routes if not r.startswith("/dashboard")}  # HTML pages, not the JSON API
    assert api_routes - {"/openapi.json"} <= set(doc["paths"]), api_routes - set(doc["paths"])


def _walk(node):
    if node.resource is not None:
        yield node
    for child in node.children:
        yield from _walk(child)
