from __future__ import annotations

from support.announce import event_subject


def test_a_log_line_names_the_draft_or_else_the_message() -> None:
    # message.created carries no draft id: its log line named "draft None".
    created = {"type": "message.created", "message_id": "m-1", "conversation_id": "c-1"}
    suggested = {"type": "draft.suggested", "draft_id": 7, "message_id": "m-1"}
    assert event_subject(created) == "message m-1"
    assert event_subject(suggested) == "draft 7"
