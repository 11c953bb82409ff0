"""Settings read once from the environment (12-factor) and passed to whoever needs them."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

#: Repository root; the default SQLite file lives under ``var/`` here.
ROOT = Path(__file__).resolve().parent.parent

#: Used when DATABASE_URL is unset: a SQLite file that git ignores.
DEFAULT_DATABASE_URL = f"sqlite:///{ROOT / 'var' / 'tenantcron.db'}"


#: Shopify's Admin GraphQL endpoint; SHOPIFY_API_URL overrides it (tests point it at a fake).
DEFAULT_SHOPIFY_API_URL = "https://{shop}/admin/api/2025-07/graphql.json"


class ConfigError(Exception):
    """A setting is missing or malformed; the message says which and how to fix it."""


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None


def _positive(env: dict[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, got {value}")
    return value


def _normalize_database_url(url: str) -> str:
    # PaaS add-ons hand out postgres:// URLs; SQLAlchemy wants an explicit driver.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@dataclass(frozen=True)
class Settings:
    """Every setting of the service.

    Parameters:
      database_url: SQLAlchemy URL of the database holding schedules, runs and the job store.
      redis_url: URL of the Redis used as Dramatiq broker and change-signal channel.
      port: port of the web process.
      web_concurrency: gunicorn worker processes.
      log_level: root log level name.
      webhook_secret: key of the HMAC-SHA256 signature on webhook deliveries.
      webhook_timeout: seconds a webhook delivery may take.
      catchup_window: seconds after its fire time within which a late fire still runs;
        older fires are recorded as missed.
      reconcile_interval: seconds between the clock's full reconciliations (the safety net
        behind change signals).
      leader_ttl: seconds the clock's leader lock lives without renewal.
      namespace: prefix of every Redis key the service writes (Dramatiq's queues included).
      local_mode: let loopback requests in without a token (a developer's machine only).
      tiers_file: JSON file of the tiers (None: the example tiers in app/tiers.json).
      integrations_key: Fernet key that encrypts integration tokens at rest (None: integrations off).
      shopify_api_url: the Admin GraphQL endpoint, with ``{shop}`` for the shop domain.
      run_lease: seconds a worker's claim on a run lasts unless renewed (the worker renews it every
        third of that while the run lives); a run whose worker vanished is taken over after it.
      worker_heartbeat_timeout: seconds without a heartbeat after which a worker counts as gone and
        its unacknowledged messages are redelivered.
      stale_run_after: seconds past an expired lease (or a due time) after which the stale-run job
        fails a run whose worker vanished, or re-sends an open run whose message was lost.
      retention_days: runs and audit rows older than this are deleted by the retention job.
      dead_letter_days: days a dead-lettered message stays in Redis (Dramatiq's dead-message TTL).
      circuit_failures: consecutive failed deliveries to one webhook target that open its circuit.
      circuit_cooldown: seconds an open circuit skips its target before trying it again.
      dashboard_user, dashboard_password: HTTP basic credentials of the dashboard (no password: the
        dashboard is off, except for loopback requests in local mode).
      secret_key: signs the dashboard's CSRF tokens (default: derived from the other secrets).
    """

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    port: int = 8000
    web_concurrency: int = 2
    log_level: str = "INFO"
    webhook_secret: str = "dev-secret-change-me"
    webhook_timeout: float = 10.0
    catchup_window: int = 300
    reconcile_interval: int = 30
    leader_ttl: int = 10
    namespace: str = "dramatiq"
    local_mode: bool = False
    tiers_file: str | None = None
    integrations_key: str | None = None
    shopify_api_url: str = DEFAULT_SHOPIFY_API_URL
    run_lease: int = 30
    worker_heartbeat_timeout: int = 60
    stale_run_after: int = 600
    retention_days: int = 30
    dead_letter_days: int = 7
    circuit_failures: int = 5
    circuit_cooldown: int = 60
    dashboard_user: str = "admin"
    dashboard_password: str | None = None
    secret_key: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            database_url=_normalize_database_url(env.get("DATABASE_URL") or DEFAULT_DATABASE_URL),
            redis_url=env.get("REDIS_URL") or None,
            port=_int(env, "PORT", 8000),
            web_concurrency=_int(env, "WEB_CONCURRENCY", 2),
            log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
            webhook_secret=env.get("WEBHOOK_SECRET") or "dev-secret-change-me",
            webhook_timeout=float(_int(env, "WEBHOOK_TIMEOUT", 10)),
            catchup_window=_int(env, "CATCHUP_WINDOW", 300),
            reconcile_interval=_int(env, "RECONCILE_INTERVAL", 30),
            leader_ttl=_int(env, "LEADER_TTL", 10),
            namespace=env.get("REDIS_NAMESPACE") or "dramatiq",
            local_mode=(env.get("LOCAL_MODE") or "").lower() in ("1", "true", "yes"),
            tiers_file=env.get("TIERS_FILE") or None,
            integrations_key=env.get("INTEGRATIONS_KEY") or None,
            shopify_api_url=env.get("SHOPIFY_API_URL") or DEFAULT_SHOPIFY_API_URL,
            run_lease=_positive(env, "RUN_LEASE", 30),
            worker_heartbeat_timeout=_positive(env, "WORKER_HEARTBEAT_TIMEOUT", 60),
            stale_run_after=_positive(env, "STALE_RUN_AFTER", 600),
            retention_days=_positive(env, "RETENTION_DAYS", 30),
            dead_letter_days=_positive(env, "DEAD_LETTER_DAYS", 7),
            circuit_failures=_positive(env, "WEBHOOK_CIRCUIT_FAILURES", 5),
            circuit_cooldown=_positive(env, "WEBHOOK_CIRCUIT_COOLDOWN", 60),
            dashboard_user=env.get("DASHBOARD_USER") or "admin",
            dashboard_password=env.get("DASHBOARD_PASSWORD") or None,
            secret_key=env.get("SECRET_KEY") or None,
        )

    def csrf_key(self) -> bytes:
        """The key of the dashboard's CSRF tokens: SECRET_KEY, or one derived from the other secrets
        (the same in every web process, since they share the environment)."""
        if self.secret_key:
            return self.secret_key.encode()
        material = f"tenantcron|{self.dashboard_password}|{self.webhook_secret}|{self.database_url}"
        return hashlib.sha256(material.encode()).digest()

    def require_redis_url(self) -> str:
        if not self.redis_url:
            raise ConfigError(
                "REDIS_URL is not set. Point it at your Redis (redis://host:6379/0), "
                "or start the service with bin/run, which supplies an embedded Redis."
            )
        return self.redis_url
