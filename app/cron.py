"""Cron patterns, time zones and next fire times.

The arithmetic is cronsim's (Debian/Vixie cron semantics, including its DST rules); this module
adds the aliases, a strict dialect check with messages that name the bad field, zone validation
and the key under which schedules sharing a trigger are grouped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

#: The @-aliases of crontab(5), expanded before parsing.
ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_FIVE = ("minute", "hour", "day-of-month", "month", "day-of-week")
_SIX = ("second", *_FIVE)
_RANGES = {
    "second": "0-59",
    "minute": "0-59",
    "hour": "0-23",
    "day-of-month": "1-31 or L",
    "month": "1-12 or JAN-DEC",
    "day-of-week": "0-7 (0 and 7 are Sunday) or SUN-SAT",
}


class CronError(ValueError):
    """A pattern or zone is not valid.

    Parameters:
      message: what is wrong and how to fix it.
      field: the name of the offending cron field, when one is to blame.
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class CronSpec:
    """A validated pattern in a zone: what a clock job fires on."""

    expression: str
    timezone: str

    @property
    def zone(self) -> ZoneInfo:
        return zone_info(self.timezone)

    @property
    def key(self) -> str:
        return trigger_key(self.expression, self.timezone)


def normalize(pattern: str) -> str:
    """Validate ``pattern`` and return its canonical form (aliases expanded, upper case, single spaces).

    Raises CronError naming the bad field.
    """
    if not isinstance(pattern, str) or not pattern.strip():
        raise CronError(
            "pattern is empty: give 5 fields (minute hour day month weekday), 6 with seconds first, "
            "or an alias such as @daily"
        )
    text = " ".join(pattern.split())
    if text.startswith("@"):
        expanded = ALIASES.get(text.lower())
        if expanded is None:
            raise CronError(f"unknown alias {text!r}; use one of {', '.join(sorted(ALIASES))}")
        text = expanded
    fields = text.upper().split(" ")
    if len(fields) not in (5, 6):
        raise CronError(
            f"pattern has {len(fields)} fields; cron needs 5 (minute hour day month weekday) "
            "or 6 with a leading seconds field"
        )
    names = _SIX if len(fields) == 6 else _FIVE
    for name, value in zip(names, fields, strict=True):
        if "#" in value or "W" in value.replace("WED", "") or (name == "day-of-week" and "L" in value):
            raise CronError(
                f"{name} field {value!r} uses a non-standard extension; allowed: numbers "
                f"({_RANGES[name]}), *, lists, ranges and steps",
                field=name,
            )
        if "?" in value:
            raise CronError(f"{name} field {value!r}: '?' is not standard cron; use *", field=name)
    canonical = " ".join(fields)
    try:
        CronSim(canonical, datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as exc:
        bad = str(exc).removeprefix("Bad ").strip()
        if bad in _RANGES:
            value = fields[names.index(bad)]
            raise CronError(
                f"{bad} field {value!r} is not valid; allowed: {_RANGES[bad]}, *, lists, "
                "ranges (a-b) and steps (*/n, a-b/n)",
                field=bad,
            ) from None
        raise CronError(f"pattern {pattern!r} is not valid cron: {exc}") from None
    # A pattern that can never match (e.g. 30 2 31 2 *) would silently never fire.
    if next(_iterate(canonical, "UTC", datetime(2000, 1, 1, tzinfo=UTC)), None) is None:
        raise CronError(f"pattern {pattern!r} never matches any date", field="day-of-month")
    return canonical


@lru_cache(maxsize=1024)
def zone_info(name: str) -> ZoneInfo:
    """The IANA zone called ``name``; raises CronError for an unknown one."""
    if not isinstance(name, str) or not name or name != name.strip():
        raise CronError(f"time zone {name!r} is not an IANA zone name such as 'UTC' or 'Europe/Berlin'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CronError(
            f"unknown time zone {name!r}; use an IANA name such as 'UTC', 'America/New_York' or 'Europe/Berlin'"
        ) from None


def trigger_key(expression: str, timezone: str) -> str:
    """A short stable key shared by every schedule with the same canonical pattern and zone."""
    return hashlib.sha1(f"cron|{expression}|{timezone}".encode()).hexdigest()[:20]


def _iterate(expression: str, timezone: str, after: datetime) -> Iterator[datetime]:
    zone = zone_info(timezone)
    try:
        for local in CronSim(expression, after.astimezone(zone)):
            yield local.astimezone(UTC)
    except StopIteration:  # pragma: no cover - cronsim ends iteration itself
        return


def next_fire(expression: str, timezone: str, after: datetime, *, inclusive: bool = False) -> datetime | None:
    """The first fire time (UTC) strictly after ``after`` (or at it, when ``inclusive``)."""
    if inclusive:
        base = after.replace(microsecond=0)
        if after.microsecond == 0:
            base -= timedelta(seconds=1)
        after = base
    return next(_iterate(expression, timezone, after), None)


def next_fires(expression: str, timezone: str, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire times (UTC) strictly after ``after``."""
    out: list[datetime] = []
    for fire in _iterate(expression, timezone, after):
        out.append(fire)
        if len(out) >= count:
            break
    return out
