"""Readers: one per SOURCE of `ingest_kb`. Each returns the documents it could read and the rows it
had to skip (with their line numbers); only an unreadable source raises."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from knowledge.ingest.bitext import BitextRow, build_articles
from knowledge.ingest.specs import DocumentSpec, ReadProblem, SourceError
from knowledge.languages import DEFAULT_LANGUAGE, Language
from knowledge.models import DocumentSource

Result = tuple[list[DocumentSpec], list[ReadProblem]]
Reader = Callable[[Path], Result]

BITEXT_COLUMNS = ("instruction", "intent", "category", "response")


def _open_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"cannot read {path}: {exc}") from None


def _csv_records(text: str) -> Iterator[tuple[int, dict[str, str] | None, str]]:
    """(first line number, row or None, error) for each record; a broken record is reported and
    reading goes on with the next one."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    reader = csv.DictReader(text.splitlines(keepends=True))
    missing = [c for c in BITEXT_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise SourceError(f"CSV header lacks column(s): {', '.join(missing)}")
    start = 2
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, None, f"malformed CSV: {exc}"
        else:
            yield start, row, ""
        start = reader.line_num + 1


def read_bitext(path: Path) -> Result:
    rows: list[BitextRow] = []
    problems: list[ReadProblem] = []
    for line, row, error in _csv_records(_open_text(path)):
        if row is None:
            problems.append(ReadProblem(line, error, path.name))
            continue
        empty = [c for c in BITEXT_COLUMNS if not (row.get(c) or "").strip()]
        if empty or None in row:
            reason = f"empty {', '.join(empty)}" if empty else "too many fields"
            problems.append(ReadProblem(line, reason, path.name))
            continue
        rows.append(BitextRow(**{c: row[c].strip() for c in BITEXT_COLUMNS}))
    return build_articles(rows), problems


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _policy_content(description: str, subflow: str, actions: list[dict[str, Any]]) -> str:
    lines = [f"Policy for {subflow.lower()} ({description}). Steps an agent must take:"]
    for number, action in enumerate(actions, start=1):
        button = f" [{action['button']}]" if action.get("button") else ""
        lines.append(f"{number}.{button} {str(action.get('text', '')).strip()}")
        lines.extend(f"   - {str(sub).strip()}" for sub in action.get("subtext") or [])
    return "\n".join(lines)


def read_abcd(path: Path) -> Result:
    try:
        flows = json.loads(_open_text(path))
    except json.JSONDecodeError as exc:
        raise SourceError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(flows, dict):
        raise SourceError(f"{path}: expected an object of flows")
    specs: list[DocumentSpec] = []
    problems: list[ReadProblem] = []
    for flow, body in flows.items():
        subflows = body.get("subflows") if isinstance(body, dict) else None
        if not isinstance(subflows, dict):
            problems.append(ReadProblem(0, "flow without subflows", f"{path.name}#{flow}"))
            continue
        for name, sub in subflows.items():
            actions = sub.get("actions") if isinstance(sub, dict) else None
            if not actions or not isinstance(actions, list):
                problems.append(ReadProblem(0, "subflow without actions", f"{flow}/{name}"))
                continue
            if not all(isinstance(action, dict) for action in actions):
                problems.append(ReadProblem(0, "an action is not an object", f"{flow}/{name}"))
                continue
            specs.append(
                DocumentSpec(
                    source=DocumentSource.POLICY,
                    external_id=f"{_slug(flow)}/{_slug(name)}",
                    title=f"{flow}: {name}",
                    content=_policy_content(str(body.get("description", flow)), name, actions),
                    category="POLICY",
                    metadata={"flow": flow, "subflow": name},
                )
            )
    return specs, problems


_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.S)


def _markdown_spec(path: Path, root: Path) -> DocumentSpec:
    text = _open_text(path)
    fields: dict[str, str] = {}
    if match := _FRONT_MATTER.match(text):
        for line in match.group(1).splitlines():
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        text = text[match.end() :]
    heading = re.search(r"^#\s+(.+)$", text, re.M)
    title = fields.get("title") or (heading.group(1).strip() if heading else path.stem)
    return DocumentSpec(
        source=DocumentSource.MARKDOWN,
        external_id=str(path.relative_to(root)),
        title=title[:300],
        content=text.strip(),
        intent=fields.get("intent", ""),
        category=fields.get("category", ""),
        language=_language(fields.get("language")),
    )


def read_markdown(path: Path) -> Result:
    if not path.is_dir():
        raise SourceError(f"{path} is not a folder of .md/.txt files")
    specs: list[DocumentSpec] = []
    problems: list[ReadProblem] = []
    for file in sorted(p for p in path.rglob("*") if p.suffix.lower() in {".md", ".txt"}):
        try:
            spec = _markdown_spec(file, path)
        except (SourceError, ValueError) as exc:
            problems.append(ReadProblem(0, str(exc), str(file.relative_to(path))))
            continue
        if not spec.content:
            problems.append(ReadProblem(1, "empty file", str(file.relative_to(path))))
            continue
        specs.append(spec)
    return specs, problems


def _language(value: object) -> str:
    """An article's language as a source gives it (ISO 639-1, any case; none: the default)."""
    if value is None or value == "":
        return DEFAULT_LANGUAGE.value
    code = str(value).strip().lower()
    if code not in Language.values:
        choices = ", ".join(Language.values)
        raise ValueError(f"unsupported language {value!r}; choose one of {choices}")
    return code


def _jsonl_spec(record: Any) -> DocumentSpec:
    if not isinstance(record, dict):
        raise ValueError("expected a JSON object")
    title, content = record.get("title"), record.get("content")
    if not isinstance(title, str) or not title.strip():
        raise ValueError("missing title")
    if not isinstance(content, str) or not content.strip():
        raise ValueError("missing content")
    source = record.get("source") or DocumentSource.JSONL
    if source not in DocumentSource.values:
        raise ValueError(f"unknown source {source!r}")
    questions = record.get("questions") or []
    if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
        raise ValueError("questions must be a list of strings")
    external_id = record.get("external_id") or hashlib.sha1(title.encode()).hexdigest()[:16]
    return DocumentSpec(
        source=source,
        external_id=str(external_id)[:200],
        title=title.strip()[:300],
        content=content.strip(),
        intent=str(record.get("intent") or ""),
        category=str(record.get("category") or ""),
        questions=tuple(q.strip() for q in questions if q.strip()),
        metadata=metadata if isinstance(metadata := record.get("metadata"), dict) else {},
        language=_language(record.get("language")),
    )


def read_jsonl(path: Path) -> Result:
    specs: list[DocumentSpec] = []
    problems: list[ReadProblem] = []
    for number, line in enumerate(_open_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            specs.append(_jsonl_spec(json.loads(line)))
        except (json.JSONDecodeError, ValueError) as exc:
            problems.append(ReadProblem(number, str(exc), path.name))
    return specs, problems


READERS: dict[str, Reader] = {
    "bitext": read_bitext,
    "abcd": read_abcd,
    "markdown": read_markdown,
    "jsonl": read_jsonl,
}


def read_source(kind: str, path: Path) -> Result:
    reader = READERS.get(kind)
    if reader is None:
        raise SourceError(f"unknown SOURCE {kind!r}; choose one of {', '.join(READERS)}")
    if not path.exists():
        raise SourceError(f"{path} does not exist")
    return reader(path)
