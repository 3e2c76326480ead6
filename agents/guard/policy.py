"""Policy: what a draft may never promise, ask for or claim. Each rule is a pattern over one
sentence; facts (refund eligibility, known delivery dates, order status) lift the matching rule."""

from __future__ import annotations

import re
from collections.abc import Iterator

from agents.entities import extract_entities
from agents.facts import CustomerFacts
from agents.state import GuardIssue
from agents.text import as_read, sentences

# Escalate at once (forbidden_action): a repair loop must not be trusted with these.
FORBIDDEN = frozenset(
    {
        "refund_promise",
        "date_promise",
        "secret_request",
        "legal_medical_advice",
        "action_claimed",
        "learned_rule",  # agents/guard/learned.py: what agents rejected for policy
    }
)

_MONEY = (
    r"(refund|store credit|account credit|a credit|credits? (to|on) your|compensat\w*|"
    r"reimburs\w*|discount|voucher|coupon|money back|gift card|"
    r"free (item|replacement|shipping)|cash back)"
)
_REFUND = re.compile(
    r"\b(we|i)\s*(will|'ll|shall|are going to|am going to|can|have|'ve|'re|are)?\s*(already\s+)?"
    r"(issue|process|give|send|grant|refund|credit|reimburse|compensate|offer|apply|approve)\w*\b"
    rf"[^.!?]{{0,40}}\b{_MONEY}|"
    r"\byou\s*(will|'ll|are going to|shall)\s*(definitely\s+)?(receive|get|be (given|issued|"
    rf"refunded|credited|reimbursed|compensated))\b[^.!?]{{0,40}}\b({_MONEY}|money)|"
    r"\b(we|i)\s*(will|'ll|shall|are going to|am going to|have|'ve)\s*(already\s+)?"
    r"(fully\s+)?(refund|reimburse|compensate|credit)\b|"
    r"\byou\s*(will|'ll)\s*be\s*(fully\s+)?(refunded|credited|reimbursed|compensated)\b|"
    r"\b(refund|credit|compensation)\s+(is|has been|was)\s+(approved|issued|processed|"
    r"guaranteed|granted)\b|"
    rf"\bguarantee\w*\b[^.!?]{{0,30}}\b{_MONEY}|"
    rf"\byou('re| are)\s+(entitled|eligible)\s+(to|for)\b[^.!?]{{0,20}}\b{_MONEY}",
    re.IGNORECASE,
)
_MONTHS = (
    r"(jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sep(t(ember)?)?|"
    r"oct(ober)?|nov(ember)?|dec(ember)?)"
)
_DATE = re.compile(
    rf"\b(\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}/\d{{1,2}}(/\d{{2,4}})?|{_MONTHS}\.?\s+\d{{1,2}}"
    rf"(st|nd|rd|th)?|\d{{1,2}}(st|nd|rd|th)?\s+(of\s+)?{_MONTHS})\b",
    re.IGNORECASE,
)
_NUMBER_WORD = r"(\d+|one|two|three|four|five|six|seven|eight|ten|a few|a couple of|several)"
_TIMEFRAME = re.compile(
    rf"\b(within|in|by|under|no later than|up to)\s+{_NUMBER_WORD}(\s*(-|to|\u2013)\s*\d+)?\s+"
    r"(business |working |calendar )?(days?|hours?|weeks?|months?)\b|"
    r"\b(today|tomorrow|tonight|this week|next week|by (monday|tuesday|wednesday|thursday|"
    r"friday|saturday|sunday|the weekend|end of (the )?(day|week)))\b",
    re.IGNORECASE,
)
_DELIVERY = re.compile(
    r"\b(arriv\w*|deliver\w*|ship\w*|dispatch\w*|reach(es)? you|be there|get (it|there)|"
    r"receive (it|your (order|package|parcel|item))|in your hands|on your doorstep)\b",
    re.IGNORECASE,
)
_SECRET = re.compile(
    r"\b(send|share|provide|give|tell|confirm|reply with|disclose|read out)\b"
    r"[^.!?]{0,30}\b(password|passcode|pin( code)?|cvv2?|cvc|security code|card number|"
    r"credit card number|one[- ]time (code|password)|otp|2fa code|verification code|"
    r"social security number|ssn)\b|"
    r"\bwhat('s| is) your\b[^.!?]{0,20}\b(password|pin|cvv|cvc|card number|security code)\b",
    re.IGNORECASE,
)
# Asking means to us: "enter your password on the sign-in page" is an instruction, not a request.
_TO_US = re.compile(
    r"\b(us|me|our (team|agents?|support)|this (chat|conversation)|here|reply|below)\b",
    re.IGNORECASE,
)
_NEVER = re.compile(r"\b(never|don'?t|do not|not|no one|nobody|won'?t|will not)\b", re.IGNORECASE)
_ADVICE = re.compile(
    r"\b(you should|you must|you need to|we (advise|recommend|suggest)|i (advise|recommend|"
    r"suggest)|my advice|i would)\b[^.!?]{0,40}\b(sue|lawsuit|legal action|take (us|them) to "
    r"court|file a (claim|complaint) in court|medication|medicine|dosage|dose|ointment|"
    r"antihistamine|painkiller|treat (it|the)|diagnos\w*)\b|"
    r"\b(legally|by law|under (the )?law),?\s+(you are|you're|we are|we're)\s+(entitled|obligated|"
    r"required|liable|not liable)\b|\bthis is (clearly )?(illegal|unlawful|a breach of contract)\b",
    re.IGNORECASE,
)
_DONE_VERBS = (
    r"(cancel+ed|refunded|processed|updated|changed|reset|deleted|removed|issued|shipped|sent|"
    r"credited|activated|closed|unsubscribed|modified|corrected|fixed|reversed|approved|"
    r"replaced|upgraded|downgraded|unlocked|restored|returned)"
)
_DONE = re.compile(
    rf"\b(i|we)\s*('ve|have|has)\s*(already\s+|now\s+|just\s+|successfully\s+)*{_DONE_VERBS}\b|"
    r"\byour (order|account|subscription|payment|refund|password|address|purchase|item|card|"
    r"request|profile|package|return)\b[^.!?]{0,20}\b(has been|was|is now|have been|were)\s+"
    rf"(successfully\s+|already\s+)*{_DONE_VERBS}\b",
    re.IGNORECASE,
)
# "Once your account has been closed, ..." describes a future step, not a done deed; "If the
# item arrives damaged, you are eligible for a refund" states a policy, not a promise.
_CONDITIONAL = re.compile(
    r"\b(once|when|after|if|until|as soon as|whether|unless|before|in the event|in case|"
    r"depending)\b",
    re.IGNORECASE,
)
# A clause ends at a comma, a semicolon, a dash or "then".
_CLAUSE_END = re.compile(r"[,;:\u2013\u2014]|\s-\s|\bthen\b", re.IGNORECASE)
# A clause heading the sentence with these does not make what follows depend on it: "Before you
# ask, we will refund you", "Whether or not it arrives, we will refund you".
_NOT_A_CONDITION = frozenset({"before", "whether"})
# "After reviewing your request, ...", "When I looked at your order, ...": what happened, told
# before a plain statement, not a condition on it ("When your return arrives, ..." is one).
_TEMPORAL = frozenset({"when", "after"})
_TOLD = re.compile(
    r"^\w+\s+(?!(?:no|some|any|every)thing\b|morning\b|evening\b|during\b)\w+ing\b|"
    r"\b(i|we|you|they|he|she|it)\s+(\w+ed|was|were|had|did|saw|spoke|found|got|took|went|"
    r"made|heard|read)\b",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"\{\{[^}]*\}\}|\{\{|\}\}")


def _conditional(sentence: str, match: re.Match[str]) -> bool:
    """The promise or claim `match` is itself conditional: inside a conditional clause ("Once
    your account has been closed"), or after one that states a condition ("If your order is
    eligible, we will refund it"). Not after a clause that tells what happened ("After checking
    your account, I have cancelled it") or one that sets no condition ("Before you ask, ...")."""
    for word in _CONDITIONAL.finditer(sentence[: match.end()]):
        end = _CLAUSE_END.search(sentence, word.end())
        clause_end = end.start() if end else len(sentence)
        if match.start() < clause_end:
            return True  # the match is in the conditional clause
        said = word.group(1).lower()
        told = said in _TEMPORAL and _TOLD.search(sentence[word.start() : clause_end])
        if said not in _NOT_A_CONDITION and not told:
            return True
    return False


def _promises_refund(sentence: str, facts: CustomerFacts) -> bool:
    match = _REFUND.search(sentence)
    return match is not None and not _conditional(sentence, match) and not facts.refund_allowed


# "your message of 3 December 2026" names when the customer wrote (memory), not a promise.
_PAST_MESSAGE = re.compile(
    rf"\b(your|our) (message|e-?mail|chat|reply|conversation|request) (of|from|on) "
    rf"({_DATE.pattern})(,? \d{{4}})?",
    re.IGNORECASE,
)


def _dates_unknown(sentence: str, facts: CustomerFacts) -> bool:
    sentence = sentence.replace("24/7", "")  # "available 24/7" is not a date
    sentence = _PAST_MESSAGE.sub("", sentence)
    dates = [m.group(0) for m in _DATE.finditer(sentence)]
    return any(date not in facts.known_dates for date in dates)


def _promises_delivery_time(sentence: str, facts: CustomerFacts) -> bool:
    if _dates_unknown(sentence, facts):
        return True
    return bool(_TIMEFRAME.search(sentence) and _DELIVERY.search(sentence))


def _claims_action(sentence: str, facts: CustomerFacts) -> bool:
    match = _DONE.search(sentence)
    if match is None or _conditional(sentence, match):
        return False
    # A fact may back the claim: "Order X is currently cancelled".
    statuses = {order.status.lower() for order in facts.orders}
    return not any(status in match.group(0).lower() for status in statuses)


def _asks_secret(sentence: str) -> bool:
    match = _SECRET.search(sentence)
    if match is None or _NEVER.search(sentence[: match.start()]):
        return False
    return match.group(0).lower().startswith("what") or bool(_TO_US.search(sentence))


def _sentence_issues(sentence: str, facts: CustomerFacts) -> Iterator[GuardIssue]:
    detail = sentence[:160]
    facts = facts.about(extract_entities(sentence).order_numbers)
    if _promises_refund(sentence, facts):
        yield GuardIssue("policy", "refund_promise", detail)
    if _promises_delivery_time(sentence, facts):
        yield GuardIssue("policy", "date_promise", detail)
    if _asks_secret(sentence):
        yield GuardIssue("policy", "secret_request", detail)
    if _ADVICE.search(sentence):
        yield GuardIssue("policy", "legal_medical_advice", detail)
    if _claims_action(sentence, facts):
        yield GuardIssue("policy", "action_claimed", detail)
    if _PLACEHOLDER.search(sentence):
        yield GuardIssue("policy", "unfilled_placeholder", detail)


def check_policy(answer: str, facts: CustomerFacts) -> list[GuardIssue]:
    """Each sentence as its words read: "We\u2019ll refund you" and "We **will** refund you" are
    promises too (split first: a list's markers separate its items)."""
    return [issue for s in sentences(answer) for issue in _sentence_issues(as_read(s), facts)]
