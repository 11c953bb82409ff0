"""Bearer-token authentication and tenant scoping.

Every endpoint but the public ones needs ``Authorization: Bearer <token>``. A tenant-scoped token
sees only its tenant: another tenant's schedules answer 404, exactly as if they did not exist, so
ids cannot be probed. Local mode (LOCAL_MODE=true) lets requests from the loopback address in
without a token, as an admin; it is for a developer's machine only.
"""

from __future__ import annotations

import ipaddress

import falcon

from app.errors import NotFound
from app.tokens import LOCAL, Principal, TokenService

#: Paths anyone may call.
PUBLIC_PATHS = frozenset({"/health", "/ready", "/openapi.json"})

#: The dashboard authenticates its own visitors (HTTP basic; see api.dashboard.access).
DASHBOARD_PREFIX = "/dashboard"


def _is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class AuthMiddleware:
    """Puts the caller's Principal in ``req.context.principal`` or answers 401.

    Parameters:
      tokens: verifies bearer tokens.
      local_mode: admit loopback requests without a token.
    """

    def __init__(self, tokens: TokenService, local_mode: bool = False):
        self.tokens = tokens
        self.local_mode = local_mode

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.path in PUBLIC_PATHS or req.method == "OPTIONS" or req.path.startswith(DASHBOARD_PREFIX):
            return
        header = req.get_header("Authorization")
        if header is None and self.local_mode and _is_loopback(req.remote_addr):
            req.context.principal = LOCAL
            return
        if header is None:
            raise falcon.HTTPUnauthorized(
                title="Authentication required",
                description="send 'Authorization: Bearer <token>'; create tokens with `python -m app.tokens create`",
                challenges=["Bearer"],
            )
        scheme, _, token = header.partition(" ")
        principal = self.tokens.verify(token.strip()) if scheme.lower() == "bearer" else None
        if principal is None:
            raise falcon.HTTPUnauthorized(
                title="Invalid token",
                description="the bearer token is unknown or revoked",
                challenges=["Bearer"],
            )
        req.context.principal = principal


def principal_of(req: falcon.Request) -> Principal:
    return req.context.principal


def require_tenant(req: falcon.Request, tenant_id: str) -> Principal:
    """The caller, if it may act on ``tenant_id``; otherwise the tenant's things do not exist (404)."""
    principal = principal_of(req)
    if not principal.may_access(tenant_id):
        raise NotFound(f"tenant {tenant_id!r} has nothing here")
    return principal


def require_admin(req: falcon.Request) -> Principal:
    principal = principal_of(req)
    if not principal.is_admin:
        raise falcon.HTTPForbidden(title="Admin only", description="this endpoint needs an admin token")
    return principal
