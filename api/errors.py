"""Every error leaves the API as JSON: {"error": {"status", "title", "message", "details"?}}."""

from __future__ import annotations

import logging

import falcon
import redis
import sqlalchemy.exc

from app.errors import NotFound, ValidationError
from app.integrations import IntegrationsDisabled

log = logging.getLogger(__name__)


def serialize_error(req: falcon.Request, resp: falcon.Response, exc: falcon.HTTPError) -> None:
    body = {"status": exc.status_code, "title": exc.title, "message": exc.description or exc.title}
    details = getattr(exc, "details", None)
    if details:
        body["details"] = details
    resp.media = {"error": body}
    resp.content_type = falcon.MEDIA_JSON


class InvalidInput(falcon.HTTPBadRequest):
    """400 with one {field, message} detail per problem."""

    def __init__(self, error: ValidationError):
        super().__init__(title="Invalid input", description=str(error))
        self.details = error.errors


def handle_validation(req, resp, exc: ValidationError, params) -> None:
    raise InvalidInput(exc)


def handle_not_found(req, resp, exc: NotFound, params) -> None:
    raise falcon.HTTPNotFound(title="Not found", description=str(exc))


def handle_unavailable(req, resp, exc: Exception, params) -> None:
    log.warning("dependency unavailable", extra={"event": "http_503", "path": req.path, "error": str(exc)})
    raise falcon.HTTPServiceUnavailable(
        title="Queue unavailable",
        description="Redis is unreachable; nothing was enqueued, retry shortly",
        retry_after=5,
    )


def handle_integrations_disabled(req, resp, exc: Exception, params) -> None:
    raise falcon.HTTPServiceUnavailable(title="Integrations disabled", description=str(exc))


def handle_unstorable(req, resp, exc: Exception, params) -> None:
    # E.g. a NUL character, which PostgreSQL text cannot hold: the input is at fault, not the server.
    raise falcon.HTTPBadRequest(
        title="Invalid input",
        description="a value cannot be stored or compared (it contains a NUL character or is out of range)",
    )


def handle_unexpected(req, resp, exc: Exception, params) -> None:
    if isinstance(exc, falcon.HTTPError):
        raise exc
    log.exception("unhandled error", extra={"event": "http_500", "path": req.path, "method": req.method})
    raise falcon.HTTPInternalServerError(title="Internal error", description="unexpected error; see the logs")


def install(app: falcon.App) -> None:
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(ValidationError, handle_validation)
    app.add_error_handler(NotFound, handle_not_found)
    app.add_error_handler(redis.RedisError, handle_unavailable)
    app.add_error_handler(sqlalchemy.exc.DataError, handle_unstorable)
    app.add_error_handler(IntegrationsDisabled, handle_integrations_disabled)
    app.set_error_serializer(serialize_error)
