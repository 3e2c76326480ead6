"""Request bodies are JSON objects. ninja hands a parsed body to its schema as it is, and a
schema reads its fields from a string's or a list's attributes, calling what is callable: the
body "Please use this text" on POST /drafts/{id}/approve approved the draft unedited, and "done"
on PATCH /tasks/{id} renamed the task "Done" (`str.title()`). A body that is no object is
refused before any schema sees it."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from ninja.parser import Parser


class NotAnObject(ValueError):
    """The body is valid JSON, but an array, a string, a number, true, false or null."""

    def __init__(self, value: Any) -> None:
        super().__init__(f"the request body must be a JSON object, not {_kind(value)}")


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return "a number"


class ObjectParser(Parser):
    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        data = json.loads(request.body)
        if not isinstance(data, dict):
            raise NotAnObject(data)
        return data
