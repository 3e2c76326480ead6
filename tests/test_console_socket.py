"""/ws/console/ is session-authenticated and joins the console group on the real Redis layer."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User

from resolver.asgi import application
from resolver.bootstrap import ensure_agents_group
from support.consumers import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED, CONSOLE_GROUP
from tests.helpers import session_headers

pytestmark = pytest.mark.django_db(transaction=True)


async def connect(headers: list[tuple[bytes, bytes]]) -> tuple[WebsocketCommunicator, bool, int]:
    communicator = WebsocketCommunicator(application, "/ws/console/", headers=headers)
    connected, code = await communicator.connect()
    return communicator, connected, code


async def close_code(communicator: WebsocketCommunicator) -> int:
    """Refusals come as a close frame after the handshake, so the browser can read the code."""
    output = await communicator.receive_output(timeout=5)
    assert output["type"] == "websocket.close"
    # Let the consumer finish: one left receiving would hold the channel layer's lock on this
    # test's event loop, which the next test would trip over.
    await communicator.disconnect()
    return int(output["code"])


@pytest.fixture
def agent() -> User:
    user = User.objects.create_user("agent1", password="x")
    user.groups.add(ensure_agents_group())
    return user


async def test_anonymous_is_refused() -> None:
    communicator, connected, _ = await connect([(b"origin", b"http://127.0.0.1")])
    assert connected
    assert await close_code(communicator) == CLOSE_UNAUTHENTICATED


async def test_non_agent_is_refused() -> None:
    from channels.db import database_sync_to_async

    user = await database_sync_to_async(User.objects.create_user)("customer", password="x")
    headers = await database_sync_to_async(session_headers)(user)
    communicator, connected, _ = await connect(headers)
    assert connected
    assert await close_code(communicator) == CLOSE_FORBIDDEN


async def test_agent_joins_console_group(agent: User) -> None:
    from channels.db import database_sync_to_async

    headers = await database_sync_to_async(session_headers)(agent)
    communicator, connected, _ = await connect(headers)
    assert connected
    layer = get_channel_layer()
    assert layer is not None
    payload = {"type": "draft.ready", "draft_id": "d1"}
    await layer.group_send(CONSOLE_GROUP, {"type": "console.event", "payload": payload})
    assert await communicator.receive_json_from(timeout=5) == payload
    await communicator.disconnect()


async def test_a_foreign_origin_is_refused(agent: User) -> None:
    from channels.db import database_sync_to_async

    headers = await database_sync_to_async(session_headers)(agent)
    headers = [(k, b"https://evil.example" if k == b"origin" else v) for k, v in headers]
    _communicator, connected, _ = await connect(headers)
    assert not connected  # the console socket is for this site's own pages only


async def _connected(agent: User) -> WebsocketCommunicator:
    headers = await database_sync_to_async(session_headers)(agent)
    communicator, connected, _ = await connect(headers)
    assert connected
    return communicator


async def _event_after_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """An event once the socket's access is due for its check (as after RECHECK_SECONDS)."""
    from support import consumers

    monkeypatch.setattr(consumers, "RECHECK_SECONDS", -1.0)
    layer = get_channel_layer()
    assert layer is not None
    event = {"type": "console.event", "payload": {"type": "draft.ready"}}
    await layer.group_send(CONSOLE_GROUP, event)


async def test_a_demoted_agent_stops_receiving(
    agent: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    communicator = await _connected(agent)
    await database_sync_to_async(agent.groups.clear)()
    await _event_after_the_check(monkeypatch)
    assert await close_code(communicator) == CLOSE_FORBIDDEN


@pytest.mark.parametrize("ended", ["logged out", "password changed"])
async def test_a_socket_whose_session_ended_stops_receiving(
    agent: User, monkeypatch: pytest.MonkeyPatch, ended: str
) -> None:
    """Logging out (in another tab), an expired session or a password change ends the agent's
    pages; their sockets are closed at the next check instead of receiving customers' messages
    indefinitely."""
    from django.contrib.sessions.models import Session

    communicator = await _connected(agent)

    def end() -> None:
        if ended == "logged out":
            Session.objects.all().delete()
        else:
            agent.set_password("a new one")
            agent.save()

    await database_sync_to_async(end)()
    await _event_after_the_check(monkeypatch)
    assert await close_code(communicator) == CLOSE_UNAUTHENTICATED


async def test_a_live_session_keeps_receiving_after_the_check(
    agent: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    communicator = await _connected(agent)
    await _event_after_the_check(monkeypatch)
    assert (await communicator.receive_json_from(timeout=5))["type"] == "draft.ready"
    await communicator.disconnect()
