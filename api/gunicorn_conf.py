"""gunicorn settings for the web process: bind to $PORT, $WEB_CONCURRENCY workers, JSON logs."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads overlap the database and Redis round trips of concurrent requests within a worker.
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
graceful_timeout = 20  # a PaaS allows 30 s between SIGTERM and SIGKILL
timeout = 30
# No gunicorn access log: the app logs each request itself, as JSON with its request id.
accesslog = None

_json = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
    "rename_fields": {"asctime": "ts", "levelname": "level", "name": "logger"},
    "static_fields": {"process": "web"},
    "datefmt": "%Y-%m-%dT%H:%M:%S%z",
}
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": _json},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    "loggers": {
        "gunicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
    "root": {"handlers": ["stderr"], "level": os.environ.get("LOG_LEVEL", "INFO").upper()},
}
