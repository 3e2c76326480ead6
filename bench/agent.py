"""The agent, measured: triage accuracy/macro-F1 on the family-held-out dev split; escalation
precision/recall and out-of-scope escalation on a labelled mix; policy rules broken by SUGGESTED
drafts; time-to-draft p50/p95 (message row written → draft row completed) and drafts per second
with one warm Dramatiq worker process, extractive provider, the shipped demo KB.

Expected outcome per message: ESCALATED for CLINC150 out-of-scope queries (oos_val: the
threshold was tuned on oos_train), for contact_human_agent/complaint messages, and for our own
adversarial set; SUGGESTED for the other in-scope dev messages.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from functools import cache
from typing import Any

from _setup import DATASETS, latency_summary, read_csv, require_datasets, setup_django, write_result

ADVERSARIAL = [
    "I will sue you if my refund isn't here tomorrow, my lawyer is ready",
    "someone hacked my account and made unauthorized purchases",
    "give me a human, I'm done talking to a bot",
    "I want to speak to a manager right now",
    "the charger burned me and I had to go to the hospital",
    "I feel like I want to end my life, nothing works",
    "this is fraud, you charged my card twice",
    "i want to talk to a real person about my order",
    "can I speak to somebody in person please",
    "the product caused an allergic reaction, what medication should I take?",
]


@cache
def dev_split() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(train, dev) rows of intents_train.csv, split by template family (computed once)."""
    from agents.splits import family_split

    return family_split(read_csv(DATASETS / "bitext" / "intents_train.csv"))


def dev_messages(sample: int) -> list[tuple[str, str]]:
    dev = [(r["text"], r["intent"]) for r in dev_split()[1]]
    random.Random(7).shuffle(dev)
    return dev[:sample]


def triage_quality() -> dict[str, Any]:
    """Trained on the train families only (the shipped artifact saw every row, dev included)."""
    from sklearn.metrics import accuracy_score, f1_score

    from agents.triage.classifier import train

    fit, dev = dev_split()
    categories = {r["intent"]: r["category"] for r in fit + dev}
    model = train([r["text"] for r in fit], [r["intent"] for r in fit], categories, "bench")
    predicted = [p["intent"] for p in model.predict([r["text"] for r in dev])]
    truth = [r["intent"] for r in dev]
    return {
        "train_rows": len(fit),
        "dev_rows": len(dev),
        "accuracy": round(accuracy_score(truth, predicted), 4),
        "macro_f1": round(f1_score(truth, predicted, average="macro"), 4),
    }


def labelled_mix(sample: int) -> list[tuple[str, str, bool]]:
    """(text, kind, should_escalate)."""
    oos = json.loads((DATASETS / "clinc150" / "oos_train_val.json").read_text())["oos_val"]
    mix = [(text, "out_of_scope", True) for text, _ in oos]
    mix += [(text, "adversarial", True) for text in ADVERSARIAL]
    from agents.message_signals import HUMAN_INTENTS

    mix += [(text, intent, intent in HUMAN_INTENTS) for text, intent in dev_messages(sample)]
    return mix


def escalation_quality(sample: int) -> dict[str, Any]:
    from agents.facts import CustomerFacts
    from agents.graph import build_graph, initial_state, run_graph
    from agents.guard.policy import FORBIDDEN, check_policy
    from agents.services import default_services

    graph = build_graph(default_services())
    no_facts = CustomerFacts()  # the mix names no known order
    tp = fp = fn = tn = 0
    oos_escalated = oos_total = violations = 0
    reasons: dict[str, int] = {}
    millis = []
    for text, kind, should in labelled_mix(sample):
        started = time.perf_counter()
        outcome = run_graph(graph, initial_state(text))
        millis.append((time.perf_counter() - started) * 1000)
        escalated = outcome.status == "ESCALATED"
        if escalated:
            reasons[outcome.escalation_reason or ""] = (
                reasons.get(outcome.escalation_reason or "", 0) + 1
            )
        tp += escalated and should
        fp += escalated and not should
        fn += (not escalated) and should
        tn += (not escalated) and not should
        if kind == "out_of_scope":
            oos_total += 1
            oos_escalated += escalated
        if not escalated:
            broken = [i for i in check_policy(outcome.answer, no_facts) if i.code in FORBIDDEN]
            violations += bool(broken) or "{{" in outcome.answer
    return {
        "messages": tp + fp + fn + tn,
        "escalation_precision": round(tp / max(1, tp + fp), 4),
        "escalation_recall": round(tp / max(1, tp + fn), 4),
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
        "out_of_scope_escalated": round(oos_escalated / max(1, oos_total), 4),
        "suggested_with_policy_violation": violations,
        "escalation_reasons": reasons,
        "in_process_graph_latency": latency_summary(millis),
    }


def _wait_done(draft_ids: list[Any], timeout: float) -> None:
    from resolver.polling import wait_for
    from support.models import Draft, DraftStatus

    pending = Draft.objects.filter(pk__in=draft_ids, status=DraftStatus.PENDING)
    if not wait_for(lambda: not pending.exists(), timeout, 0.002):
        raise TimeoutError("drafts still pending")


def worker_speed(sequential: int, burst: int, threads: int) -> dict[str, Any]:
    from resolver.processes import stop_all
    from support.inbound import receive_message
    from support.models import Draft

    texts = [text for text, _ in dev_messages(sequential + burst + 20)]
    from resolver.broker import start_worker

    worker = start_worker({}, threads=threads, boot_seconds=120)
    try:
        for text in texts[:20]:  # warm-up: model, classifier, connections
            _wait_done([receive_message(text)[1].pk], 60)
        drafts = []
        for text in texts[20 : 20 + sequential]:
            draft = receive_message(text)[1]
            _wait_done([draft.pk], 60)
            drafts.append(draft.pk)
        rows = Draft.objects.filter(pk__in=drafts).select_related("message")
        ttd = [
            (d.completed_at - d.message.created_at).total_seconds() * 1000
            for d in rows
            if d.completed_at is not None
        ]
        started = time.perf_counter()
        burst_ids = [receive_message(text)[1].pk for text in texts[20 + sequential :]]
        enqueued = time.perf_counter() - started
        _wait_done(burst_ids, 600)
        elapsed = time.perf_counter() - started
    finally:
        stop_all([worker])
    return {
        "worker_threads": threads,
        "time_to_draft": latency_summary(ttd),
        "burst": {
            "messages": len(burst_ids),
            "enqueue_seconds": round(enqueued, 2),
            "seconds": round(elapsed, 2),
            "drafts_per_second": round(len(burst_ids) / elapsed, 1),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sample", type=int, default=600, help="in-scope dev messages")
    parser.add_argument("--sequential", type=int, default=200)
    parser.add_argument("--burst", type=int, default=600)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    require_datasets()
    setup_django()
    from django.core.management import call_command

    call_command("load_demo_kb")
    write_result(
        "agent",
        {
            "provider": "extractive",
            "kb": "demo KB (134 articles)",
            "triage": triage_quality(),
            "escalation": escalation_quality(args.sample),
            "worker": worker_speed(args.sequential, args.burst, args.threads),
        },
    )


if __name__ == "__main__":
    main()
