"""A provider that accepts the connection and never answers must not hold a worker thread past
the run's time limit: Dramatiq's limit cannot interrupt a thread blocked reading a socket."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from agents.llm import chat_model


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections, reads the request and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


@pytest.mark.parametrize("provider", ["ollama", "openai"])
def test_a_silent_provider_times_out_within_the_run_limit(
    provider: str, silent_server: str, settings: Any
) -> None:
    settings.AGENT_RUN_TIME_LIMIT_SECONDS = 1
    model = chat_model(provider, base_url=silent_server, model="stub", max_retries=0)
    started = time.monotonic()
    with pytest.raises(Exception) as raised:
        model.invoke([HumanMessage(content="hello")])
    assert time.monotonic() - started < 5
    assert (
        "timed out" in str(raised.value).lower() or "timeout" in type(raised.value).__name__.lower()
    )
