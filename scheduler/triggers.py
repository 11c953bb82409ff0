"""An APScheduler 3 trigger over the service's standard-cron arithmetic (app.cron, i.e. cronsim).

APScheduler's own ``CronTrigger.from_crontab`` reads day-of-week 0 as Monday and ANDs the day
fields; user patterns never reach it.
"""

from __future__ import annotations

from datetime import datetime

from apscheduler.triggers.base import BaseTrigger

from app import cron


class StandardCronTrigger(BaseTrigger):
    """Fires on a standard (crontab(5)) pattern, evaluated in an IANA zone.

    Parameters:
      expression: a canonical pattern from ``app.cron.normalize`` (5 fields, or 6 with seconds first).
      timezone: IANA zone name whose wall clock the pattern describes.
    """

    __slots__ = ("expression", "timezone")

    def __init__(self, expression: str, timezone: str = "UTC"):
        self.expression = expression
        self.timezone = timezone

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        if previous_fire_time is None:
            return cron.next_fire(self.expression, self.timezone, now, inclusive=True)
        return cron.next_fire(self.expression, self.timezone, previous_fire_time)

    def __getstate__(self) -> dict:
        return {"version": 1, "expression": self.expression, "timezone": self.timezone}

    def __setstate__(self, state: dict) -> None:
        if state.get("version", 1) > 1:
            raise ValueError(f"cannot restore trigger state of version {state['version']}")
        self.expression = state["expression"]
        self.timezone = state["timezone"]

    def __str__(self) -> str:
        return f"cron[{self.expression} {self.timezone}]"

    def __repr__(self) -> str:
        return f"<StandardCronTrigger expression={self.expression!r} timezone={self.timezone!r}>"
