"""`manage.py draft` per CONTRACTS.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from knowledge.models import KBDocument
from support.models import Draft, Message


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_single_text(agent_kb: dict[str, KBDocument], capsys: pytest.CaptureFixture[str]) -> None:
    call_command("draft", "how do I cancel my order?", json=True)
    [record] = _lines(capsys)
    assert record["id"] is None
    assert record["status"] == "SUGGESTED"
    assert record["intent"] == "cancel_order"
    assert set(record["guard"]) == {"grounded", "tone", "policy", "reasons"}
    assert record["citations"][0]["kb_id"] == agent_kb["cancel_order/0"].pk
    assert Message.objects.count() == 0  # nothing persisted without --persist


def test_batch_keeps_order_and_ids(
    agent_kb: dict[str, KBDocument], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "in.jsonl"
    rows = [
        {"id": "a", "text": "what is the capital of pakistan"},
        {"id": 2, "text": "   "},
        {"id": "c", "text": "I forgot my password"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    call_command("draft", json=True, file=path)
    records = _lines(capsys)
    assert [r["id"] for r in records] == ["a", 2, "c"]
    assert records[0]["escalation_reason"] == "retrieval_weak"
    assert records[1] == {"id": 2, "error": "the text is empty"}
    assert records[2]["intent"] == "recover_password"


def test_persist_writes_the_rows(
    agent_kb: dict[str, KBDocument], capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("draft", "I forgot my password", json=True, persist=True)
    [record] = _lines(capsys)
    draft = Draft.objects.get(pk=record["draft_id"])
    assert draft.status == record["status"] == "SUGGESTED"
    assert str(draft.message_id) == record["message_id"]


def test_bad_input_exits_2(db: None, tmp_path: Path) -> None:
    with pytest.raises(CommandError) as empty:
        call_command("draft", "  ", json=True)
    assert empty.value.returncode == 2
    path = tmp_path / "bad.jsonl"
    path.write_text("{not json\n")
    with pytest.raises(CommandError) as bad:
        call_command("draft", json=True, file=path)
    assert bad.value.returncode == 2
