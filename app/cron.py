"""Cron patterns, time zones and next fire times.

The arithmetic is cronsim's (Debian/Vixie cron semantics, including its DST rules); this module
adds the aliases, a strict dialect check with messages that name the bad field, zone validation
and the key under which schedules sharing a trigger are grouped.
"""

from __future__ import annotations

import hashlib
import re
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
        raise CronError(
            f"time zone {name!r} is not an IANA zone name such as 'UTC' or 'Europe/Berlin'", field="timezone"
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file path
        raise CronError(
            f"unknown time zone {name!r}; use an IANA name such as 'UTC', 'America/New_York' or 'Europe/Berlin'",
            field="timezone",
        ) from None


def trigger_key(expression: str, timezone: str, offset: int = 0) -> str:
    """A short stable key shared by every schedule with the same canonical pattern, zone and offset."""
    text = f"cron|{expression}|{timezone}" + (f"|+{offset}" if offset else "")
    return hashlib.sha1(text.encode()).hexdigest()[:20]


_DURATION = re.compile(r"(\d+)([smhd])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}

#: Longest interval an ``every`` schedule may have.
MAX_EVERY = 366 * 86400


def parse_every(text: str) -> int:
    """Seconds in a duration such as ``90s``, ``15m``, ``6h``, ``1d`` or ``1h30m``; raises CronError."""
    if not isinstance(text, str) or not text.strip():
        raise CronError("every must be a duration such as '90s', '15m', '6h' or '1h30m'", field="every")
    compact = text.strip().lower()
    parts = _DURATION.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise CronError(f"every {text!r} is not a duration such as '90s', '15m', '6h' or '1h30m'", field="every")
    seconds = sum(int(n) * _UNIT[u] for n, u in parts)
    if not 1 <= seconds <= MAX_EVERY:
        raise CronError(f"every {text!r} must be between 1s and 366d", field="every")
    return seconds


def format_every(seconds: int) -> str:
    """The shortest duration text for ``seconds`` (``5400`` -> ``1h30m``)."""
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out or "0s"


@dataclass(frozen=True)
class TriggerSpec:
    """When a schedule fires: a cron pattern in a zone, or an interval; shifted by ``offset`` seconds.

    Intervals are aligned to the Unix epoch (as BullMQ's ``every`` is), so every schedule with the
    same interval and offset shares one trigger.

    Parameters:
      cron: canonical pattern (from ``normalize``), or None for an interval.
      every: interval in seconds, or None for a pattern.
      timezone: IANA zone of the pattern's wall clock.
      offset: seconds every fire is shifted by (stagger).
    """

    cron: str | None
    every: int | None
    timezone: str = "UTC"
    offset: int = 0

    @property
    def key(self) -> str:
        if self.cron is not None:
            return trigger_key(self.cron, self.timezone, self.offset)
        return hashlib.sha1(f"every|{self.every}|+{self.offset}".encode()).hexdigest()[:20]

    def next_fire(self, after: datetime, *, inclusive: bool = False) -> datetime | None:
        """The first fire strictly after ``after`` (or at it, when ``inclusive``)."""
        shift = timedelta(seconds=self.offset)
        if self.every is None:
            base = next_fire(self.cron, self.timezone, after - shift, inclusive=inclusive)
            return base + shift if base else None
        span = self.every * 1_000_000
        micros = _epoch_micros(after) - self.offset * 1_000_000
        steps = -(-micros // span) if inclusive else micros // span + 1
        return _EPOCH + timedelta(microseconds=steps * span + self.offset * 1_000_000)

    def next_fires(self, after: datetime, count: int) -> list[datetime]:
        out: list[datetime] = []
        while len(out) < count:
            fire = self.next_fire(after)
            if fire is None:
                break
            out.append(fire)
            after = fire
        return out

    def period(self) -> int:
        """Seconds between fires (the smallest gap, for irregular patterns)."""
        return self.every if self.every is not None else _cron_period(self.cron, self.timezone)

    def staggered(self, tenant_id: str) -> TriggerSpec:
        """This trigger shifted by a deterministic, tenant-derived offset within its period.

        Tenants sharing ``0 */6 * * *`` spread over 360 distinct minutes; second-level patterns and
        intervals that are not whole minutes spread by the second.
        """
        period = self.period()
        unit = 1 if (self.cron and len(self.cron.split()) == 6) or period % 60 else 60
        slots = max(period // unit, 1)
        digest = int.from_bytes(hashlib.sha256(tenant_id.encode()).digest()[:8], "big")
        return TriggerSpec(self.cron, self.every, self.timezone, (digest % slots) * unit)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=4096)
def _cron_period(expression: str, timezone: str) -> int:
    fires = next_fires(expression, timezone, datetime(2026, 1, 5, tzinfo=UTC), 64)
    gaps = [int((b - a).total_seconds()) for a, b in zip(fires, fires[1:], strict=False)]
    return min(gaps) if gaps else 86400 * 365


def _epoch_micros(instant: datetime) -> int:
    delta = instant - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def jitter_delay(schedule_id: int, fire_time: datetime, jitter: int) -> int:
    """Seconds (0..jitter) a fire is delayed by: deterministic per schedule and fire time."""
    if jitter <= 0:
        return 0
    digest = hashlib.sha256(f"{schedule_id}|{fire_time.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % (jitter + 1)


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
    if count <= 0:
        return out
    for fire in _iterate(expression, timezone, after):
        out.append(fire)
        if len(out) >= count:
            break
    return out
