"""How a door hands a raw e-mail to the receive path: every door (IMAP, the ESP webhooks) calls
the one receiver named by settings.EMAIL_RECEIVER, resolved when a message arrives, with the bytes
as they came and the door's name; it stores, dedupes by Message-ID, quarantines what it cannot
parse, and returns what it did."""

from __future__ import annotations

from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class Receiver(Protocol):
    # `too_large`: the message's size when a door (IMAP) hands over only its headers because
    # the whole is over INBOUND_EMAIL_MAX_BYTES; the receiver quarantines it as such.
    def __call__(
        self,
        raw: bytes,
        *,
        door: str,
        esp_verdict: dict[str, Any] | None = None,
        too_large: int = 0,
    ) -> Any: ...


def receiver() -> Receiver:
    found: Receiver = import_string(settings.EMAIL_RECEIVER)
    return found


def hand_over(raw: bytes, *, door: str, esp_verdict: dict[str, Any] | None = None) -> Any:
    if esp_verdict is None:
        return receiver()(raw, door=door)
    return receiver()(raw, door=door, esp_verdict=esp_verdict)
