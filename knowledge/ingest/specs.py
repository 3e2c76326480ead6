from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from knowledge.languages import DEFAULT_LANGUAGE


class SourceError(Exception):
    """The source cannot be read at all (unknown kind, missing or unreadable file): nothing is
    written."""


@dataclass(frozen=True)
class ReadProblem:
    """One malformed row or file, skipped while the rest is ingested."""

    line: int
    reason: str
    where: str = ""

    def __str__(self) -> str:
        location = f"{self.where}:{self.line}" if self.where else f"line {self.line}"
        return f"{location}: {self.reason}"


@dataclass(frozen=True)
class DocumentSpec:
    """What a reader produces: one KB document, before it touches the database."""

    source: str
    external_id: str
    title: str
    content: str
    intent: str = ""
    category: str = ""
    # Customer questions this article answers; indexed as their own chunks.
    questions: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    # ISO 639-1 (knowledge/languages.py): what the article is written in.
    language: str = DEFAULT_LANGUAGE.value

    def content_hash(self) -> str:
        """Changes whenever anything that is stored or embedded changes."""
        payload: list[Any] = [self.title, self.content, self.intent, self.category]
        payload += [list(self.questions), self.metadata]
        if self.language != DEFAULT_LANGUAGE:
            # Only when not the default: every English article's stored hash stays as it was
            # (re-ingesting an unchanged KB re-embeds nothing).
            payload.append(self.language)
        raw = json.dumps(payload, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(raw.encode()).hexdigest()


# The columns' lengths (knowledge/models/document.py): a longer value is the row's problem,
# reported with the others, never a database error that fails the whole import.
MAX_CHARS = {"external_id": 200, "title": 300, "intent": 64, "category": 64}


def unstorable(spec: DocumentSpec) -> str:
    """Why PostgreSQL could not store the spec ("" when it can): a field over its column's
    length, a NUL or lone surrogate in its text or its metadata, NaN or Infinity in its
    metadata."""
    for name, limit in MAX_CHARS.items():
        if len(getattr(spec, name)) > limit:
            return f"{name} is longer than {limit} characters"
    texts = {"title": spec.title, "content": spec.content, "intent": spec.intent}
    texts |= {"category": spec.category, "external_id": spec.external_id}
    texts |= {f"questions[{i}]": q for i, q in enumerate(spec.questions)}
    if problem := unstorable_json(spec.metadata):
        return f"metadata {problem}"
    for name, text in texts.items():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return f"{name} holds an unpaired surrogate"
        if "\x00" in text:
            return f"{name} holds a NUL character"
    return ""


def unstorable_json(value: Any) -> str:
    """What in `value` a jsonb column refuses, as "holds …" ("" when nothing): NaN or Infinity,
    a NUL (\\u0000) or an unpaired surrogate in a key or a string."""
    try:
        # Not escaped to ASCII: escaped, a lone surrogate reads "\ud83d", which encodes, and
        # only PostgreSQL refuses it (a database error that failed the whole import).
        text = json.dumps(value, allow_nan=False, ensure_ascii=False, default=str)
    except ValueError:
        return "holds NaN or Infinity, which JSON cannot"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "holds an unpaired surrogate"
    if "\\u0000" in text:  # JSON escapes a NUL even when not escaping to ASCII
        return "holds a NUL character"
    return ""


@dataclass
class IngestReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    chunks_embedded: int = 0
    problems: list[ReadProblem] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return len(self.problems)

    def summary(self) -> str:
        return (
            f"created {self.created}, updated {self.updated}, unchanged {self.unchanged}, "
            f"skipped {self.skipped} ({self.chunks_embedded} chunks embedded)"
        )
