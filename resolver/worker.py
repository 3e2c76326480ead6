"""Entry module for `dramatiq` worker processes: set Django up (which sets the broker) first,
then check that the database can do vector work before the worker takes any message."""

from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "resolver.settings")
os.environ.setdefault("OTEL_SERVICE_NAME", "resolver-worker")
django.setup()

from django.conf import settings  # noqa: E402  (after setup, by design)

from resolver.dbcheck import check_or_exit  # noqa: E402

check_or_exit(settings.DATABASE_URL, settings.RESOLVER_DATA_DIR)
