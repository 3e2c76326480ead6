from __future__ import annotations

from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "support"
