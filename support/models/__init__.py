from support.models.audit import ActorType, AuditAction, AuditLog
from support.models.conversation import Channel, Conversation, ConversationStatus
from support.models.customer import Customer, Order, OrderStatus
from support.models.draft import Draft, DraftStatus, EscalationReason, Sentiment, Urgency
from support.models.message import Message, MessageRole
from support.models.profile import BusinessProfile

__all__ = [
    "ActorType",
    "AuditAction",
    "AuditLog",
    "BusinessProfile",
    "Channel",
    "Conversation",
    "ConversationStatus",
    "Customer",
    "Draft",
    "DraftStatus",
    "EscalationReason",
    "Message",
    "MessageRole",
    "Order",
    "OrderStatus",
    "Sentiment",
    "Urgency",
]
