"""Entry module for `dramatiq` worker processes: set Django up (which sets the broker) first."""

from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "resolver.settings")
django.setup()
