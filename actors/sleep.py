"""The ``sleep`` job: sleeps ``payload.seconds``, reporting progress and stopping when asked (demos, tests)."""

from __future__ import annotations

import time
from typing import Any

from actors.registry import JobContext, job_actor

#: Seconds between progress reports (each one is also a checkpoint).
TICK = 0.25


@job_actor("sleep")
def sleep(ctx: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Sleep, report progress every tick, stop at the next tick when asked."""
    seconds = float(payload.get("seconds", 1))
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        ctx.progress(int(100 * elapsed / seconds), f"slept {elapsed:.1f}s of {seconds:g}s")
        time.sleep(min(TICK, seconds - elapsed))
    return {"slept": seconds}
