"""Failed log-ins on /console/login/ and /admin/login/: counted in Redis per username and per
client address; LOGIN_MAX_FAILURES for one username (or LOGIN_MAX_FAILURES_PER_ADDRESS from one
address) within LOGIN_FAILURE_WINDOW_SECONDS lock that username (or address) out for
LOGIN_LOCKOUT_SECONDS. A locked-out attempt is answered 429 with the form's error and checks no
password at all, so a guess that happens to be right is wasted too. The answer is the same for
names that exist and names that do not; a success clears its username's count.

Both login pages use the forms below: the console's LoginView (support/console/urls.py) and the
admin site's (resolver/admin_site.py), each wrapped in `answer_lockouts_with_429`."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from resolver.redis_client import get_redis

logger = logging.getLogger(__name__)

KEY = "resolver:login:"
LOCKED_OUT = "locked_out"


@dataclass(frozen=True)
class Subject:
    """What failures are counted against: one username, or one client address."""

    key: str  # "user:<hash>" or "ip:<address>"
    limit: int

    @property
    def failures(self) -> str:
        return f"{KEY}failures:{self.key}"

    @property
    def lock(self) -> str:
        return f"{KEY}lock:{self.key}"


def subjects(request: HttpRequest | None, username: str) -> list[Subject]:
    """The username (hashed and case-folded: no typed name is stored, and Agnes is agnes) and
    the client address (uvicorn's --proxy-headers makes it the caller's behind the Ingress)."""
    digest = hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]
    found = [
        Subject(f"user:{digest}", settings.LOGIN_MAX_FAILURES),
        Subject(f"ip:{_address(request)}", settings.LOGIN_MAX_FAILURES_PER_ADDRESS),
    ]
    return [subject for subject in found if subject.limit > 0]  # a limit of 0 is off


def locked_for(found: list[Subject]) -> int:
    """Seconds until every lock on these subjects has lapsed; 0 when none holds."""
    if not found:
        return 0
    try:
        pipe = get_redis().pipeline()
        for subject in found:
            pipe.ttl(subject.lock)
        remaining = pipe.execute()
    except Exception:
        # Like the API's rate limit: a Redis outage must not lock every agent out.
        logger.warning("login limiter unavailable", exc_info=True)
        return 0
    return max([0, *remaining])  # ttl is -2 for a missing key


def count_attempt(found: list[Subject]) -> list[Subject]:
    """Counts an attempt before its password is checked (so parallel guesses cannot all slip in
    before the first failure is recorded); returns the subjects it takes past their limit."""
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    try:
        pipe = get_redis().pipeline()
        for subject in found:
            # The window opens at the first attempt (INCR keeps the key's expiry).
            pipe.set(subject.failures, 0, ex=window, nx=True)
            pipe.incr(subject.failures)
            # Locked meanwhile by an attempt that was in flight with this one (a lock resets the
            # count, so the count alone would let the next ones through).
            pipe.exists(subject.lock)
        replies = pipe.execute()
    except Exception:
        # Like the API's rate limit: a Redis outage must not lock every agent out.
        logger.warning("login limiter unavailable", exc_info=True)
        return []
    counts, locked = replies[1::3], replies[2::3]
    return [s for s, n, lock in zip(found, counts, locked, strict=True) if n > s.limit or lock]


def lock_out(subjects: list[Subject], username: str, address: str) -> int:
    """Locks the subjects for LOGIN_LOCKOUT_SECONDS (logged, never the password); the seconds."""
    lockout = settings.LOGIN_LOCKOUT_SECONDS
    try:
        pipe = get_redis().pipeline()
        for subject in subjects:
            pipe.set(subject.lock, 1, ex=lockout)
            pipe.delete(subject.failures)
        pipe.execute()
    except Exception:
        logger.warning("login limiter unavailable", exc_info=True)
        return 0
    for subject in subjects:
        # The audit trail of a lockout: which name was tried, from where; never the password.
        logger.warning(
            "login lockout: %s failed log-ins for this %s within %ss, locked for %ss "
            "(username %r, address %s)",
            subject.limit,
            "username" if subject.key.startswith("user:") else "address",
            settings.LOGIN_FAILURE_WINDOW_SECONDS,
            lockout,
            username[:150],
            address,
        )
    return lockout


def reached(found: list[Subject]) -> list[Subject]:
    """The subjects whose counted attempts (this failed one included) reached their limit."""
    try:
        counts: Any = get_redis().mget([s.failures for s in found]) if found else []
    except Exception:
        logger.warning("login limiter unavailable", exc_info=True)
        return []
    return [s for s, n in zip(found, counts, strict=True) if int(n or 0) >= s.limit]


def record_success(found: list[Subject]) -> None:
    """Clears the username's count and takes this attempt off the address's: the rest of the
    address's count is left to lapse (one valid account must not let an address keep guessing
    other accounts' passwords)."""
    try:
        pipe = get_redis().pipeline()
        for subject in found:
            if subject.key.startswith("user:"):
                pipe.delete(subject.failures)
            else:
                pipe.decr(subject.failures)
        pipe.execute()
    except Exception:
        logger.warning("login limiter unavailable", exc_info=True)


class LoginLimitMixin:
    """For an AuthenticationForm: refuses a locked-out attempt before checking the password and
    counts the failures of the rest. `locked_for` tells the view to answer 429."""

    request: HttpRequest | None
    cleaned_data: dict[str, Any]
    locked_for = 0

    def clean(self) -> dict[str, Any]:
        username = str(self.cleaned_data.get("username") or "")
        found = subjects(self.request, username)
        if wait := locked_for(found):
            raise self._locked_out(wait)
        address = _address(self.request)
        if username and (past := count_attempt(found)):
            raise self._locked_out(lock_out(past, username, address) or 1)
        try:
            cleaned: dict[str, Any] = super().clean()  # type: ignore[misc]
        except forms.ValidationError:
            if username and (full := reached(found)):
                raise self._locked_out(lock_out(full, username, address) or 1) from None
            raise
        if username:
            record_success(found)
        return cleaned

    def _locked_out(self, seconds: int) -> forms.ValidationError:
        self.locked_for = seconds
        minutes = max(1, -(-seconds // 60))
        return forms.ValidationError(
            "Too many failed log-in attempts. Try again in %(minutes)s minute(s).",
            code=LOCKED_OUT,
            params={"minutes": minutes},
        )


def _address(request: HttpRequest | None) -> str:
    return (request.META.get("REMOTE_ADDR") if request else None) or "unknown"


class LimitedAuthenticationForm(LoginLimitMixin, AuthenticationForm):
    """The console's login form."""


class LimitedAdminAuthenticationForm(LoginLimitMixin, AdminAuthenticationForm):
    """The admin site's login form (staff only, as Django's)."""


Response = TypeVar("Response", bound=HttpResponseBase)


def answer_lockouts_with_429(view: Callable[..., Response]) -> Callable[..., Response]:
    """A login view whose form was refused for a lockout answers 429 with Retry-After; the page
    itself (the form and its error) is the view's own."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Response:
        response = view(request, *args, **kwargs)
        context = getattr(response, "context_data", None) or {}
        if seconds := getattr(context.get("form"), "locked_for", 0):
            response.status_code = 429
            response["Retry-After"] = str(seconds)
        return response

    return wrapper
