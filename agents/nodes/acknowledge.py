"""acknowledge: praise a person would thank, with nothing to answer (signals.praise: no sarcasm,
no problem, no question, no complaint), gets a short thank-you (PRAISE_REPLY "acknowledge") or no
text at all ("none"); no KB article is quoted, nothing is promised."""

from __future__ import annotations

from typing import Any

from agents.prompts import ACKNOWLEDGEMENT, ACKNOWLEDGEMENT_VERSION, NO_REPLY_ACTION
from agents.services import Services
from agents.state import AgentState, DraftedAnswer


def acknowledge_node(state: AgentState, services: Services) -> dict[str, Any]:
    company = state["profile"].values.get("company_name", "")
    # How sure the run is that this is praise to thank (signals.acknowledge, calibrated).
    acknowledge = state["signals"].acknowledge
    if services.settings.praise_reply == "none":
        answer, action = "", NO_REPLY_ACTION
    else:
        answer, action = ACKNOWLEDGEMENT.format(company=company).rstrip(" —"), ""
    drafted = DraftedAnswer(
        answer=answer,
        citations=[],
        confidence=round(acknowledge, 4),
        model="template",
        prompt_version=ACKNOWLEDGEMENT_VERSION,
        suggested_action=action,
    )
    return {"drafted_answer": drafted, "trace": ["acknowledge"]}
