"""A customer's data rights (scope privacy, which only superusers' sessions and keys a superuser
made hold): GET /customers/{ref}/export returns everything stored about them, DELETE
/customers/{ref} erases it (support/customer_data.py). Both are audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from resolver.api.auth import actor_of, scoped
from resolver.api.errors import ERRORS
from resolver.models import Scope
from support import customer_data

router = Router(tags=["customers"])


class CustomerExport(Schema):
    customer_ref: str
    exported_at: datetime
    # Per model ("support.Message"): its rows in Django's serialised form (model, pk, fields).
    data: dict[str, list[dict[str, Any]]]


class Erased(Schema):
    # Per model: the rows deleted or anonymised (models with none are left out).
    erased: dict[str, int]


@router.get(
    "/customers/{ref}/export",
    response={200: CustomerExport, **ERRORS},
    auth=scoped(Scope.PRIVACY),
)
def export_customer(request: HttpRequest, ref: str) -> dict[str, Any]:
    return customer_data.export(ref, actor_of(request))


@router.delete("/customers/{ref}", response={200: Erased, **ERRORS}, auth=scoped(Scope.PRIVACY))
def erase_customer(request: HttpRequest, ref: str) -> dict[str, Any]:
    return {"erased": customer_data.do_erase(ref, actor_of(request))}
