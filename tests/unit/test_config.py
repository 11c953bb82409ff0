"""Settings come from the environment, once, with sensible defaults and clear errors."""

import pytest

from app.config import DEFAULT_DATABASE_URL, ConfigError, Settings


def test_defaults_need_nothing_but_redis_for_the_worker_and_clock() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == DEFAULT_DATABASE_URL and "/var/" in settings.database_url
    assert settings.redis_url is None and settings.port == 8000 and settings.catchup_window == 300
    with pytest.raises(ConfigError, match="REDIS_URL is not set"):
        settings.require_redis_url()


def test_paas_postgres_urls_get_the_psycopg_driver() -> None:
    for given in ("postgres://u:p@h:5432/d", "postgresql://u:p@h:5432/d"):
        assert Settings.from_env({"DATABASE_URL": given}).database_url == "postgresql+psycopg://u:p@h:5432/d"
    assert Settings.from_env({"DATABASE_URL": "sqlite:///x.db"}).database_url == "sqlite:///x.db"


def test_numbers_are_parsed_and_bad_ones_named() -> None:
    settings = Settings.from_env({"PORT": "5001", "CATCHUP_WINDOW": "60", "LOG_LEVEL": "debug"})
    assert (settings.port, settings.catchup_window, settings.log_level) == (5001, 60, "DEBUG")
    with pytest.raises(ConfigError, match="PORT must be a whole number"):
        Settings.from_env({"PORT": "eighty"})
