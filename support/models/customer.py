"""Customers and the facts the agent may state about them (orders)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Upper


def default_currency() -> str:
    return str(settings.DEFAULT_CURRENCY)


class Customer(models.Model):
    # The caller's own identifier (CRM id, e-mail, widget visitor id): unique per installation.
    ref = models.CharField(max_length=200, unique=True)
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name or self.ref


class OrderStatus(models.TextChoices):
    PROCESSING = "PROCESSING", "Processing"
    SHIPPED = "SHIPPED", "Shipped"
    DELIVERED = "DELIVERED", "Delivered"
    CANCELLED = "CANCELLED", "Cancelled"
    RETURNED = "RETURNED", "Returned"


class Order(models.Model):
    """A customer fact the agent may quote. delivery_date stays null unless the carrier knows it,
    so no draft can promise a date nobody has."""

    # Unique whatever its case (order_number_ci_unique below): customers, the graph and the API
    # all look a number up case-insensitively, so "NW-1" and "nw-1" are one order.
    number = models.CharField(max_length=64)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    status = models.CharField(
        max_length=16, choices=OrderStatus.choices, default=OrderStatus.PROCESSING
    )
    delivery_date = models.DateField(null=True, blank=True)
    refund_eligible = models.BooleanField(default=False)
    total = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    # ISO 4217 code of `total` (settings.DEFAULT_CURRENCY unless the store says otherwise).
    currency = models.CharField(max_length=3, default=default_currency)
    placed_at = models.DateTimeField(null=True, blank=True)
    # Where it ships (the store's; change_shipping_address changes it while unshipped).
    shipping_address = models.TextField(blank=True)
    # How much of `total` was refunded so far: a refund is at most total - refunded.
    refunded = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    # When the store last reported the order (a PUT /orders): a refund whose outcome is unknown
    # is reserved until then (catalogue.refunds_in_flight). Not `updated_at`, which our own saves
    # move too (the record of another refund the store confirmed).
    reported_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # Also the index of every lookup (number__iexact and Upper("number") both query
            # UPPER(number)); it replaces the case-sensitive unique index it implies.
            models.UniqueConstraint(Upper("number"), name="order_number_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(status__in=OrderStatus.values), name="order_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(total__gte=0), name="order_total_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(currency__regex=r"^[A-Z]{3}$"), name="order_currency_iso"
            ),
            models.CheckConstraint(
                condition=models.Q(refunded__gte=0, refunded__lte=models.F("total")),
                name="order_refunded_within_total",
            ),
        ]

    def __str__(self) -> str:
        return self.number
