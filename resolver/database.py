"""Turn DATABASE_URL into Django's DATABASES entry (TCP host or a Unix-socket dir in ?host=)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from resolver.env import ConfigError

POSTGRES_SCHEMES = ("postgres", "postgresql", "pgsql")


def database_config(url: str, *, conn_max_age: int = 60, pool_size: int = 0) -> dict[str, Any]:
    """pool_size > 0: a psycopg pool of up to that many connections (CONN_MAX_AGE must be 0)."""
    parts = urlsplit(url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ConfigError("DATABASE_URL has no database name (postgresql://user@host:5432/NAME)")
    host = query.pop("host", None) or (parts.hostname or "")
    options: dict[str, Any] = {"connect_timeout": 5, **query}
    if pool_size:
        options["pool"] = {
            "min_size": min(2, pool_size),
            "max_size": pool_size,
            "timeout": 10,
        }
        conn_max_age = 0
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(parts.port or ""),
        "CONN_MAX_AGE": conn_max_age,
        # With a pool, Django passes this to psycopg's pool as its `check`: a connection broken
        # by a PostgreSQL restart is replaced before a request gets it, so the process recovers
        # without a restart.
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": options,
    }
