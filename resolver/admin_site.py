"""The admin site: Django's, with the log-in lockout of resolver/login_limits.py. It replaces
the default site (INSTALLED_APPS names resolver.apps.ResolverAdminConfig), so `admin.site` and
every `@admin.register` are this site."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from resolver.login_limits import LimitedAdminAuthenticationForm, answer_lockouts_with_429


class ResolverAdminSite(admin.AdminSite):
    login_form = LimitedAdminAuthenticationForm

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        return answer_lockouts_with_429(super().login)(request, extra_context)
