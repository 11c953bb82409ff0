"""Who may use the dashboard, and CSRF protection of its actions.

The dashboard is on when DASHBOARD_PASSWORD is set (HTTP basic, user DASHBOARD_USER), and in local
mode for loopback requests; otherwise it answers 404. Besides the configured credentials it admits
an admin API token, as a bearer token or as the basic-auth password. Every action is a POST
carrying a CSRF token: an HMAC of the caller's identity and the day under SECRET_KEY, so a form on
another site, even one the browser sends basic credentials for, cannot act.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import falcon

from api.auth import _is_loopback
from app.config import Settings
from app.tokens import TokenService

REALM = 'Basic realm="tenantcron dashboard", charset="UTF-8"'


class DashboardAccess:
    """Authenticates dashboard requests and makes and checks their CSRF tokens.

    Parameters:
      settings: DASHBOARD_USER, DASHBOARD_PASSWORD, SECRET_KEY and LOCAL_MODE.
      tokens: verifies admin API tokens.
    """

    def __init__(self, settings: Settings, tokens: TokenService):
        self.user = settings.dashboard_user
        self.password = settings.dashboard_password
        self.local_mode = settings.local_mode
        self.tokens = tokens
        self.key = settings.csrf_key()

    @property
    def enabled(self) -> bool:
        return bool(self.password) or self.local_mode

    def identify(self, req: falcon.Request) -> str:
        """The caller's name, or raise 404 (dashboard off) or 401 (credentials needed)."""
        header = req.get_header("Authorization")
        if header is None and self.local_mode and _is_loopback(req.remote_addr):
            return "local"
        if not self.enabled:
            raise falcon.HTTPNotFound(
                title="Dashboard off", description="set DASHBOARD_PASSWORD (or LOCAL_MODE on a developer machine)"
            )
        scheme, _, value = (header or "").partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value.strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user = password = ""
            if (
                self.password
                and hmac.compare_digest(user.encode(), self.user.encode())
                and hmac.compare_digest(password.encode(), self.password.encode())
            ):
                return user
            principal = self.tokens.verify(password)
            if principal is not None and principal.is_admin:
                return principal.name
        elif scheme.lower() == "bearer":
            principal = self.tokens.verify(value.strip())
            if principal is not None and principal.is_admin:
                return principal.name
        raise falcon.HTTPUnauthorized(
            title="Sign in", description="the dashboard needs its credentials or an admin token", challenges=[REALM]
        )

    def csrf_token(self, identity: str, day: datetime | None = None) -> str:
        day = day or datetime.now(UTC)
        message = f"csrf|{identity}|{day:%Y-%m-%d}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()[:40]

    def check_post(self, req: falcon.Request, identity: str, token: str | None) -> None:
        """Refuse a POST without this caller's CSRF token (today's or yesterday's) or from another origin."""
        origin = req.get_header("Origin")
        if origin and urlsplit(origin).netloc != req.netloc:
            raise falcon.HTTPForbidden(title="Cross-site request", description="the request came from another site")
        today = datetime.now(UTC)
        valid = (self.csrf_token(identity, today), self.csrf_token(identity, today - timedelta(days=1)))
        if not token or not any(hmac.compare_digest(token, v) for v in valid):
            raise falcon.HTTPForbidden(title="Form expired", description="reload the page and try again (CSRF check)")
