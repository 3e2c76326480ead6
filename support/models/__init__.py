from support.models.action import Action, Task
from support.models.attachment import Attachment, AttachmentSkip
from support.models.audit import AuditAction, AuditLog
from support.models.autonomy import IntentAutonomy
from support.models.autonomy_switch import AutonomySwitch
from support.models.conversation import Channel, Conversation, ConversationStatus
from support.models.customer import Customer, Order, OrderStatus
from support.models.deflection import Deflection
from support.models.delivery import ReplyDelivery, ReplyDeliveryStatus
from support.models.document import DocumentReading
from support.models.draft import (
    Draft,
    DraftStatus,
    EscalationReason,
    RejectCategory,
    Sentiment,
    Urgency,
)
from support.models.email import EmailEnvelope
from support.models.inbound_email import Door, ErasedEmail, InboundEmail, InboundStatus
from support.models.mailbox import MailboxCredential, MailboxCursor
from support.models.message import IgnoredReason, Message, MessageRole
from support.models.profile import BusinessProfile
from support.models.rating import CustomerRating
from support.models.tally import (
    CitationHour,
    DraftHour,
    DraftHourHistogram,
    DraftTally,
    StatusTally,
)
from support.models.webhook import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from support.models.widget import WidgetKey

__all__ = [
    "Action",
    "Attachment",
    "AttachmentSkip",
    "AuditAction",
    "AuditLog",
    "AutonomySwitch",
    "BusinessProfile",
    "Channel",
    "CitationHour",
    "Conversation",
    "ConversationStatus",
    "Customer",
    "CustomerRating",
    "Deflection",
    "DeliveryStatus",
    "DocumentReading",
    "Door",
    "Draft",
    "DraftHour",
    "DraftHourHistogram",
    "DraftStatus",
    "DraftTally",
    "EmailEnvelope",
    "ErasedEmail",
    "EscalationReason",
    "IgnoredReason",
    "InboundEmail",
    "InboundStatus",
    "IntentAutonomy",
    "MailboxCredential",
    "MailboxCursor",
    "Message",
    "MessageRole",
    "Order",
    "OrderStatus",
    "RejectCategory",
    "ReplyDelivery",
    "ReplyDeliveryStatus",
    "Sentiment",
    "StatusTally",
    "Task",
    "Urgency",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WidgetKey",
]
