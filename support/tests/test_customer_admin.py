"""The customer's admin page with its orders inline, on the real database: two rows of one save
whose numbers differ only in case are refused with a message (order_number_ci_unique would
have failed the save with a 500)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from support.models import Customer, Order

pytestmark = pytest.mark.django_db

ADD = "/admin/support/customer/add/"


def _form(*numbers: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "ref": "C-77",
        "name": "Cleo",
        "email": "cleo@example.org",
        "metadata": "{}",
        "orders-TOTAL_FORMS": str(len(numbers)),
        "orders-INITIAL_FORMS": "0",
        "orders-MIN_NUM_FORMS": "0",
        "orders-MAX_NUM_FORMS": "1000",
    }
    for i, number in enumerate(numbers):
        data |= {
            f"orders-{i}-number": number,
            f"orders-{i}-status": "PROCESSING",
            f"orders-{i}-total": "10.00",
            f"orders-{i}-currency": "EUR",
            f"orders-{i}-refunded": "0",
            f"orders-{i}-shipping_address": "",
        }
    return data


def test_two_order_rows_differing_only_in_case_are_refused(admin_client: Client) -> None:
    response = admin_client.post(ADD, _form("nw-1", "NW-1"))

    assert response.status_code == 200  # the form again, with the reason
    assert "Two rows have order number NW-1" in response.content.decode()
    assert not Customer.objects.exists() and not Order.objects.exists()


def test_distinct_order_rows_are_saved(admin_client: Client) -> None:
    response = admin_client.post(ADD, _form("NW-1", "NW-2"))

    assert response.status_code == 302, response.content.decode()[:2000]
    assert sorted(Order.objects.values_list("number", flat=True)) == ["NW-1", "NW-2"]
