"""The ``noop`` job: does nothing but its run bookkeeping (benchmarks and smoke tests)."""

from __future__ import annotations

from typing import Any

from actors.registry import JobContext, job_actor


@job_actor("noop")
def noop(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Succeed at once."""
