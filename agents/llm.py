"""The one module that talks to language models. Everything that calls an LLM gets its chat
model from here, so tests replace only this boundary (with LangChain's fake chat models)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from langchain_core.language_models.chat_models import BaseChatModel
from pydantic import SecretStr

DEFAULT_MODELS = {"ollama": "llama3.2", "openai": "gpt-4o-mini", "llamacpp": "model.gguf"}
TIMEOUT_SECONDS = 60


def _timeout() -> float:
    """Seconds one request to the provider may take: never past the run's own time limit. A
    thread blocked reading a socket is not interrupted by Dramatiq's time limit, so a server
    that hangs would hold the worker thread for good without it."""
    return float(min(TIMEOUT_SECONDS, settings.AGENT_RUN_TIME_LIMIT_SECONDS))


class LLMUnavailable(RuntimeError):
    """The configured provider cannot be used (package missing, model file absent)."""


def chat_model(provider: str | None = None, **overrides: Any) -> BaseChatModel:
    provider = provider or settings.LLM_PROVIDER
    model = overrides.pop("model", None) or settings.LLM_MODEL or DEFAULT_MODELS.get(provider, "")
    if provider == "openai":
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            model=model,
            base_url=overrides.pop("base_url", None) or settings.LLM_BASE_URL or None,
            api_key=SecretStr(
                overrides.pop("api_key", None) or settings.LLM_API_KEY or "not-needed"
            ),
            temperature=0,
            timeout=_timeout(),
            max_retries=overrides.pop("max_retries", 1),
            **overrides,
        )
    if provider == "ollama":
        from langchain_ollama import ChatOllama

        base_url = overrides.pop("base_url", None) or settings.LLM_BASE_URL
        return ChatOllama(
            model=model,
            base_url=base_url or None,
            temperature=0,
            client_kwargs={"timeout": _timeout()},  # the ollama client's default is none
            **overrides,
        )
    if provider == "llamacpp":
        try:
            from langchain_community.chat_models import ChatLlamaCpp
        except ImportError as exc:  # pragma: no cover - optional extra
            raise LLMUnavailable("install the llamacpp extra: pip install '.[llamacpp]'") from exc
        return ChatLlamaCpp(model_path=model, temperature=0, n_ctx=4096, verbose=False)
    raise LLMUnavailable(f"no chat model for provider {provider!r}")
