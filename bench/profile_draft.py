"""Where a draft's time goes (issue #30): the worker's whole path for one message (the actor's
idempotency check, the claim, the state read from PostgreSQL, the graph node by node, the
outcome's writes and what runs after their commit), and inside it each call that costs:
the embedding model, the intent classifier, the tone model and its features, the KB search's
legs, the guard's checks, redaction, logging, and every database and Redis round trip, counted
and timed where it happens.

In one process, single-threaded, on the bench's own embedded services (var/bench), the demo KB,
the extractive provider and a realistic message mix (bench/_setup.py:message_mix). Each message
is stored as the API stores it, then drafted by the worker's actor function itself
(agents.actors.process_message), so nothing but the queue's hop is left out. The figures are
per draft: calls, inclusive and own milliseconds (own: less what is listed under it and less
its round trips), queries and their milliseconds.

    make profile                         # 300 drafts, prints the tree, writes profile_draft.json
    BENCH_CODE=/path/to/old python profile_draft.py --label old   # another checkout's code
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import io
import pstats
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from _setup import CODE, message_mix, setup_django, store_sample, write_result

Path_ = tuple[str, ...]


@dataclass
class Stat:
    calls: int = 0
    seconds: float = 0.0  # inclusive
    child_seconds: float = 0.0  # what regions and round trips under it took
    queries: int = 0
    query_seconds: float = 0.0
    redis: int = 0
    redis_seconds: float = 0.0


class Profiler:
    """Named regions, nested; a region is keyed by its path (the regions it runs inside)."""

    def __init__(self) -> None:
        self.stats: dict[Path_, Stat] = {}
        self.stack: list[str] = []
        self.child: list[float] = []
        self.sql: dict[tuple[Path_, str], int] = {}
        self.active = False

    @contextlib.contextmanager
    def region(self, label: str) -> Iterator[None]:
        # Only the worker's path: what storing a message calls (the web's part) is not listed.
        if not self.active or not (self.stack or label == ROOT):
            yield
            return
        self.stack.append(label)
        self.child.append(0.0)
        started = time.perf_counter()
        try:
            yield
        finally:
            took = time.perf_counter() - started
            stat = self.stats.setdefault(tuple(self.stack), Stat())
            stat.calls += 1
            stat.seconds += took
            stat.child_seconds += self.child.pop()
            self.stack.pop()
            if self.child:
                self.child[-1] += took

    def round_trip(self, kind: str, took: float, sql: str = "") -> None:
        if not self.active or not self.stack:  # outside the worker's path (storing the message)
            return
        stat = self.stats.setdefault(tuple(self.stack), Stat())
        if kind == "sql":
            stat.queries += 1
            stat.query_seconds += took
            key = (tuple(self.stack), _shape(sql))
            self.sql[key] = self.sql.get(key, 0) + 1
        else:
            stat.redis += 1
            stat.redis_seconds += took
        if self.child:
            self.child[-1] += took

    def timed(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self.region(label):
                return function(*args, **kwargs)

        return run


def _shape(sql: str) -> str:
    """A query's shape: its first words, the table it reads or writes."""
    text = " ".join(sql.split())
    table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?([\w.]+)"?', text, re.IGNORECASE)
    verb = text.split(" ", 1)[0].upper()
    if verb in ("SAVEPOINT", "RELEASE", "ROLLBACK"):
        return f"{verb} (savepoint)"
    return f"{verb} {table.group(1) if table else text[:60]}"


ROOT = "process_message (the actor)"
PROFILER = Profiler()
_PATCHED: list[tuple[Any, str, Any]] = []


def wrap(owner: Any, attribute: str, label: str) -> None:
    """Times `owner.attribute` as `label` (skipped when this checkout has no such thing)."""
    original = getattr(owner, attribute, None)
    if original is None:
        print(f"(not profiled: {getattr(owner, '__name__', owner)}.{attribute})")
        return
    _PATCHED.append((owner, attribute, original))
    setattr(owner, attribute, PROFILER.timed(label, original))


def instrument() -> None:
    """Every region the report names. Module attributes are patched where the caller looks them
    up, so the product's code runs unchanged."""
    import importlib

    def module(name: str) -> Any:
        try:
            return importlib.import_module(name)
        except ImportError:
            return None

    import redis
    from django.db import connection

    actors, runner, builder = (
        module("agents.actors"),
        module("agents.runner"),
        module("agents.state_builder"),
    )
    agent_runs, embeddings, search = (
        module("support.agent_runs"),
        module("knowledge.embeddings"),
        module("knowledge.search"),
    )
    tone_model, cues, classifier = (
        module("agents.triage.tone_model"),
        module("agents.triage.cues"),
        module("agents.triage.classifier"),
    )
    guard, triage_node, logs = (
        module("agents.guard"),
        module("agents.nodes.triage"),
        module("resolver.logs"),
    )
    wrap(actors, "claim_draft", "claim the draft")
    wrap(runner, "_read_documents", "read attachments")
    wrap(runner, "state_for_message", "build the state (rows)")
    for name in ("customer_of", "history_for", "earlier_conversations", "documents_for"):
        wrap(builder, name, name)
    wrap(runner, "run_graph", "graph")
    wrap(runner, "record_outcome", "record_outcome")
    for name in ("_mark_processed", "record_proposals", "announce_draft", "_auto_send"):
        wrap(agent_runs, name, name)
    from support.models import AuditLog, Conversation

    wrap(type(AuditLog.objects), "record", "audit row")
    announce = module("support.announce")
    wrap(announce, "broadcast", "after commit: broadcast (channel layer)")
    wrap(announce, "queue_deliveries", "after commit: queue webhook deliveries")
    wrap(announce, "record_deliveries", "webhook deliveries")
    from django.db import connections

    wrap(connections["default"], "commit", "COMMIT")
    wrap(type(Conversation.objects), "escalate", "escalate conversation")
    # The calls inside the nodes.
    wrap(embeddings, "embed_query", "embed_query (LRU-cached)")
    # The search starts its query vector and waits for it after the full-text leg.
    wrap(search, "query_vector_later", "query vector: start (cache or encoder queue)")
    wrap(embeddings, "embed_queries", "embed_queries")
    wrap(embeddings, "embed_documents", "encoder (MiniLM forward)")
    wrap(classifier.IntentClassifier, "predict", "intent classifier")
    wrap(tone_model.ToneModel, "predict", "tone model")
    wrap(tone_model, "features", "tone features")
    wrap(tone_model, "surface_features", "lexicon + surface features")
    wrap(tone_model.ToneModel, "probabilities", "tone heads (logistic)")
    wrap(tone_model.ToneModel, "explain", "tone cues (explain)")
    wrap(cues, "detect", "cue detectors")
    wrap(triage_node, "read_signals", "message signals")
    for name in (
        "vector_legs",
        "vector_leg",
        "text_leg",
        "text_query",
        "common_lexemes",
        "_best_passages",
    ):
        wrap(search, name, f"search: {name}")
    wrap(search, "make_snippet", "search: make_snippet")
    for name in ("check_grounded", "check_specifics", "check_tone", "check_policy"):
        wrap(guard, name, f"guard: {name}")
    wrap(guard, "check_learned", "guard: check_learned")
    from resolver.redaction import Redactor

    wrap(Redactor, "redact", "redaction")
    wrap(logs.RedactingFilter, "filter", "log line (redacting filter)")

    def execute(call: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return call(sql, params, many, context)
        finally:
            PROFILER.round_trip("sql", time.perf_counter() - started, sql)

    connection.execute_wrappers.append(execute)
    command = redis.Redis.execute_command

    def redis_command(self: Any, *args: Any, **options: Any) -> Any:
        started = time.perf_counter()
        try:
            return command(self, *args, **options)
        finally:
            PROFILER.round_trip("redis", time.perf_counter() - started)

    redis.Redis.execute_command = redis_command  # type: ignore[method-assign]
    _instrument_graph(runner)


def _instrument_graph(runner: Any) -> None:
    """The worker's graph, built here with every service call timed, and each node as a region."""
    import agents.graph as graph_module
    from agents.services import default_services

    original_span = graph_module.node_span

    @contextlib.contextmanager
    def node_span(name: str) -> Iterator[Any]:
        with PROFILER.region(f"node {name}"), original_span(name) as span:
            yield span

    graph_module.node_span = node_span
    services = default_services()
    for name in (
        "embed",
        "triage",
        "search",
        "facts",
        "profile",
        "guard_rules",
        "customer_orders",
        "similarity",
        "action_orders",
        "check_action",
    ):
        if hasattr(services, name):
            setattr(services, name, PROFILER.timed(f"services.{name}", getattr(services, name)))
    drafter = services.drafter
    drafter.draft = PROFILER.timed("provider.draft (extractive)", drafter.draft)  # type: ignore[method-assign]
    graph = graph_module.build_graph(services)
    runner.worker_graph = lambda: graph


def draft_one(sample: Any) -> None:
    from agents.actors import process_message
    from support.inbound import message_created

    message, _ = store_sample(sample, enqueue=False)
    event = message_created(message)
    with PROFILER.region(ROOT):
        process_message.fn(str(message.pk), event["event_id"], event)


def report(drafts: int, seconds: float) -> dict[str, Any]:
    """The tree (printed) and its rows (returned)."""
    rows = []
    # Parents before children, in the order the path first ran.
    for path in sorted(PROFILER.stats, key=lambda p: [*p]):
        if not path:
            continue
        stat = PROFILER.stats[path]
        own = stat.seconds - stat.child_seconds
        rows.append(
            {
                "path": " / ".join(path),
                "region": path[-1],
                "depth": len(path) - 1,
                "calls_per_draft": round(stat.calls / drafts, 2),
                "ms_per_draft": round(stat.seconds * 1000 / drafts, 3),
                "own_ms_per_draft": round(own * 1000 / drafts, 3),
                "queries_per_draft": round(stat.queries / drafts, 2),
                "query_ms_per_draft": round(stat.query_seconds * 1000 / drafts, 3),
                "redis_per_draft": round(stat.redis / drafts, 2),
                "redis_ms_per_draft": round(stat.redis_seconds * 1000 / drafts, 3),
            }
        )
    ordered = _tree_order(rows)
    header = f"{'region':58} {'calls':>6} {'ms':>8} {'own ms':>8} {'queries':>8} {'q ms':>7}"
    header += f" {'redis':>6}"
    print(f"\n{drafts} drafts, {seconds * 1000 / drafts:.1f} ms each (in one thread)\n")
    print(header)
    for row in ordered:
        label = "  " * row["depth"] + row["region"]
        print(
            f"{label[:58]:58} {row['calls_per_draft']:6.2f} {row['ms_per_draft']:8.2f} "
            f"{row['own_ms_per_draft']:8.2f} {row['queries_per_draft']:8.2f} "
            f"{row['query_ms_per_draft']:7.2f} {row['redis_per_draft']:6.2f}"
        )
    return {"rows": ordered}


def _tree_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Depth first, the costliest child first at each level."""
    children: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        parent = row["path"].rsplit(" / ", 1)[0] if row["depth"] else ""
        children.setdefault(parent, []).append(row)
    ordered: list[dict[str, Any]] = []

    def visit(parent: str) -> None:
        for row in sorted(children.get(parent, []), key=lambda r: -r["ms_per_draft"]):
            ordered.append(row)
            visit(row["path"])

    visit("")
    return ordered


def totals(drafts: int) -> dict[str, Any]:
    """Per draft, over every region: calls of the things worth counting, and round trips."""

    def summed(label: str) -> tuple[int, float]:
        calls = sum(s.calls for p, s in PROFILER.stats.items() if p and p[-1] == label)
        # Inclusive time of the outermost occurrences only (a region may nest in itself).
        seconds = sum(
            s.seconds
            for p, s in PROFILER.stats.items()
            if p and p[-1] == label and label not in p[:-1]
        )
        return calls, seconds

    result: dict[str, Any] = {}
    for label in (
        "process_message (the actor)",
        "graph",
        "embed_query (LRU-cached)",
        "encoder (MiniLM forward)",
        "intent classifier",
        "tone model",
        "services.search",
        "redaction",
        "log line (redacting filter)",
        "record_outcome",
    ):
        calls, seconds = summed(label)
        result[label] = {
            "calls_per_draft": round(calls / drafts, 2),
            "ms_per_draft": round(seconds * 1000 / drafts, 3),
        }
    queries = sum(s.queries for s in PROFILER.stats.values())
    query_seconds = sum(s.query_seconds for s in PROFILER.stats.values())
    redis_calls = sum(s.redis for s in PROFILER.stats.values())
    result["database"] = {
        "queries_per_draft": round(queries / drafts, 2),
        "ms_per_draft": round(query_seconds * 1000 / drafts, 3),
    }
    result["redis"] = {"commands_per_draft": round(redis_calls / drafts, 2)}
    shapes: dict[str, float] = {}
    for (path, shape), count in PROFILER.sql.items():
        where = next((p for p in reversed(path) if not p.startswith("services.")), "")
        key = f"{shape} ({where})"
        shapes[key] = shapes.get(key, 0) + count / drafts
    result["queries_by_shape"] = {
        key: round(value, 2) for key, value in sorted(shapes.items(), key=lambda kv: -kv[1])
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--drafts", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--label", default="", help="names the result (e.g. old, new)")
    parser.add_argument("--cprofile", type=int, default=0, help="also print the N costliest")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    setup_django()
    from django.core.management import call_command

    call_command("load_demo_kb", verbosity=0)
    samples = message_mix(args.warmup + args.drafts)
    from agents.runner import warm_up

    instrument()
    warm_up()  # as the worker boots: models loaded, a dry run
    for sample in samples[: args.warmup]:
        draft_one(sample)
    PROFILER.active = True
    profile = cProfile.Profile() if args.cprofile else None
    started, cpu_started = time.perf_counter(), time.process_time()
    if profile:
        profile.enable()
    for sample in samples[args.warmup :]:
        draft_one(sample)
    if profile:
        profile.disable()
    seconds = time.perf_counter() - started
    # The process's CPU time (every thread's): steadier than the wall clock on a shared machine.
    cpu_seconds = time.process_time() - cpu_started
    PROFILER.active = False
    print(f"\nCPU: {cpu_seconds * 1000 / args.drafts:.1f} ms per draft (the process, all threads)")
    tree = report(args.drafts, seconds)
    summary = totals(args.drafts)
    if profile:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(args.cprofile)
        print(out.getvalue())
    result = {
        "label": args.label,
        "code": str(CODE),
        "provider": "extractive",
        "kb": "demo KB",
        "mix": {name: sum(s.source == name for s in samples[args.warmup :]) for name in MIX_NAMES},
        "drafts": args.drafts,
        "ms_per_draft_single_thread": round(seconds * 1000 / args.drafts, 2),
        "cpu_ms_per_draft": round(cpu_seconds * 1000 / args.drafts, 2),
        "totals": summary,
        **tree,
    }
    if args.no_write:
        import json

        print(json.dumps(summary, indent=2))
    else:
        write_result("profile_draft" + (f"_{args.label}" if args.label else ""), result)


MIX_NAMES = ("real_tweets", "template_dev", "out_of_scope", "followups", "policy_bait")

if __name__ == "__main__":
    main()
