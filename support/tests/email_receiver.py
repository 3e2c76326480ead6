"""A receiver for the doors' tests, named by settings.EMAIL_RECEIVER as the real receive path is:
it records each message it is handed (raw bytes, door, ESP verdict) and refuses, by raising, any
message that contains one of the `refuse` markers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PATH = "support.tests.email_receiver.receive"


@dataclass
class Handed:
    raw: bytes
    door: str
    esp_verdict: dict[str, Any] | None
    too_large: int = 0


@dataclass
class Recorder:
    handed: list[Handed] = field(default_factory=list)
    refuse: set[bytes] = field(default_factory=set)
    error: type[Exception] = ValueError

    def raws(self) -> list[bytes]:
        return [item.raw for item in self.handed]

    def reset(self) -> None:
        self.handed.clear()
        self.refuse.clear()
        self.error = ValueError


RECORDER = Recorder()


def receive(
    raw: bytes, *, door: str, esp_verdict: dict[str, Any] | None = None, too_large: int = 0
) -> None:
    if any(marker in raw for marker in RECORDER.refuse):
        raise RECORDER.error("refused by the test receiver")
    RECORDER.handed.append(Handed(raw, door, esp_verdict, too_large))
