"""The dashboard at scale (#30 must 4: dashboard <= 300 ms at a million conversations): the
figures before the hourly rollups (support/dashboard_figures.py at BEFORE, loaded from git) and
after (this checkout), on the same history in the same run, part by part; then the console page
and GET /api/v1/stats.

The history is bench/history_scale.py's (`--conversations`, default 200,000: a million takes
half an hour to load on 2 cores), in its own data dir (var/bench-dashboard): a second run at the
same scale measures again without loading."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from _setup import ROOT, write_result

# The last commit whose dashboard counted every row of the window.
BEFORE = "3a47783"


def _old_figures() -> ModuleType:
    source = subprocess.run(
        ["git", "show", f"{BEFORE}:support/dashboard_figures.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    spec = importlib.util.spec_from_loader("dashboard_figures_before", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, f"{BEFORE}:support/dashboard_figures.py", "exec"), module.__dict__)
    return module


ROLLUP_TRIGGERS = ("support_draft_learned", "support_draft_rollup_update")


def write_overhead(drafts: int = 400, rounds: int = 3) -> dict[str, Any]:
    """What the rollups' triggers add to a draft's write: the same single-row updates (a sent
    draft rejected: every rolled-up figure of it moves), with migration 0037's triggers on and
    switched off for the transaction, rolled back each time."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM support_draft WHERE status = 'SENT' ORDER BY created_at DESC LIMIT %s",
            [drafts],
        )
        ids = [row[0] for row in cursor.fetchall()]

    def run(triggers: bool) -> float:
        with transaction.atomic(), connection.cursor() as cursor:
            if not triggers:
                for name in ROLLUP_TRIGGERS:
                    cursor.execute(f"ALTER TABLE support_draft DISABLE TRIGGER {name}")
            started = time.perf_counter()
            for pk in ids:
                cursor.execute(
                    "UPDATE support_draft SET status = 'REJECTED', edit_distance = NULL,"
                    " citations = '[]' WHERE id = %s",
                    [pk],
                )
            elapsed = (time.perf_counter() - started) * 1000 / len(ids)
            transaction.set_rollback(True)
        return elapsed

    with_triggers, without = [], []
    for _ in range(rounds):
        without.append(run(False))
        with_triggers.append(run(True))
    return {
        "updates": len(ids),
        "ms_per_update_without_rollup_triggers": round(min(without), 3),
        "ms_per_update_with_rollup_triggers": round(min(with_triggers), 3),
    }


def measure(requests: int) -> dict[str, Any]:
    import history_scale as history
    from django.contrib.auth.models import User
    from django.test import Client
    from django.utils import timezone

    from resolver.bootstrap import ensure_agents_group
    from resolver.models import ApiKey
    from support import dashboard_figures as after
    from support import rollups

    before = _old_figures()
    now = timezone.now()
    since = now - timedelta(days=7)
    rolled = rollups.window(since)

    def parts(figures: ModuleType, new: bool) -> dict[str, Any]:
        extra = {"rolled": rolled} if new else {}
        return {
            "window (with the three below)": lambda: figures.window(since, **extra),
            "  latency percentiles": lambda: figures._latencies(since, **extra),
            "  top intents": lambda: figures.top_intents(since, **extra),
            "  top articles": lambda: figures.top_articles(since),
            "learning": lambda: figures.learning(since, **extra),
            "autonomy": lambda: figures.autonomy(since, **extra),
            "deflections": lambda: figures.deflections(since),
            "per_day": lambda: figures.per_day(since, now),
            "csat_series": lambda: figures.csat_series(since, now, "day"),
        }

    result: dict[str, Any] = {}
    result["parts_p50_ms"] = {
        "before": {n: history.timed(p, 3)["p50_ms"] for n, p in parts(before, False).items()},
        "after": {n: history.timed(p, 3)["p50_ms"] for n, p in parts(after, True).items()},
    }
    result["parts_p50_ms"]["after"]["rollups.window (read once, shared by the parts)"] = (
        history.timed(lambda: rollups.window(since), 3)["p50_ms"]
    )
    result["figures_7_days"] = {
        "before": history.timed(lambda: before.dashboard(timedelta(days=7)), requests),
        "after": history.timed(lambda: after.dashboard(timedelta(days=7)), requests),
    }
    result["figures_30_days"] = {
        "before": history.timed(lambda: before.dashboard(timedelta(days=30)), 3),
        "after": history.timed(lambda: after.dashboard(timedelta(days=30)), requests),
    }

    # The longest and shortest windows the dashboard offers (before: 90 days would take ~20 s).
    def figures_of(days: int) -> Callable[[], Any]:
        return lambda: after.dashboard(timedelta(days=days))

    result["figures_after_by_window_days"] = {
        days: history.timed(figures_of(days), requests) for days in (1, 90)
    }
    user, _ = User.objects.get_or_create(username=history.USER, defaults={"is_staff": True})
    user.groups.add(ensure_agents_group())
    console = Client(HTTP_HOST=history.HOST)
    console.force_login(user)
    _, key = ApiKey.issue("bench-dashboard", ["read"])
    api = Client(HTTP_HOST=history.HOST, HTTP_AUTHORIZATION=f"Bearer {key}")
    result["console_dashboard"] = history.timed(
        lambda: history._ok(console.get("/console/dashboard/")), requests
    )
    result["api_stats_7_days"] = history.timed(
        lambda: history._ok(api.get("/api/v1/stats?days=7")), requests
    )
    result["write_overhead"] = write_overhead()
    new, old = after.dashboard(timedelta(days=7)), before.dashboard(timedelta(days=7))
    result["same_figures_as_before"] = {
        part: new[part] == old[part]
        for part in ("queue", "learning", "autonomy", "deflections", "per_day", "csat_over_time")
    }
    result["window_differences"] = {
        k: [old["window"][k], new["window"][k]]
        for k in old["window"]
        if old["window"][k] != new["window"][k]
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--reload", action="store_true", help="load again even if loaded")
    args = parser.parse_args()
    os.environ.setdefault("RESOLVER_DATA_DIR", str(ROOT / "var" / "bench-dashboard"))
    sys.path.insert(0, str(Path(__file__).parent))
    from _setup import setup_django

    setup_django()
    import history_scale as history
    from django.utils import timezone

    from support.models import Conversation, Draft

    marker = Path(os.environ["RESOLVER_DATA_DIR"]) / "history-loaded.json"
    loaded = json.loads(marker.read_text()) if marker.exists() else {}
    if args.reload or loaded.get("conversations") != args.conversations:
        marker.unlink(missing_ok=True)
        print(f"loading {args.conversations:,} conversations ...", flush=True)
        loaded = {"conversations": args.conversations, "load": history.load(args.conversations)}
        marker.write_text(json.dumps(loaded))
        print(json.dumps(loaded), flush=True)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM support_drafthour),"
            " (SELECT count(*) FROM support_drafthourhistogram),"
            " (SELECT count(*) FROM support_citationhour)"
        )
        hours, histograms, citations = cursor.fetchone()
    rows = {
        "conversations": Conversation.objects.count(),
        "drafts": Draft.objects.count(),
        "drafts_in_7_days": Draft.objects.filter(
            created_at__gte=timezone.now() - timedelta(days=7)
        ).count(),
        "rollup_rows": {"hours": hours, "histograms": histograms, "citations": citations},
    }
    print(f"measuring at {rows} ...", flush=True)
    load_before = os.getloadavg()
    measured = measure(args.requests)
    write_result(
        f"dashboard_scale_{args.conversations // 1000}k",
        {
            "scale": rows,
            "load": loaded["load"],
            "before_commit": BEFORE,
            "measured": measured,
            "target_p95_ms": 300,
            "machine": f"{os.cpu_count()} cores, shared with other helpers' benches and tests",
            "load_average": {"before": load_before, "after": os.getloadavg()},
        },
    )


if __name__ == "__main__":
    main()
