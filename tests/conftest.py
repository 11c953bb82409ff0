"""Shared fixtures: a real Redis and real databases.

- Redis: REDIS_URL when set (the suite flushes that database!), otherwise a throwaway redis-server
  on a unix socket, started for the session.
- Databases: every database test runs on SQLite, and on PostgreSQL as well when DATABASE_URL points
  at one or a local server answers at TEST_PG_URL (default postgresql://root@127.0.0.1:5432/test).
  Each session creates (and drops) a database of its own on that server.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis as redis_lib
from sqlalchemy import Engine, make_url, text

from app.config import Settings
from app.db import make_engine, migrate
from app.embedded import EmbeddedRedis

PG_PROBE_URL = os.environ.get("TEST_PG_URL", "postgresql://root@127.0.0.1:5432/test")
_embedded: EmbeddedRedis | None = None


def _postgres_server_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql")):
        return Settings.from_env({"DATABASE_URL": url}).database_url
    if url:
        return None
    try:
        psycopg.connect(PG_PROBE_URL, connect_timeout=2).close()
    except psycopg.Error:
        return None
    return Settings.from_env({"DATABASE_URL": PG_PROBE_URL}).database_url


PG_SERVER = _postgres_server_url()
BACKENDS = ["sqlite"] + (["postgresql"] if PG_SERVER else [])


def pytest_configure(config: pytest.Config) -> None:
    global _embedded
    if not os.environ.get("REDIS_URL"):
        _embedded = EmbeddedRedis(tempfile.mkdtemp(prefix="tenantcron-redis-"))
        os.environ["REDIS_URL"] = _embedded.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _embedded is not None:
        _embedded.stop()
        shutil.rmtree(_embedded.directory, ignore_errors=True)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"database backends: {', '.join(BACKENDS)}", f"redis: {os.environ.get('REDIS_URL')}"]


@pytest.fixture(scope="session")
def redis_url() -> str:
    return os.environ["REDIS_URL"]


@pytest.fixture
def redis_client(redis_url: str) -> redis_lib.Redis:
    client = redis_lib.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@dataclass
class Database:
    """A migrated database of one backend, emptied after each test."""

    backend: str
    url: str
    engine: Engine

    def clear(self) -> None:
        with self.engine.begin() as conn:
            for table in (
                "run_attempts",
                "runs",
                "schedules",
                "apscheduler_jobs",
                "audit_log",
                "api_tokens",
                "shopify_integrations",
                "shopify_records",
                "shopify_sync_state",
            ):
                conn.execute(text(f"DELETE FROM {table}"))


def _create_pg_database() -> str:
    name = f"tenantcron_test_{uuid.uuid4().hex[:10]}"
    admin = make_url(PG_SERVER)
    with psycopg.connect(admin.set(drivername="postgresql").render_as_string(False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin.set(database=name).render_as_string(False)


def _drop_pg_database(url: str) -> None:
    target = make_url(url)
    admin = make_url(PG_SERVER).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (target.database,),
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{target.database}"')


@pytest.fixture(scope="session", params=BACKENDS)
def migrated_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Database:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
    else:
        url = _create_pg_database()
    migrate(url)
    engine = make_engine(url)
    yield Database(request.param, url, engine)
    engine.dispose()
    if request.param == "postgresql":
        _drop_pg_database(url)


@pytest.fixture
def db(migrated_db: Database) -> Database:
    migrated_db.clear()
    yield migrated_db
    migrated_db.clear()


@pytest.fixture
def settings(db: Database, redis_url: str) -> Settings:
    return Settings.from_env(
        {"DATABASE_URL": db.url, "REDIS_URL": redis_url, "WEBHOOK_SECRET": "test-secret", "LOCAL_MODE": "true"}
    )


@pytest.fixture
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path):
    """An empty (unmigrated) database URL per backend, for migration tests."""
    backend = request.param
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    url = _create_pg_database()
    yield url
    _drop_pg_database(url)
