"""Structured logs: one JSON object per line, on stderr, from every process."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

#: Fields every line carries (besides any ``extra`` given to the log call).
FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

#: The id of the HTTP request being handled (web process), added to every line logged meanwhile.
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to records logged while a request is handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = REQUEST_ID.get()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


def configure(level: str = "INFO", process: str = "app") -> None:
    """Route every logger through one JSON handler; ``process`` names web, clock or worker."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            FORMAT,
            rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
            static_fields={"process": process},
            datefmt="%Y-%m-%dT%H:%M:%S%z",
        )
    )
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("apscheduler.scheduler", "apscheduler.executors"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
