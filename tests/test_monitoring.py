"""deploy/monitoring: the Grafana dashboard and the Prometheus alert rules load, and every metric
they use is one /metrics exports (so a renamed metric cannot silently blank a panel or an alert)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from django.test import Client

MONITORING = Path(__file__).resolve().parent.parent / "deploy" / "monitoring"
METRIC = re.compile(r"\b((?:resolver|process)_[a-z_]+)")
SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


def _expressions() -> list[str]:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    rules = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    return exprs


def _base(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def test_every_metric_the_dashboard_and_alerts_use_is_exported(db: None, client: Client) -> None:
    client.get("/healthz?only=")  # a request, so the request histogram has a series
    exported = client.get("/metrics").content.decode()
    families = {_base(m) for m in re.findall(r"^# TYPE (\S+)", exported, re.MULTILINE)}
    used = {_base(m) for expr in _expressions() for m in METRIC.findall(expr)}
    assert len(used) >= 10
    assert used <= families, f"not exported: {sorted(used - families)}"


def test_alert_rules_have_what_alertmanager_needs() -> None:
    rules = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    names = [r["alert"] for g in rules["groups"] for r in g["rules"]]
    assert {"ResolverQueueBackingUp", "ResolverNoLiveWorker", "ResolverOutboxBacklog"} <= set(names)
    assert any("5.." in r["expr"] for g in rules["groups"] for r in g["rules"])  # error rate
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in {"page", "warn"}
            assert rule["annotations"]["summary"]
