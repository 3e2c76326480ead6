"""The ESP door: inbound webhooks of e-mail service providers through django-anymail, at its
standard paths (/anymail/<esp>/inbound/, support/email/urls.py). anymail verifies each post as
the ESP signs it (Mailgun: the HMAC signature under MAILGUN_WEBHOOK_SIGNING_KEY; Postmark,
SendGrid and Amazon SES: HTTP basic auth with ANYMAIL_WEBHOOK_SECRET, the check those ESPs
offer; SES's SNS headers must also agree with the body) and rebuilds the message as MIME. With
ANYMAIL_WEBHOOK_SECRET set, anymail asks every ESP for the basic auth, Mailgun too (on top of its
signature).

A door opens only when its check is configured: anymail itself would accept unauthenticated posts
with a warning, so an ESP without its secret answers 404 here. A refused signature is a 403, a
payload anymail cannot read a 400, both in the API's JSON error shape, and nothing is handed
over; a receiver that fails is a 503, so the ESP delivers the message again later (the receive
path's Message-ID dedupe makes a repeat harmless).

Why a signal: anymail hands inbound mail to an application through its `inbound` signal and no
other way, so that signal is the seam. The handler does nothing but hand the message over; the
decisions are the receive path's, called like every other door's."""

from __future__ import annotations

import json
import logging
import re
import warnings
from collections.abc import Callable
from typing import Any

from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailError,
    AnymailNotSupportedWarning,
    AnymailWebhookValidationFailure,
)
from anymail.signals import AnymailInboundEvent, inbound
from anymail.webhooks.amazon_ses import AmazonSESInboundWebhookView
from anymail.webhooks.mailgun import MailgunInboundWebhookView
from anymail.webhooks.postmark import PostmarkInboundWebhookView
from anymail.webhooks.sendgrid import SendGridInboundWebhookView
from django.conf import settings
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from resolver.api.errors import UNAVAILABLE, error_body
from support.email.authentication import ESP_DOOR_PREFIX
from support.email.handover import hand_over

logger = logging.getLogger(__name__)
# anymail no longer tests SendGrid against a live account and warns on every request; this
# project's tests post SendGrid's documented inbound shapes (support/tests/test_esp_inbound.py).
warnings.filterwarnings("ignore", category=AnymailNotSupportedWarning)

DOOR_PREFIX = ESP_DOOR_PREFIX
INBOUND_VIEWS: dict[str, Any] = {
    "mailgun": MailgunInboundWebhookView,
    "postmark": PostmarkInboundWebhookView,
    "sendgrid": SendGridInboundWebhookView,
    "amazon_ses": AmazonSESInboundWebhookView,
}
# What a payload anymail cannot read raises (a tracking webhook sent to the inbound URL, broken
# JSON, a form without its fields, bad base64).
MALFORMED: tuple[type[Exception], ...] = (
    AnymailError,
    AnymailConfigurationError,
    KeyError,
    ValueError,
    TypeError,
    AttributeError,
    IndexError,
)


class HandOverFailed(Exception):
    """The receiver raised: the ESP is told to deliver again later (503)."""


def is_open(esp: str) -> bool:
    """Whether the ESP's check is configured (its door is closed otherwise)."""
    if esp == "mailgun":
        return bool(settings.ANYMAIL.get("MAILGUN_WEBHOOK_SIGNING_KEY"))
    return bool(settings.ANYMAIL.get("WEBHOOK_SECRET"))


def door(esp_name: str) -> str:
    """anymail's ESP name ("Amazon SES") as the door's name ("anymail:amazon_ses")."""
    return DOOR_PREFIX + esp_name.lower().replace(" ", "_")


# SendGrid's Inbound Parse `dkim` field: each signature's domain and result, as
# "{@example.com : pass}" or "{@example.com : pass, @other.net : fail}".
# A domain is read from the start of its run ((?<!…)): from every position inside a long one,
# the pattern re-read the rest of it (2.5 s for 20 kB).
_SENDGRID_DKIM = re.compile(r"@?(?<![A-Za-z0-9.-])([A-Za-z0-9][A-Za-z0-9.-]*)\s*:\s*([A-Za-z]+)")


def verdict(event: AnymailInboundEvent, esp_name: str = "") -> dict[str, Any]:
    """What the ESP concluded about the message, where it says: anymail's spam fields for every
    ESP, Amazon SES's SPF, DKIM, DMARC and virus verdicts ("pass", "fail", "gray", ...), and the
    domains whose DKIM signature passed where the ESP names them (`dkim_pass_domains`: SendGrid's
    `dkim` field). support/email/authentication.py turns a DMARC pass, or a DKIM pass aligned with
    the From domain, into a verified sender. Mailgun (`X-Mailgun-Dkim-Check-Result`) and Amazon
    SES (`dkimVerdict`) say a signature passed without saying whose, so their DKIM verdict alone
    verifies nobody; Postmark reports SPF only (`Received-SPF`), which checks the envelope sender,
    not From. SES also adds its own `Authentication-Results: amazonses.com; ...` header:
    EMAIL_TRUSTED_AUTHSERV_ID=amazonses.com trusts it (and only the topmost one)."""
    message = event.message
    found: dict[str, Any] = {
        "spam_detected": getattr(message, "spam_detected", None),
        "spam_score": getattr(message, "spam_score", None),
        "spf": None,
        "dkim": None,
        "dmarc": None,
        "virus": None,
        "dkim_pass_domains": [],
    }
    receipt = event.esp_event.get("receipt") if isinstance(event.esp_event, dict) else None
    if isinstance(receipt, dict):
        for key in ("spf", "dkim", "dmarc", "virus"):
            status = (receipt.get(f"{key}Verdict") or {}).get("status")
            found[key] = str(status).lower() if status else None
    if esp_name.lower() == "sendgrid":
        found["dkim_pass_domains"] = _sendgrid_dkim_passes(event.esp_event)
    return found


def _sendgrid_dkim_passes(esp_event: Any) -> list[str]:
    form = getattr(esp_event, "POST", None)  # SendGrid's inbound esp_event is the request
    raw = str(form.get("dkim") or "") if form is not None else ""
    return [
        domain.lower().rstrip(".")
        for domain, result in _SENDGRID_DKIM.findall(raw)
        if result.lower() == "pass"
    ]


@receiver(inbound, dispatch_uid="support.email.esp.on_inbound")
def on_inbound(sender: Any, event: AnymailInboundEvent, esp_name: str, **kwargs: Any) -> None:
    """anymail's inbound signal: the message, as MIME, to the receive path."""
    try:
        hand_over(
            event.message.as_bytes(), door=door(esp_name), esp_verdict=verdict(event, esp_name)
        )
    except UNAVAILABLE:
        raise  # 503 + Retry-After (resolver/unavailable.py)
    except Exception as exc:
        raise HandOverFailed(door(esp_name)) from exc


def _error(status: int, detail: str, code: str) -> JsonResponse:
    return JsonResponse(error_body(status, detail, code), status=status)


def _note_subscription(request: HttpRequest) -> None:
    """An SNS subscription to confirm (anymail verified the post's basic auth): its link is
    logged for an operator to open, rather than Resolver calling AWS (auto-confirm is off)."""
    if request.headers.get("x-amz-sns-message-type") != "SubscriptionConfirmation":
        return
    sns = json.loads(request.body)
    logger.warning(
        "amazon_ses: SNS topic %s asks to be confirmed: open %s",
        sns.get("TopicArn"),
        sns.get("SubscribeURL"),
    )


def inbound_view(esp: str) -> Callable[..., HttpResponse]:
    """anymail's inbound view for `esp`, opened only when configured, its errors as JSON."""
    view_class = INBOUND_VIEWS[esp]

    @csrf_exempt
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_open(esp):
            return _error(404, f"the {esp} inbound webhook is not configured", "not_found")
        try:
            response: HttpResponse = view_class.as_view()(request, *args, **kwargs)
        except AnymailWebhookValidationFailure as exc:
            logger.warning("anymail %s: refused: %s", esp, exc)
            return _error(403, f"the {esp} webhook could not be verified", "invalid_signature")
        except HandOverFailed:
            logger.exception("anymail %s: the receiver failed; the ESP will retry", esp)
            response = _error(503, "the message could not be stored; retry later", "unavailable")
            response["Retry-After"] = "60"
            return response
        except UNAVAILABLE:
            raise
        except MALFORMED as exc:
            logger.warning("anymail %s: unreadable payload: %s: %s", esp, type(exc).__name__, exc)
            return _error(400, f"not a {esp} inbound payload anymail can read", "bad_request")
        if esp == "amazon_ses" and response.status_code == 200:
            _note_subscription(request)
        if response.status_code == 401:
            # Amazon SNS sends basic auth only once challenged (anymail's bare 401).
            challenge = _error(401, f"the {esp} webhook needs its basic auth", "unauthorized")
            challenge["WWW-Authenticate"] = response["WWW-Authenticate"]
            return challenge
        return response

    return view
