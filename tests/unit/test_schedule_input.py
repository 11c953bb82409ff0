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


def test_every_windows_limits_jitter_and_stagger() -> None:
    item = ScheduleInput.parse(
        "t",
        "k",
        {
            "job": "noop",
            "every": "15m",
            "start_at": "2026-12-01T00:00:00Z",
            "end_at": "2026-12-31T00:00:00+01:00",
            "max_fires": 10,
            "jitter": "30s",
            "stagger": True,
        },
    )
    assert (item.cron, item.every, item.max_fires, item.jitter, item.stagger) == (None, 900, 10, 30, True)
    assert item.start_at.isoformat() == "2026-12-01T00:00:00+00:00"
    assert item.end_at.isoformat() == "2026-12-30T23:00:00+00:00"
    assert item.trigger.every == 900 and 0 <= item.trigger.offset < 900 and item.trigger.offset % 60 == 0


def test_cron_and_every_are_exclusive() -> None:
    assert _fields("t", "k", {"job": "noop", "cron": "* * * * *", "every": "5m"}) == ["cron"]
    assert _fields("t", "k", {"job": "noop", "every": "5 minutes"}) == ["every"]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"start_at": "tomorrow"}, "start_at"),
        ({"start_at": "2026-12-01T00:00:00"}, "start_at"),  # no offset: ambiguous
        ({"start_at": "2026-12-02T00:00:00Z", "end_at": "2026-12-01T00:00:00Z"}, "end_at"),
        ({"max_fires": 0}, "max_fires"),
        ({"max_fires": True}, "max_fires"),
        ({"jitter": -1}, "jitter"),
        ({"jitter": 7200}, "jitter"),
        ({"jitter": "soon"}, "jitter"),
        ({"stagger": "yes"}, "stagger"),
    ],
)
def test_bad_window_limit_jitter_stagger(extra: dict, field: str) -> None:
    assert _fields("t", "k", {"job": "noop", "cron": "* * * * *", **extra}) == [field]
