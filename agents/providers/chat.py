"""Drafts written by a chat model (Ollama, any OpenAI-compatible server, llama.cpp), grounded in
the retrieved articles and customer facts. The model must answer with JSON
{answer, citations[], confidence}; invalid output gets one retry with the error, then the
drafted answer is marked invalid and the graph escalates."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field, ValidationError

from agents import prompts
from agents.providers.base import DraftRequest
from agents.state import DraftedAnswer
from agents.telemetry import llm_span, record_usage
from agents.text import cited_numbers
from knowledge.languages import DEFAULT_LANGUAGE, Language
from knowledge.search import SearchHit
from resolver.redaction import Redactor

SOURCE_CHARS = 1800  # per article, to keep prompts small on local models
_MARKER = re.compile(r"\[(\d{1,2})\]")
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.MULTILINE)


class DraftOutput(BaseModel):
    answer: str = Field(min_length=1, max_length=4000)
    citations: list[int] = Field(default_factory=list, max_length=10)
    confidence: float = Field(ge=0.0, le=1.0)


class InvalidOutput(ValueError):
    pass


# Far more than an answer of DraftOutput's 4,000 characters takes as JSON: anything longer is a
# model that looped, and is not parsed at all.
MAX_OUTPUT_CHARS = 64_000


def storable_text(text: str) -> str:
    """A model's text as a text column takes it: no NUL, no lone surrogate (PostgreSQL refused
    the draft, and the run failed on every retry with the same answer)."""
    return text.replace("\x00", "").encode("utf-8", "ignore").decode("utf-8")


def parse_output(text: str, sources: int) -> DraftOutput:
    if len(text) > MAX_OUTPUT_CHARS:
        raise InvalidOutput(f"the output is over {MAX_OUTPUT_CHARS} characters")
    try:
        data = json.loads(_FENCE.sub("", text.strip()))
        output = DraftOutput.model_validate(data)
    # ValueError: JSON, a number over Python's 4,300 digits; RecursionError: "[[[[…" nested.
    except (ValueError, RecursionError, ValidationError) as exc:
        raise InvalidOutput(str(exc).splitlines()[0][:200] if str(exc) else repr(exc)) from None
    output = output.model_copy(update={"answer": storable_text(output.answer)})
    if not output.answer.strip():
        raise InvalidOutput("the answer is empty")
    numbers = set(output.citations) | set(cited_numbers(output.answer))
    if any(not 1 <= n <= sources for n in numbers):
        raise InvalidOutput(f"citations must be source numbers between 1 and {sources}")
    return output


def citable(request: DraftRequest) -> list[SearchHit]:
    """The evidence the model may quote and cite: customer-facing articles. An internal POLICY
    note ("Steps an agent must take: pull up the account") is the agents' instructions, never a
    source of the reply, as the extractive provider never quotes one."""
    return [item for item in request.evidence if item.customer_facing]


def _sources(request: DraftRequest) -> str:
    return "\n\n".join(
        f"[{n}] {item.title}\n{item.content[:SOURCE_CHARS]}"
        for n, item in enumerate(citable(request), start=1)
    )


def _language_note(language: str) -> str:
    """Asks for the reply in the customer's language ("" for the default: the prompt as it was)."""
    if language == DEFAULT_LANGUAGE:
        return ""
    return prompts.LANGUAGE_NOTE.format(language=Language(language).label)


def _keep(text: str) -> str:
    return text


def build_messages(
    request: DraftRequest, redact: Callable[[str], str] = _keep
) -> list[BaseMessage]:
    """The prompt; `redact` replaces personal data by placeholders in what the customer and the
    facts say before it leaves for the provider (ChatProvider restores them in the answer)."""
    facts = [redact(s) for s in request.facts.sentences()] or ["(none)"]
    # The state holds at most state_builder.HISTORY_TURNS turns. Texts are redacted before they
    # are cut: a value cut in half is no longer recognised (the PII set's long messages).
    history = [f"{turn['role'].lower()}: {redact(turn['body'])[:500]}" for turn in request.history]
    # Memory is the customer's words and our past replies: redacted like the history.
    earlier = [redact(case.as_prompt())[:1200] for case in request.earlier]
    feedback = ""
    if request.feedback:
        reasons = "\n".join(f"- {redact(str(issue))}" for issue in request.feedback)
        feedback = prompts.FEEDBACK.format(reasons=reasons)
    values = request.profile.values
    user = prompts.USER.format(
        company=values.get("company_name", ""),
        contacts=", ".join(
            f"{k}: {values[k]}" for k in ("support_phone", "support_email", "support_hours")
        ),
        sources=_sources(request) or "(none)",
        facts="\n".join(facts),
        history="\n".join(history) or "(none)",
        earlier="\n\n".join(earlier) or "(none)",
        message=redact(request.message)[:4000],
        feedback=feedback,
        language=_language_note(request.language),
    )
    if request.actions:
        user += prompts.ACTIONS_NOTE.format(actions="\n".join(f"- {a}" for a in request.actions))
    return [SystemMessage(prompts.SYSTEM), HumanMessage(user)]


def _usage(model: BaseChatModel, messages: Sequence[BaseMessage], response: BaseMessage) -> int:
    """Tokens the call used, as the model reports them; models that report none (LangChain's
    ChatLlamaCpp) are counted with their own tokenizer (message texts, without the chat
    template's few control tokens)."""
    usage = getattr(response, "usage_metadata", None) or {}
    if total := int(usage.get("total_tokens") or 0):
        return total
    tokenize = getattr(getattr(model, "client", None), "tokenize", None)
    if tokenize is None:
        return 0
    texts = [m.content for m in [*messages, response] if isinstance(m.content, str) and m.content]
    return sum(len(tokenize(text.encode("utf-8"), add_bos=False)) for text in texts)


def _renumber(answer: str, used: list[int]) -> str:
    """Source numbers in the text become positions in the draft's own citation list."""
    position = {source: index for index, source in enumerate(used, start=1)}
    return _MARKER.sub(lambda m: f"[{position[int(m.group(1))]}]", answer)


class ChatProvider:
    translates = True  # told the customer's language, it answers in it from any article

    def __init__(
        self,
        model: BaseChatModel,
        name: str,
        cost_per_1k_tokens: float = 0.0,
        redact_names: bool = True,
    ):
        self.model = model
        self.name = name
        self.cost_per_1k_tokens = cost_per_1k_tokens
        # Person names are found by cues ("my name is", titles, sign-offs): a setting.
        self.redact_names = redact_names

    def _model_name(self) -> str:
        for attribute in ("model_name", "model", "model_path"):
            value = getattr(self.model, attribute, None)
            if isinstance(value, str) and value:
                return f"{self.name}:{value}"
        return self.name

    def draft(self, request: DraftRequest) -> DraftedAnswer:
        started = time.perf_counter()
        # Nothing personal reaches the provider: typed placeholders, the same for the same
        # value within this prompt, restored in the answer before anyone reads it.
        redactor = Redactor(names=self.redact_names)
        messages = build_messages(request, redactor.redact)
        tokens, output, error = 0, None, ""
        for _attempt in range(2):  # one retry on invalid output
            with llm_span(self.name, self._model_name().split(":", 1)[-1]) as span:
                response = self.model.invoke(messages)
                record_usage(span, response)
            tokens += _usage(self.model, messages, response)
            text = response.content if isinstance(response.content, str) else str(response.content)
            try:
                output = parse_output(text, len(citable(request)))
                break
            except InvalidOutput as exc:
                error = str(exc)
                messages = [
                    *messages,
                    AIMessage(text),
                    HumanMessage(prompts.INVALID_OUTPUT.format(error=error)),
                ]
        if output is not None:
            output = output.model_copy(update={"answer": redactor.restore(output.answer)})
        return self._proposal(request, output, error, tokens, started)

    def _proposal(
        self,
        request: DraftRequest,
        output: DraftOutput | None,
        error: str,
        tokens: int,
        started: float,
    ) -> DraftedAnswer:
        cost = float(Decimal(tokens) * Decimal(str(self.cost_per_1k_tokens)) / 1000)
        common: dict[str, Any] = {
            "model": self._model_name(),
            "prompt_version": prompts.PROMPT_VERSION,
            "tokens": tokens,
            "cost": cost,
            "latency_ms": round((time.perf_counter() - started) * 1000),
        }
        if output is None:
            return DraftedAnswer(answer="", citations=[], confidence=0.0, invalid=error, **common)
        used = sorted(set(output.citations) | set(cited_numbers(output.answer)))
        # The model's own confidence is capped by what retrieval supports.
        confidence = min(output.confidence, request.retrieval_confidence)
        return DraftedAnswer(
            answer=_renumber(output.answer.strip(), used),
            citations=[citable(request)[n - 1].citation() for n in used],
            confidence=round(confidence, 4),
            **common,
        )
