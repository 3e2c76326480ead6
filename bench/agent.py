"""The agent, measured. Quality comes from the eval harness's suites (evals/sets, the same code as
`manage.py evaluate`: routing, escalation, policy, calibration, real text); this script adds what
a suite cannot: time-to-draft p50/p95 (message row written → draft row completed) and drafts per
second through warm Dramatiq worker processes (one, then two), extractive provider, the shipped
demo KB, a realistic message mix (bench/_setup.py:message_mix). `BENCH_CODE=/old/checkout
python agent.py --label old` measures another checkout's code on the same services, so the old
and new figures come from one session on one (shared, noisy) machine.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from _setup import (
    CODE,
    MIX,
    RESULTS,
    Sample,
    code_environment,
    latency_summary,
    message_mix,
    require_datasets,
    setup_django,
    store_sample,
    write_result,
)

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


def _wait_done(draft_ids: list[Any], timeout: float, poll: float = 0.002) -> None:
    from resolver.polling import wait_for
    from support.models import Draft, DraftStatus

    pending = Draft.objects.filter(pk__in=draft_ids, status=DraftStatus.PENDING)
    if not wait_for(lambda: not pending.exists(), timeout, poll):
        raise TimeoutError("drafts still pending")


def _time_to_draft(draft_ids: list[Any]) -> list[float]:
    """Milliseconds from the message row written to the draft row completed."""
    from support.models import Draft

    rows = Draft.objects.filter(pk__in=draft_ids).select_related("message")
    return [
        (d.completed_at - d.message.created_at).total_seconds() * 1000
        for d in rows
        if d.completed_at is not None
    ]


def _start_workers(processes: int, threads: int) -> list[Any]:
    from resolver.broker import start_worker

    # PYTHONPATH: the worker runs the measured checkout's code (bench/_setup.py:CODE).
    return [
        start_worker(code_environment(), threads=threads, boot_seconds=180)
        for _ in range(processes)
    ]


def burst(samples: list[Sample]) -> dict[str, Any]:
    """Drafts per second through the running workers: the messages are stored first (the API's
    part, not timed), then their runs are queued all at once (support.inbound.enqueue_message,
    as the outbox does) and the clock stops at the last draft's completion."""
    from django.db.models import Max
    from django.utils import timezone

    from support.inbound import enqueue_message
    from support.models import Draft

    stored = [store_sample(sample, enqueue=False) for sample in samples]
    ids = [draft.pk for _, draft in stored]
    started_at, started = timezone.now(), time.perf_counter()
    for message, draft in stored:
        enqueue_message(message, draft.pk)
    enqueued = time.perf_counter() - started
    _wait_done(ids, 900, poll=0.2)
    last = Draft.objects.filter(pk__in=ids).aggregate(last=Max("completed_at"))["last"]
    seconds = (last - started_at).total_seconds()
    return {
        "messages": len(ids),
        "enqueue_seconds": round(enqueued, 2),
        "seconds": round(seconds, 2),
        "drafts_per_second": round(len(ids) / seconds, 1),
    }


def paced(samples: list[Sample], rate: float) -> dict[str, Any]:
    """Time-to-draft with messages arriving at `rate` per second, each through the API's path
    (stored, its run queued after commit)."""
    ids = []
    started = time.perf_counter()
    for index, sample in enumerate(samples):
        delay = started + index / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        ids.append(store_sample(sample, enqueue=True)[1].pk)
    offered = len(ids) / (time.perf_counter() - started)
    _wait_done(ids, 600, poll=0.05)
    return {
        "rate_per_second": round(rate, 1),
        "offered_per_second": round(offered, 1),
        "time_to_draft": latency_summary(_time_to_draft(ids)),
    }


def worker_speed(args: argparse.Namespace) -> dict[str, Any]:
    """One and two worker processes (WORKER_THREADS threads each): bursts; with one, the
    time-to-draft of messages one at a time and at half its burst rate."""
    from resolver.processes import stop_all

    samples = message_mix(args.warmup + args.sequential + args.burst * 3 + args.paced, seed=11)
    cursor = 0

    def take(count: int) -> list[Sample]:
        nonlocal cursor
        cursor += count
        return samples[cursor - count : cursor]

    results: dict[str, Any] = {"worker_threads": args.threads}
    for processes in args.processes:
        workers = _start_workers(processes, args.threads)
        try:
            for sample in take(args.warmup if processes == args.processes[0] else 0):
                _wait_done([store_sample(sample)[1].pk], 120)  # models, classifier, connections
            run: dict[str, Any] = {"burst": burst(take(args.burst))}
            if processes == 1:
                ids = []
                for sample in take(args.sequential):
                    ids.append(store_sample(sample)[1].pk)
                    _wait_done([ids[-1]], 60)
                run["sequential_time_to_draft"] = latency_summary(_time_to_draft(ids))
                half = run["burst"]["drafts_per_second"] / 2
                run["paced_at_half_the_burst_rate"] = paced(take(args.paced), half)
        finally:
            stop_all(workers)
        results[f"{processes}_process" + ("es" if processes > 1 else "")] = run
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--sequential", type=int, default=100)
    parser.add_argument("--burst", type=int, default=400)
    parser.add_argument("--paced", type=int, default=300)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--no-suites", action="store_true", help="speed only")
    parser.add_argument(
        "--label", default="new", help="the run's name in agent.json (e.g. old: BENCH_CODE=...)"
    )
    args = parser.parse_args()
    require_datasets()
    setup_django()
    from django.core.management import call_command

    call_command("load_demo_kb")
    run = {
        "code": str(CODE),
        "mix": MIX,
        **({} if args.no_suites else {"suites": suite_metrics()}),
        "worker": worker_speed(args),
    }
    path = RESULTS / "agent.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    runs = {**previous.get("runs", {}), args.label: {"finished_at": time.strftime("%FT%TZ"), **run}}
    newest = runs.get("new", run)
    write_result(
        "agent",
        {
            "provider": "extractive",
            "kb": "demo KB (134 articles)",
            "note": "runs: the same script on each checkout (BENCH_CODE), in one session",
            **{key: value for key, value in newest.items() if key != "finished_at"},
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
