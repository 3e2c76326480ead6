"""Actions in tests: a verified customer's draft with its orders, and an action proposed on it
(checked by the real catalogue, support/actions/catalogue.py, on these rows)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from support.inbound import receive_message
from support.models import Action, Draft, Order, OrderStatus
from support.tests.conftest import SUGGESTION
from support.vocabulary import Verification

CONFIRMATION = "I've cancelled order NW-10001."
FALLBACK = "I've asked our team to cancel order NW-10001 and will confirm it shortly."


def customer_draft(
    body: str = "please cancel NW-10001", ref: str = "cust-1", verified: bool = True
) -> Draft:
    """A SUGGESTED draft for a message whose sender is verified (an API key vouched for it)."""
    verified_by = Verification.API_KEY if verified else ""
    _, draft = receive_message(body, customer_ref=ref, enqueue=False, verified_by=verified_by)
    answer = f"Sorry for the trouble. {CONFIRMATION} Anything else?"
    Draft.objects.filter(pk=draft.pk).update(**{**SUGGESTION, "answer": answer})
    draft.refresh_from_db()
    return draft


def order_for(draft: Draft, number: str = "NW-10001", **fields: Any) -> Order:
    values = {
        "status": OrderStatus.PROCESSING,
        "total": Decimal("80.00"),
        "refund_eligible": True,
        "shipping_address": "1 Old Street, Springfield",
        "placed_at": timezone.now() - timedelta(days=2),  # inside the refund window
        **fields,
    }
    return Order.objects.create(number=number, customer=draft.conversation.customer, **values)


def propose(draft: Draft, name: str, **arguments: Any) -> Action:
    return Action.objects.create(
        draft=draft,
        conversation_id=draft.conversation_id,
        name=name,
        arguments=arguments,
        confirmation=CONFIRMATION,
        fallback=FALLBACK,
    )
