"""Who is calling the widget API: a widget key (starting a conversation) checked against the
request's Origin, or a conversation token (everything else)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer

from resolver.api.errors import ApiError
from support.models import WidgetKey
from support.widget import tokens


@dataclass(frozen=True)
class Visitor:
    """A conversation token's holder: one conversation, through one widget key."""

    grant: tokens.Grant
    key: WidgetKey


def key_of(grant: tokens.Grant) -> WidgetKey | None:
    """The widget key a token was issued under, while it is active."""
    return WidgetKey.objects.active().filter(pk=grant.key_id).first()


def check_origin(key: WidgetKey, request: HttpRequest, required: bool) -> None:
    """Browsers send Origin on cross-origin requests and on POSTs: it must be one the key
    allows. Without one (a same-origin GET, a server-side client) only a token call passes."""
    origin = request.headers.get("Origin")
    if origin is None and not required:
        return
    if not key.allows(origin):
        raise ApiError(
            403,
            f"the origin {origin or '(none)'} may not use this widget key",
            "origin_not_allowed",
        )


def widget_key(request: HttpRequest, origin_required: bool = True) -> WidgetKey:
    """The active key in X-Widget-Key, from an origin it allows. `origin_required=False` for
    reads of what is public anyway (help articles): a same-origin GET carries no Origin."""
    raw = request.headers.get("X-Widget-Key", "").strip()
    key = WidgetKey.objects.for_public_key(raw) if raw else None
    if key is None:
        raise ApiError(401, "a valid X-Widget-Key header is required", "unauthorized")
    check_origin(key, request, required=origin_required)
    return key


class TokenAuth(HttpBearer):
    """A conversation token; `refresh` accepts older ones (for POST /widget/token only)."""

    def __init__(self, refresh: bool = False) -> None:
        self.refresh = refresh
        super().__init__()

    def authenticate(self, request: HttpRequest, token: str) -> Visitor | None:
        try:
            grant = tokens.refreshable(token) if self.refresh else tokens.read(token)
        except tokens.InvalidToken:
            return None
        key = key_of(grant)
        if key is None:
            return None
        check_origin(key, request, required=False)
        return Visitor(grant, key)


def visitor_of(request: Any) -> Visitor:
    visitor: Visitor = request.auth
    return visitor


def allowed_socket(grant: tokens.Grant, origin: str | None) -> bool:
    """A widget socket: the token's key must be active and allow the page's origin (browsers
    always send Origin on WebSockets)."""
    key = key_of(grant)
    return key is not None and key.allows(origin)
