"""Validation of a create-or-replace request, before anything touches the database."""

import pytest

from app.errors import ValidationError
from app.schedules import ScheduleInput

GOOD = {"job": "webhook", "cron": "0 */6 * * *", "payload": {"url": "https://example.test/h"}}


def test_valid_input_is_normalized() -> None:
    item = ScheduleInput.parse("42", "shopify-products", {**GOOD, "cron": "@daily", "timezone": "Asia/Tokyo"})
    assert item.cron == "0 0 * * *" and item.timezone == "Asia/Tokyo" and item.paused is False
    assert item.payload == {"url": "https://example.test/h"}


def test_defaults() -> None:
    item = ScheduleInput.parse("t", "k", {"job": "noop", "cron": "* * * * *"})
    assert (item.timezone, item.payload, item.paused) == ("UTC", {}, False)


def _fields(tenant: str, key: str, doc) -> list[str]:
    with pytest.raises(ValidationError) as info:
        ScheduleInput.parse(tenant, key, doc)
    assert all(e["message"] for e in info.value.errors)
    return [e["field"] for e in info.value.errors]


def test_every_problem_is_reported_at_once() -> None:
    doc = {"job": "nope", "cron": "99 * * * *", "timezone": "Nowhere/City", "payload": [], "paused": 1, "x": 0}
    assert _fields("bad tenant", "", doc) == ["tenant_id", "key", "x", "job", "cron", "timezone", "payload", "paused"]


def test_missing_required_fields() -> None:
    assert _fields("t", "k", {}) == ["job", "cron"]


def test_cron_must_be_a_string() -> None:
    assert _fields("t", "k", {"job": "noop", "cron": 5}) == ["cron"]


def test_body_must_be_an_object() -> None:
    assert _fields("t", "k", "not an object") == ["body"]


def test_job_payload_is_checked_by_the_job() -> None:
    assert _fields("t", "k", {**GOOD, "payload": {"url": "not a url"}}) == ["payload"]
    assert _fields("t", "k", {**GOOD, "payload": {}}) == ["payload"]
