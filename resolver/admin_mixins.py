"""Shared admin behaviour."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_permission_codename
from django.db.models import QuerySet
from django.http import HttpRequest

from resolver.audit_actor import Actor
from resolver.errors import ClientError


class ReadOnlyAdminMixin:
    """For append-only records (audit trail, processed events): viewable, never editable."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ActionsNeedChangePermission:
    """For a read-only admin whose actions change rows through the app (review, retry, switch):
    its actions name permissions=["act_on_rows"], offered only to users with the model's change
    permission; a view-only user sees the rows and no action (the form stays read-only)."""

    opts: Any

    def has_act_on_rows_permission(self, request: HttpRequest) -> bool:
        codename = get_permission_codename("change", self.opts)
        return bool(request.user.has_perm(f"{self.opts.app_label}.{codename}"))


def row_action(
    action: Callable[[Any, Actor], Any], done: str, noun: str
) -> Callable[[Any, HttpRequest, QuerySet[Any]], None]:
    """An admin action that runs an app's action (lock, write, audit, announce: the one the
    console and the API call) on each selected row as the signed-in user, and says what
    happened; a row the action refuses (a ClientError) is reported and the others go on."""

    def run(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        actor = Actor.for_user(request.user)
        refused = []
        for row in queryset:
            try:
                action(row, actor)
            except ClientError as exc:
                refused.append(f"{row.pk}: {exc}")
        if count := len(queryset) - len(refused):
            modeladmin.message_user(request, f"{done} {count} {noun}(s).")
        for reason in refused:
            modeladmin.message_user(request, f"Not changed: {reason}", messages.WARNING)

    return run
