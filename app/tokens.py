"""API tokens: created and revoked from the command line, stored only as SHA-256 hashes.

    python -m app.tokens create --name main-app            # admin token: every tenant
    python -m app.tokens create --name t42 --tenant 42     # sees and changes tenant 42 only
    python -m app.tokens list
    python -m app.tokens revoke main-app

The token is printed once at creation; the database keeps its hash.
"""

from __future__ import annotations

import argparse
import hashlib
import secrets
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select, update

from app.models import api_tokens

#: Prefix of every token, so leaked ones are easy to search for.
PREFIX = "tc_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: an admin (every tenant) or one tenant.

    Parameters:
      name: the token's name (recorded in the audit log).
      tenant_id: the only tenant this caller may see, or None for an admin.
    """

    name: str
    tenant_id: str | None

    @property
    def is_admin(self) -> bool:
        return self.tenant_id is None

    def may_access(self, tenant_id: str) -> bool:
        return self.tenant_id is None or self.tenant_id == tenant_id


#: The caller in local mode (no tokens; loopback only).
LOCAL = Principal("local", None)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenService:
    """Creates, lists, revokes and verifies API tokens.

    Parameters:
      engine: the database engine.
    """

    def __init__(self, engine: Engine):
        self.engine = engine

    def create(self, name: str, tenant_id: str | None = None) -> str:
        token = PREFIX + secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(
                insert(api_tokens).values(
                    name=name, token_hash=_hash(token), tenant_id=tenant_id, created_at=datetime.now(UTC)
                )
            )
        return token

    def verify(self, token: str) -> Principal | None:
        if not token.startswith(PREFIX):
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                select(api_tokens.c.name, api_tokens.c.tenant_id).where(
                    api_tokens.c.token_hash == _hash(token), api_tokens.c.revoked_at.is_(None)
                )
            ).first()
        return Principal(row.name, row.tenant_id) if row else None

    def revoke(self, name: str) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                update(api_tokens)
                .where(api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
        return result.rowcount

    def list(self) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(api_tokens).order_by(api_tokens.c.id)).mappings().all()
        return [
            {
                "name": r["name"],
                "tenant_id": r["tenant_id"],
                "created_at": r["created_at"].isoformat(),
                "revoked_at": r["revoked_at"].isoformat() if r["revoked_at"] else None,
            }
            for r in rows
        ]


def main(argv: list[str]) -> int:
    from app.config import Settings
    from app.db import make_engine

    parser = argparse.ArgumentParser(prog="python -m app.tokens", description="Manage API tokens.")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="create a token and print it (only this once)")
    create.add_argument("--name", required=True)
    create.add_argument("--tenant", default=None, help="scope the token to one tenant (default: admin)")
    revoke = sub.add_parser("revoke", help="revoke every live token with this name")
    revoke.add_argument("name")
    sub.add_parser("list", help="list tokens (never their values)")
    args = parser.parse_args(argv)

    service = TokenService(make_engine(Settings.from_env().database_url))
    if args.command == "create":
        print(service.create(args.name, args.tenant))
    elif args.command == "revoke":
        count = service.revoke(args.name)
        if not count:
            print(f"no live token named {args.name!r}", file=sys.stderr)
            return 1
        print(f"revoked {count} token(s) named {args.name!r}")
    else:
        for item in service.list():
            scope = f"tenant {item['tenant_id']}" if item["tenant_id"] else "admin"
            state = f"revoked {item['revoked_at']}" if item["revoked_at"] else "live"
            print(f"{item['name']}\t{scope}\t{state}\tcreated {item['created_at']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
