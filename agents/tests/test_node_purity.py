"""The graph is pure: every node runs on a database that refuses writes, with the real services
(KB search, customer facts, business profile, learned guard rules). Only
support/agent_runs.py:record_outcome writes what a run decided.

The nodes to cover are not listed here: they are read from the graph (`build_graph(...).nodes`)
and from `agents.nodes.__all__`, so a node added or renamed there fails this test until one of
the cases runs it under the guard."""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from langgraph.graph import START
from langgraph.graph.state import CompiledStateGraph

from agents import nodes
from agents.graph import RECURSION_LIMIT, build_graph
from agents.services import Services, default_services
from agents.state import AgentState, Turn
from agents.state_builder import build_state
from agents.tests.conftest import llm_json, scripted
from knowledge.models import GuardRule
from support.models import Customer, Order
from support.outcome import DraftOutcome

# The first word of every statement a read may send: queries, knowledge/search.py's SET LOCAL of
# the index's search parameters, and the savepoints of its atomic block. Anything else (INSERT,
# UPDATE, DELETE, COPY, DDL, LOCK...) is refused before it reaches PostgreSQL; what passes this
# check but still writes (a data-modifying WITH, SELECT ... FOR UPDATE, a function that writes)
# PostgreSQL refuses itself, the transaction being READ ONLY.
READ_VERBS = frozenset({"SELECT", "WITH", "SHOW", "SET", "SAVEPOINT", "RELEASE", "ROLLBACK"})


class WriteRefused(AssertionError):
    pass


def _verb(sql: object) -> str:
    words = str(sql).split(None, 1)
    return words[0].upper() if words else ""


@dataclass
class WriteGuard:
    """A database connection that refuses writes while `refusing()` is open (a READ ONLY
    transaction plus an execute wrapper), counting what it let through and what it refused: a
    node that swallowed the refusal's exception is still caught."""

    reads: int = 0
    refused: list[str] = field(default_factory=list)
    active: bool = False

    def __call__(
        self, execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Any
    ) -> Any:
        if _verb(sql) not in READ_VERBS:
            self.refused.append(str(sql)[:300])
            raise WriteRefused(f"a graph node tried to write: {str(sql)[:300]}")
        self.reads += 1
        return execute(sql, params, many, context)

    @contextmanager
    def refusing(self) -> Iterator[None]:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION READ ONLY")
            self.active = True
            try:
                with connection.execute_wrapper(self):
                    yield
            finally:
                self.active = False
                # Rolling the savepoint back ends READ ONLY with it: the test can write again.
                transaction.set_rollback(True)


@dataclass(frozen=True)
class Case:
    name: str
    message: str
    status: str
    reason: str | None = None
    llm: tuple[str, ...] = ()  # scripted LLM answers; none: the extractive provider
    history: tuple[Turn, ...] = ()
    customer_ref: str | None = None


CANCEL = "how can I cancel my order, I changed my mind"
GROUNDED = (
    "To cancel your order, log into your account and go to your orders [1]. "
    "Locate the order and select the cancellation option, then confirm the cancellation [1]."
)
INVENTED = "Our blenders are made of titanium and come with a lifetime warranty [1]."

# One case per path out of the graph's branches; between them they must run every node.
CASES = (
    Case("suggest", CANCEL, "SUGGESTED"),
    Case(
        "customer facts of a follow-up",
        "and when does it arrive?",
        "SUGGESTED",
        history=(Turn(role="CUSTOMER", body="Where is my order NW-10001?"),),
        customer_ref="alice",
    ),
    Case(
        "acknowledge praise",
        "Just wanted to say thank you, the team sorted my return in minutes, brilliant service!",
        "SUGGESTED",
    ),
    Case(
        "escalate a complaint",
        "I have shopped with you for fifteen years and that ends today. "
        "Your support is a disgrace.",
        "ESCALATED",
        "customer_complaint",
    ),
    Case(
        "propose an action",  # the act node asks the catalogue's check about Bob's order
        "Please cancel my order NW-20001, I ordered the wrong one",
        "SUGGESTED",
        customer_ref="bob",
    ),
    Case("retrieval weak", "what is the capital of pakistan", "ESCALATED", "retrieval_weak"),
    Case(
        "human requested",
        "I want to speak to a real person, not a bot",
        "ESCALATED",
        "customer_requested_human",
    ),
    Case(
        "repair loop",
        CANCEL,
        "SUGGESTED",
        llm=(llm_json(INVENTED, [1]), llm_json(GROUNDED, [1])),
    ),
    Case(
        "repair exhausted",
        CANCEL,
        "ESCALATED",
        "repair_exhausted",
        llm=(llm_json(INVENTED, [1]), llm_json(INVENTED, [1])),
    ),
    Case(
        "forbidden promise",
        CANCEL,
        "ESCALATED",
        "forbidden_action",
        llm=(llm_json("We will refund your order in full [1].", [1]),),
    ),
    Case(
        "invalid output",
        CANCEL,
        "ESCALATED",
        "guard_failed",
        llm=("not json", '{"answer": ""}'),
    ),
)


@dataclass
class Recorder:
    """Which exported node functions ran, and whether the guard was on when they did."""

    guard: WriteGuard
    guarded: Counter[str] = field(default_factory=Counter)
    unguarded: Counter[str] = field(default_factory=Counter)

    def wrap(self, name: str, node: Callable[[AgentState, Services], dict[str, Any]]) -> Any:
        @functools.wraps(node)  # keeps __name__: build_graph names the node's span after it
        def run(state: AgentState, services: Services) -> dict[str, Any]:
            (self.guarded if self.guard.active else self.unguarded)[name] += 1
            return node(state, services)

        return run


@pytest.fixture
def guard() -> WriteGuard:
    return WriteGuard()


@pytest.fixture
def recorder(guard: WriteGuard, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """Wraps every export of agents.nodes: build_graph reads them from the package when it
    builds, so each graph built afterwards records its nodes' calls."""
    recorder = Recorder(guard)
    for name in nodes.__all__:
        monkeypatch.setattr(nodes, name, recorder.wrap(name, getattr(nodes, name)))
    return recorder


@pytest.fixture
def learned_rule(db: None) -> GuardRule:
    """An enabled rule matching nothing: the guard node's rules come from a row."""
    return GuardRule.objects.create(pattern=r"\bxyzzy\b", description="test", enabled=True)


def _graph(case: Case) -> CompiledStateGraph:
    overrides: dict[str, Any] = {"drafter": scripted(*case.llm)} if case.llm else {}
    return build_graph(default_services(**overrides))


def _run(graph: CompiledStateGraph, case: Case) -> tuple[DraftOutcome, list[str]]:
    """The run's outcome and the graph nodes that ran, as the graph itself reports them."""
    state = build_state(case.message, list(case.history), customer_ref=case.customer_ref)
    ran: list[str] = []
    outcome: DraftOutcome | None = None
    config: Any = {"recursion_limit": RECURSION_LIMIT}
    for step in graph.stream(state, config, stream_mode="updates"):
        for node, update in step.items():
            ran.append(node)
            outcome = (update or {}).get("outcome", outcome)
    assert outcome is not None, f"{case.name}: no node returned an outcome ({ran})"
    return outcome, ran


@pytest.mark.usefixtures("agent_kb", "orders", "learned_rule")
def test_every_node_runs_on_a_database_that_refuses_writes(
    guard: WriteGuard, recorder: Recorder
) -> None:
    graph_nodes: set[str] = set()
    ran: set[str] = set()
    for case in CASES:
        graph = _graph(case)
        graph_nodes |= set(graph.nodes) - {START}
        with guard.refusing():
            outcome, case_ran = _run(graph, case)
        ran |= set(case_ran)
        assert (outcome.status, outcome.escalation_reason) == (case.status, case.reason), case
    assert guard.refused == []  # none refused and swallowed by a node
    assert guard.reads > 0  # the nodes' queries went through the guarded connection
    assert graph_nodes - ran == set(), "graph nodes no case ran: add a case that reaches them"
    assert set(nodes.__all__) - set(recorder.guarded) == set(), "exported nodes never run"
    assert recorder.unguarded == Counter()


def test_the_guard_refuses_writes(guard: WriteGuard, orders: dict[str, Order]) -> None:
    """The test above cannot pass because the guard lets everything through."""
    with guard.refusing(), pytest.raises(WriteRefused):
        Customer.objects.create(ref="carol", name="Carol")
    assert guard.refused and guard.refused[0].startswith("INSERT")
    with guard.refusing(), pytest.raises(WriteRefused):
        Order.objects.filter(number="NW-10001").update(refund_eligible=True)
    # A write that reads like a query (a row lock): PostgreSQL's READ ONLY refuses it.
    with (
        guard.refusing(),
        pytest.raises(DatabaseError, match=re.escape("read-only transaction")),
    ):
        list(Order.objects.select_for_update().filter(number="NW-10001"))
    with guard.refusing():
        assert Order.objects.count() == 3  # reads pass
    Customer.objects.create(ref="carol", name="Carol")  # and the guard ends with its block
