"""The data-rights admin actions (superusers only, as the privacy scope): export the selected
customers' data as one JSON file, or erase it after a confirmation page. Shared by the customer
and conversation lists; both go through support/customer_data.py, which audits them."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from resolver.api.errors import ApiError
from resolver.audit_actor import Actor
from resolver.models import Scope
from support import customer_data

# The scope's admin permission: Django asks has_<name>_permission below.
PRIVACY_PERMISSION = Scope.PRIVACY.value

# Customers one export from admin may hold: each is a full export in the request (200 took 48 s
# and held every row in memory). More go through the command or the API, one customer each.
EXPORT_MAX_CUSTOMERS = 20


class CustomerDataActions:
    """For a ModelAdmin whose rows name customers: `customer_refs` says which."""

    privacy_actions = ("export_customer_data", "erase_customer_data")

    def customer_refs(self, queryset: QuerySet[Any]) -> list[str]:
        raise NotImplementedError

    def without_ref(self, queryset: QuerySet[Any]) -> list[Any]:
        """Rows erased by themselves: conversations no customer reference names."""
        return []

    def has_privacy_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    @admin.action(description="Export the customers' data (JSON)", permissions=[PRIVACY_PERMISSION])
    def export_customer_data(self, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        refs = self.customer_refs(queryset)
        if len(refs) > EXPORT_MAX_CUSTOMERS:
            self.message_user(  # type: ignore[attr-defined]
                request,
                f"Not exported: the selection names {len(refs)} customers, and admin exports "
                f"at most {EXPORT_MAX_CUSTOMERS} at a time. Select fewer, or export each "
                "customer with `manage.py customer_data export REF` or the API "
                "(GET /api/v1/customers/REF/export, privacy scope).",
                messages.ERROR,
            )
            return None
        actor = Actor.for_user(request.user)
        exports = []
        for ref in refs:
            try:
                exports.append(customer_data.export(ref, actor))
            except ApiError:
                continue  # nothing stored under that reference any more
        response = HttpResponse(
            json.dumps(exports, cls=DjangoJSONEncoder, indent=2), content_type="application/json"
        )
        response["Content-Disposition"] = 'attachment; filename="customer-data.json"'
        return response

    @admin.action(description="Erase the customers' data…", permissions=[PRIVACY_PERMISSION])
    def erase_customer_data(self, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        refs = self.customer_refs(queryset)
        if request.POST.get("confirm") != "yes":
            # Django's own pattern for a destructive action: a page that posts the action again.
            context = {
                **admin.site.each_context(request),
                "title": "Erase customer data?",
                "refs": refs,
                "without_ref": len(self.without_ref(queryset)),
                "queryset": queryset,
                "action": "erase_customer_data",
                "opts": queryset.model._meta,
            }
            return TemplateResponse(request, "admin/support/erase_customer_data.html", context)
        actor = Actor.for_user(request.user)
        total: dict[str, int] = {}
        results = [customer_data.do_erase(ref, actor) for ref in refs]
        if anonymous := self.without_ref(queryset):
            results.append(customer_data.do_erase_conversations(anonymous, actor))
        for counts in results:
            for label, count in counts.items():
                total[label] = total.get(label, 0) + count
        summary = ", ".join(f"{label}: {count}" for label, count in sorted(total.items()))
        admin_message = (
            f"Erased the data of {len(refs)} customer(s) and {len(anonymous)} conversation(s) "
            f"without a customer reference. {summary or 'Nothing left.'}"
        )
        self.message_user(request, admin_message, messages.SUCCESS)  # type: ignore[attr-defined]
        return None
