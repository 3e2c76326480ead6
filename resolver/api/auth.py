"""API authentication: a scoped API key as a Bearer token, or the console's session (CSRF
checked on unsafe methods). Both resolve to an `Actor`; a known caller without the scope gets 403,
an unknown one 401."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.security import HttpBearer
from ninja.security.apikey import APIKeyCookie
from ninja.utils import check_csrf

from resolver.api.errors import ApiError
from resolver.audit_actor import Actor
from resolver.bootstrap import may_use_console
from resolver.models import ApiKey
from resolver.models.apikey import hash_key
from resolver.ttl_cache import TtlCache

# Verified keys are remembered per process for API_KEY_CACHE_SECONDS: one query less per request.
# The price: a revoked key keeps working in other processes for at most that long.
# Unknown keys are not remembered: a key issued a moment ago works at once.
_verified: TtlCache[ApiKey | None] = TtlCache()


def verified_key(raw: str) -> ApiKey | None:
    return _verified.get_or_compute(
        hash_key(raw),
        settings.API_KEY_CACHE_SECONDS,
        lambda: ApiKey.objects.authenticate(raw),
        keep=lambda key: key is not None,
    )


def _forbidden(scope: str) -> ApiError:
    return ApiError(403, f"this credential lacks the '{scope}' scope", "forbidden")


class KeyAuth(HttpBearer):
    def __init__(self, scope: str) -> None:
        self.scope = scope
        super().__init__()

    def authenticate(self, request: HttpRequest, token: str) -> Actor | None:
        key = verified_key(token.strip())
        if key is None:
            return None
        actor = Actor.for_key(key)
        if not actor.allows(self.scope):
            raise _forbidden(self.scope)
        return actor


class ConsoleSessionAuth(APIKeyCookie):
    """The console's login. Staff and members of the "agents" group hold every scope."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self, scope: str) -> None:
        self.scope = scope
        super().__init__(csrf=True)

    def _get_key(self, request: HttpRequest) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None  # no session: let the request fail as 401, not as a CSRF 403
        if not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request):
            raise ApiError(403, "CSRF check failed: send the X-CSRFToken header", "csrf_failed")
        return request.COOKIES.get(self.param_name) or "session"

    def authenticate(self, request: HttpRequest, key: str | None) -> Actor | None:
        user: Any = request.user
        if not user.is_authenticated:
            return None
        actor = Actor.for_user(user)
        if not may_use_console(user) or not actor.allows(self.scope):
            raise _forbidden(self.scope)
        return actor


def scoped(scope: str) -> list[Any]:
    """The `auth=` of an operation that needs `scope`."""
    return [KeyAuth(scope), ConsoleSessionAuth(scope)]


def actor_of(request: HttpRequest) -> Actor:
    return request.auth  # type: ignore[attr-defined]
