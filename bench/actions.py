"""What proposing actions adds to time-to-draft (#27 target: ≤ 15 ms p95): the act node (the
only step the graph gained: which moves the message asks for, the verified customer's order
rows, the catalogue's policy check of each on the real rows) timed on the state a real run
reaches, for messages that ask for a move (cancel, refund, new address, resend, two at once) by a
verified customer with 20 orders, and for one that asks for none. The whole draft's time is
reported beside it for scale. On the bench's own embedded PostgreSQL; the rows are written in a
transaction rolled back at the end."""

from __future__ import annotations

import argparse
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

from _setup import latency_summary, setup_django, write_result

ORDERS = 20
MESSAGES = (
    "Please cancel order BA-10000, I ordered the wrong size.",
    "The kettle from BA-10001 arrived broken, I want a refund.",
    "Please change the delivery address of BA-10002 to 14 Harbour Road, Bristol BS1 5TX",
    "I never got the order confirmation email for BA-10003, can you resend it?",
    "Cancel BA-10004 and call me back please",
    "Where is my order BA-10005?",  # asks for no move: the node's early way out
)


class _Rollback(Exception):
    pass


def _write_customer(ref: str) -> None:
    from django.utils import timezone

    from support.models import Customer, Order, OrderStatus

    customer = Customer.objects.create(ref=ref, name="Bench")
    placed = timezone.now() - timedelta(days=5)
    for index in range(ORDERS):
        delivered = index == 1
        Order.objects.create(
            number=f"BA-{10000 + index}",
            customer=customer,
            status=OrderStatus.DELIVERED if delivered else OrderStatus.PROCESSING,
            total=Decimal("49.90"),
            refund_eligible=delivered,
            delivery_date=timezone.localdate() - timedelta(days=2) if delivered else None,
            placed_at=placed,
        )


def measure(runs: int) -> dict[str, Any]:
    from django.db import transaction

    from agents.graph import build_graph, run_graph_to_end
    from agents.nodes.act import act_node
    from agents.providers.extractive import ExtractiveProvider
    from agents.services import default_services
    from agents.state_builder import build_state

    result: dict[str, Any] = {}
    services = default_services(drafter=ExtractiveProvider())
    graph = build_graph(services)
    try:
        with transaction.atomic():
            ref = f"bench-actions-{time.time_ns()}"
            _write_customer(ref)
            states, drafts, proposed = [], [], 0
            for text in MESSAGES:
                started = time.perf_counter()
                outcome, state = run_graph_to_end(graph, build_state(text, [], customer_ref=ref))
                drafts.append((time.perf_counter() - started) * 1000)
                proposed += len(outcome.actions)
                states.append(state)
            for state in states:  # warm: plans cached, connection busy
                act_node(state, services)
            act = []
            for _ in range(runs):
                for state in states:
                    started = time.perf_counter()
                    act_node(state, services)
                    act.append((time.perf_counter() - started) * 1000)
            act_p = latency_summary(act)
            result = {
                "orders_of_the_customer": ORDERS,
                "messages": len(MESSAGES),
                "actions_proposed_per_pass": proposed,
                "act_node": act_p,
                "whole_draft_first_pass": latency_summary(drafts),
                "added_p95_ms": act_p["p95_ms"],
                "target_added_p95_ms": 15,
            }
            raise _Rollback
    except _Rollback:
        pass
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    setup_django()
    write_result("actions", measure(args.runs))


if __name__ == "__main__":
    main()
