"""/ws/widget/{id}/?token=…: a customer's live channel (real Redis channel layer)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User

from resolver.asgi import application
from resolver.audit_actor import Actor
from support import review
from support.consumers import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED, CLOSE_UNEXPECTED_FRAME
from support.inbound import receive_message
from support.models import Channel, WidgetKey
from support.tests.conftest import SHOP
from support.widget import tokens
from tests.helpers import session_headers

pytestmark = pytest.mark.django_db(transaction=True)


def _key() -> WidgetKey:
    return WidgetKey.objects.create(name="Shop", allowed_origins=[SHOP])


async def _socket(conversation_id: Any, token: str, origin: str = SHOP) -> WebsocketCommunicator:
    path = f"/ws/widget/{conversation_id}/?token={token}"
    communicator = WebsocketCommunicator(application, path, headers=[(b"origin", origin.encode())])
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def _closed_with(communicator: WebsocketCommunicator) -> int:
    output = await communicator.receive_output(timeout=5)
    assert output["type"] == "websocket.close"
    # Let the consumer finish: one left receiving would hold the channel layer's lock on this
    # test's event loop, which the next test would trip over.
    await communicator.disconnect()
    return int(output["code"])


def _conversation_with_draft() -> tuple[Any, Any]:
    message, draft = receive_message("hello", channel=Channel.WIDGET, enqueue=False)
    return message.conversation_id, draft


async def test_an_agent_reply_reaches_the_widget(agent_user: User) -> None:
    key = await database_sync_to_async(_key)()
    conversation_id, draft = await database_sync_to_async(_conversation_with_draft)()
    socket = await _socket(conversation_id, tokens.issue(conversation_id, key.pk))
    await database_sync_to_async(review.approve)(draft.pk, Actor.for_user(agent_user), "On its way")
    event = await socket.receive_json_from(timeout=5)
    assert event["type"] == "message"
    assert (event["message"]["role"], event["message"]["body"]) == ("agent", "On its way")
    await socket.disconnect()


async def test_refusals_are_told_by_close_code() -> None:
    key = await database_sync_to_async(_key)()
    conversation_id, _ = await database_sync_to_async(_conversation_with_draft)()
    good = tokens.issue(conversation_id, key.pk)
    other = tokens.issue(uuid.uuid4(), key.pk)
    cases = [
        (good, "https://evil.example", CLOSE_FORBIDDEN),
        (other, SHOP, CLOSE_FORBIDDEN),
        ("garbage", SHOP, CLOSE_UNAUTHENTICATED),
    ]
    for token, origin, code in cases:
        socket = await _socket(conversation_id, token, origin)
        assert await _closed_with(socket) == code


async def test_a_frame_from_the_page_closes_the_listen_only_socket() -> None:
    """static/widget.js sends nothing on its socket: a large frame is closed on unparsed (and
    uvicorn takes none over WEBSOCKET_MAX_FRAME_BYTES)."""
    key = await database_sync_to_async(_key)()
    conversation_id, _ = await database_sync_to_async(_conversation_with_draft)()
    socket = await _socket(conversation_id, tokens.issue(conversation_id, key.pk))
    await socket.send_to(text_data="x" * 60_000)
    assert await _closed_with(socket) == CLOSE_UNEXPECTED_FRAME


async def test_an_agent_typing_shows_in_the_widget(agent_user: User) -> None:
    key = await database_sync_to_async(_key)()
    conversation_id, _ = await database_sync_to_async(_conversation_with_draft)()
    widget = await _socket(conversation_id, tokens.issue(conversation_id, key.pk))
    headers = await database_sync_to_async(session_headers)(agent_user)
    console = WebsocketCommunicator(application, "/ws/console/", headers=headers)
    assert (await console.connect())[0]
    await console.send_json_to({"type": "typing", "conversation_id": str(conversation_id)})
    assert await widget.receive_json_from(timeout=5) == {"type": "typing"}
    await console.send_json_to({"type": "typing", "conversation_id": str(conversation_id)})
    assert await widget.receive_nothing(timeout=0.5)  # at most one every 2 s
    await console.disconnect()
    await widget.disconnect()


async def test_a_socket_whose_widget_key_was_turned_off_stops_receiving(
    agent_user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support import consumers

    monkeypatch.setattr(consumers, "RECHECK_SECONDS", 0.0)  # every event checks again
    key = await database_sync_to_async(_key)()
    conversation_id, draft = await database_sync_to_async(_conversation_with_draft)()
    socket = await _socket(conversation_id, tokens.issue(conversation_id, key.pk))
    await database_sync_to_async(WidgetKey.objects.filter(pk=key.pk).update)(active=False)

    await database_sync_to_async(review.approve)(draft.pk, Actor.for_user(agent_user), "On its way")

    assert await _closed_with(socket) == CLOSE_FORBIDDEN
