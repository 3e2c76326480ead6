"""Readers: one per SOURCE of `ingest_kb`. Each returns the documents it could read and the rows it
had to skip (with their line numbers); only an unreadable source raises."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from knowledge.ingest.bitext import BitextRow, build_articles
from knowledge.ingest.specs import MAX_CHARS, DocumentSpec, ReadProblem, SourceError, unstorable
from knowledge.languages import DEFAULT_LANGUAGE, Language
from knowledge.models import DocumentSource

Result = tuple[list[DocumentSpec], list[ReadProblem]]
Reader = Callable[[Path], Result]

BITEXT_COLUMNS = ("instruction", "intent", "category", "response")


def _open_text(path: Path) -> str:
    try:
        # "utf-8-sig": a byte order mark (Excel's CSV, Notepad) is not text: kept, it hid the
        # CSV header's first column, the first JSONL line and a markdown file's front matter.
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"cannot read {path}: {exc}") from None


def _csv_records(text: str) -> Iterator[tuple[int, dict[str, str] | None, str]]:
    """(first line number, row or None, error) for each record; a broken record is reported and
    reading goes on with the next one."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    # Records end at \r and \n only: str.splitlines() also split them at U+2028, \x85, \x0c,
    # \x1c…, which a field may hold unquoted (an answer cut there, its rest a phantom row).
    reader = csv.DictReader(io.StringIO(text, newline=""))
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


def _unstorable_row(row: BitextRow) -> str:
    """What of a row its article could not store (specs.unstorable), found here where the row's
    line is known: an intent or category over its column's length, a NUL."""
    for column in ("intent", "category"):
        if len(getattr(row, column)) > MAX_CHARS[column]:
            return f"{column} is longer than {MAX_CHARS[column]} characters"
    for column in BITEXT_COLUMNS:
        if "\x00" in getattr(row, column):
            return f"{column} holds a NUL character"
    return ""


def read_bitext(path: Path) -> Result:
    rows: list[BitextRow] = []
    problems: list[ReadProblem] = []
    for line, record, error in _csv_records(_open_text(path)):
        if record is None:
            problems.append(ReadProblem(line, error, path.name))
            continue
        empty = [c for c in BITEXT_COLUMNS if not (record.get(c) or "").strip()]
        if empty or None in record:
            reason = f"empty {', '.join(empty)}" if empty else "too many fields"
            problems.append(ReadProblem(line, reason, path.name))
            continue
        row = BitextRow(**{c: record[c].strip() for c in BITEXT_COLUMNS})
        if reason := _unstorable_row(row):
            problems.append(ReadProblem(line, reason, path.name))
            continue
        rows.append(row)
    return build_articles(rows), problems


def _refused(spec: DocumentSpec, seen: set[tuple[str, str]]) -> str:
    """Why a spec read from a source is skipped ("" when it is not): a (source, external_id)
    read before, or a value PostgreSQL cannot store (specs.unstorable). Found by the reader, which
    knows the row's line and file; upsert._writable checks the same again for specs given it
    directly."""
    key = (spec.source, spec.external_id)
    if key in seen:
        return f"duplicate external_id {spec.external_id!r}"
    if problem := unstorable(spec):
        return problem
    seen.add(key)
    return ""


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
    except RecursionError:
        raise SourceError(f"{path}: JSON nested too deeply") from None
    if not isinstance(flows, dict):
        raise SourceError(f"{path}: expected an object of flows")
    specs: list[DocumentSpec] = []
    problems: list[ReadProblem] = []
    seen: set[tuple[str, str]] = set()
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
            spec = DocumentSpec(
                source=DocumentSource.POLICY,
                external_id=f"{_slug(flow)}/{_slug(name)}",
                title=f"{flow}: {name}",
                content=_policy_content(str(body.get("description", flow)), name, actions),
                category="POLICY",
                metadata={"flow": flow, "subflow": name},
            )
            if reason := _refused(spec, seen):
                problems.append(ReadProblem(0, reason, f"{flow}/{name}"))
                continue
            specs.append(spec)
    return specs, problems


# A "---" line, the front matter's lines (none, or "key: value" each), a closing "---" line.
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?:(.*?)\n)?---[ \t]*(?:\n|\Z)", re.S)


def _markdown_spec(path: Path, root: Path) -> DocumentSpec:
    text = _open_text(path)
    fields: dict[str, str] = {}
    if match := _FRONT_MATTER.match(text):
        for line in (match.group(1) or "").splitlines():
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        text = text[match.end() :]
    elif text.startswith("---"):
        # Stored as it is, the front matter would be the article's text (shown to customers)
        # and its intent and category lost.
        raise ValueError("front matter opened by --- is not closed by a --- line")
    heading = re.search(r"^#\s+(.+)$", text, re.M)
    # A title the front matter gives is kept whole (too long, the file is reported); one taken
    # from the heading or the file name is cut to the column's length.
    title = fields.get("title") or (heading.group(1).strip() if heading else path.stem)[:300]
    return DocumentSpec(
        source=DocumentSource.MARKDOWN,
        external_id=str(path.relative_to(root)),
        title=title,
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
    seen: set[tuple[str, str]] = set()
    for file in sorted(p for p in path.rglob("*") if p.suffix.lower() in {".md", ".txt"}):
        where = str(file.relative_to(path))
        try:
            spec = _markdown_spec(file, path)
        except (SourceError, ValueError) as exc:
            problems.append(ReadProblem(0, str(exc), where))
            continue
        if not spec.content:
            problems.append(ReadProblem(1, "empty file", where))
            continue
        if reason := _refused(spec, seen):
            problems.append(ReadProblem(0, reason, where))
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


MAX_METADATA_DEPTH = 100


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether JSON `value` nests lists and objects more than `limit` levels deep (iterative:
    this is what recursion cannot be trusted with)."""
    level = [value] if isinstance(value, dict | list) else []
    for _ in range(limit):
        level = [
            item
            for container in level
            for item in (container.values() if isinstance(container, dict) else container)
            if isinstance(item, dict | list)
        ]
    return bool(level)


def _jsonl_spec(record: Any) -> DocumentSpec:
    if not isinstance(record, dict):
        raise ValueError("expected a JSON object")
    title, content = record.get("title"), record.get("content")
    if not isinstance(title, str) or not title.strip():
        raise ValueError("missing title")
    if not isinstance(content, str) or not content.strip():
        raise ValueError("missing content")
    metadata = record.get("metadata")
    if _deeper_than(metadata, MAX_METADATA_DEPTH):
        # json.loads took it; encoding it again, deeper in the stack, would not (a crash).
        raise ValueError(f"metadata nested deeper than {MAX_METADATA_DEPTH} levels")
    source = record.get("source") or DocumentSource.JSONL
    if source not in DocumentSource.values:
        raise ValueError(f"unknown source {source!r}")
    questions = record.get("questions") or []
    if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
        raise ValueError("questions must be a list of strings")
    external_id = record.get("external_id") or hashlib.sha1(title.encode()).hexdigest()[:16]
    # Not cut to the columns' lengths: a longer title or external_id is the line's problem
    # (specs.unstorable), never a silently different article.
    return DocumentSpec(
        source=source,
        external_id=str(external_id),
        title=title.strip(),
        content=content.strip(),
        intent=str(record.get("intent") or ""),
        category=str(record.get("category") or ""),
        questions=tuple(q.strip() for q in questions if q.strip()),
        metadata=metadata if isinstance(metadata, dict) else {},
        language=_language(record.get("language")),
    )


def read_jsonl(path: Path) -> Result:
    specs: list[DocumentSpec] = []
    problems: list[ReadProblem] = []
    seen: set[tuple[str, str]] = set()
    # Lines end at \r and \n only: a JSON string may hold U+2028 or \x85 unescaped, where
    # str.splitlines() also split.
    for number, line in enumerate(io.StringIO(_open_text(path), newline=""), start=1):
        if not line.strip():
            continue
        try:
            spec = _jsonl_spec(json.loads(line))
            reason = _refused(spec, seen)
        except RecursionError:
            # JSON nested deeper than Python recurses ("[" * 100000): this line's problem, not
            # a crash of the whole import.
            reason = "JSON nested too deeply"
        except ValueError as exc:  # json.JSONDecodeError is one
            reason = str(exc)
        if reason:
            problems.append(ReadProblem(number, reason, path.name))
            continue
        specs.append(spec)
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
