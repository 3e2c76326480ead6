"""Soak: steady ingest at half the measured maximum for DURATION seconds (10 minutes by default)
with a real Dramatiq worker drafting, on uvicorn as `make run` starts it. Reports errors (any
answer but 202), the resident memory of the web process and of the worker (its processes
together) sampled every SAMPLE seconds, and the slope of each (least squares, MB per minute),
plus the queue left at the end. Targets: 0 errors, memory flat (|slope| under 1 MB/min after the
first minute's warm-up)."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import time
from typing import Any

import aiohttp
import psutil
from _setup import latency_summary, setup_django, write_result
from ingest import Target, api_key, closed_loop, purge, start_server

WARM_UP_SECONDS = 60  # models load, pools fill: memory grows before it settles
FLAT_MB_PER_MINUTE = 1.0


def rss_mb(pid: int) -> float:
    process = psutil.Process(pid)
    members = [process, *process.children(recursive=True)]
    return sum(p.memory_info().rss for p in members if p.is_running()) / 2**20


def slope_mb_per_minute(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) samples, in MB per minute."""
    n = len(samples)
    if n < 2:
        return 0.0
    mean_t = sum(t for t, _ in samples) / n
    mean_m = sum(m for _, m in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    cov = sum((t - mean_t) * (m - mean_m) for t, m in samples)
    return round(cov / var * 60, 3) if var else 0.0


async def steady(
    target: Target, rate: float, seconds: float, sample: float, pids: dict[str, int]
) -> dict[str, Any]:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    memory: dict[str, list[tuple[float, float]]] = {name: [] for name in pids}
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(scheduled: float) -> None:
            try:
                async with session.post(
                    target.url, data=target.body(), headers=target.headers
                ) as response:
                    await response.read()
                    if response.status != 202:
                        errors[str(response.status)] = errors.get(str(response.status), 0) + 1
            except aiohttp.ClientError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            latencies.append((time.perf_counter() - scheduled) * 1000)

        tasks = []
        start = time.perf_counter()
        next_sample = start
        for i in range(int(rate * seconds)):
            scheduled = start + i / rate
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            if time.perf_counter() >= next_sample:
                for name, pid in pids.items():
                    memory[name].append((time.perf_counter() - start, rss_mb(pid)))
                next_sample += sample
            tasks.append(asyncio.create_task(one(scheduled)))
        await asyncio.gather(*tasks)
    settled = {
        name: [(t, m) for t, m in points if t >= WARM_UP_SECONDS] for name, points in memory.items()
    }
    return {
        "rate": round(rate, 1),
        "requests": len(latencies),
        "errors": errors,
        "latency": latency_summary(latencies),
        "memory_mb": {
            name: {
                "first": round(points[0][1], 1),
                "last": round(points[-1][1], 1),
                "max": round(max(m for _, m in points), 1),
                "slope_mb_per_min_after_warm_up": slope_mb_per_minute(settled[name]),
            }
            for name, points in memory.items()
            if points
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0)
    parser.add_argument("--sample", type=float, default=10.0)
    args = parser.parse_args()
    setup_django()
    from django.conf import settings

    from agents.actors import process_message
    from resolver.broker import child_environment, worker_command
    from resolver.processes import stop_all
    from resolver.redis_client import get_redis

    issued, key = api_key()
    ingest = Target(
        "/api/v1/messages",
        {"content-type": "application/json", "authorization": f"Bearer {key}"},
        202,
    )
    server = start_server()
    worker = subprocess.Popen(worker_command(processes=1, threads=2), env=child_environment())
    try:
        asyncio.run(closed_loop(ingest, 16, 3))  # warm-up
        maximum = asyncio.run(closed_loop(ingest, 16, 10))
        result = asyncio.run(
            steady(
                ingest,
                maximum["rps"] / 2,
                args.duration,
                args.sample,
                {"web": server.pid, "worker": worker.pid},
            )
        )
        depth = get_redis().llen(f"{settings.DRAMATIQ_NAMESPACE}:{process_message.queue_name}")
    finally:
        stop_all([worker])
        server.terminate()
        server.wait(timeout=30)
        purge(lambda: process_message.broker.flush(process_message.queue_name))
        issued.revoke()
    slopes = [m["slope_mb_per_min_after_warm_up"] for m in result["memory_mb"].values()]
    write_result(
        "soak",
        {
            "server": "uvicorn, 1 process; 1 Dramatiq worker process, 2 threads; 2 cores shared",
            "duration_s": args.duration,
            "measured_max_rps": maximum["rps"],
            **result,
            "drafts_queue_left": depth,
            "targets": {
                "0 errors": not result["errors"],
                f"memory slope under {FLAT_MB_PER_MINUTE} MB/min": all(
                    abs(s) < FLAT_MB_PER_MINUTE for s in slopes
                ),
            },
        },
    )


if __name__ == "__main__":
    main()
