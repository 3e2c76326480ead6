"""The conversation page's side column: who the customer is beyond this conversation. Their other
conversations on every channel (`Conversation.objects.of_customer`, as GET
/customers/{ref}/conversations lists them), their orders and their ratings, in a few queries
whatever their number (templates/console/_customer_timeline.html, in the full page and in the
live update).

History is shown only for a customer the conversation's sender is known to be: a conversation
linked to the customer record (the identity work links one only by a verified message) or an
API integration's (the key vouched for the reference)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import F

from support.models import Channel, Conversation, Customer, CustomerRating, Order

# The column shows the most recent of each; the API pages through the rest.
TIMELINE_ROWS = 20
ORDER_ROWS = 10
RATING_ROWS = 10


@dataclass
class CustomerTimeline:
    # The customer whose history is shown: the linked customer record's reference, or the one
    # an API integration gave (its key vouched for it); "" when there is none to trust.
    ref: str
    # A widget's or an e-mail's reference on a conversation no verified message linked to a
    # customer: only the sender's claim. Showing the history of whoever they claim to be would
    # put a customer's past in front of an agent answering a stranger, so none is shown.
    claimed: str = ""
    conversations: list[Conversation] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    ratings: list[CustomerRating] = field(default_factory=list)

    @property
    def anonymous(self) -> bool:
        return not self.ref and not self.claimed

    @property
    def unverified(self) -> bool:
        return not self.ref and bool(self.claimed)

    @classmethod
    def load(cls, conversation: Conversation) -> CustomerTimeline:
        """The timeline of the conversation's customer (`conversation.customer` selected with
        it), leaving the conversation itself out of the list."""
        customer = conversation.customer
        if customer is not None:
            ref = customer.ref
        elif conversation.channel == Channel.API:
            ref = conversation.customer_ref
        else:
            return cls(ref="", claimed=conversation.customer_ref)
        timeline = cls(ref=ref)
        if not ref:
            return timeline
        of_customer = Conversation.objects.of_customer(ref)
        timeline.conversations = list(
            of_customer.exclude(pk=conversation.pk).with_timeline_facts()[:TIMELINE_ROWS]
        )
        customer = customer or Customer.objects.filter(ref=ref).first()
        if customer is not None:
            timeline.orders = list(
                Order.objects.filter(customer=customer).order_by(
                    F("placed_at").desc(nulls_last=True), "-updated_at", "-id"
                )[:ORDER_ROWS]
            )
        # Their ratings on any of their conversations, this one included.
        timeline.ratings = list(
            CustomerRating.objects.filter(conversation__in=of_customer.values("pk")).order_by(
                "-updated_at", "-id"
            )[:RATING_ROWS]
        )
        return timeline
