"""The graph proposes actions (#27 must 2): the act node picks the moves a verified customer's
message asks for on their own orders, checks each with the real catalogue (support/actions/
catalogue.py) on real rows, proposes what passes and explains what does not; the reply states a
proposed move with its confirmation sentence. Real PostgreSQL rows and the real catalogue; the
extractive provider (no LLM)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from langgraph.graph.state import CompiledStateGraph

from agents.actions import (
    ADDRESS,
    CANCEL,
    FOLLOW_UP,
    REFUND,
    OrderRow,
    new_address,
    refund_amount,
    requested,
    target_orders,
    with_actions,
)
from agents.graph import run_graph
from agents.runner import run_for_draft
from agents.state import Turn
from agents.state_builder import build_state
from resolver.audit_actor import Actor
from support import review
from support.actions import decide
from support.actions.catalogue import CATALOGUE
from support.agent_runs import claim_draft
from support.inbound import receive_message
from support.models import Action, Customer, Draft, Order, OrderStatus
from support.outcome import DraftOutcome
from support.vocabulary import ActionStatus, Verification


@pytest.fixture
def shop(db: None) -> dict[str, Order]:
    """Dana's orders (one processing, one shipped, one delivered and refundable, partly
    refunded) and Eli's processing order."""
    dana = Customer.objects.create(ref="dana", name="Dana")
    eli = Customer.objects.create(ref="eli", name="Eli")
    today = timezone.localdate()
    placed = timezone.now() - timedelta(days=6)
    rows = [
        Order(number="NW-50001", customer=dana, total=Decimal("40.00"), placed_at=placed),
        Order(
            number="NW-50002",
            customer=dana,
            status=OrderStatus.SHIPPED,
            total=Decimal("25.00"),
            delivery_date=today + timedelta(days=2),
            placed_at=placed,
        ),
        Order(
            number="NW-50003",
            customer=dana,
            status=OrderStatus.DELIVERED,
            total=Decimal("80.00"),
            refunded=Decimal("30.00"),
            refund_eligible=True,
            delivery_date=today - timedelta(days=3),
            placed_at=placed,
        ),
        Order(number="NW-60001", customer=eli, total=Decimal("10.00"), placed_at=placed),
    ]
    Order.objects.bulk_create(rows)
    return {order.number: order for order in rows}


def _draft(
    graph: CompiledStateGraph, text: str, ref: str | None = "dana", verified: bool = True
) -> DraftOutcome:
    return run_graph(graph, build_state(text, [], customer_ref=ref, verified=verified))


def _moves(outcome: DraftOutcome) -> list[tuple[str, dict[str, object]]]:
    return [(action["name"], action["arguments"]) for action in outcome.actions]


@pytest.mark.usefixtures("shop")
def test_a_verified_customer_s_cancellation_is_proposed_and_stated(
    extractive_graph: CompiledStateGraph,
) -> None:
    outcome = _draft(extractive_graph, "Please cancel order NW-50001, I ordered the wrong size.")
    assert _moves(outcome) == [(CANCEL, {"order_number": "NW-50001"})]
    action = outcome.actions[0]
    assert action["confirmation"] == "I've cancelled order NW-50001."
    assert action["fallback"] == CATALOGUE[CANCEL].fallback({"order_number": "NW-50001"})
    assert outcome.status == "SUGGESTED"
    assert action["confirmation"] in outcome.answer.splitlines()  # a line of its own
    # No article's steps telling the customer to cancel it themselves.
    assert "log in" not in outcome.answer.lower()
    # Proposed, never executed: the order is as it was.
    assert Order.objects.get(number="NW-50001").status == OrderStatus.PROCESSING


@pytest.mark.usefixtures("shop")
def test_a_move_the_policy_refuses_is_not_proposed_and_the_reply_says_why(
    extractive_graph: CompiledStateGraph,
) -> None:
    outcome = _draft(extractive_graph, "I'd like to cancel NW-50002.")
    assert outcome.actions == []
    refused = outcome.facts["refused_actions"]
    assert [r["name"] for r in refused] == [CANCEL]
    assert refused[0]["problems"]  # the catalogue's own words, for the reviewer
    assert outcome.status == "SUGGESTED"
    assert "already shipped" in outcome.answer
    assert "returns policy" in outcome.answer  # what can be done instead
    assert "I've cancelled" not in outcome.answer


@pytest.mark.usefixtures("shop")
def test_nobody_s_order_is_acted_on_for_an_unverified_sender_or_another_customer(
    extractive_graph: CompiledStateGraph,
) -> None:
    text = "Cancel order NW-50001 please"
    assert _draft(extractive_graph, text, ref="", verified=False).actions == []
    assert _draft(extractive_graph, text, ref=None).actions == []  # an operator's run: nobody
    other = _draft(extractive_graph, "Cancel order NW-60001 please")  # Eli's, asked by Dana
    assert other.actions == []
    assert Order.objects.get(number="NW-60001").status == OrderStatus.PROCESSING


@pytest.mark.usefixtures("shop")
def test_a_refund_takes_the_amount_named_or_what_is_left(
    extractive_graph: CompiledStateGraph,
) -> None:
    rest = _draft(extractive_graph, "The lamp from NW-50003 is broken, I want a refund.")
    assert _moves(rest) == [(REFUND, {"order_number": "NW-50003", "amount": "50.00"})]
    part = _draft(extractive_graph, "Please refund €12.50 on NW-50003, one shade was cracked")
    assert _moves(part) == [(REFUND, {"order_number": "NW-50003", "amount": "12.50"})]
    # The difference asked for, not the other figure named (€60 would be proposed as asked).
    difference = _draft(
        extractive_graph,
        "I was charged €80.00 instead of €60.00 for NW-50003, refund the difference please",
    )
    assert _moves(difference) == [(REFUND, {"order_number": "NW-50003", "amount": "20.00"})]
    too_much = _draft(extractive_graph, "Please refund €60 on NW-50003, it is all broken")
    assert too_much.actions == []
    assert [r["name"] for r in too_much.facts["refused_actions"]] == [REFUND]
    # The order's total beside the amount asked: the amount asked.
    beside = _draft(
        extractive_graph, "I paid €80.00 for NW-50003 and the €12.50 shade was cracked, refund it"
    )
    assert _moves(beside) == [(REFUND, {"order_number": "NW-50003", "amount": "12.50"})]
    # Another currency than the order's, or two amounts asked: no figure is put to the agent.
    for text in (
        "Please refund $12.50 on NW-50003, one shade was cracked",
        "Refund €10 or €20 on NW-50003, whatever you think is fair",
    ):
        assert _draft(extractive_graph, text).actions == [], text


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("Please refund 12.50 on NW-50003", Decimal("12.50")),
        ("refund 12.50 eur please", Decimal("12.50")),
        ("refund me 12,50 euros", Decimal("12.50")),
        ("refund EUR12.50", Decimal("12.50")),
        ("refund the 5 euro shipping", Decimal("5")),
        # Not an amount: the order's digits, a date, a time, days.
        ("refund NW-50003, it stopped working after 3 days", Decimal("50.00")),
        ("I ordered on 12.05.2026 and it broke, refund it", Decimal("50.00")),
        ("the courier came at 10.30 and dropped it, refund it", Decimal("50.00")),
        # A figure or a share that cannot be read: no figure rather than what is left.
        ("refund 12 on NW-50003", None),
        ("refund 2 of the mugs on NW-50003", None),
        ("refund half of NW-50003", None),
        ("refund 12.50 USD on NW-50003", None),
        # A difference asked for: the gap between the two figures named, or the one named as
        # the difference; never the other figure, nor what is left.
        ("I was charged €80.00 instead of €60.00 for NW-50003, refund the difference", Decimal(20)),
        (
            "I was charged €80.00 for NW-50003, the sale price was €60.00, refund the difference",
            Decimal(20),
        ),
        ("The sale price was €60.00 and I paid €80.00 for NW-50003, refund me", Decimal(20)),
        ("It should have cost 60.00, I paid 80.00, please refund me", Decimal(20)),
        ("I was overcharged by €15 on NW-50003, refund it", Decimal(15)),
        ("There's a €20 difference on NW-50003, refund it please", Decimal(20)),
        ("I was overcharged on NW-50003, please refund the difference", None),
        ("I paid €80.00 for NW-50003, refund the difference", None),
        ("charged €80 instead of €60 on NW-50003, refund half the difference", None),
        ("charged €80 instead of €60 or €70 on NW-50003, refund the difference", None),
        # Not a difference: "should have been delivered", the colours' difference.
        ("It should have been delivered by Friday, refund the €5 shipping", Decimal(5)),
        ("I can't tell the difference between the colours, it is broken, refund it", Decimal(50)),
    ],
)
def test_a_refund_reads_the_figure_named_or_none(text: str, amount: Decimal | None) -> None:
    row = OrderRow("NW-50003", "DELIVERED", Decimal("80.00"), Decimal("30.00"), "EUR")
    assert refund_amount(text, row) == amount, text


@pytest.mark.usefixtures("shop")
def test_a_bare_figure_is_the_amount_proposed(extractive_graph: CompiledStateGraph) -> None:
    part = _draft(extractive_graph, "Please refund 12.50 on NW-50003, one shade was cracked")
    assert _moves(part) == [(REFUND, {"order_number": "NW-50003", "amount": "12.50"})]
    unread = _draft(extractive_graph, "Please refund 12 on NW-50003, one shade was cracked")
    assert unread.actions == []  # not the €50 left


@pytest.mark.usefixtures("shop")
def test_only_the_orders_the_message_names_are_acted_on(
    extractive_graph: CompiledStateGraph,
) -> None:
    """The customer asked after NW-50002 earlier; now they cancel NW-50001: only NW-50001."""
    asked = [
        Turn(role="CUSTOMER", body="Where is order NW-50002? It has been a week."),
        Turn(role="AGENT", body="It has shipped."),
    ]
    text = "Please cancel order NW-50001, I ordered the wrong size."
    outcome = run_graph(extractive_graph, build_state(text, asked, customer_ref="dana"))
    assert _moves(outcome) == [(CANCEL, {"order_number": "NW-50001"})]
    assert "refused_actions" not in outcome.facts  # NW-50002 (shipped) was not tried either
    # Naming none, the one order of the conversation is meant...
    one = [Turn(role="CUSTOMER", body="My order NW-50001 is the wrong size.")]
    it = run_graph(extractive_graph, build_state("Please cancel it.", one, customer_ref="dana"))
    assert _moves(it) == [(CANCEL, {"order_number": "NW-50001"})]
    # ...but of two, nobody guesses which.
    two = [Turn(role="CUSTOMER", body="About NW-50001 and NW-50003: both are the wrong size.")]
    which = run_graph(extractive_graph, build_state("Please cancel it.", two, customer_ref="dana"))
    assert which.actions == []
    assert "refused_actions" not in which.facts


@pytest.mark.usefixtures("shop")
def test_a_refund_naming_no_order_is_for_the_order_received_not_the_open_one(
    extractive_graph: CompiledStateGraph,
) -> None:
    """Dana has NW-50001 processing and NW-50003 delivered (NW-50002 cancelled): a refund asked
    with no number is NW-50003's, a cancellation NW-50001's."""
    Order.objects.filter(number="NW-50002").update(status=OrderStatus.CANCELLED)
    broken = _draft(extractive_graph, "My blender arrived broken, I want a refund please.")
    assert _moves(broken) == [(REFUND, {"order_number": "NW-50003", "amount": "50.00"})]
    assert "NW-50001" not in broken.answer.split("\n")[0]
    cancel = _draft(extractive_graph, "Please cancel my order, I changed my mind.")
    assert _moves(cancel) == [(CANCEL, {"order_number": "NW-50001"})]
    # Two received orders: which one? Nobody guesses, and the open one is not taken instead.
    Order.objects.filter(number="NW-50002").update(status=OrderStatus.DELIVERED)
    which = _draft(extractive_graph, "My blender arrived broken, I want a refund please.")
    assert which.actions == [] and "refused_actions" not in which.facts


@pytest.mark.usefixtures("shop")
@pytest.mark.parametrize(
    "text",
    [
        "I do not want a refund, I want a replacement for NW-50003.",
        "I never asked for a refund on NW-50003",
        "Instead of a refund, please send me a new one",
        "I no longer want to cancel NW-50001, please keep it.",
        "Please cancel the refund for NW-50001, I want to keep the order.",
        "Is it too late to cancel NW-50001?",
        "Did you ship NW-50001 to 12 Elm Street?",
        "Don't ship NW-50001 to 12 Elm Street, that's my old address.",
    ],
)
def test_a_declined_move_or_a_question_is_neither_proposed_nor_stated_done(
    extractive_graph: CompiledStateGraph, text: str
) -> None:
    outcome = _draft(extractive_graph, text)
    assert outcome.actions == [], text
    assert "refused_actions" not in outcome.facts, text
    assert "I've" not in outcome.answer, text


@pytest.mark.usefixtures("shop")
def test_questions_and_tracking_propose_nothing(extractive_graph: CompiledStateGraph) -> None:
    for text in (
        "How do I cancel an order on your website?",
        "Where is my refund for NW-50003?",
        "What is the cancellation fee for NW-50001?",
        "Where\u2019s my refund for NW-50003?",
        "Is my order NW-50001 cancelled?",
        "Thank you so much for the partial refund on NW-50003, you are the best!",
    ):
        outcome = _draft(extractive_graph, text)
        assert outcome.actions == [], text
        assert "refused_actions" not in outcome.facts, text


def test_what_a_message_asks_for() -> None:
    assert requested("pls cancel NW-1, changed my mind") == [CANCEL]
    assert requested("I don't want to cancel NW-1") == []
    assert requested("cancel my newsletter subscription") == []
    assert requested("where is my refund?") == []
    assert requested("What happens to my refund if I cancel NW-1?") == []  # what if, not do it
    assert requested("please stop NW-1 from going out, I don't need it") == [CANCEL]
    assert requested("my order NW-1 came broken, refund it and call me back") == [
        REFUND,
        FOLLOW_UP,
    ]
    assert requested("Can you ship NW-2 to 221 Baker Street, London NW1 6XE?") == [
        "update_shipping_address"
    ]
    assert requested("I never got the confirmation email for NW-3") == ["resend_confirmation"]
    assert requested("I want a refund for NW-1") == [REFUND]
    assert requested("please cancel order NW-1") == [CANCEL]
    assert requested("Is my order NW-1 cancelled? If not, please cancel it.") == [CANCEL]
    assert requested("If my order was cancelled, please refund me.") == [REFUND]
    assert requested("Thanks in advance for refunding NW-1.") == [REFUND]
    assert requested("Could someone call me back tomorrow about NW-1?") == [FOLLOW_UP]
    # A negation declines a move through a wish, or right before it: not through any words.
    assert requested("This is not my order refund please") == [REFUND]
    assert requested("I expect nothing less than a full refund") == [REFUND]
    assert requested("I'd rather not have a refund, just a replacement") == []
    # The past tense asks after a wish, a "have/get it" or a "be".
    assert requested("I'd like my order NW-1 cancelled please") == [CANCEL]
    assert requested("please have NW-1 cancelled") == [CANCEL]
    assert requested("can it be cancelled before it ships?") == [CANCEL]
    assert requested("My order got cancelled. Please cancel the other one too") == [CANCEL]
    assert requested("you cancelled my order, I want a refund") == [REFUND]
    # A negation declines the move its own clause names, not the others, and not a move after
    # a comma, "so" or "if not".
    assert requested("I don't want to cancel NW-1, but please refund the €5 shipping") == [REFUND]
    assert requested("Please cancel NW-1, I don't want a refund, store credit is fine") == [CANCEL]
    assert requested("It doesn't work so refund me please") == [REFUND]
    assert requested("The item did not arrive, I want a refund") == [REFUND]
    assert requested("I don't want the blender anymore, refund me") == [REFUND]
    assert requested("I no longer need the order, please cancel it") == [CANCEL]
    assert requested("Why not just refund me?") == [REFUND]
    assert requested("Cancel the replacement order NW-1 please") == [CANCEL]  # an order
    # A question set aside, a request after it still asks.
    assert requested("Is it too late to cancel NW-1? If not, please cancel it.") == [CANCEL]
    assert requested("Did you cancel my order? Please refund me") == [REFUND]
    assert requested(
        "Have you shipped NW-1 to 12 Elm Street? Please send it to 4 Oak Road, Leeds instead"
    ) == [ADDRESS]
    assert requested("Please don't send it to 12 Elm Street, send it to 4 Oak Road") == [ADDRESS]


@pytest.mark.parametrize(
    "text",
    [
        # Typed apostrophes (\u2019) are the same negation and the same tracking.
        "I don\u2019t want to cancel NW-50001, I just want to know when it ships.",
        "Where\u2019s my refund for NW-50003?",
        "I still haven\u2019t received my refund",
        # Asking after a move's state.
        "Is my order NW-50001 cancelled?",
        "Can you tell me whether the refund for NW-50001 went through?",
        "Did you refund NW-50003?",
        # Thanks for a refund given, or one received.
        "Thank you so much for the partial refund on NW-50003, you are the best!",
        "Got my refund, thanks",
        # A cancellation told, not asked for.
        "You cancelled my order without asking me!",
        "My order NW-50001 was cancelled and nobody told me why",
        "you have already cancelled my order",
        # A call declined.
        "Please don't call me, just email me",
        "Do not call me back",
        "Please don\u2019t call me back, I am at work",
        # A move declined in its clause ("not/never/no longer … refund", "instead of a refund"),
        # or "cancel" of something that is no order.
        "I do not want a refund, I want a replacement for NW-50003.",
        "I never asked for a refund on NW-50003",
        "Instead of a refund, please send me a new one",
        "I no longer want to cancel NW-50001, please keep it.",
        "Please cancel the refund for NW-50001, I want to keep the order.",
        "I'm not looking for a refund, just a replacement please",
        "A refund is not what I want, send a new one",
        "I'd rather have a replacement than a refund for NW-50003",
        "No refund please, just send the missing part",
        "I would rather not get my money back, a voucher is fine",
        "Please don\u2019t cancel my order, I still want it",
        "Can you cancel the return for NW-50003? I'll keep it",
        "Please cancel my exchange request for NW-50003",
        # Whether a move can still be made, or what was done: questions, not requests.
        "Is it too late to cancel NW-50001?",
        "Is it still possible to cancel NW-50001?",
        "Can I still get a refund for NW-50003?",
        "Could it still be cancelled?",
        "Hi, is it too late to change the address of NW-50001",
        "Did you ship NW-50001 to 12 Elm Street?",
        "Have you shipped NW-50001 to 12 Elm Street already?",
        # Where it must not go is no new address.
        "Don't ship NW-50001 to 12 Elm Street",
        "I don\u2019t want it shipped to 12 Elm Street",
    ],
)
def test_what_a_message_does_not_ask_for(text: str) -> None:
    assert requested(text) == [], text


def test_the_new_address_is_the_customer_s_words() -> None:
    assert new_address("new address is 7 Elm Street, Leeds LS6 2AB. thanks") == (
        "7 Elm Street, Leeds LS6 2AB"
    )
    assert new_address("please change the delivery address of NW-1 to 14 Harbour Road") == (
        "14 Harbour Road"
    )
    assert new_address("I need to change my shipping address") == ""  # missing, not guessed
    # Where it must not go is no new address; the address ends before "that's ...".
    assert new_address("Don't ship NW-1 to 12 Elm Street, that's my old address.") == ""
    assert new_address("Please don\u2019t send it to 12 Elm Street, send it to 4 Oak Road") == (
        "4 Oak Road"
    )
    assert new_address("Ship it to 12 Elm Street, which is my new flat") == "12 Elm Street"
    assert new_address("Please ship NW-1 to 12 Elm Street that is my office") == "12 Elm Street"
    assert new_address("Did you ship NW-1 to 12 Elm Street? New address is 4 Oak Road") == (
        "4 Oak Road"
    )


def test_which_order_is_meant() -> None:
    def row(number: str, status: str = "PROCESSING") -> OrderRow:
        return OrderRow(number, status, Decimal("1"), Decimal("0"), "EUR")

    def meant(targets: list[OrderRow]) -> dict[str, list[str]]:
        return {
            name: [r.number for r in targets if r.meant_for(name)]
            for name in (CANCEL, REFUND, ADDRESS)
        }

    mine = [row("NW-1"), row("NW-2", "DELIVERED")]
    assert [r.number for r in target_orders(["nw-2"], [], mine)] == ["NW-2"]
    assert meant(target_orders(["nw-1"], [], mine))[REFUND] == ["NW-1"]  # named: every move
    assert target_orders(["NW-9"], [], mine) == []  # a number not theirs names none of theirs
    # None named: the one still open for a cancellation or an address, the one delivered for a
    # refund ("my blender arrived broken" is not about the order being packed).
    assert meant(target_orders([], [], mine)) == {
        CANCEL: ["NW-1"],
        REFUND: ["NW-2"],
        ADDRESS: ["NW-1"],
    }
    returned = [row("NW-1", "SHIPPED"), row("NW-2", "RETURNED"), row("NW-3", "CANCELLED")]
    assert meant(target_orders([], [], returned))[REFUND] == ["NW-2"]
    # Which one? Nobody guesses: two open, or two delivered, or an open one only for a refund.
    assert target_orders([], [], [row("NW-1"), row("NW-2")]) == []
    two_delivered = [row("NW-1"), row("NW-2", "DELIVERED"), row("NW-3", "DELIVERED")]
    assert meant(target_orders([], [], two_delivered))[REFUND] == []
    assert meant(target_orders([], [], [row("NW-1"), row("NW-3", "CANCELLED")]))[REFUND] == []
    assert meant(target_orders([], [], [row("NW-1")]))[REFUND] == ["NW-1"]  # their only order
    assert [r.number for r in target_orders([], ["NW-2"], mine)] == ["NW-2"]  # memory's order
    assert meant(target_orders([], ["NW-1"], mine))[REFUND] == ["NW-1"]


def test_the_reply_opens_with_what_was_done_once() -> None:
    proposed = [{"confirmation": "I've cancelled order NW-1."}]
    answer = with_actions("Order NW-1 is currently processing.", proposed, [])
    assert answer == "I've cancelled order NW-1.\nOrder NW-1 is currently processing."
    assert with_actions(answer, proposed, []) == answer


@pytest.mark.usefixtures("shop")
def test_the_worker_records_the_proposal_with_its_draft_and_changes_no_order(
    extractive_graph: CompiledStateGraph,
) -> None:
    """The worker's path: a verified customer's stored message, drafted from its rows, the
    proposal recorded as a proposed Action beside the draft (support/actions/propose.py)."""
    _, draft = receive_message(
        "Please cancel order NW-50001, I ordered the wrong size.",
        customer_ref="dana",
        verified_by=Verification.API_KEY,
        enqueue=False,
    )
    assert claim_draft(draft.message_id) is not None
    run_for_draft(draft, graph=extractive_graph)

    draft.refresh_from_db()
    action = Action.objects.get(draft=draft)
    assert (action.name, action.arguments, action.status) == (
        CANCEL,
        {"order_number": "NW-50001"},
        ActionStatus.PROPOSED,
    )
    assert action.confirmation in draft.answer.splitlines()
    assert action.fallback and action.fallback not in draft.answer
    assert Order.objects.get(number="NW-50001").status == OrderStatus.PROCESSING


@pytest.mark.usefixtures("shop")
def test_a_reprocess_does_not_propose_again_what_an_earlier_draft_did(
    extractive_graph: CompiledStateGraph, agent_user: Any
) -> None:
    """A refund approved and executed, then the message reprocessed (say, for better wording):
    the new draft proposes no second refund (approved, the customer was paid twice) and says
    what was done, the amount that moved."""
    _, draft = receive_message(
        "Please refund €10.00 for NW-50003, one mug was chipped.",
        customer_ref="dana",
        verified_by=Verification.API_KEY,
        enqueue=False,
    )
    claim_draft(draft.message_id)
    run_for_draft(draft, graph=extractive_graph)
    action = Action.objects.get(draft=draft)
    actor = Actor.for_user(agent_user)
    done = decide.approve(action.pk, actor, {"order_number": "NW-50003", "amount": "12.00"})
    assert done.status == ActionStatus.EXECUTED

    again = review.reprocess(draft.message_id, actor)
    claim_draft(draft.message_id)
    run_for_draft(Draft.objects.get(pk=again.pk), graph=extractive_graph)

    assert not Action.objects.filter(draft=again).exists()
    answer = Draft.objects.get(pk=again.pk).answer
    assert done.confirmation in answer and "€12.00" in done.confirmation
    assert "€10.00" not in answer and done.fallback not in answer
    assert Order.objects.get(number="NW-50003").refunded == Decimal("42.00")


@pytest.mark.usefixtures("shop")
@pytest.mark.parametrize(
    "text",
    [
        "Por favor, cancelen mi pedido NW-50001, ya no lo necesito.",
        "Vorrei cancellare il mio ordine NW-50001, per favore.",
        "Quero cancelar o meu pedido NW-50002, por favor.",
    ],
)
def test_a_message_in_another_language_proposes_no_move_in_english(
    extractive_graph: CompiledStateGraph, text: str
) -> None:
    """The requests are read from English words, and the moves' sentences are English: in a
    reply to another language neither holds ("cancelen" is no English cancel)."""
    outcome = _draft(extractive_graph, text)
    assert outcome.actions == [] and not outcome.facts.get("refused_actions")
    for english in ("I've cancelled", "I couldn't", "already shipped", "returns policy"):
        assert english not in outcome.answer
