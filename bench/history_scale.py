"""History at scale (#30 must 4): a year of a large team's support history in the embedded
PostgreSQL, then the server time of every screen and API read an agent or a scraper hits, and of
the jobs that walk history (shadow replay, retention, erasure).

Load. `--conversations N` (default 1,000,000) conversations over the last 365 days, on several
channels, N/4 customers; 2 to 9 turns each, customer and agent alternating (about 5N messages: a
rejected draft leaves no reply); one draft per customer message (3N drafts) with a realistic
status mix: sent (some by the auto-send policy, some after a run's escalation), rejected, and the
open ones (pending, suggested, escalated) in the conversations still open, mostly recent. Rows go
in by COPY (psycopg) with the tables' secondary indexes dropped and foreign-key triggers off
(session_replication_role=replica), then the indexes are rebuilt, the running totals and the
dashboard's hourly rollups recomputed (support/tallies.py, support/rollups.py) and the tables
ANALYZEd. The bench's own data dir (var/bench-history) keeps
the load: a second run at the same scale measures again without loading (`--reload` forces it).

Measure (in process: Django's test client through every middleware, as the console benchmark):
the console queue page and its live update (the fragment QueueLive pushes on each draft event),
a conversation page, the dashboard, GET /api/v1/drafts following next_cursor, GET
/api/v1/customers/{ref}/conversations, the /metrics scrape; the shadow replay's reads of 7 days
(evals/replay.py: the cases and the ladder walk, not drafting them again: that is the agent's
bench), retention batches (support/customer_data.anonymise_batch) and customer erasures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _setup import ROOT, latency_summary, write_result

# The test client's host (an allowed host, as the other benches' servers).
HOST = "127.0.0.1"

DAY = 86_400
YEAR_DAYS = 365
USER = "bench-history"
TABLES = ["support_customer", "support_conversation", "support_message", "support_draft"]
ROLLUP_TABLES = ["support_drafthour", "support_drafthourhistogram", "support_citationhour"]
CHANNELS = [("api", 0.5), ("widget", 0.3), ("email", 0.2)]
INTENTS = [
    "recover_password",
    "get_refund",
    "track_order",
    "cancel_order",
    "change_shipping_address",
    "delivery_options",
    "payment_issue",
    "complaint",
    "contact_human_agent",
    "check_invoice",
]
REASONS = ["low_confidence", "guard_failed", "retrieval_weak", "customer_complaint", "high_risk"]
QUESTIONS = [
    "how do I change my password?",
    "I can't log in to my profile",
    "I want my money back for order",
    "where is my parcel, it has been a week",
    "how do I clean the Zephyr 3000 jug?",
    "what is your refund policy?",
    "can I change the delivery address of my order",
    "the invoice shows the wrong amount",
]
ANSWER = (
    "Thanks for writing. You can do this from your account page under Settings; it takes a minute."
)
CONTEXT = json.dumps({"earlier_conversations": [], "documents": [], "missing": []})


def citations(rng: random.Random) -> str:
    kb = rng.randint(1, 40)
    return json.dumps([{"kb_id": kb, "title": f"Article {kb}", "snippet": "Open Settings."}])


def ts(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


class History:
    """The generated rows, as COPY text lines per table (no tab, newline or backslash inside)."""

    def __init__(self, conversations: int, seed: int = 30) -> None:
        self.n = conversations
        self.rng = random.Random(seed)
        self.now = time.time()
        self.customers = max(1, conversations // 4)
        self.counts = dict.fromkeys(TABLES, 0)
        from support.vocabulary import GUARD_CHECKS

        self.guard = json.dumps({**dict.fromkeys(GUARD_CHECKS, True), "reasons": []})

    def customer_rows(self) -> Iterator[str]:
        start = ts(self.now - YEAR_DAYS * DAY)
        for k in range(1, self.customers + 1):
            self.counts["support_customer"] += 1
            yield f"{k}\thist-{k}\tCustomer {k}\thist-{k}@example.com\t{{}}\t{start}\n"

    def conversation(self, n: int) -> tuple[list[str], list[str], list[str]]:
        """The n-th conversation's row, its messages' rows and its drafts' rows. Oldest first, as
        a live system writes them: the rows of a day sit together in the table, which is what
        a window's index range scan reads (random dates would make each row a random read)."""
        rng = self.rng
        age_days = (1 - (n + rng.random()) / self.n) * YEAR_DAYS
        start = self.now - age_days * DAY
        channel = rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]
        anonymous = channel == "widget" and rng.random() < 0.4
        customer = 0 if anonymous else rng.randint(1, self.customers)
        ref = f"hist-{customer}" if customer else ""
        # Most of a year's conversations are resolved; those still open are mostly recent.
        open_chance = 0.35 if age_days < 14 else 0.01
        still_open = rng.random() < open_chance
        turns = rng.randint(2, 9)
        conversation_id = str(uuid.uuid4())
        messages, drafts = [], []
        at = start
        last_draft: list[str] | None = None
        for turn in range(turns):
            at += rng.uniform(30, 3600)
            message_id = str(uuid.uuid4())
            customer_turn = turn % 2 == 0
            if customer_turn:
                body = f"{rng.choice(QUESTIONS)} #{rng.randint(1000, 99999)}"
                verified = "" if anonymous else "api_key"
                messages.append(
                    f"{message_id}\tCUSTOMER\t{body}\tf\t{{}}\t{ts(at)}\t\\N\t{conversation_id}"
                    f"\t\t\t{verified}\t\\N\n"
                )
                last_draft = self._draft(message_id, conversation_id, at)
                drafts.append(last_draft)
            else:
                assert last_draft is not None
                draft_id, status, automated = last_draft[0], last_draft[1], last_draft[27]
                if status != "SENT":
                    continue
                meta = "{}" if automated == "t" else '{"actor": "agent-7"}'
                messages.append(
                    f"{message_id}\tAGENT\t{ANSWER}\t{automated}\t{meta}\t{ts(at)}\t\\N"
                    f"\t{conversation_id}\t\t\t\t{draft_id}\n"
                )
        if still_open and drafts:
            self._leave_open(drafts[-1])
        status = ("ESCALATED" if rng.random() < 0.3 else "OPEN") if still_open else "RESOLVED"
        resolved = "\\N" if still_open else ts(at + 3600)
        updated = at if still_open else at + 3600
        subject = "Order question" if channel == "email" else ""
        token = uuid.uuid4().hex[:13]
        customer_id = str(customer) if customer else "\\N"
        conversation = (
            f"{conversation_id}\t{status}\t{channel}\t{ref}\t{ts(start)}\t{ts(updated)}\t{ts(at)}"
            f"\t{resolved}\t{customer_id}\t\\N\t{subject}\t{token}\t\n"
        )
        return [conversation], messages, ["\t".join(d) + "\n" for d in drafts]

    def _draft(self, message_id: str, conversation_id: str, at: float) -> list[str]:
        rng = self.rng
        roll = rng.random()
        escalated_by_run = roll < 0.12
        status = "SENT" if roll < 0.8 else "REJECTED"
        automated = "t" if status == "SENT" and not escalated_by_run and rng.random() < 0.2 else "f"
        reason = rng.choice(REASONS) if escalated_by_run else ""
        latency = rng.randint(40, 2500)
        completed = at + latency / 1000 + rng.uniform(0, 1)
        reviewed = completed + rng.uniform(20, 7200)
        edit = (0 if rng.random() < 0.6 else rng.randint(1, 80)) if status == "SENT" else None
        verdict = "" if automated == "t" else ("sent_unchanged" if edit == 0 else "rejected")
        if edit:
            verdict = "small_edit" if edit < 20 else "large_edit"
        confidence = round(rng.uniform(0.3, 0.99), 3)
        tokens = rng.randint(300, 1500)
        return [
            str(uuid.uuid4()),  # 0 id
            status,  # 1 status
            reason,  # 2 escalation_reason
            rng.choice(INTENTS),  # 3 intent
            "account",  # 4 category
            rng.choice(["NEUTRAL", "NEUTRAL", "NEGATIVE", "POSITIVE"]),  # 5 sentiment
            rng.choice(["LOW", "NORMAL", "NORMAL", "HIGH"]),  # 6 urgency
            "{}",  # 7 triage_scores
            ANSWER,  # 8 answer
            citations(rng),  # 9 citations
            "",  # 10 suggested_action
            str(confidence),  # 11 confidence
            self.guard,  # 12 guard
            "{}",  # 13 facts
            "extractive",  # 14 model
            "v7",  # 15 prompt_version
            str(tokens),  # 16 tokens
            f"{tokens * 0.000002:.6f}",  # 17 cost
            str(latency),  # 18 latency_ms
            "",  # 19 trace_id
            "1",  # 20 attempts
            ts(at),  # 21 run_started_at
            ts(completed),  # 22 completed_at
            ts(reviewed),  # 23 reviewed_at
            ANSWER if status == "SENT" else "",  # 24 sent_text
            "\\N" if edit is None else str(edit),  # 25 edit_distance
            "" if status == "SENT" else "wrong answer",  # 26 reject_reason
            automated,  # 27 automated
            ts(at),  # 28 created_at
            ts(reviewed),  # 29 updated_at
            conversation_id,  # 30 conversation_id
            "\\N",  # 31 reviewed_by_id
            message_id,  # 32 message_id
            "",  # 33 run_by
            "" if status == "SENT" else "incorrect",  # 34 reject_category
            ts(at),  # 35 enqueued_at
            CONTEXT,  # 36 context
            verdict,  # 37 review_verdict
            "en",  # 38 language
        ]

    def _leave_open(self, draft: list[str]) -> None:
        """The conversation's last draft still waits for an agent (or for its run)."""
        status = self.rng.choices(["PENDING", "SUGGESTED", "ESCALATED"], [0.05, 0.6, 0.35])[0]
        draft[1], draft[27], draft[37] = status, "f", ""
        draft[23] = draft[25] = "\\N"
        draft[24] = draft[26] = draft[34] = ""
        draft[2] = self.rng.choice(REASONS) if status == "ESCALATED" else ""
        if status == "PENDING":
            draft[3] = draft[5] = draft[6] = draft[8] = draft[38] = ""
            draft[9], draft[11], draft[18], draft[22] = "[]", "\\N", "\\N", "\\N"


# Columns in the order History writes them.
COLUMNS = {
    "support_customer": "id, ref, name, email, metadata, created_at",
    "support_conversation": "id, status, channel, customer_ref, created_at, updated_at,"
    " last_message_at, resolved_at, customer_id, anonymised_at, subject, thread_token, summary",
    "support_message": "id, role, body, automated, metadata, created_at, author_id,"
    " conversation_id, trace_id, ignored_reason, verified_by, draft_id",
    "support_draft": "id, status, escalation_reason, intent, category, sentiment, urgency,"
    " triage_scores, answer, citations, suggested_action, confidence, guard, facts, model,"
    " prompt_version, tokens, cost, latency_ms, trace_id, attempts, run_started_at, completed_at,"
    " reviewed_at, sent_text, edit_distance, reject_reason, automated, created_at, updated_at,"
    " conversation_id, reviewed_by_id, message_id, run_by, reject_category, enqueued_at, context,"
    " review_verdict, language",
}
CHUNK = 2000


def _secondary_indexes(cursor: Any) -> list[tuple[str, str]]:
    """(name, definition) of the loaded tables' indexes that back no constraint."""
    cursor.execute(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.schemaname = 'public' AND i.tablename = ANY(%s)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
        """,
        [TABLES],
    )
    return list(cursor.fetchall())


def _copy(history: History, cursor: Any, conversations: int, started: float) -> None:
    """The rows, by COPY, with no foreign-key or tally trigger row by row: the rows are
    consistent by construction, and the tallies are recomputed once at the end."""
    cursor.execute("SET session_replication_role = replica")
    raw = cursor.cursor
    with raw.copy(f"COPY support_customer ({COLUMNS['support_customer']}) FROM STDIN") as copy:
        for line in history.customer_rows():
            copy.write(line)
    cursor.execute(
        "SELECT setval(pg_get_serial_sequence('support_customer', 'id'), %s)",
        [history.customers],
    )
    # One COPY at a time on a connection: rows are buffered per table and flushed in turns.
    buffers: dict[str, list[str]] = {table: [] for table in TABLES[1:]}
    pending = 0
    for n in range(conversations):
        for table, rows in zip(TABLES[1:], history.conversation(n), strict=True):
            buffers[table].extend(rows)
            history.counts[table] += len(rows)
        pending += 1
        if pending == CHUNK or n == conversations - 1:
            for table, lines in buffers.items():
                with raw.copy(f"COPY {table} ({COLUMNS[table]}) FROM STDIN") as copy:
                    copy.write("".join(lines))
                lines.clear()
            pending = 0
        if n and n % 100_000 == 0:
            print(f"  {n:,} conversations in {time.perf_counter() - started:.0f} s", flush=True)


def load(conversations: int) -> dict[str, Any]:
    from django.db import connection

    from support import rollups, tallies

    history = History(conversations)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")
        indexes = _secondary_indexes(cursor)
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        try:
            _copy(history, cursor, conversations, started)
            timings["copy_seconds"] = round(time.perf_counter() - started, 1)
        finally:
            # Even when the load failed half-way: the indexes dropped above are the schema's.
            cursor.execute("SET session_replication_role = DEFAULT")
            mark = time.perf_counter()
            cursor.execute("SET maintenance_work_mem = '256MB'")
            for _, definition in indexes:
                cursor.execute(definition)
        timings["index_seconds"] = round(time.perf_counter() - mark, 1)
        mark = time.perf_counter()
        tallies.recount()
        rollups.recount()
        timings["tally_seconds"] = round(time.perf_counter() - mark, 1)
        mark = time.perf_counter()
        for table in [*TABLES, *ROLLUP_TABLES]:
            cursor.execute(f"VACUUM ANALYZE {table}")
        timings["analyze_seconds"] = round(time.perf_counter() - mark, 1)
    timings["total_seconds"] = round(time.perf_counter() - started, 1)
    return {"rows": history.counts, **timings}


def timed(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    fn()  # warm
    millis = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        millis.append((time.perf_counter() - started) * 1000)
    return latency_summary(millis)


def timed_each(fn: Callable[[Any], Any], items: list[Any]) -> dict[str, float]:
    millis = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        millis.append((time.perf_counter() - started) * 1000)
    return latency_summary(millis)


def _ok(response: Any) -> Any:
    assert response.status_code == 200, (response.status_code, response.content[:300])
    return response


class ProgressDict(dict[str, Any]):
    """Prints each measurement as it is stored (a run at full scale takes minutes)."""

    def __setitem__(self, key: str, value: Any) -> None:
        print(f"  {key}: {json.dumps(value)}", flush=True)
        super().__setitem__(key, value)


def measure(requests: int, erasures: int) -> dict[str, Any]:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.http import QueryDict
    from django.test import Client
    from django.utils import timezone

    from evals import replay
    from resolver.audit_actor import Actor
    from resolver.bootstrap import ensure_agents_group
    from resolver.models import ApiKey
    from support import customer_data, tallies
    from support import dashboard_figures as figures
    from support.console.filters import QueueFilter
    from support.console.live import QueueLive
    from support.models import Conversation, Customer, Draft

    rng = random.Random(5)
    user, _ = User.objects.get_or_create(username=USER, defaults={"is_staff": True})
    user.groups.add(ensure_agents_group())
    console = Client(HTTP_HOST=HOST)
    console.force_login(user)
    _, key = ApiKey.issue("bench-history", ["read", "privacy"])
    api = Client(HTTP_HOST=HOST, HTTP_AUTHORIZATION=f"Bearer {key}")

    with connection.cursor() as cursor:
        total = Conversation.objects.count()
        share = min(100.0, 300.0 * requests / max(1, total))
        cursor.execute(
            "SELECT id FROM support_conversation TABLESAMPLE BERNOULLI (%s) LIMIT %s",
            [share, requests],
        )
        sample = [row[0] for row in cursor.fetchall()]
    customers = Customer.objects.count()
    refs = [f"hist-{rng.randint(1, customers)}" for _ in range(requests)]
    event = {"type": "draft.updated", "message_id": str(uuid.uuid4())}
    result: dict[str, Any] = ProgressDict()

    result["console_queue_page"] = timed(lambda: _ok(console.get("/console/")), requests)
    result["console_queue_filtered"] = timed(
        lambda: _ok(console.get("/console/?status=ESCALATED")), requests
    )
    live = QueueLive(QueueFilter.from_query(QueryDict("view=queue")))
    result["console_queue_live_update"] = timed(lambda: live.update(event), requests)
    result["console_conversation_page"] = timed_each(
        lambda pk: _ok(console.get(f"/console/conversations/{pk}/")), sample
    )
    # Where the dashboard's time goes (each part once, warm).
    now = timezone.now()
    since = now - timedelta(days=7)
    parts = {
        "queue (tallies)": lambda: figures.queue(now),
        "window (with the three below)": lambda: figures.window(since),
        "  latency percentiles": lambda: figures._latencies(since),
        "  top intents": lambda: figures.top_intents(since),
        "  top articles": lambda: figures.top_articles(since),
        "learning": lambda: figures.learning(since),
        "autonomy": lambda: figures.autonomy(since),
        "per_day": lambda: figures.per_day(since, now),
    }
    result["dashboard_parts_ms"] = {name: timed(part, 1)["p50_ms"] for name, part in parts.items()}
    result["dashboard"] = timed(
        lambda: _ok(console.get("/console/dashboard/")), max(10, requests // 3)
    )

    def walk_drafts(query: str) -> dict[str, float]:
        millis, cursor = [], None
        for _ in range(requests):
            url = f"/api/v1/drafts?{query}" + (f"&cursor={cursor}" if cursor else "")
            started = time.perf_counter()
            page = _ok(api.get(url)).json()
            millis.append((time.perf_counter() - started) * 1000)
            cursor = page["next_cursor"]
        return latency_summary(millis)

    # The default page (20), a status filter, and the largest page a client may ask for.
    result["api_drafts_cursor"] = walk_drafts("limit=20")
    result["api_drafts_cursor_status_sent"] = walk_drafts("limit=20&status=SENT")
    result["api_drafts_cursor_100_per_page"] = walk_drafts("limit=100")
    result["api_customer_conversations"] = timed_each(
        lambda ref: _ok(api.get(f"/api/v1/customers/{ref}/conversations")), refs
    )
    result["metrics_scrape"] = timed(
        lambda: _ok(Client(HTTP_HOST=HOST).get("/metrics")), max(10, requests // 3)
    )
    # What the tallies replace, in the same run: the same figures counted over every row (as
    # /metrics and the dashboard's queue did before support/tallies.py).
    result["counted_from_rows_instead_of_tallies"] = timed(tallies.from_rows, 1)
    result["read_from_tallies"] = timed(tallies.current, requests)

    started = time.perf_counter()
    cases = replay.replay_set(7).cases
    reads = time.perf_counter() - started
    started = time.perf_counter()
    replay.replay_autonomy(7)
    ladder = time.perf_counter() - started
    result["shadow_replay_7_days"] = {
        "cases": len(cases),
        "build_cases_seconds": round(reads, 2),
        "ladder_walk_seconds": round(ladder, 2),
    }

    retention = []
    batches = []
    for _ in range(5):
        started = time.perf_counter()
        counts = customer_data.anonymise_batch(330, Actor.system("bench"))
        retention.append((time.perf_counter() - started) * 1000)
        batches.append(counts.get("support.Conversation", 0))
    result["retention_batch"] = {
        **latency_summary(retention),
        "conversations_per_batch": batches,
    }

    # Customers who still have conversations (an earlier run erased some): from a random id on.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.ref FROM support_customer c WHERE c.id > %s AND EXISTS"
            " (SELECT 1 FROM support_conversation v WHERE v.customer_id = c.id)"
            " ORDER BY c.id LIMIT %s",
            [rng.randint(1, max(1, customers - 10 * erasures)), erasures],
        )
        erase_refs = [row[0] for row in cursor.fetchall()]
    sizes = [Conversation.objects.filter(customer__ref=ref).count() for ref in erase_refs]
    drafts = [Draft.objects.filter(conversation__customer__ref=ref).count() for ref in erase_refs]
    result["customer_erase"] = {
        **timed_each(lambda ref: customer_data.do_erase(ref, Actor.system("bench")), erase_refs),
        "conversations_per_customer_max": max(sizes),
        "drafts_per_customer_max": max(drafts),
    }
    return result


TARGETS = {
    "console_queue_page": 100,
    "console_queue_filtered": 100,
    "console_queue_live_update": 100,
    "console_conversation_page": 100,
    "api_drafts_cursor": 100,
    "api_drafts_cursor_status_sent": 100,
    "api_drafts_cursor_100_per_page": 100,
    "api_customer_conversations": 100,
    "dashboard": 300,
    "metrics_scrape": 200,
    "customer_erase": 1000,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--erasures", type=int, default=20)
    parser.add_argument("--reload", action="store_true", help="load again even if loaded")
    args = parser.parse_args()
    os.environ.setdefault("RESOLVER_DATA_DIR", str(ROOT / "var" / "bench-history"))
    from _setup import setup_django

    setup_django()
    from support.models import Conversation, Draft, Message

    # What the data dir holds (its own file: runs on other data dirs do not disturb it).
    marker = Path(os.environ["RESOLVER_DATA_DIR"]) / "history-loaded.json"
    loaded = json.loads(marker.read_text()) if marker.exists() else {}
    if args.reload or loaded.get("conversations") != args.conversations:
        marker.unlink(missing_ok=True)
        print(f"loading {args.conversations:,} conversations ...", flush=True)
        loaded = {"conversations": args.conversations, "load": load(args.conversations)}
        marker.write_text(json.dumps(loaded))
        print(json.dumps(loaded), flush=True)
    rows = {
        "conversations": Conversation.objects.count(),
        "messages": Message.objects.count(),
        "drafts": Draft.objects.count(),
        "open_drafts": Draft.objects.needing_human().count(),
    }
    print(f"measuring at {rows} ...", flush=True)
    load_before = os.getloadavg()
    measured = measure(args.requests, args.erasures)
    load_after = os.getloadavg()
    misses = {
        name: measured[name]["p95_ms"]
        for name, target in TARGETS.items()
        if measured[name]["p95_ms"] > target
    }
    write_result(
        "history_scale",
        {
            "scale": rows,
            "load": loaded["load"],
            "measured": measured,
            "targets_p95_ms": TARGETS,
            "missed": misses,
            "machine": f"{os.cpu_count()} cores, shared with other helpers' benches and tests",
            # The machine's load average (1, 5, 15 min) before and after measuring: above the
            # core count, every figure here includes waiting for a core.
            "load_average": {"before": load_before, "after": load_after},
        },
    )


if __name__ == "__main__":
    main()
