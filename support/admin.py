from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from resolver.admin_mixins import ReadOnlyAdminMixin
from support.models import (
    AuditLog,
    BusinessProfile,
    Conversation,
    Customer,
    Draft,
    Message,
    Order,
)


class MessageInline(admin.TabularInline):
    model = Message
    fields = ["created_at", "role", "body", "author", "automated"]
    readonly_fields = ["created_at", "role", "body", "author", "automated"]
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["id", "customer_ref", "channel", "status", "last_message_at", "created_at"]
    list_filter = ["status", "channel", "created_at"]
    search_fields = ["id", "customer_ref", "customer__name", "customer__email"]
    raw_id_fields = ["customer"]
    date_hierarchy = "created_at"
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "conversation", "role", "short_body", "automated", "created_at"]
    list_filter = ["role", "automated", "created_at"]
    search_fields = ["body", "conversation__customer_ref", "id"]
    raw_id_fields = ["conversation", "author"]

    @admin.display(description="Body")
    def short_body(self, obj: Message) -> str:
        return obj.body[:80]


@admin.register(Draft)
class DraftAdmin(admin.ModelAdmin):
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
    list_filter = ["status", "escalation_reason", "sentiment", "urgency", "automated", "category"]
    search_fields = ["id", "intent", "answer", "message__body", "conversation__customer_ref"]
    raw_id_fields = ["message", "conversation", "reviewed_by"]
    readonly_fields = ["created_at", "updated_at", "completed_at", "run_started_at"]
    date_hierarchy = "created_at"


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "actor", "actor_type", "action", "conversation", "draft"]
    list_filter = ["action", "actor_type", "created_at"]
    search_fields = ["actor", "conversation__id", "draft__id"]
    date_hierarchy = "created_at"


class OrderInline(admin.TabularInline):
    model = Order
    fields = ["number", "status", "delivery_date", "refund_eligible", "total"]
    extra = 0


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["ref", "name", "email", "created_at"]
    search_fields = ["ref", "name", "email"]
    inlines = [OrderInline]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["number", "customer", "status", "delivery_date", "refund_eligible", "total"]
    list_filter = ["status", "refund_eligible"]
    search_fields = ["number", "customer__ref", "customer__email"]
    raw_id_fields = ["customer"]


@admin.register(BusinessProfile)
class BusinessProfileAdmin(admin.ModelAdmin):
    list_display = ["company_name", "website_url", "support_phone", "support_email", "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not BusinessProfile.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
