"""Dialect helpers for the statements SQLite and PostgreSQL spell alike but SQLAlchemy builds apart."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection


def insert(conn: Connection, table: Table):
    """An INSERT that supports ``on_conflict_do_*`` on the connection's dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"unsupported database dialect {conn.dialect.name!r}: use PostgreSQL or SQLite")
