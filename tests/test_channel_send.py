"""resolver/channel_send.py: sync code sends on the real Redis channel layer through one event
loop per process, reusing its connection instead of opening one per broadcast (#30)."""

from __future__ import annotations

import asyncio
import os
from typing import Any, cast

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from resolver.channel_send import group_send

GROUP = "channel-send-test"


def _listen() -> tuple[object, str]:
    layer = get_channel_layer()
    assert layer is not None
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(GROUP, channel)
    return layer, channel


def _receive(layer: object, channel: str) -> dict[str, object]:
    return async_to_sync(asyncio.wait_for)(layer.receive(channel), 5)  # type: ignore[attr-defined]


def _connections_opened(client: redis.Redis) -> int:
    stats = cast(dict[str, Any], client.info("stats"))
    return int(stats["total_connections_received"])


def test_a_group_hears_what_sync_code_sends() -> None:
    layer, channel = _listen()
    group_send(GROUP, {"type": "test.event", "n": 1})
    group_send(GROUP, {"type": "test.event", "n": 2})
    assert [_receive(layer, channel)["n"] for _ in range(2)] == [1, 2]


def test_broadcasts_reuse_one_connection(redis_client: redis.Redis) -> None:
    group_send(GROUP, {"type": "test.event"})  # the loop and its connection, made once
    before = _connections_opened(redis_client)
    for n in range(20):
        group_send(GROUP, {"type": "test.event", "n": n})
    # async_to_sync made a loop, and channels_redis a connection, for each of the 20.
    assert _connections_opened(redis_client) - before <= 1  # (the INFO call's own client)


def test_a_forked_child_sends_on_its_own_loop() -> None:
    layer, channel = _listen()
    group_send(GROUP, {"type": "test.event", "from": "parent"})  # the parent's loop is running
    assert _receive(layer, channel)["from"] == "parent"
    pid = os.fork()
    if pid == 0:  # the child: the parent's sender thread does not exist here
        code = 1
        try:
            group_send(GROUP, {"type": "test.event", "from": "child"}, timeout=5)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert _receive(layer, channel)["from"] == "child"


def test_a_refusal_reaches_the_caller() -> None:
    with pytest.raises(TypeError):  # the layer refuses a group name it cannot store
        group_send("not a valid group name!", {"type": "test.event"})
