from __future__ import annotations

from functools import partial
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.module_loading import import_string

from resolver.admin_mixins import ReadOnlyAdminMixin
from resolver.audit_actor import Actor
from resolver.broker import send_to_actor
from resolver.events import EventType
from resolver.models import ApiKey, DeadLetter, IdempotencyRecord, ProcessedEvent, Scope
from resolver.models.apikey import parse_scopes


class FixedChoicesFilter(admin.SimpleListFilter):
    """A list filter offering fixed values: Django's default for a field without choices asks
    the table for its distinct values (a scan of every row, on each page of the list)."""

    fixed: tuple[tuple[str, str], ...] = ()

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(self.fixed)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(**{str(self.parameter_name): value}) if value else queryset


def fixed_choices_filter(field: str, title: str, choices: Any) -> type[admin.SimpleListFilter]:
    return type(
        f"{field.title()}Filter",
        (FixedChoicesFilter,),
        {"parameter_name": field, "title": title, "fixed": tuple(choices)},
    )


@admin.register(ProcessedEvent)
class ProcessedEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["event_id", "event_type", "processed_at"]
    list_filter = [
        fixed_choices_filter("event_type", "event type", EventType.choices),
        "processed_at",
    ]
    search_fields = ["event_id"]
    # Newest first along processedevent_processed_idx; no full count under a filter.
    show_full_result_count = False


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "actor_name",
        "queue_name",
        "message_id",
        "retries",
        "replayed_at",
    ]
    list_filter = ["actor_name", "queue_name", "created_at"]
    actions = ["replay"]
    show_full_result_count = False
    search_fields = ["message_id", "event_id", "error"]
    readonly_fields = [
        "actor_name",
        "queue_name",
        "message_id",
        "event_id",
        "args",
        "kwargs",
        "error",
        "traceback",
        "retries",
        "created_at",
        "replayed_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # written by the broker only: an empty one would replay to actor ""

    @admin.action(description="Replay the selected messages", permissions=["change"])
    def replay(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        """Sends each message again to its actor, by name (the web process need not import the
        actor), after commit, and stamps replayed_at; an actor with its own replay
        (DEAD_LETTER_REPLAYS: a failed agent run is reprocessed) gets that instead."""
        actor = Actor.for_user(request.user)
        replayed, skipped = 0, 0
        for letter in queryset:
            own = settings.DEAD_LETTER_REPLAYS.get(letter.actor_name)
            if own and letter.args:
                if import_string(own)(letter.args[0], actor) is None:
                    skipped += 1  # nothing left to replay (say, a person answered meanwhile)
                    continue
            else:
                send = partial(send_to_actor, letter.actor_name, letter.queue_name)
                transaction.on_commit(partial(send, *letter.args, **letter.kwargs))
            replayed += 1
        queryset.update(replayed_at=timezone.now())
        note = f", {skipped} with nothing left to replay" if skipped else ""
        self.message_user(request, f"Replayed {replayed} message(s){note}.")


class ApiKeyForm(forms.ModelForm):
    scope_choices = forms.MultipleChoiceField(
        choices=Scope.choices, widget=forms.CheckboxSelectMultiple, label="Scopes"
    )

    # Only a superuser may give a key the privacy scope (exporting and erasing customers).
    privacy_allowed = True

    class Meta:
        model = ApiKey
        fields = ["name"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.privacy_allowed:
            field = self.fields["scope_choices"]
            assert isinstance(field, forms.MultipleChoiceField)
            field.choices = [c for c in Scope.choices if c[0] != Scope.PRIVACY]
        if self.instance.pk:
            self.fields["scope_choices"].initial = self.instance.scopes


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Staff only (the admin site). The secret is shown once, right after it is created."""

    form = ApiKeyForm
    list_display = ["name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_form(
        self, request: HttpRequest, obj: Any | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        if request.user.is_superuser:
            return form
        return type("StaffApiKeyForm", (form,), {"privacy_allowed": False})

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        scopes = list(form.cleaned_data["scope_choices"])
        if change and not request.user.is_superuser and Scope.PRIVACY in (obj.scopes or []):
            scopes.append(Scope.PRIVACY)  # not theirs to give, nor to take away (not offered)
        if change:
            obj.scopes = parse_scopes(",".join(scopes))
            obj.save()
            return
        user = request.user if request.user.is_authenticated else None  # admin: always is
        key, raw = ApiKey.issue(obj.name, scopes, created_by=user)
        obj.pk, obj.prefix = key.pk, key.prefix
        messages.warning(request, f"New API key (copy it now, it is not shown again): {raw}")

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # revoke instead: the audit trail names keys

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset.filter(revoked_at__isnull=True):
            key.revoke()
        self.message_user(request, "Revoked.")


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["owner", "key", "status_code", "created_at"]
    search_fields = ["owner", "key"]


# Django's own user and group admins, registered on this site by django.contrib.auth.admin
# (imported above), with what only a superuser may give: superuser status, permissions and
# groups. Stock, a staff user allowed to change users could make themselves superuser, give
# themselves any permission, or set a superuser's password.
class ResolverUserAdmin(UserAdmin):
    SUPERUSER_ONLY = ("is_superuser", "user_permissions", "groups")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += [name for name in self.SUPERUSER_ONLY if name not in fields]
        return fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False  # nor their password (Django's password page asks this too)
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)


class ResolverGroupAdmin(GroupAdmin):
    """A group's permissions are its members': only a superuser gives them (else a staff user
    allowed to change groups could give their own group every permission)."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields.append("permissions")
        return fields


admin.site.unregister(User)
admin.site.register(User, ResolverUserAdmin)
admin.site.unregister(Group)
admin.site.register(Group, ResolverGroupAdmin)
