"""Every API error is JSON {"detail": str, "code": str} with a 4xx status; a bug is a logged 500
in the same shape, never an HTML page."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import django.db
import redis
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

from resolver.api.parser import NotAnObject
from resolver.errors import ClientError

if TYPE_CHECKING:
    from ninja import NinjaAPI

logger = logging.getLogger(__name__)

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "validation_error",
    429: "rate_limited",
}


class Error(Schema):
    """The body of every error response."""

    detail: Any
    code: str


# The error statuses every operation may answer, for the OpenAPI document.
ERRORS: dict[int, Any] = {code: Error for code in (400, 401, 403, 404, 409, 413, 422, 429)}


class ApiError(HttpError):
    """An HttpError with a machine-readable code."""

    def __init__(self, status_code: int, detail: str, code: str | None = None) -> None:
        super().__init__(status_code, detail)
        self.code = code or CODES.get(status_code, "error")


def error_body(status: int, detail: Any, code: str | None = None) -> dict[str, Any]:
    return {"detail": detail, "code": code or CODES.get(status, "error")}


def _location(error: dict[str, Any]) -> str:
    # ninja prefixes locations with the parameter source and, for bodies, the argument name.
    loc = [str(part) for part in error.get("loc", ())]
    if len(loc) > 2 and loc[0] == "body":
        loc = loc[2:]
    return ".".join(loc[1:] if len(loc) > 1 else loc) or "request"


def describe_validation(errors: list[dict[str, Any]]) -> str:
    return "; ".join(f"{_location(e)}: {e.get('msg', 'invalid')}" for e in errors[:5])


# PostgreSQL or Redis down or restarting: the client retries (503 + Retry-After), nothing is
# half-written (the request's transaction rolled back), and Django replaces the broken
# connection on the next request, so the process recovers without a restart.
UNAVAILABLE: tuple[type[Exception], ...] = (
    django.db.OperationalError,
    django.db.InterfaceError,
    redis.ConnectionError,
    redis.TimeoutError,
)
RETRY_AFTER_SECONDS = 5
# SQLSTATE classes of a server that is not there (connection exceptions; shutting down,
# starting up, out of connections): worth a retry. Other database errors (a deadlock, a value
# too large for an index) are bugs or bad data, not an outage.
_OUTAGE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


def is_unavailable(exc: BaseException) -> bool:
    """PostgreSQL or Redis cannot be reached (a 503), as opposed to a failed statement."""
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError, django.db.InterfaceError)):
        return True
    if not isinstance(exc, django.db.OperationalError):
        return False
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    # No SQLSTATE: the client never reached a server (refused, timed out, pool exhausted).
    return sqlstate is None or sqlstate.startswith(_OUTAGE_SQLSTATES)


def unavailable_body() -> dict[str, Any]:
    return error_body(
        503, "a service Resolver depends on is unavailable; retry shortly", "unavailable"
    )


def install_handlers(api: NinjaAPI) -> None:
    def respond(request: HttpRequest, status: int, body: dict[str, Any]) -> HttpResponse:
        return api.create_response(request, body, status=status)

    def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        code = getattr(exc, "code", None)
        detail = str(exc)
        if exc.status_code == 400 and detail.startswith("Cannot parse request body"):
            if isinstance(exc.__cause__, NotAnObject):  # JSON, but no object (parser.py)
                return respond(request, 422, error_body(422, str(exc.__cause__)))
            detail, code = "the request body is not valid JSON", "malformed_json"
        if isinstance(exc, AuthenticationError):
            detail = "authentication required: send 'Authorization: Bearer <api key>'"
        return respond(request, exc.status_code, error_body(exc.status_code, detail, code))

    def on_validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        body = error_body(422, describe_validation(exc.errors))
        body["errors"] = exc.errors
        return respond(request, 422, body)

    def on_client_error(request: HttpRequest, exc: ClientError) -> HttpResponse:
        return respond(request, exc.status_code, error_body(exc.status_code, exc.detail, exc.code))

    def on_not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
        return respond(request, 404, error_body(404, "not found"))

    def on_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
        if not is_unavailable(exc):
            return on_bug(request, exc)
        logger.warning("dependency unavailable on %s %s: %s", request.method, request.path, exc)
        response = respond(request, 503, unavailable_body())
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    def on_bug(request: HttpRequest, exc: Exception) -> HttpResponse:
        logger.exception("unhandled API error on %s %s", request.method, request.path)
        return respond(request, 500, error_body(500, "internal error", "internal_error"))

    api.add_exception_handler(Exception, on_bug)  # type: ignore[arg-type]
    api.add_exception_handler(HttpError, on_http_error)  # type: ignore[arg-type]
    api.add_exception_handler(ValidationError, on_validation)  # type: ignore[arg-type]
    api.add_exception_handler(ClientError, on_client_error)  # type: ignore[arg-type]
    api.add_exception_handler(Http404, on_not_found)  # type: ignore[arg-type]
    api.add_exception_handler(ObjectDoesNotExist, on_not_found)  # type: ignore[arg-type]
    for kind in UNAVAILABLE:
        api.add_exception_handler(kind, on_unavailable)  # type: ignore[arg-type]
