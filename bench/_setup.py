"""Shared set-up for benchmark scripts: Django on the bench's own embedded services (var/bench)."""

from __future__ import annotations

import csv
import json
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The code measured: this checkout, or another one (BENCH_CODE=/path/to/old/checkout) so an old
# commit and the new code run on the same machine in the same session, on the same services.
CODE = Path(os.environ.get("BENCH_CODE") or ROOT).resolve()
DATASETS = ROOT.parent / "shared" / "datasets"
RESULTS = ROOT / "bench" / "results"


def setup_django() -> None:
    sys.path.insert(0, str(CODE))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "resolver.settings")
    os.environ.setdefault("RESOLVER_DATA_DIR", str(ROOT / "var" / "bench"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def code_environment() -> dict[str, str]:
    """What a child process (a Dramatiq worker) needs to run the measured checkout's code: the
    editable install points at /work/main, whatever directory the bench runs from."""
    return {"PYTHONPATH": str(CODE)}


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def latency_summary(millis: list[float]) -> dict[str, float]:
    return {
        "n": len(millis),
        "p50_ms": round(percentile(millis, 50), 2),
        "p95_ms": round(percentile(millis, 95), 2),
        "mean_ms": round(statistics.fmean(millis), 2),
    }


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {"benchmark": name, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ"), **data}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps(data, indent=2))
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def require_datasets() -> None:
    if not DATASETS.exists():
        sys.exit(f"benchmarks need the shared datasets at {DATASETS}")


@dataclass(frozen=True)
class Sample:
    """One customer message of the draft benchmarks, with the conversation's earlier turns."""

    source: str  # the eval set it comes from
    text: str
    history: tuple[tuple[str, str], ...] = ()  # (MessageRole, body), oldest first


# A realistic inbound mix: mostly real customer tweets and store questions, some messages no
# article answers, some that bait a policy breach, some follow-ups that lean on earlier turns.
MIX = {
    "real_tweets": 0.40,
    "template_dev": 0.35,
    "out_of_scope": 0.10,
    "followups": 0.10,
    "policy_bait": 0.05,
}


def message_mix(count: int, seed: int = 7) -> list[Sample]:
    """`count` messages drawn from the eval sets in MIX's proportions, shuffled (reproducibly)."""
    from evals.sets import load_set

    rng = random.Random(seed)
    samples: list[Sample] = []
    for name, share in MIX.items():
        cases = load_set(name).cases
        pool = [
            Sample(name, case.text, tuple((t["role"], t["body"]) for t in case.history))
            for case in cases
        ]
        rng.shuffle(pool)
        wanted = max(1, round(count * share))
        samples += (pool * (wanted // len(pool) + 1))[:wanted]
    rng.shuffle(samples)
    return samples[:count]


def store_sample(sample: Sample, enqueue: bool = True) -> tuple[Any, Any]:
    """(message, draft) of `sample` stored as the API stores a message, after its earlier turns
    (customer turns stored with their drafts sent, as an agent answered them; agent turns as the
    agent's replies)."""
    from django.utils import timezone

    from support.inbound import receive_message
    from support.models import Draft, DraftStatus, Message, MessageRole

    conversation = None
    for role, body in sample.history:
        if role == MessageRole.CUSTOMER:
            earlier, draft = receive_message(body, conversation=conversation, enqueue=False)
            # Not left PENDING: the workers' outbox sweep would queue them as lost runs 15
            # minutes later, and a later bench's worker would draft them inside its timings.
            Draft.objects.filter(pk=draft.pk).update(
                status=DraftStatus.SENT, completed_at=timezone.now()
            )
            conversation = earlier.conversation
        else:
            assert conversation is not None, "a conversation starts with the customer"
            Message.objects.create(conversation=conversation, role=role, body=body)
    return receive_message(sample.text, conversation=conversation, enqueue=enqueue)
