"""Ingest throughput and latency over HTTP on loopback, side by side with a no-op django-ninja
endpoint on the same server (uvicorn, one process, as `make run` starts it).

1. Closed loop (CONCURRENCY connections, DURATION s each) against POST /bench/noop, POST
   /api/v1/messages and POST /api/bench/noop-auth (the no-op behind the product's rate limiter and
   API-key auth): maximum requests per second and latency. The target ratio uses the bare no-op.
2. Open loop at half of the measured ingest maximum for DURATION s: latency percentiles, timed
   from each request's scheduled send time (no coordinated omission).

The load generator (aiohttp) shares the 2 cores with the server. No Dramatiq worker runs, so
drafting does not compete for CPU; the queued runs are purged afterwards."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from _setup import ROOT, latency_summary, setup_django, write_result

from resolver.polling import answers, wait_for

HOST = "127.0.0.1"
PORT = 8765
BASE = f"http://{HOST}:{PORT}"


def start_server(
    settings_module: str = "bench_settings", port: int = PORT
) -> subprocess.Popen[bytes]:
    """uvicorn with one process, as `make run` starts it, on the bench's services."""
    from resolver.broker import child_environment

    env = {
        **child_environment(),
        "DJANGO_SETTINGS_MODULE": settings_module,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "bench"), str(ROOT)]),
    }
    argv = [sys.executable, "-m", "uvicorn", "resolver.asgi:application", "--host", HOST]
    argv += ["--port", str(port), "--lifespan", "off", "--no-access-log", "--log-level", "warning"]
    server = subprocess.Popen(argv, env=env)
    # `?only=` runs no check (liveness): no worker runs yet, so a full /healthz would be 503. (The
    # API document was asked before; building it can take over the probe's 2 s on a busy machine.)
    live = f"http://{HOST}:{port}/healthz?only="
    up = wait_for(lambda: server.poll() is not None or answers(live), 180)
    if not up or server.poll() is not None:
        server.kill()
        server.wait()
        raise RuntimeError("the bench server did not come up")
    return server


class Target:
    def __init__(self, path: str, headers: dict[str, str], expect: int) -> None:
        self.url, self.headers, self.expect = BASE + path, headers, expect
        self.counter = 0

    def body(self) -> bytes:
        self.counter += 1
        return f'{{"body": "where is my order #{self.counter}?", "customer_ref": "bench"}}'.encode()


async def _send(session: aiohttp.ClientSession, target: Target) -> None:
    async with session.post(target.url, data=target.body(), headers=target.headers) as response:
        await response.read()
        if response.status != target.expect:
            raise RuntimeError(f"{target.url}: HTTP {response.status}")


async def closed_loop(target: Target, concurrency: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = time.perf_counter() + seconds

        async def client() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                await _send(session, target)
                latencies.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"rps": round(len(latencies) / elapsed, 1), **latency_summary(latencies)}


async def open_loop(target: Target, rate: float, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(scheduled: float) -> None:
            await _send(session, target)
            latencies.append((time.perf_counter() - scheduled) * 1000)

        tasks = []
        start = time.perf_counter()
        for i in range(int(rate * seconds)):
            scheduled = start + i / rate
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            tasks.append(asyncio.create_task(one(scheduled)))
        await asyncio.gather(*tasks)
    return {"rate": round(rate, 1), **latency_summary(latencies)}


def api_key() -> tuple[Any, str]:
    from resolver.models import ApiKey

    return ApiKey.issue("bench-ingest", ["ingest"])


def purge(run: Callable[[], None]) -> None:
    """Drops the queued agent runs and the bench's rows (they would swamp the next bench)."""
    from support.models import AuditLog, Conversation

    run()
    conversations = Conversation.objects.filter(customer_ref="bench")
    AuditLog.objects.filter(conversation__in=conversations).delete()
    conversations.delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    setup_django()
    from agents.actors import process_message

    issued, key = api_key()
    noop = Target("/bench/noop", {"content-type": "application/json"}, 200)
    ingest = Target(
        "/api/v1/messages",
        {"content-type": "application/json", "authorization": f"Bearer {key}"},
        202,
    )
    noop_auth = Target("/api/bench/noop-auth", ingest.headers, 200)
    server = start_server()
    try:
        asyncio.run(closed_loop(noop, args.concurrency, 2))  # warm-up
        asyncio.run(closed_loop(ingest, args.concurrency, 2))
        noop_max = asyncio.run(closed_loop(noop, args.concurrency, args.duration))
        ingest_max = asyncio.run(closed_loop(ingest, args.concurrency, args.duration))
        noop_auth_max = asyncio.run(closed_loop(noop_auth, args.concurrency, args.duration))
        half = asyncio.run(open_loop(ingest, ingest_max["rps"] / 2, args.duration))
        noop_half = asyncio.run(open_loop(noop, ingest_max["rps"] / 2, args.duration))
    finally:
        server.terminate()
        server.wait(timeout=30)
        purge(lambda: process_message.broker.flush(process_message.queue_name))
        issued.revoke()
    ratio = round(ingest_max["rps"] / noop_max["rps"], 3)
    auth_ratio = round(ingest_max["rps"] / noop_auth_max["rps"], 3)
    result = {
        "server": "uvicorn, 1 process, resolver.asgi (sync ninja views)",
        "concurrency": args.concurrency,
        "duration_s": args.duration,
        "noop_closed_loop": noop_max,
        "ingest_closed_loop": ingest_max,
        "ingest_over_noop_throughput": ratio,
        "noop_with_auth_and_rate_limit_closed_loop": noop_auth_max,
        "ingest_over_noop_with_auth_throughput": auth_ratio,
        "ingest_at_half_max_rate": half,
        "noop_at_same_rate": noop_half,
        "targets": {
            "ingest_over_noop_with_auth_throughput >= 0.6": auth_ratio >= 0.6,
            "ingest p95 at half max <= 50 ms": half["p95_ms"] <= 50,
        },
    }
    write_result("ingest", result)


if __name__ == "__main__":
    main()
