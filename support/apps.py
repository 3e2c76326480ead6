from __future__ import annotations

from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "support"

    def ready(self) -> None:
        # Connects the handler of anymail's inbound signal: the ESP door's only way in
        # (support/email/esp.py says why a signal here).
        from support.email import esp  # noqa: F401
