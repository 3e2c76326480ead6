"""GET /actions (scope read): the catalogue of actions the copilot may propose, each with the
JSON Schema of its arguments and its risk class (support/actions/catalogue.py)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from resolver.api.auth import scoped
from resolver.api.errors import ERRORS
from resolver.models import Scope
from support.actions.catalogue import CATALOGUE
from support.vocabulary import ActionRisk

router = Router(tags=["actions"])


class ActionSpecOut(Schema):
    name: str
    description: str
    arguments_schema: dict[str, Any] = Field(description="JSON Schema (draft 2020-12).")
    risk: ActionRisk


class Catalogue(Schema):
    items: list[ActionSpecOut]


@router.get("/actions", response={200: Catalogue, **ERRORS}, auth=scoped(Scope.READ))
def list_actions(request: HttpRequest) -> dict[str, Any]:
    return {"items": [spec.as_wire() for spec in CATALOGUE.values()]}
