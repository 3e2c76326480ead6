"""Five short articles used across the test suite (the `small_kb` fixture, root conftest)."""

from __future__ import annotations

import json

from knowledge.ingest import DocumentSpec
from knowledge.models import DocumentSource, KBDocument

ARTICLES = [
    DocumentSpec(
        source=DocumentSource.JSONL,
        external_id="password",
        title="Reset your password",
        content=(
            "To reset your password, open the login page and choose 'Forgot password'. "
            "We e-mail you a link that is valid for 24 hours."
        ),
        intent="recover_password",
        category="ACCOUNT",
        questions=("I can't log in to my profile", "how do I change my password?"),
    ),
    DocumentSpec(
        source=DocumentSource.JSONL,
        external_id="refund",
        title="Refund policy",
        content=(
            "Refunds are issued to the original payment method within 5-7 business days "
            "after the returned item reaches our warehouse."
        ),
        intent="get_refund",
        category="REFUND",
        questions=("I want my money back",),
    ),
    DocumentSpec(
        source=DocumentSource.JSONL,
        external_id="zephyr",
        title="Zephyr 3000 blender care",
        content="Rinse the Zephyr 3000 jug after use. Never put the motor base in the dishwasher.",
        intent="product_care",
        category="PRODUCT",
    ),
    DocumentSpec(
        source=DocumentSource.JSONL,
        external_id="customs",
        title="Delayed shipments",
        content=(
            "Shipment batch QX-48213 is held at customs; parcels in it will move once "
            "cleared. Other parcels travel normally."
        ),
        intent="delivery_period",
        category="DELIVERY",
    ),
    DocumentSpec(
        source=DocumentSource.JSONL,
        external_id="shipping-options",
        title="Shipping options",
        content="We ship with standard, express and overnight delivery to most countries.",
        intent="delivery_options",
        category="DELIVERY",
        questions=("what delivery methods do you have",),
    ),
]


def change_form(doc: KBDocument, **fields: str) -> dict[str, str]:
    """The admin's change form of `doc` as a browser posts it, with `fields` changed."""
    return {
        "source": doc.source,
        "external_id": doc.external_id,
        "title": doc.title,
        "content": doc.content,
        "intent": doc.intent,
        "category": doc.category,
        "metadata": json.dumps(doc.metadata),
        "status": doc.status,
        "language": doc.language,
        "public": "on",
        "chunks-TOTAL_FORMS": "0",
        "chunks-INITIAL_FORMS": "0",
        **fields,
    }
