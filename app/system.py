"""The service's own cron jobs: catalogue entries with a ``cron`` (app.jobs), kept as schedules.

The clock calls ``SystemSchedules.sync`` when it becomes leader: each declared system job gets a
schedule of the reserved tenant ``_system`` (which no API caller can create, since tenant ids
start with a letter or digit), a changed declaration changes it, a removed one removes it. An
unchanged declaration writes nothing, and the (tenant, key) unique key means several clocks
starting at once never make two. Operators may pause, resume or trigger them like any schedule.
"""

from __future__ import annotations

import logging
from typing import Any

from app import cron
from app.jobs import JOBS, JobSpec
from app.schedules import ScheduleInput, ScheduleService

log = logging.getLogger(__name__)

#: The tenant owning the system's schedules.
SYSTEM_TENANT = "_system"


def _input(spec: JobSpec, paused: bool) -> ScheduleInput:
    return ScheduleInput(
        tenant_id=SYSTEM_TENANT,
        key=spec.name,
        job=spec.name,
        cron=cron.normalize(spec.cron),
        every=None,
        timezone=spec.timezone,
        payload={},
        paused=paused,
        tier="system",
    )


class SystemSchedules:
    """Keeps the ``_system`` tenant's schedules equal to the system jobs declared in code.

    Parameters:
      schedules: the schedule service.
    """

    def __init__(self, schedules: ScheduleService):
        self.schedules = schedules

    def sync(self) -> dict[str, list[str]]:
        """Add, change and remove system schedules to match the code. Returns what changed."""
        declared = {name: spec for name, spec in JOBS.items() if spec.is_system}
        existing: dict[str, dict[str, Any]] = {}
        cursor: int | None = 0
        while cursor is not None:
            page, cursor = self.schedules.list(tenant_id=SYSTEM_TENANT, after_id=cursor, limit=500)
            existing.update({item["key"]: item for item in page})
        wanted, created = [], []
        for name, spec in declared.items():
            current = existing.get(name)
            item = _input(spec, paused=bool(current and current["paused"]))
            if current is None:
                created.append(name)
            elif (current["job"], current["cron"], current["timezone"]) == (item.job, item.cron, item.timezone):
                continue
            wanted.append(item)
        if wanted:
            self.schedules.upsert_many(wanted, actor="clock")
        removed = sorted(set(existing) - set(declared))
        for key in removed:
            self.schedules.delete(SYSTEM_TENANT, key, actor="clock")
        changes = {
            "added": sorted(created),
            "changed": sorted(i.key for i in wanted if i.key not in created),
            "removed": removed,
        }
        if wanted or removed:
            log.info("system schedules synced", extra={"event": "system_schedules_synced", **changes})
        return changes
