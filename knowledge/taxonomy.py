"""The intents and categories Resolver knows: those of the KB's published articles and of the
triage examples agents added. The one list of intents: what an agent may re-label a draft as, what
the console's queue filters by, what the autonomy ladder lists, what the API lists (GET
/intents) and accepts as a filter."""

from __future__ import annotations

from knowledge.models import KBDocument, TriageExample

# The taxonomy's intents that code names: a person answers these, whatever the KB holds (the
# customer asks for one, or wants to file a complaint). Distinct from the tone model's
# MessageKind.DISSATISFIED, which any intent may carry.
CONTACT_HUMAN_AGENT_INTENT = "contact_human_agent"
COMPLAINT_INTENT = "complaint"
HUMAN_INTENTS = frozenset({CONTACT_HUMAN_AGENT_INTENT, COMPLAINT_INTENT})

# The taxonomy's intents about one order: a reply acts on them only once it knows which order
# (and, for a parcel to redirect, where to): agents/missing.py asks for what the message lacks.
GET_REFUND_INTENT = "get_refund"
TRACK_REFUND_INTENT = "track_refund"
TRACK_ORDER_INTENT = "track_order"
CHANGE_SHIPPING_ADDRESS_INTENT = "change_shipping_address"
DELIVERY_PROBLEM_INTENT = "delivery_problem"


def taxonomy() -> dict[str, str]:
    """Intent -> category, sorted by intent."""
    articles = KBDocument.objects.published().exclude(intent="")
    pairs = articles.values_list("intent", "category").distinct()
    examples = TriageExample.objects.values_list("intent", "category").distinct()
    known = {intent: category for intent, category in [*examples, *pairs]}
    return dict(sorted(known.items()))


def intents() -> list[str]:
    return list(taxonomy())


class UnknownIntent(ValueError):
    def __init__(self, intent: str) -> None:
        super().__init__(f"unknown intent {intent!r}: the knowledge base has no such intent")


def check_intent(intent: str) -> str:
    """`intent` if the taxonomy knows it; UnknownIntent otherwise."""
    if intent not in taxonomy():
        raise UnknownIntent(intent)
    return intent
