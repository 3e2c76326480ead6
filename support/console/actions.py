"""The actions on a draft's card: each with its arguments as form fields (typed by the
catalogue's schema), and the approval form's values read back into arguments of those types."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.http import QueryDict

from resolver.errors import ClientError
from support.actions.catalogue import CATALOGUE
from support.models import Action
from support.vocabulary import ActionStatus

FIELD_PREFIX = "arg-"


@dataclass(frozen=True)
class Field:
    name: str
    value: str
    kind: str  # the JSON Schema type: string, number, integer, boolean
    required: bool

    @property
    def input_type(self) -> str:
        return "number" if self.kind in ("number", "integer") else "text"

    @property
    def step(self) -> str:
        return "1" if self.kind == "integer" else "any"


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


@dataclass(frozen=True)
class ActionRow:
    action: Action

    @property
    def risk(self) -> str:
        spec = CATALOGUE.get(self.action.name)
        return str(spec.risk) if spec else ""

    @property
    def description(self) -> str:
        spec = CATALOGUE.get(self.action.name)
        return spec.description if spec else ""

    @property
    def proposed(self) -> bool:
        return self.action.status == ActionStatus.PROPOSED

    @property
    def fields(self) -> list[Field]:
        """The schema's properties, filled with the proposed arguments (an optional one not
        proposed is empty), then any argument the schema does not know (the check refuses it)."""
        spec = CATALOGUE.get(self.action.name)
        properties: dict[str, Any] = dict((spec.schema if spec else {}).get("properties", {}))
        required = set((spec.schema if spec else {}).get("required", []))
        arguments = self.action.arguments or {}
        # The schema's order (the contract's), not the stored JSON's (jsonb sorts its keys).
        names = list(properties) + [name for name in arguments if name not in properties]
        return [
            Field(
                name,
                _text(arguments.get(name)),
                _schema_kind(properties.get(name, {})) or _kind(arguments.get(name)),
                name in required,
            )
            for name in names
        ]


def _schema_kind(schema: dict[str, Any]) -> str:
    """The field's type: the schema's, or the first of its alternatives ("anyOf": a refund's
    amount is a number or a decimal string, entered as a number)."""
    if isinstance(schema.get("type"), str):
        return str(schema["type"])
    kinds = [option.get("type") for option in schema.get("anyOf", []) if isinstance(option, dict)]
    return next((str(kind) for kind in kinds if isinstance(kind, str)), "")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def _typed(name: str, raw: str, kind: str) -> Any:
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            number = float(raw)
            return int(number) if number.is_integer() and "." not in raw else number
        if kind == "boolean":
            return raw.lower() in ("1", "true", "yes", "on")
    except ValueError:
        raise ClientError(f"{name}: not a {kind}: {raw!r}") from None
    return raw


def arguments_from(action: Action, data: QueryDict) -> dict[str, Any]:
    """The arguments as the agent left them in the card's form: each field typed as the schema
    says; an empty optional one left out. The catalogue's check judges the result."""
    arguments: dict[str, Any] = {}
    for field in ActionRow(action).fields:
        raw = data.get(FIELD_PREFIX + field.name, "").strip()
        if raw or field.required:
            arguments[field.name] = _typed(field.name, raw, field.kind)
    return arguments
