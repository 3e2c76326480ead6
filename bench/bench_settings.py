"""Settings of the ingest benchmark's server: the product's, plus a no-op django-ninja API to
compare against (bench_urls.py). The rate limit is raised, not disabled, so its cost is paid."""

from __future__ import annotations

from resolver.settings import *  # noqa: F403

ROOT_URLCONF = "bench_urls"
API_RATE_LIMIT_PER_MINUTE = 100_000_000
