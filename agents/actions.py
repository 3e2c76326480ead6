"""Which operational moves a message asks for (issue #27), and the sentences a reply says about
them. Pure: the act node (agents/nodes/act.py) reads the state and two read-only services, the
verified customer and their order rows (`customer_orders`) and the catalogue's check
(`check_for_customer`: support.actions.catalogue.check_action for that customer, now).

A move is proposed only for the message's verified customer, on one of their own orders, when
the message asks for it (a request, not a how-to or policy question), with its arguments taken
from the message (an amount, a new address) or the order's row (what is left to refund). What
the catalogue's check refuses is not proposed: the reply says why and what can be done instead
(the KB's policy: a shipped order is returned, not cancelled)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.utils import timezone

from agents import prompts
from agents.text import straight_apostrophes
from support.actions.catalogue import CATALOGUE
from support.documents.fields import CODES, SYMBOLS, Amount, to_decimal
from support.models import Customer, Order, OrderStatus
from support.vocabulary import ActionName

CANCEL = ActionName.CANCEL_ORDER.value
REFUND = ActionName.REFUND_ORDER.value
ADDRESS = ActionName.UPDATE_SHIPPING_ADDRESS.value
RESEND = ActionName.RESEND_CONFIRMATION.value
FOLLOW_UP = ActionName.CREATE_FOLLOW_UP.value
_ALL_MOVES = frozenset(name.value for name in ActionName)

# At most this many orders named in one message are acted on (more reads as a list, not a
# request a reviewer approves one by one).
MAX_ORDERS = 3
ORDERS_LIMIT = 50  # a customer's latest orders a message may mean
OPEN_STATUSES = frozenset({OrderStatus.PROCESSING, OrderStatus.SHIPPED})
# What a refund asked without an order number means: an order the customer has had.
RECEIVED_STATUSES = frozenset({OrderStatus.DELIVERED, OrderStatus.RETURNED})


@dataclass(frozen=True)
class OrderRow:
    """What a proposal needs of one of the verified customer's orders (the store's facts)."""

    number: str
    status: str
    total: Decimal
    refunded: Decimal
    currency: str
    # The moves this order was taken for when the message named none and the customer has
    # several (target_orders: the only open one for a cancellation, the only delivered one for
    # a refund); None: every move (named, the conversation's, or their only order).
    only_for: frozenset[str] | None = None

    @property
    def refundable(self) -> Decimal:
        return max(self.total - self.refunded, Decimal("0"))

    def meant_for(self, name: str) -> bool:
        return self.only_for is None or name in self.only_for


@dataclass(frozen=True)
class CustomerOrders:
    """The verified customer (None: no order of theirs is on record) and their orders, newest
    first: read in one query, the customer riding along with its orders."""

    customer: Customer | None
    rows: tuple[OrderRow, ...] = ()


def customer_orders(customer_ref: str) -> CustomerOrders:
    """Only ever asked for a verified customer's ref (a read)."""
    orders = list(
        Order.objects.filter(customer__ref=customer_ref)
        .select_related("customer")
        .order_by("-placed_at", "-pk")[:ORDERS_LIMIT]
    )
    rows = tuple(OrderRow(o.number, o.status, o.total, o.refunded, o.currency) for o in orders)
    return CustomerOrders(orders[0].customer if orders else None, rows)


def check_for_customer(
    name: str, arguments: dict[str, Any], customer: Customer | None
) -> list[str]:
    """The catalogue's problems with `name` for `customer`, checked now ([] = allowed).
    Imported lazily: the catalogue reads settings and models."""
    from support.actions.catalogue import PolicyContext, check_action

    return check_action(name, arguments, PolicyContext(customer=customer, now=timezone.now()))


# --- What the message asks for ------------------------------------------------------------------

# A question about how, whether or what it costs is answered from the KB, not acted on.
_HOW_TO = re.compile(
    r"\b(how (do|can|would|should) (i|we|one|you)|is it possible to|what(?:'s| is) (the|your)|"
    r"fee|fees|charge for|penalt\w*|policy|policies|how long|when will|what happens|what if|"
    r"if i)\b",
    re.IGNORECASE,
)
# A move the customer declines, read per mention within its clause: a negation, then at most a
# few words that carry it on (want, need, ask for, to, a, my ...: no comma, "so", "but", "please"),
# then the move's word: "I do not want a refund", "I never asked for a refund", "I no longer want
# to cancel", "instead of a refund", "rather than getting my money back", "no refund". "It
# doesn't work so refund me" and "if not, cancel it" still ask; so does "why not refund me".
_NEGATION = (
    r"(?:\b(?:do|does|did|would|will|wo|have|has|is|was|are|were|should)n'?t|(?<!\bif )(?<!\bwhy )"
    r"\bnot|\bnever|\bno longer|\bno need to|\binstead of|\brather than|\bthan|\bnor)\b"
)
# A negation that declines whatever follows it ("instead of getting my money back"); the others
# decline a move only with nothing between them or through a wish ("I do not want a refund",
# "I never asked for a refund"): "I never got the order, refund please" without its comma, or
# "I did not receive it refund me", still ask.
_CONTRAST = re.compile(r"instead of|rather than|nor|no need to", re.IGNORECASE)
_PREFERRED = re.compile(r"\b(?:rather|prefer\w*|sooner)\b", re.IGNORECASE)
_RATHER = re.compile(r"\b(?:rather|prefer(?:red)?)\s+$", re.IGNORECASE)  # "I'd rather not …"
_WISH = re.compile(
    r"\b(?:want\w*|wanna|need\w*|ask\w*|request\w*|looking|seeking|expect\w*|mean|meant|"
    r"intend\w*|planning|wish\w*|like|interested|think|going|gonna|trying)\b",
    re.IGNORECASE,
)
_CARRIED_BY = (
    r"(?:want\w*|wanna|need\w*|ask\w*|request\w*|looking|seeking|expect\w*|mean|meant|intend\w*|"
    r"planning|wish\w*|like|think|going|gonna|trying|to|for|a|an|the|my|our|any|your|you|i|we|it|"
    r"me|us|this|that|them|order|anymore|more|really|actually|even|ever|at|all|interested|in|after|"
    r"get|got|getting|have|having|receive|be|being|process\w*|issue|issuing|make|proceed|with|go|"
    r"ahead|or|nor|cancel\w*|refund\w*|full|partial|money)\b"
)
# A refund undone rather than asked for: "please cancel the refund", "stop the refund".
_UNDO = (
    r"\b(?:cancel\w*|stop|withdraw|revoke|reverse|undo|call off|scrap|hold off on)"
    r"(?:\s+(?:the|my|that|this|your|a|any))?(?:\s+(?:pending|requested|partial|full))?"
)
_NEGATED_BEFORE = re.compile(
    rf"(?P<negation>{_NEGATION})(?P<carried>(?:\s+{_CARRIED_BY}){{0,6}})\s+$|{_UNDO}\s+$|\bno\s+$",
    re.IGNORECASE,
)
# ..or declined after it: "a refund is not what I want", "cancellation not needed".
_NEGATED_AFTER = re.compile(
    r"(?<!\s)\s+(?:(?:is|was)\s+)?(?:not|isn'?t|wasn'?t|no longer)\s+"
    r"(?:what|needed|necessary|required|wanted|an option)\b",
    re.IGNORECASE,
)
_CANCEL = re.compile(
    r"\bcancel+(?!lation fee)\w*\b|\bstop\b[^.?!]{0,40}\b(going out|shipping|being (sent|shipped)|"
    r"dispatch\w*)\b",
    re.IGNORECASE,
)
# Things that are cancelled but are not orders.
_NOT_ORDER = re.compile(
    r"\b(subscription|newsletter|membership|account|e-?mails?|premium|plan)\b", re.IGNORECASE
)
# "cancel the refund", "cancel my return request", "cancel the exchange": what is cancelled, read
# right after the word, is no order ("cancel the replacement order" still is one).
_NOT_ORDER_OBJECT = re.compile(
    r"(?<!\s)(?:\s+of)?(?:\s+(?:the|my|our|your|that|this|a|an|any|his|her|their))?(?:\s+(?:pending|"
    r"requested|monthly|annual|yearly|current|recent|last|previous|partial|full|automatic|"
    r"scheduled|existing))?\s+(?:refund\w*|return\w*|replacement\w*|exchange\w*|subscription\w*|"
    r"newsletter\w*|membership\w*|account\w*|e-?mails?|premium|plan|request\w*|claim\w*|"
    r"complaint\w*|ticket\w*|appointment\w*|call|callback|call-back|pick-?up|collection|"
    r"repair\w*|warranty)\b(?!\s+orders?\b)",
    re.IGNORECASE,
)
_REFUND = re.compile(
    r"\b(refund\w*|money back|reimburse\w*|pay (me )?back|give me back)\b", re.IGNORECASE
)
# Asking after a refund already under way is tracking it, not asking for one.
_REFUND_TRACKING = re.compile(
    r"\b(where is|where's|status of|still (waiting|haven'?t)|haven'?t (received|got|seen)|"
    r"(didn'?t|did not|never) (get|got|receive)|"
    r"not (received|arrived)|when (will|do) i (get|receive|see)|track\w*)\b[^.?!]{0,40}"
    r"\b(refund|money)\b|\brefund\b(?: for [\w-]+)?\s+(?:status|has(?:n'?t)? (?:arrived|come|"
    r"been processed)|(?:is|was) (?:pending|processed)|arrived|came)\b|"
    # "whether the refund for NW-1 went through": asking after it, not for it.
    r"\brefund\b[^.?!]{0,40}\b(went|gone|go|going|come|came) through\b",
    re.IGNORECASE,
)
# Thanks for a refund, or one received: it was given already; what is left is not asked for.
_REFUND_THANKED = re.compile(
    r"\b(?:thanks|thank you)\b(?:(?! in advance)[^.?!,;]){0,30}?\bfor\b[^.?!,;]{0,30}"
    r"\b(?:refund\w*|money back)\b|"
    r"\b(?:got|received|have had|'ve had)\s+(?:my|the|a|your|our)\s+(?:\w+\s+)?"
    r"(?:refund|money back)\b",
    re.IGNORECASE,
)
# A question after a move's state ("Is my order NW-1 cancelled?", "Did you refund it?", "tell
# me whether the refund went through"): the facts answer it. Only its own words are set aside:
# "If my order was cancelled, please refund me" still asks for the refund.
_ASKING_AFTER = r"(?:^|\b(?:whether|if|why|when|how come)\b[^.?!]{0,40}?)"
_STATUS_QUESTION = re.compile(
    rf"{_ASKING_AFTER}\b(?:is|was|has|have|had|were|are)\b[^.?!]{{0,50}}?"
    r"\b(?:cancel+ed|refunded|been \w+ed)\b|"
    rf"{_ASKING_AFTER}\bdid\b[^.?!]{{0,50}}?\b(?:cancel|refund)\b|"
    r"\bwhether\b[^.?!]{0,50}\b(?:cancel|refund)\w*",
    re.IGNORECASE,
)
_SENTENCE_BREAK = re.compile(r"(?<=[.?!])\s+|\n+")
# A question whether a move can still be made, or what was done, rather than a request for it:
# "Is it too late to cancel NW-1?", "Can I still get a refund?", "Could it still be changed?",
# "Did you ship NW-1 to 12 Elm Street?". The whole sentence is set aside when it is asked as a
# question (a "?", or opened by the question's own words); "If not, cancel it" after it asks.
_JUST_ASKING = re.compile(
    r"\btoo late\b|\bstill (?:possible|time|ok(?:ay)?|able|allowed)\b|"
    r"\b(?:can|could|may)\s+(?:i|we)\s+still\b|"
    r"\b(?:can|could)\s+(?:it|this|that|they|the order|my order|the parcel)\s+still\s+be\b|"
    r"\b(?:did|have|has)\s+(?:you|they|it|someone|anyone)\b",
    re.IGNORECASE,
)
_QUESTION_OPENING = re.compile(
    r"^\W*(?:(?:hi|hello|hey)\b\W*)?(?:is it|am i|is there|(?:can|could|may) (?:i|we|it|this|that)"
    r"|did|has|have)\b",
    re.IGNORECASE,
)
# "You cancelled my order without asking me!", "it was cancelled": a cancellation told, not asked
# for. The past tense asks only after a wish, a "have/get it" or a "be": "I'd like my order
# cancelled", "please have NW-1 cancelled", "can it be cancelled".
_CANCELLED = re.compile(r"cancel+ed", re.IGNORECASE)
_WISH_BEFORE = re.compile(
    r"(?:\b(?:want|wanted|wants|like|need|needs|needed|please|pls)\s+(?:[\w-]+\s+){0,3}|"
    r"\b(?:have|get)\s+(?!(?:already|just|now|been|not|never)\b)(?:[\w-]+\s+){1,3}|\bbe\s+)$",
    re.IGNORECASE,
)
_ADDRESS_CHANGE = re.compile(
    r"\b(change|update|correct|fix|edit|amend|modify)\w*\b[^.?!]{0,40}\b(address|deliver\w* to|"
    r"ship\w* to)\b|\b(wrong|old|incorrect) address\b|\b(ship|send|deliver)\s+(it|them|the "
    r"(order|parcel|package))\s+to\b|\bnew address\b|\bmoved\b|\btypo in (my|the) address\b|"
    r"\baddress is wrong\b|\bchange where\b",
    re.IGNORECASE,
)
# "Ship NW-42003 to 221 Baker Street": a move asked by giving the new address.
_SHIP_TO = re.compile(r"\b(ship|send|deliver)\w*(?: (?!to\b)[\w-]+){0,3}? to\s+\d", re.IGNORECASE)
_CONFIRMATION = re.compile(r"\b(order )?confirmation( e-?mail| mail| message)?\b", re.IGNORECASE)
_RESEND = re.compile(
    r"\b(resend|re-send|send (it|me|the \w+)[^.?!]{0,40}again|send again|"
    r"(didn'?t|did not|never|haven'?t|have not) (get|got|receive[d]?)|no(t)? (got|received)|"
    r"can'?t find|lost)\b",
    re.IGNORECASE,
)
_CALL_BACK = re.compile(
    r"\b(call me( back)?|call back|callback|ring me|phone me|give me a (call|ring))\b",
    re.IGNORECASE,
)
# "Please don't call me, just email me": a call the customer declines is no call-back to book.
_NO_CALL = re.compile(
    r"\b(?:(?:don'?t|do not|no need to)\s+(?:call|ring|phone)|no\s+(?:call|callback|phone call))",
    re.IGNORECASE,
)
_FOLLOW_UP = re.compile(
    r"\b(follow up|follow-up|get back to me|keep me (posted|updated|informed)|"
    r"let me know (when|once|as soon as)|update me (when|once|as soon as)|check (back )?"
    r"(on|in on) (it|this|that|the replacement)|circle back)\b",
    re.IGNORECASE,
)
# A street address as customers write it after a cue: the rest of the sentence, less politeness.
_ADDRESS_CUE = re.compile(
    r"\b(?:new (?:shipping |delivery )?address(?: is| will be)?|(?:ship|send|deliver)\w*"
    r"(?: (?!to\b)[\w-]+){0,3}? to|address (?:to|is|should be)|should (?:be|go to|be sent to)"
    r"|(?:change|update|correct)\w* (?:it|the address|my address|the shipping address|the "
    r"delivery address|my shipping address|my delivery address)(?: (?:of|for|on) [\w-]+)? to"
    r"|moved to|address[^.?!]{0,30}\b(?:it'?s|it is))\s*:?\s*",
    re.IGNORECASE,
)
_ADDRESS_END = re.compile(
    r"\s*(?:[.!?](?:\s|$)|\binstead\b|\bplease\b|\bthanks?\b|\bthank you\b|\bpls\b|\bnot\b|"
    r"\bthat'?s\b|\bthat is\b|\bwhich is\b|\n|$)",
    re.IGNORECASE,
)
_HAS_DIGIT_OR_STREET = re.compile(r"\d|\b(street|st|road|rd|avenue|ave|lane|way)\b", re.IGNORECASE)


def _sentences(text: str) -> list[str]:
    """The message's sentences less those that only ask whether a move can still be made or what
    was done ("Is it too late to cancel NW-1?", "Did you ship it to 12 Elm Street?")."""
    return [
        sentence
        for sentence in _SENTENCE_BREAK.split(text)
        if not (
            _JUST_ASKING.search(sentence)
            and (sentence.rstrip().endswith("?") or _QUESTION_OPENING.match(sentence))
        )
    ]


def _asked_in_a_sentence(asks: Callable[[str], object], text: str) -> bool:
    """Some sentence names the move other than to ask after its state: "Is NW-1 cancelled? If
    not, cancel it" still asks for it."""
    return any(asks(_STATUS_QUESTION.sub(" ", sentence)) for sentence in _sentences(text))


def _declined(sentence: str, start: int, end: int) -> bool:
    """The words at sentence[start:end] name a move its clause declines ("I do not want a
    refund", "instead of a refund", "I no longer want to cancel")."""
    before = _NEGATED_BEFORE.search(sentence, max(0, start - 120), start)
    if before is not None and (before.group("negation") or "").lower() == "than":
        # "I'd rather have a replacement than a refund"; not "nothing less than a full refund".
        return bool(_PREFERRED.search(sentence, max(0, before.start() - 60), before.start()))
    if before is not None and (
        before.group("negation") is None  # "cancel the refund", "no refund"
        or not before.group("carried").strip()
        or _CONTRAST.fullmatch(before.group("negation"))
        or _WISH.search(before.group("carried"))
        or _RATHER.search(sentence, max(0, before.start() - 20), before.start())
    ):
        return True
    return bool(_NEGATED_AFTER.match(sentence, end))


def _cancel_asked(sentence: str) -> bool:
    return any(
        (not _CANCELLED.fullmatch(found.group()) or _WISH_BEFORE.search(sentence[: found.start()]))
        and not _declined(sentence, found.start(), found.end())
        and not _NOT_ORDER_OBJECT.match(sentence, found.end())
        for found in _CANCEL.finditer(sentence)
    )


def _refund_asked(sentence: str) -> bool:
    return any(
        not _declined(sentence, found.start(), found.end()) for found in _REFUND.finditer(sentence)
    )


def _asks_cancel(text: str) -> bool:
    return bool(
        _asked_in_a_sentence(_cancel_asked, text)
        and not _HOW_TO.search(text)
        and not _NOT_ORDER.search(text)
    )


def _asks_refund(text: str) -> bool:
    return bool(
        _asked_in_a_sentence(_refund_asked, text)
        and not _REFUND_TRACKING.search(text)
        and not _REFUND_THANKED.search(text)
        and not _HOW_TO.search(text)
    )


def _ship_to_asked(sentence: str) -> bool:
    """ "Ship NW-1 to 12 Elm Street" asks for the address; "Don't ship it to 12 Elm Street" does
    not."""
    return any(
        not _declined(sentence, found.start(), found.end()) for found in _SHIP_TO.finditer(sentence)
    )


def _asks_address(text: str) -> bool:
    return any(
        _ADDRESS_CHANGE.search(sentence) or _ship_to_asked(sentence)
        for sentence in _sentences(text)
    ) and not _HOW_TO.search(text)


def asks_call_back(text: str) -> bool:
    return bool(_CALL_BACK.search(text)) and not _NO_CALL.search(text)


def new_address(text: str) -> str:
    """The new address the message gives after a cue ("ship it to 12 Elm Street, Leeds"), ""
    when it gives none (a change asked without the address: missing, not guessed)."""
    text = straight_apostrophes(text)
    for sentence in _sentences(text):
        for cue in _ADDRESS_CUE.finditer(sentence):
            if _declined(sentence, cue.start(), cue.end()):
                continue  # "don't ship it to 12 Elm Street": where it must not go
            rest = sentence[cue.end() :]
            end = _ADDRESS_END.search(rest)
            candidate = rest[: end.start() if end else len(rest)].strip(" ,;:-\"'")
            if len(candidate) >= 6 and _HAS_DIGIT_OR_STREET.search(candidate):
                return candidate
    return ""


def requested(text: str) -> list[str]:
    """The catalogue actions the customer's message asks for, in a stable order. Read from the
    words, not triage's intent: on the actions set the intent was often wrong for a request (a
    confirmation to resend read as `review` or `recover_password`, a partial refund as
    `track_refund`), and a how-to question has the same intent as the request."""
    text = straight_apostrophes(text)  # a typed apostrophe: "don\u2019t" is a negation too
    wanted: list[str] = []
    if _asks_cancel(text):
        wanted.append(CANCEL)
    if _asks_refund(text) and CANCEL not in wanted:
        wanted.append(REFUND)
    if _asks_address(text) and CANCEL not in wanted:
        wanted.append(ADDRESS)
    if _CONFIRMATION.search(text) and _RESEND.search(text):
        wanted.append(RESEND)
    if asks_call_back(text) or _FOLLOW_UP.search(text):
        wanted.append(FOLLOW_UP)
    return wanted


# --- Which order ---------------------------------------------------------------------------------


def target_orders(
    named: Sequence[str], earlier_orders: Sequence[str], rows: Sequence[OrderRow]
) -> list[OrderRow]:
    """The verified customer's orders the message means: those it names (another customer's
    number names none of theirs: nothing), else the one the earlier conversation it follows up
    was about, else their only order. Else, of several, the only open one for a move on an
    order under way (a cancellation, a new address) and the only delivered or returned one for
    a refund, each marked with the moves it is meant for (`OrderRow.only_for`): "my blender
    arrived broken, refund me" is not about the order still being packed. Several of a kind:
    none of them, nobody guesses."""
    by_number = {row.number.upper(): row for row in rows}
    if named:
        own = [by_number[n.upper()] for n in dict.fromkeys(named) if n.upper() in by_number]
        return own[:MAX_ORDERS]
    earlier = [
        by_number[n.upper()] for n in dict.fromkeys(earlier_orders) if n.upper() in by_number
    ]
    if len(earlier) == 1:
        return earlier
    if len(rows) == 1:
        return list(rows)
    open_rows = [row for row in rows if row.status in OPEN_STATUSES]
    received = [row for row in rows if row.status in RECEIVED_STATUSES]
    meant: list[OrderRow] = []
    if len(open_rows) == 1:
        meant.append(replace(open_rows[0], only_for=_ALL_MOVES - {REFUND}))
    if len(received) == 1:
        meant.append(replace(received[0], only_for=frozenset({REFUND})))
    return meant


# --- Arguments, and what the reply says -----------------------------------------------------------


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


# A currency as customers write it beside a figure: a symbol, a code in any case, a word.
_CURRENCY_WORDS = {
    "euro": "EUR",
    "euros": "EUR",
    "dollar": "USD",
    "dollars": "USD",
    "bucks": "USD",
    "pound": "GBP",
    "pounds": "GBP",
    "quid": "GBP",
}
_UNIT = "|".join(
    [*(re.escape(s) for s in SYMBOLS), *sorted(CODES), *sorted(_CURRENCY_WORDS, key=len)[::-1]]
)
# A figure with no other number glued on after it: not a date's ("12.05.2026"), a time's
# ("10:30").
_FIGURE = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:[.,]\d{1,2})?)(?![.,/:-]?\d)"
# ...nor before it: not an order's digits ("NW-50003").
_LONE = r"(?<![\w.,/:-])"
_WRITTEN_AMOUNT = re.compile(
    rf"(?<!\w)(?P<before>{_UNIT})\s?(?P<n1>{_FIGURE})(?!\w)|"
    rf"{_LONE}(?P<n2>{_FIGURE})\s?(?P<after>{_UNIT})(?!\w)",
    re.IGNORECASE,
)
# A figure with cents and no currency ("refund 12.50 on NW-1"): money, in the order's currency.
# Not a time ("at 10.30", "10.30am") nor a day ("on 12.05").
_BARE_AMOUNT = re.compile(
    r"(?<!\bat )(?<!\bon )(?<!\bby )(?<!\bsince )(?<![\w.,/:-])"
    r"(\d{1,3}(?:,\d{3})+\.\d{2}|\d+[.,]\d{2})(?![.,/:-]?\d)(?!\s?(?:am|pm|h|%)\b|\w|%)",
    re.IGNORECASE,
)
# A figure right after the request ("refund 12 on NW-1", "refund 2 of the mugs") that is no
# amount read above: euros or mugs? Nobody guesses.
_FIGURE_ASKED = re.compile(
    rf"\b(?:refund\w*|reimburse\w*)(?:\s+(?:me|us|of|for|the|only|just|back))*\s+{_LONE}"
    rf"({_FIGURE})",
    re.IGNORECASE,
)
# A share rather than a figure ("half", "50%", "a partial refund"): what it comes to is a
# person's sum, not what is left.
_SHARE = re.compile(
    r"\b(?:half|a third|a quarter|partial\w*|part of)\b|\d\s?%|\bper ?cent\b", re.IGNORECASE
)


# The customer asks for a difference between two figures: "refund the difference", "I was
# overcharged", "charged €80 instead of €60", "the sale price was €60", "it should have cost €60".
_DIFFERENCE = re.compile(
    r"\b(?:refund\w*|reimburse\w*|pay|give|send|credit|get|want|owe)\b[^.?!]{0,20}\bdifference\b|"
    r"\bdifference (?:of|in price)\b|\bdifference between (?:\d|[^\w\s])|\bprice difference\b|"
    r"(?:\d|[^\w\s])\s?difference\b|"
    r"\bover-?charg\w*|\b(?:charg|paid|pay|bill|cost|price|priced)\w*\b[^.?!]{0,60}\binstead of\b|"
    r"\b(?:sale|advertised|discounted|promo\w*|offer|listed|shelf|correct|right|actual|real) "
    r"price\b|\bprice match\w*|\b(?:should|supposed to) (?:have )?(?:cost|been)\s(?:only\s)?"
    r"(?:\d|[^\w\s])",
    re.IGNORECASE,
)
# A figure named as the difference itself: "overcharged by $10", "a difference of €20", "€20
# too much", "€20 cheaper".
_GAP_BEFORE = re.compile(
    r"(?:\bby|\bdifference of|\bover-?charged?(?: me)?|\bextra)\s*$", re.IGNORECASE
)
_GAP_AFTER = re.compile(
    r"(?<!\s)\s*(?:difference|too much|extra|more|over|cheaper|less|lower|off)\b", re.IGNORECASE
)


def _amounts_named(text: str, currency: str) -> list[tuple[Amount, int, int]] | None:
    """The amounts the message names, each with where: with a currency, and bare figures with
    cents (taken to be in the order's `currency`); None when the request names a figure that is
    neither."""
    found: list[tuple[Amount, int, int]] = []
    spans: list[tuple[int, int]] = []
    for match in _WRITTEN_AMOUNT.finditer(text):
        unit = match.group("before") or match.group("after")
        value = to_decimal(match.group("n1") or match.group("n2"))
        code = SYMBOLS.get(unit) or _CURRENCY_WORDS.get(unit.lower()) or unit.upper()
        if value is not None:
            found.append((Amount(value, code), *match.span()))
            spans.append(match.span())
    for match in _BARE_AMOUNT.finditer(text):
        value = to_decimal(match.group(1))
        if value is not None and not _within(match.start(), spans):
            found.append((Amount(value, currency), *match.span()))
            spans.append(match.span())
    unread = [m for m in _FIGURE_ASKED.finditer(text) if not _within(m.start(1), spans)]
    return None if unread else found


def _within(position: int, spans: Sequence[tuple[int, int]]) -> bool:
    return any(start <= position < end for start, end in spans)


def _difference(text: str, named: Sequence[tuple[Amount, int, int]]) -> Decimal | None:
    """What a refund of the difference comes to: the figure named as the difference ("by $10",
    "the €20 difference"), else the gap between the two figures named ("charged €80 instead of
    €60"); None otherwise (no figure, or one that is a price, not the difference: what is left
    to refund is no answer to "refund the difference")."""
    if _SHARE.search(text):
        return None  # "half the difference": a person's sum
    gaps = {
        amount.value
        for amount, start, end in named
        if _GAP_BEFORE.search(text, max(0, start - 30), start) or _GAP_AFTER.match(text, end)
    }
    if gaps:
        return gaps.pop() if len(gaps) == 1 else None
    values = {amount.value for amount, _, _ in named}
    if len(values) == 2:
        low, high = sorted(values)
        return high - low
    return None


def refund_amount(text: str, row: OrderRow) -> Decimal | None:
    """The amount the customer names, else what is left to refund when they name none; None
    when the amounts say no one thing: several besides the order's total ("I paid €89.90,
    refund the €12.50 shade" names one: 12.50), one in another currency than the order's
    ("refund $60" on a EUR order is not €60), a figure that is no amount read ("refund 12 on
    NW-1") or a share ("half"). A difference asked for ("charged €80 instead of €60, refund the
    difference") is the difference of the two figures, or the one named as the difference.
    A person approves the figure; a wrong one put in front of them as the customer's is worse
    than none, and what is left is no answer to a figure named."""
    found = _amounts_named(text, row.currency)
    if found is None:
        return None
    named = [amount for amount, _, _ in found]
    if any(amount.currency != row.currency for amount in named):
        return None
    if _DIFFERENCE.search(text):
        return _difference(text, found)
    if not named:
        return None if _SHARE.search(text) else row.refundable
    asked = {amount.value for amount in named} - {row.total}
    if len(asked) == 1:
        return asked.pop()
    values = {amount.value for amount in named}
    return values.pop() if len(values) == 1 else None  # only the total named: the total


@dataclass(frozen=True)
class Proposal:
    name: str
    arguments: dict[str, Any]
    confirmation: str  # the reply's sentence stating it done (kept only if it executes)
    fallback: str  # what the sent reply says instead when it is rejected or fails

    def as_state(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arguments": dict(self.arguments),
            "confirmation": self.confirmation,
            "fallback": self.fallback,
        }


def proposal(name: str, text: str, row: OrderRow | None) -> Proposal | None:
    """The proposal for `name` on `row` (None: its arguments cannot be had from the message)."""
    spec = CATALOGUE[name]
    if row is not None and not row.meant_for(name):
        if name != FOLLOW_UP:
            return None  # taken for another move (target_orders): not this one's order
        row = None  # a follow-up about the conversation, not about that order
    if name == FOLLOW_UP:
        asked = (
            "Call the customer back" if asks_call_back(straight_apostrophes(text)) else "Follow up"
        )
        title = f"{asked} about order {row.number}" if row else asked
        follow_up = {"title": title}
        return Proposal(name, follow_up, spec.confirm(follow_up), spec.fallback(follow_up))
    if row is None:
        return None
    number = row.number
    if name == CANCEL:
        args: dict[str, Any] = {"order_number": number}
    elif name == RESEND:
        args = {"order_number": number}
    elif name == REFUND:
        amount = refund_amount(text, row)
        if amount is None or amount <= 0:
            return None
        args = {"order_number": number, "amount": _money(amount)}
    elif name == ADDRESS:
        address = new_address(text)
        if not address:
            return None
        args = {"order_number": number, "address": address}
    else:
        return None
    # The sentences are the catalogue's: an approval with corrected arguments renders them again.
    return Proposal(name, args, spec.confirm(args, row.currency), spec.fallback(args, row.currency))


def refusal(name: str, arguments: dict[str, Any], row: OrderRow | None, problems: list[str]) -> str:
    """What the reply says about a move the policy does not allow, and what can be done
    instead, in the KB policy's terms (agents/prompts.py: ACTION_REFUSED)."""
    number = str(arguments.get("order_number", ""))
    status = row.status if row else ""
    said = " ".join(problems).lower()
    if name in (CANCEL, ADDRESS) and status and status != OrderStatus.PROCESSING:
        key = f"{name}:{status.lower()}"
    elif name == REFUND and "window" in said:
        key = f"{name}:window"
    elif name == REFUND and "at most" in said:
        key = f"{name}:amount"
    elif name == REFUND and "eligible" in said:
        key = f"{name}:not_eligible"
    elif name == RESEND and status == OrderStatus.CANCELLED:
        key = f"{name}:cancelled"
    else:
        key = name
    template = prompts.ACTION_REFUSED.get(key) or prompts.ACTION_REFUSED[name]
    return template.format(order_number=number, status=status.lower())


def with_actions(answer: str, proposed: Sequence[dict[str, Any]], refused: Sequence[str]) -> str:
    """The answer with what was done (each proposal's confirmation) and what could not be (each
    refusal) after its opening courtesies, once each: the sentence the sent reply keeps or swaps
    for its fallback (support/actions/) must stand on its own."""
    lead = [p["confirmation"] for p in proposed if p.get("confirmation")]
    lead += list(refused)
    lead = [sentence for sentence in dict.fromkeys(lead) if sentence and sentence not in answer]
    if not lead:
        return answer
    lines = answer.strip().splitlines()
    head = []
    while lines and lines[0] in (prompts.EMPATHY_OPENER, prompts.ACTION_ACK):
        head.append(lines.pop(0))
    return "\n".join([*head, " ".join(lead), *lines])
