from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from resolver import http_guard
from resolver.admin import FixedChoicesFilter, fixed_choices_filter
from resolver.admin_mixins import ActionsNeedChangePermission, ReadOnlyAdminMixin, row_action
from resolver.audit_actor import Actor
from resolver.events import WEBHOOK_EVENT_TYPES
from support import outbound, review, webhooks
from support.admin_forms import BusinessProfileForm
from support.admin_privacy import CustomerDataActions
from support.announce import queue_deliveries
from support.autonomy import ladder
from support.models import (
    Action,
    AuditLog,
    AutonomySwitch,
    BusinessProfile,
    CitationHour,
    Conversation,
    Customer,
    CustomerRating,
    Deflection,
    Draft,
    DraftHour,
    DraftHourHistogram,
    DraftTally,
    IntentAutonomy,
    MailboxCredential,
    MailboxCursor,
    Message,
    Order,
    ReplyDelivery,
    StatusTally,
    Task,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from support.models.webhook import SECRET_PREFIX, WEBHOOK_EVENTS
from support.outbound.deliveries import enqueue


class MessageInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Message
    fields = ["created_at", "role", "body", "author", "automated"]
    readonly_fields = ["created_at", "role", "body", "author", "automated"]
    extra = 0
    can_delete = False
    show_change_link = True


WebhookEventFilter = fixed_choices_filter(
    "event_type", "event type", [(e.value, e.value) for e in WEBHOOK_EVENT_TYPES]
)


class DraftCategoryFilter(FixedChoicesFilter):
    """A draft's category is its triage's or its top article's (agents/nodes/retrieve.py): the
    knowledge base's categories, read from its small table (indexed), not from the drafts."""

    parameter_name = "category"
    title = "category"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        from knowledge.models import KBDocument

        categories = (
            KBDocument.objects.exclude(category="")
            .order_by("category")
            .values_list("category", flat=True)
            .distinct()
        )
        return [(category, category) for category in categories]


def _review_action(
    action: Callable[[Any, Actor], Any], done: str, noun: str = "draft"
) -> Callable[[Any, HttpRequest, QuerySet[Any]], None]:
    """An admin action that runs a review action (support/review.py: lock, audit, broadcast,
    webhooks) on each selected row, as the console and the API do, and says what happened."""
    return row_action(action, done, noun)


@admin.register(Conversation)
class ConversationAdmin(CustomerDataActions, admin.ModelAdmin):
    list_display = [
        "id",
        "customer_ref",
        "customer",  # linked only by a verified message (support/customers.py)
        "channel",
        "status",
        "last_message_at",
        "created_at",
    ]
    list_filter = ["status", "channel", "created_at"]
    search_fields = ["id", "customer_ref", "customer__name", "customer__email"]
    raw_id_fields = ["customer"]
    # A nullable key: without it, one query per row for its customer. No date_hierarchy, no
    # full count under a filter: both read the whole table on every page.
    list_select_related = ["customer"]
    show_full_result_count = False
    inlines = [MessageInline]
    # The status changes through the review actions (escalate a draft, resolve), never by hand:
    # those lock, audit and tell the console.
    readonly_fields = ["status", "channel", "resolved_at", "last_message_at", "anonymised_at"]
    actions = ["resolve", *CustomerDataActions.privacy_actions]

    def customer_refs(self, queryset: QuerySet[Conversation]) -> list[str]:
        refs = queryset.exclude(customer_ref="").values_list("customer_ref", flat=True)
        return sorted(set(refs))

    def without_ref(self, queryset: QuerySet[Conversation]) -> list[Any]:
        return list(
            queryset.filter(customer_ref="", anonymised_at__isnull=True).values_list(
                "pk", flat=True
            )
        )

    resolve = admin.action(
        description="Resolve the selected conversations", permissions=["change"]
    )(
        _review_action(
            lambda conversation, actor: review.resolve(conversation.pk, actor),
            "Resolved",
            noun="conversation",
        )
    )


@admin.register(Message)
class MessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: a message sent to a customer is never rewritten."""

    list_display = [
        "id",
        "conversation",
        "role",
        "short_body",
        "automated",
        "verified_by",
        "created_at",
    ]
    list_filter = ["role", "automated", "verified_by", "created_at"]
    search_fields = ["body", "conversation__customer_ref", "id"]
    raw_id_fields = ["conversation", "author"]
    # Newest first, along message_created_idx; no full count under a filter.
    ordering = ["-created_at"]
    show_full_result_count = False

    @admin.display(description="Body")
    def short_body(self, obj: Message) -> str:
        return obj.body[:80]


@admin.register(Draft)
class DraftAdmin(ActionsNeedChangePermission, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: a draft changes only through the review actions (below, and in the console and
    the API), never by editing its fields."""

    actions = ["approve", "reject", "escalate", "reprocess"]
    list_display = [
        "id",
        "status",
        "escalation_reason",
        "intent",
        "category",
        "sentiment",
        "urgency",
        "confidence",
        "automated",
        "created_at",
    ]
    list_filter = [
        "status",
        "escalation_reason",
        "sentiment",
        "urgency",
        "automated",
        DraftCategoryFilter,
    ]
    # Ids and labels only: a search in every message's body and answer read the whole table.
    search_fields = ["id", "intent", "conversation__customer_ref"]
    raw_id_fields = ["message", "conversation", "reviewed_by"]
    show_full_result_count = False

    approve = admin.action(
        description="Approve and send the selected drafts as they are", permissions=["act_on_rows"]
    )(_review_action(lambda draft, actor: review.approve(draft.pk, actor), "Sent"))
    reject = admin.action(description="Reject the selected drafts", permissions=["act_on_rows"])(
        _review_action(
            lambda draft, actor: review.reject(draft.pk, actor, reason="rejected in admin"),
            "Rejected",
        )
    )
    escalate = admin.action(
        description="Escalate the selected drafts", permissions=["act_on_rows"]
    )(_review_action(lambda draft, actor: review.escalate(draft.pk, actor), "Escalated"))
    reprocess = admin.action(
        description="Draft the selected drafts' messages again", permissions=["act_on_rows"]
    )(_review_action(lambda draft, actor: review.reprocess(draft.message_id, actor), "Queued"))


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "actor",
        "actor_type",
        "action",
        "conversation_link",
        "draft_link",
    ]
    list_filter = ["action", "actor_type", "created_at"]
    search_fields = ["actor", "conversation__id", "draft__id"]
    # Newest first along audit_created_idx; the rows name their conversation and draft by id
    # (no join, no query per row); no date_hierarchy, no full count under a filter.
    show_full_result_count = False

    @admin.display(description="Conversation", ordering="conversation_id")
    def conversation_link(self, obj: AuditLog) -> str:
        return _change_link("support_conversation", obj.conversation_id)

    @admin.display(description="Draft", ordering="draft_id")
    def draft_link(self, obj: AuditLog) -> str:
        return _change_link("support_draft", obj.draft_id)


def _change_link(model: str, pk: Any) -> str:
    if pk is None:
        return "-"
    return format_html('<a href="{}">{}</a>', reverse(f"admin:{model}_change", args=[pk]), pk)


@admin.register(Task)
class TaskAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Follow-up tasks, to look at: they change in the console or the API (support/tasks.py),
    which audit every change."""

    list_display = ["title", "conversation", "assignee", "due_at", "status", "created_by"]
    list_filter = ["status", "created_by", "due_at"]
    search_fields = ["title", "assignee__username", "conversation__id"]
    list_select_related = ["assignee", "conversation"]


@admin.register(Action)
class ActionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Actions the copilot proposed and what humans decided, to look at: they are decided in
    the console or the API (support/actions/decide.py), which audit every decision."""

    list_display = ["name", "status", "draft", "decided_by", "decided_at", "executed_at"]
    list_filter = ["status", "name"]
    search_fields = ["draft__id", "conversation__id"]
    list_select_related = ["decided_by", "draft"]


class OrderFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        """Two rows of one save whose numbers differ only in case are one order
        (order_number_ci_unique): each row's own check reads the database, not the others'."""
        super().clean()
        seen: set[str] = set()
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            number = str(data.get("number") or "").strip().upper()
            if not number or data.get("DELETE"):
                continue
            if number in seen:
                raise ValidationError(
                    f"Two rows have order number {number} (in different cases): one order."
                )
            seen.add(number)


class OrderInline(admin.TabularInline):
    model = Order
    formset = OrderFormSet
    fields = [
        "number",
        "status",
        "delivery_date",
        "refund_eligible",
        "total",
        "currency",
        "refunded",
        "shipping_address",
    ]
    extra = 0


@admin.register(Customer)
class CustomerAdmin(CustomerDataActions, admin.ModelAdmin):
    list_display = ["ref", "name", "email", "created_at"]
    search_fields = ["ref", "name", "email"]
    inlines = [OrderInline]
    actions = CustomerDataActions.privacy_actions

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Erase instead (the action above): a plain delete left their orders' addresses behind,
        # unlinked, where a later export or erasure by their reference cannot find them.
        return False

    def customer_refs(self, queryset: QuerySet[Customer]) -> list[str]:
        return sorted(queryset.values_list("ref", flat=True))


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "customer",
        "status",
        "delivery_date",
        "refund_eligible",
        "total",
        "currency",
    ]
    list_filter = ["status", "refund_eligible"]
    search_fields = ["number", "customer__ref", "customer__email"]
    raw_id_fields = ["customer"]
    list_select_related = ["customer"]  # nullable: otherwise one query per row

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # a customer's orders go with their erasure (the customer list's action)


@admin.register(BusinessProfile)
class BusinessProfileAdmin(admin.ModelAdmin):
    form = BusinessProfileForm
    list_display = ["company_name", "website_url", "support_phone", "support_email", "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not BusinessProfile.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ("number", "status_code", "latency_ms", "error", "response_snippet", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def _masked(secret: str) -> str:
    if not secret:
        return "-"
    prefix = SECRET_PREFIX if secret.startswith(SECRET_PREFIX) else ""
    return f"{prefix}… (hidden: needs the change permission)"


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=[(e, e) for e in WEBHOOK_EVENTS], widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "events", "is_active"]

    def clean_url(self) -> str:
        """http(s) only, and (unless WEBHOOK_ALLOW_PRIVATE_TARGETS) a host whose addresses are
        all public: no loopback, private, link-local (cloud metadata) ... receivers. Checked
        again at each send (support/webhooks.py), after resolving the host anew."""
        url = str(self.cleaned_data["url"])
        if self.instance.pk is not None and "url" not in self.changed_data:
            # An endpoint saved before the check existed can still be deactivated or
            # re-described; its sends are refused until its URL is changed or allowed.
            return url
        try:
            http_guard.check_url(url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_TARGETS)
        except http_guard.TargetRefused as exc:
            raise ValidationError(f"Refused: {exc}.", code="refused_target") from None
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "description", "events", "is_active", "previous_secret_expires_at"]
    list_filter = ["is_active"]
    readonly_fields = ["secret", "previous_secret", "previous_secret_expires_at", "created_at"]
    actions = ["rotate_secret"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        """The signing secrets only to those who may change the endpoint; others see them
        masked (a secret read is a webhook anyone can forge)."""
        if self.has_change_permission(request, obj):
            return self.readonly_fields
        return [
            "masked_secret",
            "masked_previous_secret",
            "previous_secret_expires_at",
            "created_at",
        ]

    @admin.display(description="Secret")
    def masked_secret(self, obj: WebhookEndpoint) -> str:
        return _masked(obj.secret)

    @admin.display(description="Previous secret")
    def masked_previous_secret(self, obj: WebhookEndpoint) -> str:
        return _masked(obj.previous_secret)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Untick "is active" instead: a deletion took the endpoint's delivery history with it.
        return False

    @admin.action(
        description="Rotate secret (old one stays valid for the overlap window)",
        permissions=["change"],
    )
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            endpoint.rotate_secret()
        self.message_user(request, f"Rotated {queryset.count()} secret(s); see each endpoint.")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event_type", "endpoint", "status", "attempts", "next_attempt_at", "created_at"]
    list_filter = ["status", WebhookEventFilter, "endpoint"]
    search_fields = ["event_id"]
    show_full_result_count = False  # newest first along webhook_delivery_created_idx
    readonly_fields = [
        "endpoint",
        "event_id",
        "event_type",
        "payload",
        "status",
        "attempts",
        "next_attempt_at",
        "claimed_at",
        "delivered_at",
        "created_at",
    ]
    inlines = [WebhookAttemptInline]
    actions = ["replay"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Replay selected deliveries", permissions=["change"])
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        ids = webhooks.replay(queryset)
        transaction.on_commit(partial(queue_deliveries, ids))
        self.message_user(request, f"Queued {len(ids)} delivery(ies) again.")


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["delivery", "number", "status_code", "latency_ms", "error", "created_at"]
    list_filter = ["status_code"]
    search_fields = ["delivery__event_id", "error"]


@admin.register(ReplyDelivery)
class ReplyDeliveryAdmin(ActionsNeedChangePermission, ReadOnlyAdminMixin, admin.ModelAdmin):
    """How each reply reached its customer (support/outbound/): a record; a failed one can be
    tried again."""

    list_display = [
        "message",
        "channel",
        "status",
        "attempts",
        "last_error",
        "next_attempt_at",
        "sent_at",
    ]
    list_filter = ["status", "channel"]
    search_fields = ["message__id"]
    actions = ["retry"]

    @admin.action(
        description="Retry failed deliveries (fresh attempts)", permissions=["act_on_rows"]
    )
    def retry(self, request: HttpRequest, queryset: QuerySet[ReplyDelivery]) -> None:
        count = 0
        for row in queryset:
            delivery = outbound.retry(row.pk)
            if delivery is None:
                continue
            count += 1
            if delivery.channel in outbound.SENDERS:
                transaction.on_commit(partial(enqueue, delivery.pk))
        self.message_user(request, f"Queued {count} failed delivery(ies) again.")


# The widget's and the e-mail channel's models have their own admin modules.
@admin.register(IntentAutonomy)
class IntentAutonomyAdmin(ActionsNeedChangePermission, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-mostly: the ladder (support/autonomy/ladder.py) promotes and demotes; a person only
    switches an intent off or on, through the ladder, audited (the console has the same switch)."""

    list_display = [
        "intent",
        "mode",
        "allowed",
        "canary",
        "min_confidence",
        "since",
        "demoted_at",
        "demoted_reason",
    ]
    list_filter = ["mode", "allowed", "canary", "demoted_reason"]
    search_fields = ["intent"]
    actions = ["switch_off", "switch_on"]

    switch_off = admin.action(
        description="Switch off: never sent alone (demotes an auto intent)",
        permissions=["act_on_rows"],
    )(
        row_action(
            lambda row, actor: ladder.set_allowed(row.intent, False, actor),
            "Switched off",
            "intent",
        )
    )
    switch_on = admin.action(
        description="Switch on: may earn auto-send from its evidence", permissions=["act_on_rows"]
    )(
        row_action(
            lambda row, actor: ladder.set_allowed(row.intent, True, actor), "Switched on", "intent"
        )
    )


import support.email.admin  # noqa: E402
import support.widget.admin  # noqa: E402, F401


@admin.register(CustomerRating)
class CustomerRatingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Customers' ratings of agent replies (from the widget): a record, never edited."""

    list_display = ["updated_at", "score", "conversation", "comment"]
    list_filter = ["score", "updated_at"]
    search_fields = ["comment", "conversation__id"]


@admin.register(MailboxCursor)
class MailboxCursorAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Where the IMAP door stands in each mailbox folder, and why its last poll failed, if it
    did (support/email/imap.py)."""

    list_display = ["user", "host", "folder", "last_uid", "last_polled_at", "last_error"]
    readonly_fields = [
        "host",
        "user",
        "folder",
        "uidvalidity",
        "last_uid",
        "retry_uids",
        "last_polled_at",
        "last_error",
    ]


@admin.register(MailboxCredential)
class MailboxCredentialAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Which mailbox accounts hold OAuth2 tokens and until when; the tokens are never shown."""

    list_display = ["user", "host", "expires_at", "refreshed_at"]
    fields = ["host", "user", "expires_at", "refreshed_at"]
    readonly_fields = ["host", "user", "expires_at", "refreshed_at"]


@admin.register(AutonomySwitch)
class AutonomySwitchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The console's kill switch for auto-send, to look at: it is flipped on the console's
    Autonomy page (support/autonomy/switch.py), which audits every change."""

    list_display = ["on", "changed_by", "updated_at"]


@admin.register(Deflection)
class DeflectionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Help articles that answered a widget visitor before they wrote (#31): a record."""

    list_display = ["created_at", "article", "widget_key"]
    list_filter = ["created_at"]
    search_fields = ["article__title"]
    list_select_related = ["article", "widget_key"]  # both nullable: one query per row without
    show_full_result_count = False


@admin.register(DraftTally)
class DraftTallyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The running totals /metrics and the dashboard read (kept by triggers, support/tallies.py):
    shown to check them, never edited (a shard's row alone means nothing; sums over shards do)."""

    list_display = ["status", "escalation_reason", "shard", "drafts", "completed", "tokens"]
    list_filter = ["status", "escalation_reason"]
    search_fields = ["status", "escalation_reason"]


@admin.register(DraftHour)
class DraftHourAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The dashboard's hourly rollups of drafts (kept by triggers, support/rollups.py), as
    DraftTally: shown to check them, never edited."""

    list_display = ["hour", "span", "status", "escalation_reason", "intent", "shard", "drafts"]
    list_filter = ["status", "escalation_reason", "automated"]
    search_fields = ["intent"]
    date_hierarchy = "hour"


@admin.register(DraftHourHistogram)
class DraftHourHistogramAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Drafts per hour, measure and bucket (the dashboard's percentiles), as DraftHour."""

    list_display = ["hour", "span", "measure", "bucket", "shard", "drafts", "total"]
    list_filter = ["measure"]
    date_hierarchy = "hour"


@admin.register(CitationHour)
class CitationHourAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Citations per hour and KB article (the dashboard's top articles), as DraftHour."""

    list_display = ["hour", "span", "kb_id", "title", "shard", "citations"]
    search_fields = ["kb_id", "title"]
    date_hierarchy = "hour"


@admin.register(StatusTally)
class StatusTallyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Rows per status of conversations and webhook deliveries, as DraftTally."""

    list_display = ["kind", "status", "shard", "rows"]
    list_filter = ["kind", "status"]
    search_fields = ["kind", "status"]
