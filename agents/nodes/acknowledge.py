"""acknowledge: praise a person would thank, with nothing to answer (signals.praise: no sarcasm,
no problem, no question, no complaint), gets a short thank-you (PRAISE_REPLY "acknowledge") or no
text at all ("none"); no KB article is quoted, nothing is promised. The thank-you is worded in
English: to a message whose language was not determined (a few words whose best guess is another
language, "vale, perfecto") none is offered either (#31: no English answer to a customer writing
in another language); the agent sees "no reply needed" and the message."""

from __future__ import annotations

from typing import Any

from agents.prompts import ACKNOWLEDGEMENT, ACKNOWLEDGEMENT_VERSION, NO_REPLY_ACTION
from agents.services import Services
from agents.state import AgentState, DraftedAnswer
from knowledge.languages import DEFAULT_LANGUAGE


def acknowledge_node(state: AgentState, services: Services) -> dict[str, Any]:
    company = state["profile"].values.get("company_name", "")
    # How sure the run is that this is praise to thank (signals.acknowledge, calibrated).
    acknowledge = state["signals"].acknowledge
    english = state["triage_result"].language in ("", DEFAULT_LANGUAGE)
    if services.settings.praise_reply == "none" or not english:
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
