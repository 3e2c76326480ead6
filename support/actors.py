"""Webhook delivery worker. Retries are scheduled by support.webhooks (persisted in the delivery
row, visible in admin), not by Dramatiq's retry middleware, so each attempt is logged."""

from __future__ import annotations

import dramatiq

from support import webhooks

QUEUE = "webhooks"


@dramatiq.actor(queue_name=QUEUE, max_retries=0, time_limit=60_000)
def deliver_webhook(delivery_id: int) -> None:
    delay = webhooks.attempt(delivery_id)
    if delay is not None:
        deliver_webhook.send_with_options(
            args=(delivery_id,), delay=int(delay.total_seconds() * 1000)
        )
