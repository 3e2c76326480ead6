"""Where an approved action runs (ACTIONS_BACKEND): `builtin` changes Resolver's own Order rows,
in the transaction of the approval; `http` POSTs it to the store (ACTIONS_HTTP_URL), after
commit, retried by the `execute_action` actor. Each answers an Outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

BUILTIN = "builtin"
HTTP = "http"


@dataclass(frozen=True)
class Outcome:
    """What running an action came to: `executed` (with the store's `result`), a permanent
    failure (`error`), or `retry` (a 5xx or a timeout: the same request again, later)."""

    executed: bool
    result: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    retry: bool = False

    @classmethod
    def done(cls, **result: Any) -> Outcome:
        return cls(True, result=result)

    @classmethod
    def failed(cls, error: str, retry: bool = False) -> Outcome:
        return cls(False, error=error, retry=retry)


def backend_name() -> str:
    return str(settings.ACTIONS_BACKEND)
