"""Time to draft while a subscribed webhook receiver accepts connections and never answers
(README, "HTTP API": a receiver that does not answer does not hold the workers).

One warm worker process (--threads, default 2), one endpoint subscribed to every event at a
local socket that accepts and never replies, N messages (default 40) 0.5 s apart: each draft
queues a webhook delivery that waits out WEBHOOK_TIMEOUT_SECONDS. Prints the time from a
message's commit to its draft's completion, and appends the run to
bench/results/webhook_stall.json (`runs`, with the code measured: BENCH_CODE for another
checkout)."""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import threading
import time
from typing import Any

from _setup import CODE, RESULTS, code_environment, setup_django, write_result


def blackhole() -> tuple[str, list[socket.socket]]:
    held: list[socket.socket] = []
    listener = socket.create_server(("127.0.0.1", 0), backlog=512)

    def accept() -> None:
        while True:
            connection, _ = listener.accept()
            held.append(connection)  # never read, never answered

    threading.Thread(target=accept, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/hook", held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--messages", type=int, default=40)
    args = parser.parse_args()
    setup_django()
    from django.db import transaction
    from django.test import override_settings

    from resolver.broker import start_worker
    from resolver.processes import stop_all
    from support.inbound import receive_message
    from support.models import Draft, DraftStatus, WebhookDelivery, WebhookEndpoint

    url, _held = blackhole()
    with override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=True):
        WebhookEndpoint.objects.all().delete()
        WebhookEndpoint.objects.create(url=url)
    env = {**code_environment(), "WEBHOOK_ALLOW_PRIVATE_TARGETS": "1"}
    worker = start_worker(env=env, threads=args.threads)
    try:
        ids = []
        for number in range(args.messages):
            with transaction.atomic():
                _, draft = receive_message(f"Where is my order {1000 + number}? Not here yet.")
            ids.append(draft.pk)
            time.sleep(0.5)
        deadline = time.time() + 300
        pending = Draft.objects.filter(pk__in=ids, status=DraftStatus.PENDING)
        while pending.exists() and time.time() < deadline:
            time.sleep(0.5)
        rows = Draft.objects.filter(pk__in=ids).values_list("created_at", "completed_at")
        waits = sorted((done - created).total_seconds() for created, done in rows if done)
    finally:
        stop_all([worker])
    run: dict[str, Any] = {
        "code": str(CODE),
        "threads": args.threads,
        "drafted": len(waits),
        "median_s": round(statistics.median(waits), 3),
        "p90_s": round(waits[int(0.9 * len(waits)) - 1], 3),
        "max_s": round(max(waits), 3),
        "over_1s": sum(wait > 1 for wait in waits),
        "deliveries": WebhookDelivery.objects.filter(endpoint__url=url).count(),
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    path = RESULTS / "webhook_stall.json"
    runs = json.loads(path.read_text())["runs"] if path.exists() else []
    write_result("webhook_stall", {"runs": [*runs, run]})


if __name__ == "__main__":
    main()
