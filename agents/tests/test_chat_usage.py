"""Token accounting of chat providers: the model's own usage report, else its tokenizer."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, HumanMessage

from agents.providers.chat import _usage


class WordTokenizer:
    """Stands in for llama_cpp.Llama: one token per word."""

    def tokenize(self, data: bytes, add_bos: bool = True) -> list[int]:
        assert add_bos is False
        return list(range(len(data.split())))


class LlamaLike(FakeListChatModel):
    client: Any = None


def test_the_model_s_usage_report_wins() -> None:
    response = AIMessage(
        "hi", usage_metadata={"input_tokens": 40, "output_tokens": 2, "total_tokens": 42}
    )
    model = LlamaLike(responses=["hi"], client=WordTokenizer())
    assert _usage(model, [HumanMessage("one two three")], response) == 42


def test_without_a_report_the_model_s_tokenizer_counts() -> None:
    model = LlamaLike(responses=["a b c"], client=WordTokenizer())
    messages = [HumanMessage("one two"), HumanMessage("three")]
    assert _usage(model, messages, AIMessage("a b c")) == 6


def test_without_either_nothing_is_invented() -> None:
    model = FakeListChatModel(responses=["a b c"])
    assert _usage(model, [HumanMessage("one two")], AIMessage("a b c")) == 0
