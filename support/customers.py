"""One Customer for the channels a verified person used. A conversation is linked to a customer
(`Conversation.customer`, what memory and the timeline read) only by a message whose own sender
was verified (support.vocabulary.Verification): a claim (a widget ref without its hash, a From
no trusted server vouched for) never links one, so a forged e-mail can never enter a customer's
history. Who the verified sender is depends on how they were verified:

- an e-mail (Authentication-Results, the ESP's verdict): the Customer whose `email` is the
  address (case-insensitive), else the one whose ref is the lower-cased address (made, with its
  `email`, when there is none);
- an API key's `customer_ref`, a widget ref with its valid hash: the Customer with that ref
  (made when there is none).

Runs inside the caller's transaction, under the customer's advisory lock (the one erasure takes:
Conversation.objects.lock_customer), so two first messages of the same person make one row."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from support.email.addresses import fold_case, normalise
from support.models import Conversation, Customer, Message
from support.vocabulary import Verification

EMAIL_VERIFICATIONS = frozenset({Verification.EMAIL_AUTH, Verification.ESP})
REF_VERIFICATIONS = frozenset({Verification.API_KEY, Verification.WIDGET_HASH})


def verified_customer(verified_by: str, identity: str) -> Customer | None:
    """The customer a sender verified as `identity` (an e-mail address or a ref) is; None when
    the sender is unverified or names nobody. Takes the identity's lock (and the customer's)."""
    if not verified_by or not identity:
        return None
    if verified_by in EMAIL_VERIFICATIONS:
        return customer_for_email(identity)
    if verified_by in REF_VERIFICATIONS:
        return customer_for_ref(identity)
    raise ValueError(f"unknown verification {verified_by!r}")


def customer_of(message: Message) -> Customer | None:
    """THE customer a message speaks for (its draft's orders, memory, documents and actions): its
    conversation's linked customer when the message's own sender is verified, else nobody. No
    fallback by `customer_ref` string: that is a claim; a verified message links its thread."""
    if not message.sender_verified:
        return None
    return message.conversation.customer


def is_thread_customer(verified_by: str, identity: str, thread_ref: str) -> bool:
    """Is a sender verified as `identity` the customer a conversation started for (its
    `customer_ref`, `thread_ref`)? An e-mail sender when their address is that ref (normalised),
    or the Customer on record for their address has it as ref or e-mail; an API or widget sender
    when their ref is it. Reads only: makes no Customer for someone who is not."""
    if not verified_by or not identity or not thread_ref:
        return False
    if verified_by in REF_VERIFICATIONS:
        return identity == thread_ref
    if verified_by not in EMAIL_VERIFICATIONS:
        raise ValueError(f"unknown verification {verified_by!r}")
    address = normalise(identity)
    if not address:
        return False
    if address == normalise(thread_ref):
        return True
    on_record = _with_email(address)
    return on_record is not None and (
        on_record.ref == thread_ref or fold_case(on_record.email) == fold_case(thread_ref.strip())
    )


def customer_for_ref(ref: str) -> Customer:
    Conversation.objects.lock_customer(ref)
    return _get_or_create(ref)


def _with_email(address: str) -> Customer | None:
    """The first customer on record with this address, compared as fold_case compares (the
    database's case-insensitive match is only a shortlist: it has its own idea of case)."""
    shortlist = Customer.objects.filter(email__iexact=address).order_by("pk")
    return next((c for c in shortlist if fold_case(c.email.strip()) == address), None)


def customer_for_email(address: str) -> Customer:
    address = fold_case(address.strip())
    Conversation.objects.lock_customer(address)
    customer = _with_email(address)
    if customer is None:
        return _get_or_create(address, email=address)
    if customer.ref != address:
        # Serialise with an erasure of that customer (it locks by its ref), then read again:
        # the erasure we waited for may have deleted the row we read before the lock.
        Conversation.objects.lock_customer(customer.ref)
        again = _with_email(address)
        if again is None:
            return _get_or_create(address, email=address)
        if again.ref != customer.ref:
            Conversation.objects.lock_customer(again.ref)
        return again
    return customer


def _get_or_create(ref: str, email: str = "") -> Customer:
    """The row with `ref`, made when there is none. The lock serialises our own callers; a row
    made meanwhile without it (PUT /orders, admin) makes the insert fail on the unique ref, and
    the savepoint lets us read that row instead of aborting the caller's transaction."""
    customer = Customer.objects.filter(ref=ref).first()
    if customer is not None:
        return customer
    try:
        with transaction.atomic():
            return Customer.objects.create(ref=ref, email=email)
    except IntegrityError:
        return Customer.objects.get(ref=ref)


def link(conversation: Conversation, customer: Customer | None) -> None:
    """Links a conversation that is not linked yet to `customer`, the verified sender the caller
    found to be the thread's own customer (is_thread_customer; a conditional UPDATE: an earlier
    link, made by an earlier verified message, stays)."""
    if customer is None or conversation.customer_id is not None:
        return
    updated = Conversation.objects.filter(pk=conversation.pk, customer__isnull=True).update(
        customer=customer
    )
    if updated:
        conversation.customer = customer
