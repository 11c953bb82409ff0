"""APScheduler 3 triggers over the service's own fire arithmetic (app.cron.TriggerSpec, i.e. cronsim).

APScheduler's own ``CronTrigger.from_crontab`` reads day-of-week 0 as Monday and ANDs the day
fields; user patterns never reach it.
"""

from __future__ import annotations

from datetime import datetime

from apscheduler.triggers.base import BaseTrigger

from app.cron import TriggerSpec


class _SpecTrigger(BaseTrigger):
    __slots__ = ()

    def spec(self) -> TriggerSpec:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        if previous_fire_time is None:
            return self.spec().next_fire(now, inclusive=True)
        return self.spec().next_fire(previous_fire_time)


class StandardCronTrigger(_SpecTrigger):
    """Fires on a standard (crontab(5)) pattern, evaluated in an IANA zone.

    Parameters:
      expression: a canonical pattern from ``app.cron.normalize`` (5 fields, or 6 with seconds first).
      timezone: IANA zone name whose wall clock the pattern describes.
      offset: seconds every fire is shifted by (stagger).
    """

    __slots__ = ("expression", "timezone", "offset")

    def __init__(self, expression: str, timezone: str = "UTC", offset: int = 0):
        self.expression = expression
        self.timezone = timezone
        self.offset = offset

    def spec(self) -> TriggerSpec:
        return TriggerSpec(self.expression, None, self.timezone, self.offset)

    def __getstate__(self) -> dict:
        return {"version": 1, "expression": self.expression, "timezone": self.timezone, "offset": self.offset}

    def __setstate__(self, state: dict) -> None:
        if state.get("version", 1) > 1:
            raise ValueError(f"cannot restore trigger state of version {state['version']}")
        self.expression = state["expression"]
        self.timezone = state["timezone"]
        self.offset = state.get("offset", 0)

    def __str__(self) -> str:
        return f"cron[{self.expression} {self.timezone}{f' +{self.offset}s' if self.offset else ''}]"

    def __repr__(self) -> str:
        return f"<StandardCronTrigger expression={self.expression!r} timezone={self.timezone!r} offset={self.offset}>"


class IntervalTrigger(_SpecTrigger):
    """Fires every ``every`` seconds, aligned to the Unix epoch, shifted by ``offset`` seconds.

    Parameters:
      every: the interval in seconds.
      offset: seconds every fire is shifted by (stagger).
    """

    __slots__ = ("every", "offset")

    def __init__(self, every: int, offset: int = 0):
        self.every = every
        self.offset = offset

    def spec(self) -> TriggerSpec:
        return TriggerSpec(None, self.every, "UTC", self.offset)

    def __getstate__(self) -> dict:
        return {"version": 1, "every": self.every, "offset": self.offset}

    def __setstate__(self, state: dict) -> None:
        if state.get("version", 1) > 1:
            raise ValueError(f"cannot restore trigger state of version {state['version']}")
        self.every = state["every"]
        self.offset = state.get("offset", 0)

    def __str__(self) -> str:
        return f"every[{self.every}s{f' +{self.offset}s' if self.offset else ''}]"


def trigger_for(spec: TriggerSpec) -> _SpecTrigger:
    """The APScheduler trigger of a spec."""
    if spec.cron is not None:
        return StandardCronTrigger(spec.cron, spec.timezone, spec.offset)
    return IntervalTrigger(spec.every, spec.offset)
