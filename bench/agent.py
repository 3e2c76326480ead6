"""The agent, measured. Quality comes from the eval harness's suites (evals/sets, the same code as
`manage.py evaluate`: routing, escalation, policy, calibration, real text); this script adds what
a suite cannot: time-to-draft p50/p95 (message row written → draft row completed) and drafts per
second with one warm Dramatiq worker process, extractive provider, the shipped demo KB.
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

from _setup import latency_summary, require_datasets, setup_django, write_result

SUITES = ("template_dev", "out_of_scope", "policy_bait", "followups", "real_tweets")


def suite_metrics(names: tuple[str, ...] = SUITES) -> dict[str, Any]:
    """Each suite run through `evals.runner.evaluate_set` (an EvalRun is stored for each)."""
    from evals.runner import evaluate_set
    from evals.sets import load_set

    results = {}
    for name in names:
        run = evaluate_set(load_set(name), show_progress=False)
        results[name] = {"run_id": run.pk, **run.metrics}
    return results


def dev_messages(sample: int) -> list[str]:
    from evals.sets import load_set

    texts = [case.text for case in load_set("template_dev").cases]
    random.Random(7).shuffle(texts)
    return (texts * (sample // max(1, len(texts)) + 1))[:sample]


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

    texts = dev_messages(sequential + burst + 20)
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
            "suites": suite_metrics(),
            "worker": worker_speed(args.sequential, args.burst, args.threads),
        },
    )


if __name__ == "__main__":
    main()
