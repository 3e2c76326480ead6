"""The ESP doors: inbound webhooks of e-mail service providers through django-anymail, at its
standard paths (/anymail/<esp>/inbound/, support/email/urls.py), every inbound view anymail has:
Amazon SES, Brevo (and its old name SendinBlue), MailerSend, Mailgun, Mailjet, Mailtrap, Postal,
Postmark, Resend, SendGrid and SparkPost. anymail verifies each post as the ESP secures it:
- HTTP basic auth with ANYMAIL_WEBHOOK_SECRET (the URL's user:password), the only check Amazon
  SES (SNS's headers must also agree with the body), Brevo, Mailjet, Postmark, SendGrid and
  SparkPost offer;
- a signature: Mailgun's HMAC under MAILGUN_WEBHOOK_SIGNING_KEY, MailerSend's HMAC of the body
  under MAILERSEND_INBOUND_SECRET, Postal's RSA signature checked with POSTAL_WEBHOOK_KEY (its
  public key; `cryptography`, installed with anymail[postal]), and optionally Mailtrap's HMAC
  (MAILTRAP_INBOUND_SECRET) or Resend's Svix signature (RESEND_INBOUND_SECRET; `svix`, installed
  with anymail[resend]) instead of the basic auth.
With ANYMAIL_WEBHOOK_SECRET set, anymail asks every ESP for the basic auth, on top of any
signature. What three ESPs leave out of their post anymail fetches from the ESP's API (with
`requests`, given ESP_FETCH_TIMEOUT here): Mailtrap's and Resend's whole message
(MAILTRAP_API_TOKEN, RESEND_API_KEY), Brevo's attachments (BREVO_API_KEY; SENDINBLUE_API_KEY on
the old path).
anymail cannot build those views without the key, so those doors stay closed without it too.

A door opens only when its check is configured (is_open): anymail itself would accept
unauthenticated posts with a warning, so an ESP without its secret answers 404 here. A refused
signature is a 403, a payload anymail cannot read a 400, both in the API's JSON error shape, and
nothing is handed over; a receiver that fails, or an ESP's API that does not give the message,
is a 503, so the ESP delivers the message again later (the receive path's Message-ID dedupe makes
a repeat harmless).

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

import requests
from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailError,
    AnymailNotSupportedWarning,
    AnymailWebhookValidationFailure,
)
from anymail.signals import AnymailInboundEvent, inbound
from anymail.utils import get_anymail_setting
from anymail.webhooks import brevo as anymail_brevo
from anymail.webhooks import mailtrap as anymail_mailtrap
from anymail.webhooks import resend as anymail_resend
from anymail.webhooks.amazon_ses import AmazonSESInboundWebhookView
from anymail.webhooks.brevo import BrevoInboundWebhookView
from anymail.webhooks.mailersend import MailerSendInboundWebhookView
from anymail.webhooks.mailgun import MailgunInboundWebhookView
from anymail.webhooks.mailjet import MailjetInboundWebhookView
from anymail.webhooks.mailtrap import MailtrapInboundWebhookView
from anymail.webhooks.postal import PostalInboundWebhookView
from anymail.webhooks.postmark import PostmarkInboundWebhookView
from anymail.webhooks.resend import ResendInboundWebhookView
from anymail.webhooks.sendgrid import SendGridInboundWebhookView
from anymail.webhooks.sendinblue import SendinBlueInboundWebhookView
from anymail.webhooks.sparkpost import SparkPostInboundWebhookView
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from requests import RequestException

from resolver.api.errors import UNAVAILABLE, error_body
from support.email.authentication import ESP_DOOR_PREFIX
from support.email.handover import hand_over

logger = logging.getLogger(__name__)
# anymail no longer tests SendGrid against a live account and warns on every request; this
# project's tests post SendGrid's documented inbound shapes (support/tests/test_esp_inbound.py).
warnings.filterwarnings("ignore", category=AnymailNotSupportedWarning)

DOOR_PREFIX = ESP_DOOR_PREFIX
# Every inbound view anymail has (anymail/urls.py), by its path's <esp>.
INBOUND_VIEWS: dict[str, Any] = {
    "amazon_ses": AmazonSESInboundWebhookView,
    "brevo": BrevoInboundWebhookView,
    "mailersend": MailerSendInboundWebhookView,
    "mailgun": MailgunInboundWebhookView,
    "mailjet": MailjetInboundWebhookView,
    "mailtrap": MailtrapInboundWebhookView,
    "postal": PostalInboundWebhookView,
    "postmark": PostmarkInboundWebhookView,
    "resend": ResendInboundWebhookView,
    "sendgrid": SendGridInboundWebhookView,
    "sendinblue": SendinBlueInboundWebhookView,  # Brevo's old name, anymail's deprecated path
    "sparkpost": SparkPostInboundWebhookView,
}


# anymail's fetches from an ESP's API name no timeout, and `requests` has none by default: an
# API that accepts the connection and never answers held the webhook's request (and a web
# thread) for ever. Seconds to connect, then between bytes of the answer; a timeout is a
# RequestException, so the ESP is answered 503 and delivers again later.
ESP_FETCH_TIMEOUT = (5.0, 20.0)


class _RequestsWithTimeout:
    """The `requests` module as anymail's fetching views see it: `get` with a timeout."""

    def __getattr__(self, name: str) -> Any:
        return getattr(requests, name)

    def get(self, url: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", ESP_FETCH_TIMEOUT)
        return requests.get(url, **kwargs)


for _fetching in (anymail_brevo, anymail_mailtrap, anymail_resend):
    _fetching.requests = _RequestsWithTimeout()


class NoMessage(ValueError):
    """An inbound event without a message (a Resend notice without its email_id)."""


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
# What the ESPs whose views fetch the message from the ESP's API (Brevo's attachments, Mailtrap,
# Resend) raise when that API fails or refuses the key: the ESP is asked to deliver again (503).
ESP_API_FAILED: tuple[type[Exception], ...] = (RequestException,)


class HandOverFailed(Exception):
    """The receiver raised: the ESP is told to deliver again later (503)."""


def _setting(name: str, esp: str = "", *, bare: bool = False) -> Any:
    """An anymail setting as anymail's views look it up (settings.ANYMAIL["<ESP>_<NAME>"], then
    ANYMAIL_<ESP>_<NAME>, then <ESP>_<NAME> where anymail allows the bare name); None if unset."""
    esp_name = INBOUND_VIEWS[esp].esp_name if esp else None
    return get_anymail_setting(name, default=None, esp_name=esp_name, allow_bare=bare)


def is_open(esp: str) -> bool:
    """Whether anymail would verify the ESP's posts (its door is closed otherwise), and has what
    it needs to build the ESP's view (the API key of an ESP whose message it fetches).

    An empty secret counts as none: anymail would check an HMAC under an empty key, which anyone
    can compute. Basic auth (ANYMAIL_WEBHOOK_SECRET) is checked by every ESP's view when set."""
    basic_auth = bool(_setting("webhook_secret"))
    if esp == "mailgun":  # the signature is always checked
        return bool(_setting("webhook_signing_key", esp))
    if esp == "mailersend":  # the signature is always checked
        return bool(_setting("inbound_secret", esp))
    if esp == "postal":  # the signature is always checked, with the public key
        return bool(_setting("webhook_key", esp, bare=True))
    if esp == "mailtrap":  # its signature when its secret is set, the basic auth otherwise
        signed = bool(_setting("inbound_secret", esp))
        return (signed or basic_auth) and bool(_setting("api_token", esp, bare=True))
    if esp == "resend":  # Svix's signature when its secret is set, the basic auth otherwise
        secret = _setting("inbound_secret", esp)
        return bool(secret or basic_auth) and bool(_setting("api_key", esp, bare=True))
    if esp in ("brevo", "sendinblue"):  # attachments are fetched with the API key
        return basic_auth and bool(_setting("api_key", esp, bare=True))
    return basic_auth


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
    if event is None:
        return  # Mailtrap's "Test your integration" sample, which anymail skips
    if event.message is None:
        raise NoMessage(f"{esp_name}: an inbound event without its message")
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


def _retry_later(detail: str) -> JsonResponse:
    response = _error(503, f"{detail}; retry later", "unavailable")
    response["Retry-After"] = "60"
    return response


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
            return _retry_later("the message could not be stored")
        except UNAVAILABLE:
            raise
        except ESP_API_FAILED as exc:
            # Brevo's attachments, Mailtrap's and Resend's messages: fetched from the ESP's API.
            logger.warning("anymail %s: the ESP's API failed; the ESP will retry: %s", esp, exc)
            return _retry_later("the message could not be fetched from the ESP")
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
