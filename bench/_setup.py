"""Shared set-up for benchmark scripts: Django on the bench's own embedded services (var/bench)."""

from __future__ import annotations

import csv
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT.parent / "shared" / "datasets"
RESULTS = ROOT / "bench" / "results"


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "resolver.settings")
    os.environ.setdefault("RESOLVER_DATA_DIR", str(ROOT / "var" / "bench"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


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
