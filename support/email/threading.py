"""Which conversation a customer's e-mail belongs to. By its headers first: In-Reply-To or
References naming any e-mail of a conversation (the customer's or one of our replies); then by
the `[#token]` our replies put in the subject, for a client that lost the headers. Either joins
only for someone already in that conversation (its customer, or an address in the From, To or Cc
of its e-mails that were not ignored): a stranger who quotes a token, or answers a newsletter many
received, starts a conversation of their own, as does a known sender writing a new subject without
thread headers."""

from __future__ import annotations

import re

from support.email.addresses import normalise, own_addresses
from support.email.parse import ParsedEmail
from support.models import Conversation, EmailEnvelope

TOKEN = re.compile(r"\[#([a-z2-7]{13})\]", re.IGNORECASE)


def subject_without_token(subject: str) -> str:
    return " ".join(TOKEN.sub("", subject).split())


def participants(conversation: Conversation) -> set[str]:
    """The addresses a conversation's e-mails were from, to or copied to, and its customer;
    never ours. Only e-mails that were drafted or sent count (the customer's, ours): an ignored
    one (an auto-reply, spam, a flood) joins the thread its headers name whoever sent it, so its
    addresses would let anyone make themselves a participant, and their next mail be drafted
    and answered there."""
    found = {normalise(conversation.customer_ref)}
    for sender, to, cc in EmailEnvelope.objects.filter(
        message__conversation=conversation, message__ignored_reason=""
    ).values_list("from_address", "to", "cc"):
        found.add(sender)
        found.update(to or [])
        found.update(cc or [])
    return found - own_addresses() - {""}


def _by_headers(thread_ids: tuple[str, ...]) -> Conversation | None:
    if not thread_ids:
        return None
    envelopes = {
        envelope.message_id_header: envelope
        for envelope in EmailEnvelope.objects.filter(
            message_id_header__in=thread_ids
        ).select_related("message__conversation")
    }
    # In-Reply-To first, then References from the newest.
    for message_id in thread_ids:
        if envelope := envelopes.get(message_id):
            return envelope.message.conversation
    return None


def _by_token(parsed: ParsedEmail) -> Conversation | None:
    tokens = [token.lower() for token in TOKEN.findall(parsed.subject)]
    return Conversation.objects.filter(thread_token__in=tokens).first() if tokens else None


def conversation_for(
    parsed: ParsedEmail, *, ignored: bool = False, returned: tuple[str, ...] = ()
) -> Conversation | None:
    """The conversation the e-mail continues, None for a new one. An e-mail that will not be
    drafted (`ignored`: a bounce, an auto-reply) joins the conversation its headers name whoever
    sent it: it is shown there, nobody answers it, and it makes nobody a participant.
    `returned`: the Message-IDs a bounce returns, which thread it as headers would."""
    sender = parsed.from_address
    thread_ids = tuple(dict.fromkeys((*parsed.thread_ids, *returned)))
    if (conversation := _by_headers(thread_ids)) is not None and (
        ignored or sender in participants(conversation)
    ):
        return conversation
    conversation = _by_token(parsed)
    if conversation is not None and sender in participants(conversation):
        return conversation
    return None
