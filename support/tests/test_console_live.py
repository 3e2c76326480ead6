"""/ws/console/ for console pages: a snapshot on connect, then HTML fragments for the events that
concern the page (real Redis channel layer, real database)."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User

from resolver.asgi import application
from support.inbound import receive_message
from support.models import Draft
from support.tests.conftest import SUGGESTION, row_ids
from tests.helpers import session_headers

pytestmark = pytest.mark.django_db(transaction=True)


async def _open(user: User, query: str) -> WebsocketCommunicator:
    headers = await database_sync_to_async(session_headers)(user)
    communicator = WebsocketCommunicator(application, f"/ws/console/?{query}", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


def _message(body: str, customer_ref: str = "cust-1", **fields: Any) -> Draft:
    """A customer message as the API takes it: committed, then broadcast (message.created)."""
    _, draft = receive_message(body, customer_ref=customer_ref)
    if fields:
        Draft.objects.filter(pk=draft.pk).update(**fields)
    return draft


async def test_the_queue_gets_a_snapshot_then_every_change(agent_user: User) -> None:
    first = await database_sync_to_async(_message)("first question", **SUGGESTION)
    socket = await _open(agent_user, "view=queue")
    rows = await socket.receive_from(timeout=5)
    assert rows.startswith('<tbody id="queue-rows" hx-swap-oob="true">')
    assert row_ids(rows) == [str(first.pk)]
    summary = await socket.receive_from(timeout=5)
    assert '<p id="queue-summary"' in summary and "1 waiting" in summary

    second = await database_sync_to_async(_message)("my parcel never came")
    rows = await socket.receive_from(timeout=5)
    assert row_ids(rows) == [str(first.pk), str(second.pk)]  # answered first, then PENDING
    assert ">PENDING<" in rows and "my parcel never came" in rows
    assert "2 waiting" in await socket.receive_from(timeout=5)
    await socket.disconnect()


async def test_a_filtered_queue_only_shows_matching_drafts(agent_user: User) -> None:
    socket = await _open(agent_user, "view=queue&status=ESCALATED")
    assert row_ids(await socket.receive_from(timeout=5)) == []
    await socket.receive_from(timeout=5)
    await database_sync_to_async(_message)("hello")  # PENDING: not shown
    assert row_ids(await socket.receive_from(timeout=5)) == []
    assert "0 waiting" in await socket.receive_from(timeout=5)
    await socket.disconnect()


async def test_a_queue_filtered_by_intent_goes_live(agent_user: User) -> None:
    """The intent filter's choices come from the database: read off the event loop, not in it
    (a SynchronousOnlyOperation killed the handshake, and the page retried forever)."""
    socket = await _open(agent_user, "view=queue&intent=track_order")
    assert (await socket.receive_from(timeout=5)).startswith('<tbody id="queue-rows"')
    await socket.disconnect()


async def test_a_conversation_page_hears_only_its_conversation(agent_user: User) -> None:
    draft = await database_sync_to_async(_message)("where is my order?", **SUGGESTION)
    socket = await _open(agent_user, f"conversation={draft.conversation_id}")
    snapshot = await socket.receive_from(timeout=5)
    for fragment in ('<ol id="timeline"', '<div id="draft-cards"', '<ol id="activity"'):
        assert fragment in snapshot
    assert ">SUGGESTED<" in snapshot

    await database_sync_to_async(_message)("another customer", customer_ref="cust-2")
    assert await socket.receive_nothing(timeout=0.5)

    def approve() -> None:
        from resolver.audit_actor import Actor
        from support import review

        review.approve(draft.pk, Actor.for_user(agent_user), "Sent by a colleague")

    await database_sync_to_async(approve)()
    update = await socket.receive_from(timeout=5)
    assert ">SENT<" in update and "Sent by a colleague" in update
    assert "Sent by <strong>user:agnes</strong>" in update
    await socket.disconnect()


async def test_a_socket_without_a_page_still_gets_json_events(agent_user: User) -> None:
    socket = await _open(agent_user, "")
    draft = await database_sync_to_async(_message)("json please")
    event = await socket.receive_json_from(timeout=5)
    assert (event["type"], event["message_id"]) == ("message.created", str(draft.message_id))
    assert event["conversation_id"] == str(draft.conversation_id)
    await socket.disconnect()


async def test_pushed_fragments_escape_customer_text(agent_user: User) -> None:
    evil = '<img src=x onerror="alert(1)"> "quoted"'
    draft = await database_sync_to_async(_message)(evil, customer_ref='<b id="x">', **SUGGESTION)
    socket = await _open(agent_user, "view=queue")
    rows = await socket.receive_from(timeout=5)
    assert "<img" not in rows and "<b id" not in rows
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in rows
    await socket.disconnect()
    socket = await _open(agent_user, f"conversation={draft.conversation_id}")
    page = await socket.receive_from(timeout=5)
    assert "<img" not in page and "&lt;img src=x" in page
    await socket.disconnect()
