"""Keep the clock's job store in step with the schedules table (the truth).

One APScheduler job per distinct trigger among active schedules. A change signal names trigger
keys and costs one indexed query per key; the full pass runs at start and every reconcile
interval as the safety net behind lost signals and removes triggers no schedule uses any more.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine, func, or_, select

from app.cron import TriggerSpec
from app.models import schedules
from scheduler.triggers import trigger_for

log = logging.getLogger(__name__)

#: Textual reference of the job function, as stored in the job store.
FIRE_FUNC = "scheduler.fire:fire_trigger"


class Reconciler:
    """Adds and removes clock jobs so each active trigger has exactly one.

    Parameters:
      engine: the database engine.
      scheduler: the running APScheduler scheduler (the only writer of its job store).
      catchup_window: seconds; a newly seen trigger does not look back further than this.
    """

    def __init__(self, engine: Engine, scheduler: BaseScheduler, catchup_window: int):
        self.engine = engine
        self.scheduler = scheduler
        self.catchup_window = timedelta(seconds=catchup_window)

    def _triggers(self, now: datetime, keys: Iterable[str] | None = None) -> list[tuple[str, TriggerSpec, datetime]]:
        s = schedules.c
        query = (
            select(s.trigger_key, s.cron, s.every_seconds, s.timezone, s.offset_seconds, func.min(s.active_since))
            .where(
                s.paused.is_(False),
                or_(s.end_at.is_(None), s.end_at >= now),
                or_(s.max_fires.is_(None), s.fire_count < s.max_fires),
            )
            .group_by(s.trigger_key, s.cron, s.every_seconds, s.timezone, s.offset_seconds)
        )
        if keys is not None:
            query = query.where(s.trigger_key.in_(list(keys)))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [(row[0], TriggerSpec(row[1], row[2], row[3], row[4]), row[5]) for row in rows]

    def _add(self, key: str, spec: TriggerSpec, since: datetime, now: datetime) -> None:
        # Fires since the earliest member became active are due (a trigger first seen late still
        # fires its due time), bounded by the catch-up window.
        start = max(since, now - self.catchup_window)
        first = spec.next_fire(start, inclusive=True)
        if first is None:
            return
        trigger = trigger_for(spec)
        self.scheduler.add_job(
            FIRE_FUNC,
            trigger=trigger,
            args=[key],
            id=key,
            name=str(trigger),
            next_run_time=first,
            coalesce=False,
            misfire_grace_time=None,
            max_instances=1,
            replace_existing=False,
        )
        log.info(
            "trigger added",
            extra={
                "event": "trigger_added",
                "trigger_key": key,
                "trigger": str(trigger),
                "next_fire_at": first.isoformat(),
            },
        )

    def apply(self, keys: Iterable[str]) -> None:
        """Make sure the named triggers have jobs (from a change signal)."""
        now = datetime.now(UTC)
        for key, spec, since in self._triggers(now, keys):
            if self.scheduler.get_job(key) is None:
                self._add(key, spec, since, now)

    def full(self) -> tuple[int, int]:
        """Add missing trigger jobs and remove unused ones. Returns (added, removed)."""
        now = datetime.now(UTC)
        wanted = {row[0]: row for row in self._triggers(now)}
        existing = {job.id for job in self.scheduler.get_jobs()}
        added = removed = 0
        for key in wanted.keys() - existing:
            _, spec, since = wanted[key]
            self._add(key, spec, since, now)
            added += 1
        for key in existing - wanted.keys():
            try:
                self.scheduler.remove_job(key)
                removed += 1
            except JobLookupError:
                pass
        if added or removed:
            log.info(
                "reconciled", extra={"event": "reconciled", "added": added, "removed": removed, "triggers": len(wanted)}
            )
        return added, removed
