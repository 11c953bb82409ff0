"""Alembic owns the schema: upgrade from empty, downgrade to base, upgrade again, on each backend."""

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from sqlalchemy import inspect

from app.db import make_engine, migrate
from tests.conftest import BACKENDS

TABLES = {"schedules", "runs", "apscheduler_jobs", "alembic_version"}


@pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True)
def test_upgrade_downgrade_upgrade(fresh_database_url: str) -> None:
    engine = make_engine(fresh_database_url)
    migrate(fresh_database_url)
    assert TABLES <= set(inspect(engine).get_table_names())
    uniques = {tuple(u["column_names"]) for u in inspect(engine).get_unique_constraints("runs")}
    assert ("schedule_id", "fire_time") in uniques

    migrate(fresh_database_url, "base", down=True)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}

    migrate(fresh_database_url)
    assert TABLES <= set(inspect(engine).get_table_names())
    engine.dispose()


@pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True)
def test_job_store_uses_the_migrated_table(fresh_database_url: str) -> None:
    """APScheduler's own create is a no-op on the migrated table, and the table works for it."""
    migrate(fresh_database_url)
    engine = make_engine(fresh_database_url)
    store = SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs")
    store.start(scheduler=None, alias="default")  # create_all(checkfirst) must find the table
    assert store.get_all_jobs() == []
    engine.dispose()


@pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True)
def test_models_match_the_migrated_schema(fresh_database_url: str) -> None:
    """app.models (what queries use) and the migrations (what creates tables) describe the same schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from app.models import metadata

    migrate(fresh_database_url)
    engine = make_engine(fresh_database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False, "compare_server_default": False})
        diff = compare_metadata(context, metadata)
    engine.dispose()
    assert diff == []
