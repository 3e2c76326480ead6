"""The http backend: an approved action is POSTed to the store (ACTIONS_HTTP_URL) as JSON,
signed as webhooks are (Standard Webhooks: webhook-id = the action id), with
`Idempotency-Key: <action id>` so a retry the store already carried out is not done twice.
2xx: executed, its JSON body the result; 4xx: a permanent failure (the store refused);
5xx, a timeout or a refused connection: retry later, the same request.

At most RESULT_MAX_BYTES of the answer are read (streamed, never the whole body): a 2xx answer
larger than that is a failed attempt, retried as a 5xx is (the store may have carried it out:
the last one is `outcome_unknown`). ACTIONS_HTTP_URL is the operator's setting, not something
an admin or the API can change: it is not checked as webhook URLs are."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx
from django.conf import settings

from resolver import http_guard
from resolver.logs import scrub
from support import webhooks
from support.actions.backends import Outcome
from support.models import Action

logger = logging.getLogger(__name__)

ERROR_CHARS = 500
# The store's JSON answer becomes the action's result: more than this is not read.
RESULT_MAX_BYTES = 64 * 1024


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


def _result(reply: httpx.Response, answer: bytes) -> dict[str, Any]:
    try:
        body = json.loads(answer)
    except ValueError:
        return {"status_code": reply.status_code}
    return body if isinstance(body, dict) else {"status_code": reply.status_code, "body": body}


def send(action: Action) -> Outcome:
    body = json.dumps(payload(action), separators=(",", ":"))
    url = str(settings.ACTIONS_HTTP_URL)
    timeout = settings.ACTIONS_HTTP_TIMEOUT_SECONDS
    try:
        with (
            http_guard.unlogged(),
            httpx.Client(timeout=timeout, follow_redirects=False) as client,
            client.stream(
                "POST",
                url,
                content=body.encode(),
                headers={**headers(action, body), **http_guard.IDENTITY},
            ) as reply,
        ):
            answer = http_guard.read_capped(reply, RESULT_MAX_BYTES, time.monotonic() + timeout)
    except httpx.HTTPError as exc:
        logger.info("action %s %s → %s", action.name, action.pk, type(exc).__name__)
        return Outcome.failed(f"{type(exc).__name__}: {exc}"[:ERROR_CHARS], retry=True)
    logger.info("action %s %s → %s", action.name, action.pk, reply.status_code)
    if reply.is_success:
        if answer.timed_out:
            error = f"ReadTimeout: the store's answer took longer than {timeout:g} s to arrive"
            return Outcome.failed(error, retry=True)
        if answer.overflow:
            error = (
                f"HTTP {reply.status_code}: the store's answer is larger than "
                f"{RESULT_MAX_BYTES} bytes (not read); it may have carried the action out"
            )
            return Outcome.failed(error, retry=True)
        return Outcome.done(**_result(reply, answer.data))
    # What the store answered may echo its customers' data: scrubbed as a log line is. Its first
    # RESULT_MAX_BYTES are plenty for the reason.
    error = scrub(f"HTTP {reply.status_code}: {answer.text(reply)[: ERROR_CHARS * 2]}")
    return Outcome.failed(
        error[:ERROR_CHARS], retry=reply.status_code >= 500 or reply.status_code == 429
    )
