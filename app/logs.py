"""Structured logs: one JSON object per line, on stderr, from every process."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

#: Fields every line carries (besides any ``extra`` given to the log call).
FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


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
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("apscheduler.scheduler", "apscheduler.executors"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
