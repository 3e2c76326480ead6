"""/healthz: one JSON entry per dependency; 503 when any is down, never a 500."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils.log import log_response
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from resolver.heartbeat import live_workers
from resolver.redis_client import get_redis

logger = logging.getLogger(__name__)

Check = Callable[[], dict[str, Any]]


def check_database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
    if row is None:
        return {"ok": False, "error": "pgvector extension is not installed (run migrate)"}
    return {"ok": True, "pgvector": row[0]}


def check_redis() -> dict[str, Any]:
    return {"ok": bool(get_redis().ping())}


def check_worker() -> dict[str, Any]:
    count = live_workers(get_redis())
    if count == 0:
        return {"ok": False, "workers": 0, "error": "no Dramatiq worker heartbeat"}
    return {"ok": True, "workers": count}


CHECKS: dict[str, Check] = {
    "db": check_database,
    "redis": check_redis,
    "worker": check_worker,
    **{name: import_string(path) for name, path in settings.HEALTH_APP_CHECKS.items()},
}


# The failing checks last answered, per set of checks asked for (a readiness probe's and the
# full /healthz's states differ): a change is logged, a repeat is not.
_last_failing: dict[tuple[str, ...], tuple[str, ...]] = {}


# The last exception text each check raised: logged when it changes, not per probe.
_last_error: dict[str, str] = {}


def run_check(name: str, check: Check) -> dict[str, Any]:
    try:
        return check()
    except Exception as exc:  # a health check reports failures, it never raises
        # /healthz answers anyone who reaches it: the exception's class only. Its text names
        # hosts, ports and database users ("Error 111 connecting to redis-0.internal:6379"),
        # which go to the log, once when they change.
        detail = f"{type(exc).__name__}: {exc}"[:300]
        if _last_error.get(name) != detail:
            _last_error[name] = detail
            logger.warning("health check %s failed: %s", name, detail)
        return {"ok": False, "error": f"{type(exc).__name__} (details in the log)"}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Every check, or only those named in `?only=db,redis` (a web pod's readiness: its own
    dependencies, not the workers'); `?only=` runs none (liveness: the process answers)."""
    names = list(CHECKS)
    if "only" in request.GET:
        names = [name for name in request.GET["only"].split(",") if name]
        if unknown := sorted(set(names) - set(CHECKS)):
            detail = f"unknown checks {unknown}; known: {sorted(CHECKS)}"
            return JsonResponse({"detail": detail, "code": "invalid_check"}, status=400)
    results = {name: run_check(name, CHECKS[name]) for name in names}
    healthy = all(result["ok"] for result in results.values())
    body = {"status": "ok" if healthy else "error", "checks": results}
    response = JsonResponse(body, status=200 if healthy else 503)
    # Keyed by the set asked for: at most one entry per subset of CHECKS, whatever the query.
    _log_change(request, response, tuple(sorted(set(names))), results)
    return response


def _log_change(
    request: HttpRequest,
    response: JsonResponse,
    names: tuple[str, ...],
    results: dict[str, dict[str, Any]],
) -> None:
    """A 503 here is an answer, not a failure of the request: Django would log each one at ERROR
    (`make run` polls /healthz twice a second while the worker warms up, a probe every few
    seconds through an outage). A WARNING when the failing checks change, an INFO when all pass
    again; repeats at DEBUG."""
    failing = tuple(name for name, result in results.items() if not result["ok"])
    changed = _last_failing.get(names, ()) != failing
    _last_failing[names] = failing
    if failing:
        log_response(
            "Service Unavailable: %s (failing checks: %s)",
            request.path,
            ", ".join(failing),
            response=response,
            request=request,
            level="warning" if changed else "debug",
        )
    elif changed:
        logger.info("health: all checks pass again (%s)", ", ".join(names) or "none asked")
