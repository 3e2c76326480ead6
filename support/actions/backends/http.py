"""The http backend: an approved action is POSTed to the store (ACTIONS_HTTP_URL) as JSON,
signed as webhooks are (Standard Webhooks: webhook-id = the action id), with
`Idempotency-Key: <action id>` so a retry the store already carried out is not done twice.
2xx: executed, its JSON body the result; 4xx: a permanent failure (the store refused);
5xx, a timeout or a refused connection: retry later, the same request."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
from django.conf import settings

from resolver.logs import scrub
from support import webhooks
from support.actions.backends import Outcome
from support.models import Action

logger = logging.getLogger(__name__)

ERROR_CHARS = 500


def payload(action: Action) -> dict[str, Any]:
    customer = action.conversation.customer
    return {
        "action_id": str(action.pk),
        "name": action.name,
        "arguments": action.arguments,
        "conversation_id": str(action.conversation_id),
        "draft_id": str(action.draft_id),
        "customer_ref": customer.ref if customer else None,
    }


def headers(action: Action, body: str) -> dict[str, str]:
    signed = webhooks.signed_headers(list(settings.ACTIONS_HTTP_SECRET), str(action.pk), body)
    return {**signed, "idempotency-key": str(action.pk)}


def _result(reply: httpx.Response) -> dict[str, Any]:
    try:
        body = reply.json()
    except ValueError:
        return {"status_code": reply.status_code}
    return body if isinstance(body, dict) else {"status_code": reply.status_code, "body": body}


def send(action: Action) -> Outcome:
    body = json.dumps(payload(action), separators=(",", ":"))
    url = str(settings.ACTIONS_HTTP_URL)
    try:
        with httpx.Client(
            timeout=settings.ACTIONS_HTTP_TIMEOUT_SECONDS, follow_redirects=False
        ) as client:
            reply = client.post(url, content=body.encode(), headers=headers(action, body))
    except httpx.HTTPError as exc:
        logger.info("action %s %s → %s", action.name, action.pk, type(exc).__name__)
        return Outcome.failed(f"{type(exc).__name__}: {exc}"[:ERROR_CHARS], retry=True)
    logger.info("action %s %s → %s", action.name, action.pk, reply.status_code)
    if reply.is_success:
        return Outcome.done(**_result(reply))
    # What the store answered may echo its customers' data: scrubbed as a log line is.
    error = scrub(f"HTTP {reply.status_code}: {reply.text}")[:ERROR_CHARS]
    return Outcome.failed(error, retry=reply.status_code >= 500 or reply.status_code == 429)
