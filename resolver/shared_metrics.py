"""Histograms that worker processes observe and any web pod exports: each process counts in
memory, its heartbeat thread adds the counts to Redis every few seconds (one pipeline), and
/metrics reads the sums (resolver/metrics.py). A worker has no HTTP port to scrape, and one scrape
of any pod covers every worker. Counts only grow (a Prometheus counter's contract)."""

from __future__ import annotations

import threading
from collections import defaultdict

import redis
from prometheus_client.core import HistogramMetricFamily

KEY_PREFIX = "resolver:metrics:"
# Seconds; the buckets of every shared histogram.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class SharedHistogram:
    def __init__(self, name: str, documentation: str, label: str) -> None:
        self.name, self.documentation, self.label = name, documentation, label
        self._lock = threading.Lock()
        self._pending: dict[str, float] = defaultdict(float)

    def observe(self, label_value: str, seconds: float) -> None:
        with self._lock:
            for bound in BUCKETS:
                if seconds <= bound:
                    self._pending[f"{label_value}|{bound}"] += 1
            self._pending[f"{label_value}|count"] += 1
            self._pending[f"{label_value}|sum"] += seconds

    def flush(self, client: redis.Redis) -> None:
        with self._lock:
            pending, self._pending = self._pending, defaultdict(float)
        if not pending:
            return
        try:
            pipe = client.pipeline(transaction=False)
            for field, value in pending.items():
                pipe.hincrbyfloat(KEY_PREFIX + self.name, field, value)
            pipe.execute()
        except redis.RedisError:
            with self._lock:  # Redis down: keep the counts for the next flush
                for field, value in pending.items():
                    self._pending[field] += value
            raise

    def family(self, client: redis.Redis) -> HistogramMetricFamily:
        raw = client.hgetall(KEY_PREFIX + self.name)
        values: dict[str, dict[str, float]] = defaultdict(dict)
        for field, value in raw.items():  # type: ignore[union-attr]
            label_value, _, part = field.decode().rpartition("|")
            values[label_value][part] = float(value)
        family = HistogramMetricFamily(self.name, self.documentation, labels=[self.label])
        for label_value, parts in sorted(values.items()):
            buckets = [(str(b), parts.get(str(b), 0.0)) for b in BUCKETS]
            buckets.append(("+Inf", parts.get("count", 0.0)))
            family.add_metric([label_value], buckets, parts.get("sum", 0.0))
        return family


NODE_LATENCY = SharedHistogram(
    "resolver_node_duration_seconds", "Time spent in each node of the agent graph", "node"
)
ALL = (NODE_LATENCY,)


def flush_all(client: redis.Redis) -> None:
    for histogram in ALL:
        histogram.flush(client)
