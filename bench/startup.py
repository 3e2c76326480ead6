"""Start-up and recovery of `make run`, as a new user meets them (issue #13's figures):

- seconds from `manage.py runresolver` on a fresh data dir (embedded PostgreSQL and Redis) to a
  green /healthz;
- the first message after that: POST /api/v1/messages → draft no longer PENDING (wall clock,
  polled every 20 ms), and the draft's own latency_ms; then ten more, for comparison;
- the worker process killed with SIGKILL while messages wait: seconds until a worker consumes
  again (a ping answered), and until every message sent around the kill is drafted.

Run with `make bench` or `cd bench && ../.venv/bin/python startup.py`. Needs no dataset.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import psutil
import redis
from _setup import ROOT, latency_summary, write_result

DATA_DIR = ROOT / "var" / "bench-startup"
PORT = int(os.environ.get("BENCH_PORT", "8765"))
BASE = f"http://127.0.0.1:{PORT}"


def call(method: str, path: str, key: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        BASE + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def healthy() -> bool:
    try:
        with urllib.request.urlopen(f"{BASE}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def wait(predicate: Any, seconds: float, step: float = 0.02) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if predicate():
            return time.monotonic() - started
        time.sleep(step)
    return None


def drafted(key: str, conversation_id: str) -> dict[str, Any] | None:
    draft = call("GET", f"/api/v1/conversations/{conversation_id}", key)["messages"][0]["draft"]
    return None if draft is None or draft["status"] == "PENDING" else dict(draft)


def send(key: str, text: str) -> str:
    return str(call("POST", "/api/v1/messages", key, {"body": text})["conversation_id"])


def time_one(key: str, text: str) -> tuple[float, int]:
    started = time.monotonic()
    conversation = send(key, text)
    result: dict[str, Any] = {}

    def done() -> bool:
        result["draft"] = drafted(key, conversation)
        return result["draft"] is not None

    assert wait(done, 60) is not None, "no draft within 60 s"
    return (time.monotonic() - started) * 1000, int(result["draft"]["latency_ms"])


def worker_process(run: subprocess.Popen[bytes]) -> psutil.Process:
    for process in psutil.Process(run.pid).children(recursive=True):
        parent = process.parent()
        if parent and "dramatiq" in " ".join(parent.cmdline()):
            return process
    raise RuntimeError("no Dramatiq worker process under make run")


def main() -> None:
    shutil.rmtree(DATA_DIR, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(RESOLVER_DATA_DIR=str(DATA_DIR), PORT=str(PORT))
    manage = [sys.executable, str(ROOT / "manage.py")]
    log = open(DATA_DIR.parent / "bench-startup.log", "wb")  # noqa: SIM115 (lives with the run)
    started = time.monotonic()
    run = subprocess.Popen([*manage, "runresolver"], cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        to_healthy = wait(healthy, 300, step=0.25)
        assert to_healthy is not None, "not healthy within 300 s"
        services = urls(DATA_DIR)
        made = subprocess.run(
            [*manage, "create_api_key", "bench", "--scopes", "ingest,read"],
            cwd=ROOT,
            env={**env, **services},
            capture_output=True,
            text=True,
            check=True,
        )
        key = made.stdout.strip().splitlines()[-1]
        first_wall, first_latency = time_one(key, "How do I cancel my order?")
        rest = [time_one(key, f"How can I track order number {n}?") for n in range(10)]

        memory = resident_memory_mb(run)
        messages = [send(key, f"I want a refund for order {n}") for n in range(5)]
        worker_process(run).kill()
        killed = time.monotonic()
        token = send_ping(services["REDIS_URL"])
        messages += [send(key, f"Where is my invoice {n}?") for n in range(5)]
        client = redis.Redis.from_url(services["REDIS_URL"])
        back = wait(lambda: client.get(f"resolver:ping:{token}") is not None, 120, step=0.2)
        assert back is not None, "the worker was not back within 120 s"
        settled = wait(lambda: all(drafted(key, c) for c in messages), 300, step=0.5)
        all_drafted = None if settled is None else time.monotonic() - killed
        write_result(
            "startup",
            {
                "fresh_data_dir_to_healthy_s": round(to_healthy, 1),
                "first_message_after_healthy": {
                    "post_to_draft_ms": round(first_wall),
                    "draft_latency_ms": first_latency,
                },
                "next_10_messages_post_to_draft": latency_summary([w for w, _ in rest]),
                "resident_memory_mb": memory,
                "worker_sigkill": {
                    "back_consuming_s": round(back, 1),
                    "messages_sent_around_the_kill": len(messages),
                    "all_drafted_s": None if all_drafted is None else round(all_drafted, 1),
                },
                "total_bench_s": round(time.monotonic() - started, 1),
            },
        )
    finally:
        run.terminate()
        run.wait(60)
        log.close()


def resident_memory_mb(run: subprocess.Popen[bytes]) -> dict[str, int]:
    """RSS of make run's processes by role, and of the embedded servers it started."""
    roles: dict[str, float] = {}
    tree = [psutil.Process(run.pid), *psutil.Process(run.pid).children(recursive=True)]
    for process in psutil.process_iter(["cmdline", "memory_info"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        role = _role(cmdline, process in tree)
        if role is None:
            continue
        roles[role] = roles.get(role, 0) + process.info["memory_info"].rss / 2**20
    return {role: round(mb) for role, mb in {**roles, "total": sum(roles.values())}.items()}


def _role(cmdline: str, under_make_run: bool) -> str | None:
    if under_make_run:
        if "uvicorn" in cmdline:
            return "web"
        return "worker" if "dramatiq" in cmdline else "supervisor"
    if str(DATA_DIR) in cmdline and ("postgres" in cmdline or "redis-server" in cmdline):
        return "postgres+redis"
    return None


def urls(data_dir: Path) -> dict[str, str]:
    """The embedded servers' URLs (so helper commands join them rather than start their own)."""
    sys.path.insert(0, str(ROOT))
    from resolver.embedded import EmbeddedPostgres, EmbeddedRedis

    return {
        "DATABASE_URL": EmbeddedPostgres(data_dir).url(),
        "REDIS_URL": EmbeddedRedis(data_dir).url(),
    }


def send_ping(redis_url: str) -> str:
    """A ping through the broker; a live worker answers by writing resolver:ping:TOKEN."""
    from dramatiq import Message
    from dramatiq.brokers.redis import RedisBroker

    token = uuid.uuid4().hex
    broker = RedisBroker(url=redis_url, namespace="resolver")
    broker.enqueue(
        Message(queue_name="ops", actor_name="ping", args=(token,), kwargs={}, options={})
    )
    return token


if __name__ == "__main__":
    main()
