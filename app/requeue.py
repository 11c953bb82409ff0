"""Messages for runs that already exist in the database.

Most runs start from a clock fire, whose message the clock sends before any run row exists. The
others are rows first: an ad-hoc job, a run buffered behind its schedule's running run, a failed
run an operator retries, an open run whose message was lost. This module sends their messages;
a repeated message is harmless, since a run is claimed once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Engine, select

from app.dispatch import Dispatcher, Fire, message_options, schedule_options
from app.jobs import ROUTES
from app.models import runs, schedules


class RunRequeuer:
    """Enqueues one message per existing run.

    Parameters:
      engine: the database engine.
      dispatcher: writes messages to Redis.
    """

    def __init__(self, engine: Engine, dispatcher: Dispatcher):
        self.engine = engine
        self.dispatcher = dispatcher

    def enqueue(self, run_ids: Iterable[int]) -> int:
        """Send a message for each run (open runs only are ever claimed). Returns how many were sent."""
        ids = list(run_ids)
        if not ids:
            return 0
        r, s = runs.c, schedules.c
        query = (
            select(
                r.id,
                r.schedule_id,
                r.tenant_id,
                r.job,
                r.payload,
                r.fire_time,
                r.triggered_by,
                r.priority,
                r.max_attempts.label("run_max_attempts"),
                s.key,
                s.job.label("schedule_job"),
                s.payload.label("schedule_payload"),
                s.max_attempts,
                s.backoff_ms,
                s.backoff_max_ms,
                s.time_limit_ms,
            )
            .select_from(runs.outerjoin(schedules, s.id == r.schedule_id))
            .where(r.id.in_(ids))
        )
        batches: dict[tuple[datetime, str], list[Fire]] = defaultdict(list)
        with self.engine.connect() as conn:
            for row in conn.execute(query).mappings():
                if row["schedule_id"] is not None:
                    if row["schedule_job"] is None:
                        continue  # the schedule is gone (its runs go with it)
                    fire = Fire(
                        row["schedule_id"],
                        row["tenant_id"],
                        row["key"],
                        row["schedule_job"],
                        row["schedule_payload"],
                        options=schedule_options(row),
                        run_id=row["id"],
                    )
                else:
                    fire = Fire(
                        None,
                        row["tenant_id"],
                        None,
                        row["job"],
                        row["payload"] or "{}",
                        options=message_options(max_attempts=row["run_max_attempts"], priority=row["priority"]),
                        run_id=row["id"],
                        high_priority=row["priority"] == "high",
                    )
                batches[(row["fire_time"], row["triggered_by"])].append(fire)
        return sum(
            self.dispatcher.enqueue(fires, fire_time, ROUTES, triggered_by=triggered_by)
            for (fire_time, triggered_by), fires in batches.items()
        )
