from support.models.audit import AuditAction, AuditLog
from support.models.autosend import AutoSendRule
from support.models.conversation import Channel, Conversation, ConversationStatus
from support.models.customer import Customer, Order, OrderStatus
from support.models.draft import (
    Draft,
    DraftStatus,
    EscalationReason,
    RejectCategory,
    Sentiment,
    Urgency,
)
from support.models.message import Message, MessageRole
from support.models.profile import BusinessProfile
from support.models.rating import CustomerRating
from support.models.webhook import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from support.models.widget import WidgetKey

__all__ = [
    "AuditAction",
    "AuditLog",
    "AutoSendRule",
    "BusinessProfile",
    "Channel",
    "Conversation",
    "ConversationStatus",
    "Customer",
    "CustomerRating",
    "DeliveryStatus",
    "Draft",
    "DraftStatus",
    "EscalationReason",
    "Message",
    "MessageRole",
    "Order",
    "OrderStatus",
    "RejectCategory",
    "Sentiment",
    "Urgency",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WidgetKey",
]
