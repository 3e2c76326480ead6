"""The Content-Security-Policy of every response (Django 5.2 has no CSP of its own; 6.0 does).

The console, admin and widget demo pages load scripts and styles from their own origin only: no
inline <script>, <style> or style="" (templates/, static/; htmx's injected indicator style is
off in the console's htmx-config), so neither 'unsafe-inline' nor 'unsafe-eval' is needed.
SecurityMiddleware sets the other headers (HSTS, nosniff, Referrer-Policy, COOP) from settings.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"

DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    # data: for the console's empty favicon and the admin's inline SVG icons in its CSS.
    "img-src": "'self' data:",
    # 'self' covers ws:// and wss:// of the same host (CSP 3): /ws/console/, /ws/widget/….
    "connect-src": "'self'",
    "font-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    # Nothing of ours is meant to be framed: the widget is a script (shadow DOM) on the
    # customer's own page, not an iframe, so the customer's page is never our frame ancestor.
    "frame-ancestors": "'none'",
}
POLICY = "; ".join(f"{name} {value}" for name, value in DIRECTIVES.items())


class ContentSecurityPolicyMiddleware:
    """Adds the policy to every response that does not carry one (a view may set its own)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # DEBUG's technical 404 and 500 pages style and script themselves inline: a developer
        # must be able to read them (production never serves them).
        if settings.DEBUG and response.status_code >= 400:
            return response
        if HEADER not in response:
            response[HEADER] = POLICY
        return response
