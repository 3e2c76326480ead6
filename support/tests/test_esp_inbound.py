"""The ESP door: each ESP's documented inbound payload, posted to anymail's standard path, reaches
the receiver once as MIME with door "anymail:<esp>"; a bad signature or basic auth is a 4xx and
hands nothing over; a door without its secret is closed; a payload anymail cannot read is a 400
and a receiver failure a 503 (the ESP delivers again later), all in the JSON error shape."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from anymail import urls as anymail_urls
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.test import Client

from support.email import urls as email_urls
from support.email.esp import INBOUND_VIEWS, is_open
from support.tests.email_receiver import Recorder
from tests.helpers import free_port, http_server

pytestmark = [
    pytest.mark.django_db,
    # anymail's SendinBlue path (Brevo's old name) warns on each post that it is deprecated.
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailDeprecationWarning"),
]

SIGNING_KEY = "key-mailgun-signing-1"
BASIC = "anymail-user:pw-anymail-42"
MIME = (
    "Return-Path: <bounce@mail.example.org>\r\nMIME-Version: 1.0\r\n"
    'From: "Sender, Inc." <from@example.org>\r\nDate: Fri, 30 Mar 2026 10:21:50 -0700\r\n'
    "Message-ID: <CAEPk3RKsi@mail.example.org>\r\nSubject: Where is my order?\r\n"
    "To: Support <support@example.com>\r\n"
    'Content-Type: multipart/alternative; boundary="94eb2c05e174adb140055b6339c5"\r\n\r\n'
    '--94eb2c05e174adb140055b6339c5\r\nContent-Type: text/plain; charset="UTF-8"\r\n'
    "Content-Transfer-Encoding: quoted-printable\r\n\r\nOrder 1234 has not arrived=E2=80=A6\r\n\r\n"
    '--94eb2c05e174adb140055b6339c5\r\nContent-Type: text/html; charset="UTF-8"\r\n'
    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    '<div dir=3D"ltr">Order 1234 has not arrived=E2=80=A6</div>\r\n\r\n'
    "--94eb2c05e174adb140055b6339c5--\r\n"
)


def anymail_settings(settings: Any, secrets: list[str], signing_key: str) -> dict[str, Any]:
    """The project's ANYMAIL settings with these secrets (the rest, such as SNS auto-confirm
    being off, kept: no test may reach AWS)."""
    return {
        **settings.ANYMAIL,
        "WEBHOOK_SECRET": secrets,
        "MAILGUN_WEBHOOK_SIGNING_KEY": signing_key,
    }


@pytest.fixture(autouse=True)
def configured(settings: Any, email_receiver: Recorder) -> None:
    settings.ANYMAIL = anymail_settings(settings, [BASIC], SIGNING_KEY)


def basic(credentials: str = BASIC) -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(credentials.encode()).decode()}


def handed_once(recorder: Recorder, door: str) -> Any:
    """The one message handed over, parsed, after checking its door."""
    (item,) = recorder.handed
    assert item.door == door
    return message_from_bytes(item.raw)


def assert_refused(response: Any, status: int, recorder: Recorder) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"detail", "code"}
    assert recorder.handed == []


# Mailgun: a form post signed with HMAC-SHA256(signing key, timestamp + token).


def mailgun_form(key: str = SIGNING_KEY, **fields: str) -> dict[str, str]:
    timestamp, token = str(int(time.time())), "50f7a8b1c9d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1"
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {
        "timestamp": timestamp,
        "token": token,
        "signature": signature,
        "recipient": "support@example.com",
        "sender": "bounce@mail.example.org",
        **fields,
    }


def test_mailgun_raw_mime_post_is_handed_over_once(
    client: Client, email_receiver: Recorder, settings: Any
) -> None:
    """Signed only (no ANYMAIL_WEBHOOK_SECRET): the signature is the check."""
    settings.ANYMAIL = anymail_settings(settings, [], SIGNING_KEY)
    response = client.post("/anymail/mailgun/inbound_mime/", mailgun_form(**{"body-mime": MIME}))
    assert response.status_code == 200, response.content
    message = handed_once(email_receiver, "anymail:mailgun")
    assert message["Message-ID"] == "<CAEPk3RKsi@mail.example.org>"
    assert "Order 1234 has not arrived" in message.get_payload(0).get_payload(decode=True).decode()
    verdict = email_receiver.handed[0].esp_verdict
    assert verdict is not None and verdict["spam_detected"] is False


def test_mailgun_parsed_post_is_rebuilt_as_mime(client: Client, email_receiver: Recorder) -> None:
    headers = [
        ["From", "Alice <alice@example.com>"],
        ["To", "support@example.com"],
        ["Subject", "Refund please"],
        ["Message-Id", "<parsed-1@example.com>"],
        ["X-Mailgun-Sflag", "Yes"],
        ["X-Mailgun-Sscore", "7.5"],
    ]
    form = mailgun_form(
        **{
            "from": "Alice <alice@example.com>",
            "subject": "Refund please",
            "body-plain": "I want my money back.",
            "message-headers": json.dumps(headers),
        }
    )
    # With ANYMAIL_WEBHOOK_SECRET set, the basic auth is asked of Mailgun's posts too.
    assert client.post("/anymail/mailgun/inbound/", form, **basic()).status_code == 200
    message = handed_once(email_receiver, "anymail:mailgun")
    assert (message["Message-Id"], message["Subject"]) == (
        "<parsed-1@example.com>",
        "Refund please",
    )
    (text,) = [part for part in message.walk() if part.get_content_type() == "text/plain"]
    assert text.get_payload(decode=True) == b"I want my money back."
    verdict = email_receiver.handed[0].esp_verdict
    assert verdict is not None and (verdict["spam_detected"], verdict["spam_score"]) == (True, 7.5)


def test_mailgun_bad_or_missing_signature_hands_nothing_over(
    client: Client, email_receiver: Recorder
) -> None:
    path = "/anymail/mailgun/inbound_mime/"
    forged = mailgun_form("not-the-key", **{"body-mime": MIME})
    assert_refused(client.post(path, forged, **basic()), 403, email_receiver)
    unsigned = {k: v for k, v in mailgun_form(**{"body-mime": MIME}).items() if k != "signature"}
    assert_refused(client.post(path, unsigned, **basic()), 403, email_receiver)
    signed = mailgun_form(**{"body-mime": MIME})
    assert_refused(client.post(path, signed, **basic("x:y")), 403, email_receiver)


# Postmark: JSON (with or without RawEmail), HTTP basic auth in the webhook URL.

POSTMARK = {
    "FromName": "Postmarkapp Support",
    "MessageStream": "inbound",
    "From": "support@postmarkapp.com",
    "FromFull": {"Email": "support@postmarkapp.com", "Name": "Postmarkapp Support"},
    "To": '"Firstname Lastname" <yourhash+SampleHash@inbound.postmarkapp.com>',
    "ToFull": [
        {"Email": "yourhash+SampleHash@inbound.postmarkapp.com", "Name": "Firstname Lastname"}
    ],
    "Cc": "",
    "CcFull": [],
    "Bcc": "",
    "BccFull": [],
    "OriginalRecipient": "yourhash+SampleHash@inbound.postmarkapp.com",
    "Subject": "Test subject",
    "MessageID": "73e6d360-66eb-11e1-8e72-a8904824019b",
    "ReplyTo": "replyto@postmarkapp.com",
    "MailboxHash": "SampleHash",
    "Date": "Fri, 1 Aug 2025 16:45:32 -04:00",
    "TextBody": "This is a test text body.",
    "HtmlBody": "<html><body><p>This is a test html body.</p></body></html>",
    "StrippedTextReply": "This is the reply text",
    "Tag": "TestTag",
    "Headers": [
        {"Name": "X-Header-Test", "Value": ""},
        {"Name": "X-Spam-Status", "Value": "No"},
        {"Name": "X-Spam-Score", "Value": "-0.1"},
        {"Name": "Message-ID", "Value": "<pm-1@mail.example.com>"},
    ],
    "Attachments": [
        {
            "Name": "test.txt",
            "Content": base64.b64encode(b"This is attachment contents.").decode(),
            "ContentType": "text/plain",
            "ContentLength": 28,
        }
    ],
}


def post_json(client: Client, path: str, payload: Any, **extra: Any) -> Any:
    return client.post(path, json.dumps(payload), content_type="application/json", **extra)


def test_postmark_json_is_handed_over_once(client: Client, email_receiver: Recorder) -> None:
    response = post_json(client, "/anymail/postmark/inbound/", POSTMARK, **basic())
    assert response.status_code == 200, response.content
    message = handed_once(email_receiver, "anymail:postmark")
    assert (message["Subject"], message["Message-ID"]) == (
        "Test subject",
        "<pm-1@mail.example.com>",
    )
    parts = [part.get_filename() for part in message.walk()]
    assert "test.txt" in parts
    verdict = email_receiver.handed[0].esp_verdict
    assert verdict is not None and (verdict["spam_detected"], verdict["spam_score"]) == (
        False,
        -0.1,
    )


def test_postmark_raw_email_is_used_when_sent(client: Client, email_receiver: Recorder) -> None:
    payload = {**POSTMARK, "RawEmail": MIME}
    assert post_json(client, "/anymail/postmark/inbound/", payload, **basic()).status_code == 200
    message = handed_once(email_receiver, "anymail:postmark")
    assert message["Message-ID"] == "<CAEPk3RKsi@mail.example.org>"


def test_an_e_mail_larger_than_the_usual_body_limit_comes_in(
    client: Client, email_receiver: Recorder, settings: Any
) -> None:
    """An ESP posts whole e-mails, attachments included: the webhooks take up to
    ESP_WEBHOOK_MAX_BYTES (from INBOUND_EMAIL_MAX_BYTES), other paths stay at the usual limit."""
    attachment = base64.b64encode(b"%PDF-1.4 " + b"x" * (2 * settings.REQUEST_BODY_MAX_BYTES))
    payload = {
        **POSTMARK,
        "Attachments": [
            {
                "Name": "invoice.pdf",
                "Content": attachment.decode(),
                "ContentType": "application/pdf",
            }
        ],
    }
    body = json.dumps(payload)
    assert len(body) > settings.REQUEST_BODY_MAX_BYTES
    response = post_json(client, "/anymail/postmark/inbound/", payload, **basic())
    assert response.status_code == 200, response.content
    message = handed_once(email_receiver, "anymail:postmark")
    [part] = [p for p in message.walk() if p.get_filename() == "invoice.pdf"]
    assert part.get_payload(decode=True).startswith(b"%PDF-1.4 ")
    # Anywhere else a body that large is refused before it is read.
    refused = client.post("/console/login/", body, content_type="application/json")
    assert refused.status_code == 413 and refused.json()["code"] == "payload_too_large"
    settings.BODY_LIMIT_PREFIXES = {"/anymail/": 1024}
    email_receiver.reset()
    too_large = post_json(client, "/anymail/postmark/inbound/", payload, **basic())
    assert_refused(too_large, 413, email_receiver)


def test_postmark_without_or_with_wrong_basic_auth_hands_nothing_over(
    client: Client, email_receiver: Recorder
) -> None:
    path = "/anymail/postmark/inbound/"
    assert_refused(post_json(client, path, POSTMARK), 403, email_receiver)
    assert_refused(
        post_json(client, path, POSTMARK, **basic("anymail-user:guess")), 403, email_receiver
    )


# SendGrid: the Inbound Parse multipart form with "Send Raw" (the full MIME in "email").


def sendgrid_form(raw: str = MIME) -> dict[str, str]:
    return {
        "email": raw,
        "to": "support@example.com",
        "from": '"Sender, Inc." <from@example.org>',
        "subject": "Where is my order?",
        "envelope": json.dumps({"to": ["support@example.com"], "from": "from@example.org"}),
        "charsets": json.dumps({"to": "UTF-8", "subject": "UTF-8", "from": "UTF-8"}),
        "SPF": "pass",
        "dkim": "{@example.org : pass}",
        "spam_score": "0.011",
        "spam_report": "Spam detection software... (0.0 points)",
        "sender_ip": "192.0.2.10",
    }


def test_sendgrid_raw_parse_post_is_handed_over_once(
    client: Client, email_receiver: Recorder
) -> None:
    response = client.post("/anymail/sendgrid/inbound/", sendgrid_form(), **basic())
    assert response.status_code == 200, response.content
    message = handed_once(email_receiver, "anymail:sendgrid")
    assert message["Message-ID"] == "<CAEPk3RKsi@mail.example.org>"
    verdict = email_receiver.handed[0].esp_verdict
    assert verdict is not None and verdict["spam_score"] == 0.011
    # SendGrid's `dkim` field names each signature's domain: what aligned DKIM is checked on.
    assert verdict["dkim_pass_domains"] == ["example.org"]


def test_sendgrid_with_wrong_basic_auth_hands_nothing_over(
    client: Client, email_receiver: Recorder
) -> None:
    response = client.post("/anymail/sendgrid/inbound/", sendgrid_form(), **basic("x:y"))
    assert_refused(response, 403, email_receiver)


# Amazon SES: an SNS Notification whose Message is the SES receipt event with the content (an SNS
# receipt rule action), behind basic auth; SNS's headers must agree with its body.


def ses_notification(encoding: str = "BASE64") -> dict[str, Any]:
    content = base64.b64encode(MIME.encode()).decode() if encoding == "BASE64" else MIME
    event = {
        "notificationType": "Received",
        "mail": {
            "timestamp": "2026-03-30T17:21:51.636Z",
            "source": "bounce@mail.example.org",
            "messageId": "jili9m351il3gkburn7o2f0u6788stij94c8ld01",
            "destination": ["support@example.com"],
        },
        "receipt": {
            "recipients": ["support@example.com"],
            "spamVerdict": {"status": "PASS"},
            "virusVerdict": {"status": "PASS"},
            "spfVerdict": {"status": "PASS"},
            "dkimVerdict": {"status": "PASS"},
            "dmarcVerdict": {"status": "FAIL"},
            "action": {
                "type": "SNS",
                "topicArn": "arn:aws:sns:us-east-1:111111111111:SES_Inbound",
                "encoding": encoding,
            },
        },
        "content": content,
    }
    return {
        "Type": "Notification",
        "MessageId": "8f6dee70-c885-558a-be7d-bd48bbf5335e",
        "TopicArn": "arn:aws:sns:us-east-1:111111111111:SES_Inbound",
        "Subject": "Amazon SES Email Receipt Notification",
        "Message": json.dumps(event),
        "Timestamp": "2026-03-30T17:17:36.516Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE_SIGNATURE==",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem",
    }


def post_sns(client: Client, payload: dict[str, Any], **extra: Any) -> Any:
    headers = {
        "HTTP_X_AMZ_SNS_MESSAGE_TYPE": payload["Type"],
        "HTTP_X_AMZ_SNS_MESSAGE_ID": payload["MessageId"],
        **extra,
    }
    # SNS posts JSON as text/plain.
    return client.post(
        "/anymail/amazon_ses/inbound/", json.dumps(payload), content_type="text/plain", **headers
    )


@pytest.mark.parametrize("encoding", ["BASE64", "UTF8"])
def test_amazon_ses_sns_notification_is_handed_over_with_its_verdicts(
    client: Client, email_receiver: Recorder, encoding: str
) -> None:
    response = post_sns(client, ses_notification(encoding), **basic())
    assert response.status_code == 200, response.content
    message = handed_once(email_receiver, "anymail:amazon_ses")
    assert message["Message-ID"] == "<CAEPk3RKsi@mail.example.org>"
    assert email_receiver.handed[0].esp_verdict == {
        "spam_detected": False,
        "spam_score": None,
        "spf": "pass",
        "dkim": "pass",
        "dmarc": "fail",
        "virus": "pass",
        "dkim_pass_domains": [],  # SES's DKIM verdict names no domain
    }


def test_amazon_ses_unauthenticated_or_inconsistent_posts_hand_nothing_over(
    client: Client, email_receiver: Recorder
) -> None:
    challenged = post_sns(client, ses_notification())
    assert_refused(challenged, 401, email_receiver)  # SNS sends its basic auth once challenged
    assert challenged["WWW-Authenticate"].startswith("Basic ")
    assert_refused(post_sns(client, ses_notification(), **basic("a:b")), 403, email_receiver)
    mismatched = post_sns(
        client, ses_notification(), **basic(), HTTP_X_AMZ_SNS_MESSAGE_ID="another-id"
    )
    assert_refused(mismatched, 403, email_receiver)


# Every door.


def test_a_door_without_its_secret_is_closed(
    client: Client, email_receiver: Recorder, settings: Any
) -> None:
    settings.ANYMAIL = anymail_settings(settings, [], "")
    assert_refused(client.post("/anymail/sendgrid/inbound/", sendgrid_form()), 404, email_receiver)
    assert_refused(post_json(client, "/anymail/postmark/inbound/", POSTMARK), 404, email_receiver)
    assert_refused(post_sns(client, ses_notification()), 404, email_receiver)
    form = mailgun_form(**{"body-mime": MIME})
    assert_refused(client.post("/anymail/mailgun/inbound_mime/", form), 404, email_receiver)


def test_a_payload_anymail_cannot_read_is_a_400(client: Client, email_receiver: Recorder) -> None:
    path = "/anymail/postmark/inbound/"
    broken = client.post(path, "{not json", content_type="application/json", **basic())
    assert_refused(broken, 400, email_receiver)
    tracking = {**POSTMARK, "RecordType": "Delivery"}  # a delivery webhook sent to the inbound URL
    assert_refused(post_json(client, path, tracking, **basic()), 400, email_receiver)
    no_mime = {k: v for k, v in sendgrid_form().items() if k != "email"}
    response = client.post("/anymail/sendgrid/inbound/", no_mime, **basic())
    assert_refused(response, 400, email_receiver)
    sns = ses_notification()
    sns["Message"] = json.dumps({**json.loads(sns["Message"]), "content": "%%% not base64"})
    assert_refused(post_sns(client, sns, **basic()), 400, email_receiver)


def test_a_receiver_failure_asks_the_esp_to_retry(client: Client, email_receiver: Recorder) -> None:
    email_receiver.refuse = {b"CAEPk3RKsi"}
    response = post_sns(client, ses_notification(), **basic())
    assert_refused(response, 503, email_receiver)
    assert response["Retry-After"]
    email_receiver.refuse.clear()  # the ESP's next attempt goes through
    assert post_sns(client, ses_notification(), **basic()).status_code == 200
    assert len(email_receiver.handed) == 1


def test_an_sns_subscription_is_logged_for_an_operator_to_confirm(
    client: Client, email_receiver: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    confirmation = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37fb687f5d51e6e2425dacbba",
        "TopicArn": "arn:aws:sns:us-west-2:123456789012:SES_Inbound",
        "Message": "You have chosen to subscribe to the topic ...",
        "SubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=233",
        "Timestamp": "2026-03-30T17:17:36.516Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE==",
        "SigningCertURL": "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-1.pem",
    }
    with caplog.at_level("WARNING", logger="support.email.esp"):
        response = post_sns(client, confirmation, **basic())
    assert response.status_code == 200
    assert "Action=ConfirmSubscription" in caplog.text and "SES_Inbound" in caplog.text
    assert email_receiver.handed == []


def test_the_doors_need_no_csrf_token(email_receiver: Recorder) -> None:
    """An ESP posts without a session or CSRF token: the doors are exempt (their check is the
    signature or basic auth)."""
    strict = Client(enforce_csrf_checks=True)
    response = post_json(strict, "/anymail/postmark/inbound/", POSTMARK, **basic())
    assert response.status_code == 200
    assert len(email_receiver.handed) == 1


def test_odd_charsets_and_broken_mime_pass_through_an_esp(
    client: Client, email_receiver: Recorder
) -> None:
    """The receive path judges them; the door hands them over (anymail rebuilds, loses nothing
    the receive path needs: the ISO-2022-JP and Latin-1 bytes arrive as they were)."""
    odd = [
        b"From: yamada@example.jp\r\nSubject: =?ISO-2022-JP?B?GyRCJCpMZCQkOWckbyQ7GyhC?=\r\n"
        b"Content-Type: text/plain; charset=ISO-2022-JP\r\n\r\n\x1b$B$3$s$K$A$O\x1b(B\r\n",
        b"From: x@example.com\r\nSubject: caf\xe9\r\nContent-Type: text/plain; charset=x-nope\r\n"
        b"\r\n\xff\xfe broken \x80\x81\r\n",
    ]
    for raw in odd:
        sns = ses_notification()
        event = json.loads(sns["Message"])
        event["content"] = base64.b64encode(raw).decode()
        sns["Message"] = json.dumps(event)
        assert post_sns(client, sns, **basic()).status_code == 200
    handed = email_receiver.raws()
    assert b"\x1b$B$3$s$K$A$O\x1b(B" in handed[0]
    assert b"caf\xe9" in handed[1] and b"\xff\xfe broken \x80\x81" in handed[1]


# The other inbound views anymail has. Brevo (and SendinBlue, its old name), Mailjet and
# SparkPost: basic auth only; MailerSend: an HMAC of the body; Postal: an RSA signature of the
# body; Mailtrap: an HMAC of the body, or basic auth; Resend: Svix's signature, or basic auth.
# Brevo's attachments and Mailtrap's and Resend's messages are fetched from the ESP's API: here a
# local one (EspApi) that wants the API key.

API_KEY = "esp-api-key-5"
MAILERSEND_SECRET = "mailersend-inbound-secret-7"
MAILTRAP_SECRET = "mailtrap-inbound-secret-3"
SIGNED = ["mailersend", "mailtrap", "postal"]  # a signature of the body, with or without basic
BASIC_ONLY = ["brevo", "mailjet", "resend", "sendinblue", "sparkpost"]  # resend: without svix
NEW = sorted(SIGNED + BASIC_ONLY)
TEXT = "Order 1234 has not arrived\u2026"
MESSAGE_ID = "<CAEPk3RKsi@mail.example.org>"
HEADERS = {
    "Return-Path": "<bounce@mail.example.org>",
    "From": '"Sender, Inc." <from@example.org>',
    "To": "Support <support@example.com>",
    "Subject": "Where is my order?",
    "Date": "Fri, 30 Mar 2026 10:21:50 -0700",
    "Message-ID": MESSAGE_ID,
    "Received": ["from mx1.example.org by inbound.esp.example", "from laptop by mx1.example.org"],
}
ATTACHMENT = b"This is attachment contents."


@dataclass
class EspApi:
    """An ESP's API, as anymail calls it for the message or its attachments: each GET needs the
    API key (Brevo's `api-key` header, a bearer token for the others), except the signed
    download links under /raw/."""

    url: str = ""
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # path: (type, content)
    fetched: list[str] = field(default_factory=list)

    def json(self, path: str, body: Any) -> None:
        self.files[path] = ("application/json", json.dumps(body).encode())


@pytest.fixture(scope="module")
def api_server() -> Iterator[EspApi]:
    api = EspApi()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            api.fetched.append(self.path)
            keys = {self.headers.get("api-key"), self.headers.get("Authorization")}
            found = api.files.get(self.path)
            if found is None:
                status, (kind, data) = 404, ("application/json", b'{"message": "not found"}')
            elif self.path.startswith("/raw/") or keys & {API_KEY, f"Bearer {API_KEY}"}:
                status, (kind, data) = 200, found
            else:
                status, (kind, data) = 401, ("application/json", b'{"message": "bad key"}')
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    with http_server(Handler) as url:
        api.url = url
        yield api


@pytest.fixture
def esp_api(api_server: EspApi) -> EspApi:
    api_server.files.clear()
    api_server.fetched.clear()
    return api_server


@pytest.fixture(scope="module")
def postal_keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    """Postal's signing key (its public half is POSTAL_WEBHOOK_KEY) and a forger's."""
    return (
        rsa.generate_private_key(public_exponent=65537, key_size=1024),
        rsa.generate_private_key(public_exponent=65537, key_size=1024),
    )


def public_key(key: rsa.RSAPrivateKey) -> str:
    """As Postal shows it (its DNS record's p=): the DER public key in base64, on one line."""
    der = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def every_esp_settings(
    settings: Any, api: EspApi, postal_key: rsa.RSAPrivateKey, secrets: list[str]
) -> dict[str, Any]:
    """Every door's settings, as the lead would read them from the environment."""
    api_url = api.url + "/"
    return {
        **anymail_settings(settings, secrets, SIGNING_KEY),
        "BREVO_API_KEY": API_KEY,
        "BREVO_API_URL": api_url,
        "SENDINBLUE_API_KEY": API_KEY,
        "SENDINBLUE_API_URL": api_url,
        "MAILERSEND_INBOUND_SECRET": MAILERSEND_SECRET,
        "MAILTRAP_INBOUND_SECRET": MAILTRAP_SECRET,
        "MAILTRAP_API_TOKEN": API_KEY,
        "MAILTRAP_API_URL": api_url,
        "POSTAL_WEBHOOK_KEY": public_key(postal_key),
        "RESEND_API_KEY": API_KEY,
        "RESEND_API_URL": api_url,
    }


@pytest.fixture
def every_esp(
    settings: Any, esp_api: EspApi, postal_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]
) -> EspApi:
    settings.ANYMAIL = every_esp_settings(settings, esp_api, postal_keys[0], [BASIC])
    return esp_api


def brevo_payload(api: EspApi) -> dict[str, Any]:
    """Brevo's parsed inbound e-mail (its attachments by download token, fetched with the API
    key); its From, To, Subject... are in its Headers too."""
    api.files["/inbound/attachments/tok%2F3f2a"] = ("text/plain; charset=utf-8", ATTACHMENT)
    return {
        "items": [
            {
                "Uuid": ["8ba3b8e1-0b79-4ea5-a8b6-1f6bc2c3e3d5"],
                "MessageId": MESSAGE_ID,
                "InReplyTo": None,
                "From": {"Name": "Sender, Inc.", "Address": "from@example.org"},
                "To": [{"Name": "Support", "Address": "support@example.com"}],
                "Cc": None,
                "Bcc": None,
                "ReplyTo": None,
                "SentAtDate": HEADERS["Date"],
                "Subject": HEADERS["Subject"],
                "Attachments": [
                    {
                        "Name": "test.txt",
                        "ContentType": "text/plain",
                        "ContentLength": len(ATTACHMENT),
                        "ContentID": None,
                        "DownloadToken": "tok/3f2a",
                    }
                ],
                "Headers": HEADERS,
                "SpamScore": 0.5,
                "ExtractedMarkdownMessage": TEXT,
                "ExtractedMarkdownSignature": None,
                "RawHtmlBody": f'<div dir="ltr">{TEXT}</div>',
                "RawTextBody": TEXT,
            }
        ]
    }


def mailersend_payload(api: EspApi) -> dict[str, Any]:
    """MailerSend's inbound route post: the parsed message and, in data.raw, its MIME."""
    return {
        "type": "inbound.message",
        "inbound_id": "o65qngkk3yw4wr12",
        "url": "https://www.mailersend.com/inbound/o65qngkk3yw4wr12",
        "created_at": "2026-03-30T17:21:51.000000Z",
        "data": {
            "object": "message",
            "id": "6423f0b66c1ab0bd0b0b4da4",
            "recipients": {
                "rcptTo": [{"email": "support@example.com"}],
                "to": {"raw": "Support <support@example.com>", "data": []},
            },
            "from": {"email": "from@example.org", "name": "Sender, Inc.", "raw": HEADERS["From"]},
            "sender": {"email": "bounce@mail.example.org"},
            "subject": HEADERS["Subject"],
            "date": HEADERS["Date"],
            "headers": {k: v for k, v in HEADERS.items() if k != "Received"},
            "text": TEXT,
            "html": f"<div>{TEXT}</div>",
            "raw": MIME,
            "attachments": [],
            "spf_check": {"code": "+", "value": None},
            "dkim_check": False,
            "created_at": "2026-03-30T17:21:51.000000Z",
        },
    }


def mailjet_payload(api: EspApi) -> dict[str, Any]:
    """Mailjet's Parse API post: headers, the text and HTML parts, attachments in base64."""
    return {
        "Sender": "bounce@mail.example.org",
        "Recipient": "support@example.com",
        "Date": "20260330T172150",
        "From": HEADERS["From"],
        "Subject": HEADERS["Subject"],
        "Headers": {**HEADERS, "Content-Type": ['multipart/mixed; boundary="=_a"']},
        "Parts": [
            {"Headers": {"Content-Type": 'text/plain; charset="UTF-8"'}, "ContentRef": "Text-part"},
            {"Headers": {"Content-Type": 'text/html; charset="UTF-8"'}, "ContentRef": "Html-part"},
            {
                "Headers": {
                    "Content-Type": 'text/plain; name="test.txt"',
                    "Content-Disposition": 'attachment; filename="test.txt"',
                    "Content-Transfer-Encoding": "base64",
                },
                "ContentRef": "Attachment1",
            },
        ],
        "SpamAssassinScore": "0.602",
        "Text-part": TEXT,
        "Html-part": f"<div>{TEXT}</div>",
        "CustomID": "",
        "Payload": "",
        "Attachment1": base64.b64encode(ATTACHMENT).decode(),
    }


def mailtrap_payload(api: EspApi, inbox_id: int = 4242) -> dict[str, Any]:
    """Mailtrap's notice of a received message; anymail fetches the message's record with the
    API token, then its raw MIME from the signed link in it."""
    api.json(
        f"/inbound/inboxes/{inbox_id}/messages/msg-8c1d",
        {
            "id": "msg-8c1d",
            "inbox_id": inbox_id,
            "from": "from@example.org",
            "to": ["support@example.com"],
            "subject": HEADERS["Subject"],
            "raw_message_url": f"{api.url}/raw/mailtrap-msg-8c1d.eml",
            "raw_message_expires_at": "2026-03-30T18:21:51Z",
        },
    )
    api.files["/raw/mailtrap-msg-8c1d.eml"] = ("message/rfc822", MIME.encode())
    return {
        "events": [
            {
                "event": "inbound.message_received",
                "event_id": "evt-51f0",
                "timestamp": 1774891311000,
                "inbox_id": inbox_id,
                "message_id": "msg-8c1d",
                "from": "from@example.org",
            }
        ]
    }


def postal_payload(api: EspApi) -> dict[str, Any]:
    """Postal's HTTP endpoint in its "raw message" format (the MIME in base64)."""
    return {
        "id": 9271,
        "rcpt_to": "support@example.com",
        "mail_from": "bounce@mail.example.org",
        "token": "rtmuzogUauKN",
        "subject": HEADERS["Subject"],
        "message": base64.b64encode(MIME.encode()).decode(),
        "base64": True,
        "size": len(MIME),
    }


def resend_payload(api: EspApi, raw: bool = True) -> dict[str, Any]:
    """Resend's email.received event; anymail fetches the e-mail with the API key, then its
    raw MIME (`raw`) or, without it, each attachment, from the signed links in it."""
    email = {
        "object": "email",
        "id": "56761188-7520-42d8-8898-ff6fc54ce618",
        "to": ["support@example.com"],
        "from": HEADERS["From"],
        "created_at": "2026-03-30 17:21:51.000000+00",
        "subject": HEADERS["Subject"],
        "html": f"<div>{TEXT}</div>",
        "text": TEXT,
        "headers": {k: v for k, v in HEADERS.items() if k not in ("From", "To", "Subject")},
        "bcc": [],
        "cc": [],
        "reply_to": [],
        "message_id": MESSAGE_ID,
        "attachments": [
            {
                "id": "2a0c9ce0-3112-4728-976e-47ddcd16a318",
                "filename": "test.txt",
                "content_type": "text/plain",
                "content_id": None,
                "content_disposition": "attachment",
                "size": len(ATTACHMENT),
                "download_url": f"{api.url}/raw/resend-att-2a0c",
            }
        ],
    }
    if raw:
        email["raw"] = {
            "download_url": f"{api.url}/raw/resend-5676.eml",
            "expires_at": "2026-03-30T18:21:51Z",
        }
    api.json(f"/emails/receiving/{email['id']}", email)
    api.files["/raw/resend-5676.eml"] = ("message/rfc822", MIME.encode())
    api.files["/raw/resend-att-2a0c"] = ("text/plain", ATTACHMENT)
    return {
        "type": "email.received",
        "created_at": "2026-03-30T17:21:52.000Z",
        "data": {
            "email_id": email["id"],
            "created_at": "2026-03-30T17:21:51.000Z",
            "from": HEADERS["From"],
            "to": ["support@example.com"],
            "bcc": [],
            "cc": [],
            "message_id": MESSAGE_ID,
            "subject": HEADERS["Subject"],
            "attachments": [{"id": "2a0c9ce0", "filename": "test.txt"}],
        },
    }


def sparkpost_payload(api: EspApi) -> list[dict[str, Any]]:
    """SparkPost's inbound relay webhook: a batch of relay_message events with the MIME."""
    return [
        {
            "msys": {
                "relay_message": {
                    "content": {
                        "email_rfc822": MIME,
                        "email_rfc822_is_base64": False,
                        "headers": [{"Subject": HEADERS["Subject"]}, {"To": HEADERS["To"]}],
                        "html": f"<div>{TEXT}</div>",
                        "subject": HEADERS["Subject"],
                        "text": TEXT,
                        "to": ["support@example.com"],
                    },
                    "customer_id": "1337",
                    "friendly_from": "from@example.org",
                    "msg_from": "bounce@mail.example.org",
                    "protocol": "smtp",
                    "rcpt_to": "support@example.com",
                    "webhook_id": "4839201967643219",
                }
            }
        }
    ]


PAYLOADS: dict[str, Callable[[EspApi], Any]] = {
    "brevo": brevo_payload,
    "mailersend": mailersend_payload,
    "mailjet": mailjet_payload,
    "mailtrap": mailtrap_payload,
    "postal": postal_payload,
    "resend": resend_payload,
    "sendinblue": brevo_payload,
    "sparkpost": sparkpost_payload,
}


def signature(esp: str, body: bytes, postal_key: rsa.RSAPrivateKey, forged: bool) -> dict[str, Any]:
    """The ESP's signature header for `body` (a forger's when `forged`); none for basic-only."""
    if esp == "postal":
        signed = postal_key.sign(body, padding.PKCS1v15(), hashes.SHA1())
        return {"HTTP_X_POSTAL_SIGNATURE": base64.b64encode(signed).decode()}
    secret = {"mailersend": MAILERSEND_SECRET, "mailtrap": MAILTRAP_SECRET}.get(esp)
    if secret is None:
        return {}
    digest = hmac.new((secret + "x" * forged).encode(), body, hashlib.sha256).hexdigest()
    header = {"mailersend": "HTTP_SIGNATURE", "mailtrap": "HTTP_MAILTRAP_SIGNATURE"}[esp]
    return {header: digest}


def post_esp(
    client: Client,
    esp: str,
    payload: Any,
    postal_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey],
    *,
    credentials: str | None = BASIC,
    signed: bool = True,
    forged: bool = False,
) -> Any:
    body = json.dumps(payload).encode()
    extra = signature(esp, body, postal_keys[forged], forged) if signed else {}
    if credentials:
        extra.update(basic(credentials))
    return client.post(f"/anymail/{esp}/inbound/", body, content_type="application/json", **extra)


def text_part(message: Any) -> str:
    (part,) = [
        p for p in message.walk() if p.get_content_type() == "text/plain" and not p.get_filename()
    ]
    return str(part.get_payload(decode=True).decode())


@pytest.mark.parametrize("esp", NEW)
def test_each_esp_posts_the_message_it_documents(
    client: Client,
    email_receiver: Recorder,
    every_esp: EspApi,
    postal_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey],
    esp: str,
) -> None:
    response = post_esp(client, esp, PAYLOADS[esp](every_esp), postal_keys)
    assert response.status_code == 200, response.content
    message = handed_once(email_receiver, f"anymail:{esp}")
    assert (message["Message-ID"], message["Subject"]) == (MESSAGE_ID, "Where is my order?")
    assert TEXT in text_part(message)
    attachments = {p.get_filename(): p.get_payload(decode=True) for p in message.walk()}
    if esp in ("brevo", "sendinblue", "mailjet"):  # built from parsed fields
        assert attachments["test.txt"] == ATTACHMENT
    verdict = email_receiver.handed[0].esp_verdict
    expected_score = {"brevo": 0.5, "sendinblue": 0.5, "mailjet": 0.602}.get(esp)
    assert verdict is not None and verdict["spam_score"] == expected_score


def test_resend_without_raw_mime_is_rebuilt_from_its_fields(
    client: Client,
    email_receiver: Recorder,
    every_esp: EspApi,
    postal_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey],
) -> None:
    payload = resend_payload(every_esp, raw=False)
    assert post_esp(client, "resend", payload, postal_keys).status_code == 200
    message = handed_once(email_receiver, "anymail:resend")
    assert (message["Message-ID"], message["From"]) == (MESSAGE_ID, HEADERS["From"])
    assert TEXT in text_part(message)
    [part] = [p for p in message.walk() if p.get_filename() == "test.txt"]
    assert part.get_payload(decode=True) == ATTACHMENT
    assert "/raw/resend-att-2a0c" in every_esp.fetched


@pytest.mark.parametrize("esp", SIGNED)
def test_a_signature_alone_opens_its_door(
    client: Client,
    email_receiver: Recorder,
    settings: Any,
    esp_api: EspApi,
    postal_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey],
    esp: str,
) -> None:
    """Without ANYMAIL_WEBHOOK_SECRET, the ESP's signature is the check."""
    settings.ANYMAIL = every_esp_settings(settings, esp_api, postal_keys[0], [])
    response = post_esp(client, esp, PAYLOADS[esp](esp_api), postal_keys, credentials=None)
    assert response.status_code == 200, response.content
    assert handed_once(email_receiver, f"anymail:{esp}")["Message-ID"] == MESSAGE_ID
    email_receiver.reset()
    unsigned = post_esp(
        client, esp, PAYLOADS[esp](esp_api), postal_keys, credentials=None, signed=False
    )
    assert_refused(unsigned, 403, email_receiver)


REFUSED = [
    *[pytest.param(esp, "wrong basic auth", id=f"{esp}-wrong-basic-auth") for esp in NEW],
    *[pytest.param(esp, "no basic auth", id=f"{esp}-no-basic-auth") for esp in NEW],
    *[pytest.param(esp, "forged", id=f"{esp}-forged") for esp in SIGNED],
    *[pytest.param(esp, "unsigned", id=f"{esp}-unsigned") for esp in SIGNED],
]


@pytest.mark.parametrize(("esp", "flaw"), REFUSED)
def test_each_esp_refuses_a_post_it_cannot_verify(
    client: Client,
    email_receiver: Recorder,
    every_esp: EspApi,
    postal_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey],
    esp: str,
    flaw: str,
) -> None:
    credentials = {"wrong basic auth": "anymail-user:guess", "no basic auth": None}.get(flaw, BASIC)
    response = post_esp(
        client,
        esp,
        PAYLOADS[esp](every_esp),
        postal_keys,
        credentials=credentials,
        signed=flaw != "unsigned",
        forged=flaw == "forged",
    )
    assert_refused(response, 403, email_receiver)
    assert every_esp.fetched == []  # nothing asked of the ESP's API before the check


@pytest.mark.parametrize("esp", sorted(INBOUND_VIEWS))
def test_every_door_is_closed_without_its_configuration(
    client: Client,
    email_receiver: Recorder,
    settings: Any,
    esp_api: EspApi,
    postal_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey],
    esp: str,
) -> None:
    settings.ANYMAIL = {
        "WEBHOOK_SECRET": [],
        "MAILGUN_WEBHOOK_SIGNING_KEY": "",
        "AMAZON_SES_AUTO_CONFIRM_SNS_SUBSCRIPTIONS": False,
    }
    assert not is_open(esp)
    payload = PAYLOADS[esp](esp_api) if esp in PAYLOADS else {}
    response = post_esp(client, esp, payload, postal_keys)
    assert_refused(response, 404, email_receiver)
    assert response.json()["code"] == "not_found"


# What each door needs beyond the basic auth the fixture sets, missing one piece at a time.
HALF_CONFIGURED = [
    ("brevo", {"BREVO_API_KEY": None}),  # anymail cannot build Brevo's view without it
    ("sendinblue", {"SENDINBLUE_API_KEY": None}),  # the old path reads its own name's key
    ("mailersend", {"MAILERSEND_INBOUND_SECRET": None}),  # basic auth is not its check
    ("mailersend", {"MAILERSEND_INBOUND_SECRET": ""}),  # an HMAC under "" anyone can compute
    ("postal", {"POSTAL_WEBHOOK_KEY": None}),
    ("mailtrap", {"MAILTRAP_API_TOKEN": None}),
    ("mailtrap", {"MAILTRAP_INBOUND_SECRET": None, "WEBHOOK_SECRET": []}),
    ("mailtrap", {"MAILTRAP_INBOUND_SECRET": "", "WEBHOOK_SECRET": []}),
    ("resend", {"RESEND_API_KEY": None}),
    ("resend", {"WEBHOOK_SECRET": []}),
]


@pytest.mark.parametrize(("esp", "changes"), HALF_CONFIGURED)
def test_a_door_missing_part_of_its_configuration_is_closed(
    settings: Any,
    esp_api: EspApi,
    postal_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey],
    esp: str,
    changes: dict[str, Any],
) -> None:
    configured = every_esp_settings(settings, esp_api, postal_keys[0], [BASIC])
    settings.ANYMAIL = configured
    assert is_open(esp)
    configured = {**configured, **changes}
    settings.ANYMAIL = {k: v for k, v in configured.items() if v is not None}
    assert not is_open(esp)


SECRET_FORGED = base64.b64encode(b"not-the-resend-inbound-secret-00").decode()


def test_resend_svix_signature_is_checked(
    client: Client, email_receiver: Recorder, every_esp: EspApi, settings: Any
) -> None:
    """Svix signs `{id}.{timestamp}.{body}` with HMAC-SHA256 under the secret after `whsec_`."""
    secret = base64.b64encode(b"resend-inbound-secret-0123456789").decode()
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "WEBHOOK_SECRET": [],
        "RESEND_INBOUND_SECRET": "whsec_" + secret,
    }
    body = json.dumps(resend_payload(every_esp)).encode()

    def svix(key: str) -> dict[str, Any]:
        svix_id, stamp = "msg_2LJ5V4kXo1", str(int(time.time()))
        signed = hmac.new(
            base64.b64decode(key), f"{svix_id}.{stamp}.".encode() + body, hashlib.sha256
        ).digest()
        return {
            "HTTP_SVIX_ID": svix_id,
            "HTTP_SVIX_TIMESTAMP": stamp,
            "HTTP_SVIX_SIGNATURE": "v1," + base64.b64encode(signed).decode(),
        }

    path = "/anymail/resend/inbound/"
    forged = client.post(path, body, content_type="application/json", **svix(SECRET_FORGED))
    assert_refused(forged, 403, email_receiver)
    response = client.post(path, body, content_type="application/json", **svix(secret))
    assert response.status_code == 200, response.content
    assert handed_once(email_receiver, "anymail:resend")["Message-ID"] == MESSAGE_ID


def tracking_post(esp: str) -> Any:
    """Each ESP's delivery-tracking post, sent to its inbound URL by mistake."""
    return {
        "brevo": {"event": "delivered", "email": "x@example.com", "message-id": "<1@x>"},
        "mailersend": {"type": "activity.sent", "data": {"type": "sent"}},
        "mailjet": [{"event": "sent", "email": "x@example.com"}],
        "mailtrap": {"events": [{"event": "delivery", "message_id": "m-1"}]},
        "postal": {"event": "MessageSent", "payload": {"status": "Sent"}},
        "resend": {"type": "email.delivered", "data": {"email_id": "e-1"}},
        "sparkpost": [{"msys": {"message_event": {"type": "delivery"}}}],
    }[esp]


@pytest.mark.parametrize(
    "esp", ["brevo", "mailersend", "mailjet", "mailtrap", "postal", "resend", "sparkpost"]
)
def test_a_tracking_post_to_an_inbound_door_is_a_400(
    client: Client,
    email_receiver: Recorder,
    every_esp: EspApi,
    postal_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey],
    esp: str,
) -> None:
    response = post_esp(client, esp, tracking_post(esp), postal_keys)
    assert_refused(response, 400, email_receiver)
    assert every_esp.fetched == []


def test_a_resend_notice_without_its_email_is_a_400(
    client: Client,
    email_receiver: Recorder,
    every_esp: EspApi,
    postal_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey],
) -> None:
    payload = resend_payload(every_esp)
    del payload["data"]["email_id"]
    assert_refused(post_esp(client, "resend", payload, postal_keys), 400, email_receiver)


def test_mailtraps_sample_payload_is_accepted_and_ignored(
    client: Client,
    email_receiver: Recorder,
    every_esp: EspApi,
    postal_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey],
) -> None:
    """Mailtrap's "Test your integration" posts inbox 1, which anymail skips."""
    response = post_esp(client, "mailtrap", mailtrap_payload(every_esp, 1), postal_keys)
    assert response.status_code == 200, response.content
    assert email_receiver.handed == [] and every_esp.fetched == []


@pytest.mark.parametrize("esp", ["brevo", "mailtrap", "resend"])
@pytest.mark.parametrize("failure", ["wrong api key", "not found", "unreachable"])
def test_an_esp_api_that_does_not_give_the_message_asks_for_a_retry(
    client: Client,
    email_receiver: Recorder,
    every_esp: EspApi,
    settings: Any,
    postal_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey],
    esp: str,
    failure: str,
) -> None:
    """The message (or its attachment) is fetched from the ESP's API: when that fails, the ESP
    is told to deliver again later (503), like a receiver failure."""
    payload = PAYLOADS[esp](every_esp)
    key = {"brevo": "BREVO_API", "mailtrap": "MAILTRAP_API", "resend": "RESEND_API"}[esp]
    if failure == "wrong api key":
        credential = "MAILTRAP_API_TOKEN" if esp == "mailtrap" else f"{key}_KEY"
        settings.ANYMAIL = {**settings.ANYMAIL, credential: "revoked-key"}
    elif failure == "not found":
        every_esp.files.clear()
    else:
        settings.ANYMAIL = {**settings.ANYMAIL, f"{key}_URL": f"http://127.0.0.1:{free_port()}/"}
    response = post_esp(client, esp, payload, postal_keys)
    assert_refused(response, 503, email_receiver)
    assert response["Retry-After"]
    if failure != "unreachable":
        assert every_esp.fetched


def test_every_inbound_view_anymail_has_is_mounted() -> None:
    """anymail's own inbound paths and views, all of them here, through inbound_view."""
    theirs = {
        str(p.pattern): p.callback.view_class
        for p in anymail_urls.urlpatterns
        if p.name and p.name.endswith("_inbound_webhook")
    }
    ours = {str(p.pattern): p.callback for p in email_urls.urlpatterns}
    assert set(ours) == set(theirs)
    assert set(INBOUND_VIEWS.values()) == set(theirs.values())
    for route, view_class in theirs.items():
        esp = route.removeprefix("^").split("/")[0]
        assert INBOUND_VIEWS[esp] is view_class
        assert ours[route].__qualname__.startswith("inbound_view")


def test_mailtrap_on_basic_auth_alone_takes_its_mail(
    client: Client,
    email_receiver: Recorder,
    every_esp: EspApi,
    postal_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey],
    settings: Any,
) -> None:
    """The door's documented basic-auth mode: no Mailtrap secret in the settings at all (an
    empty one there made anymail demand a signature Mailtrap never sends: every post a 403)."""
    settings.ANYMAIL = {k: v for k, v in settings.ANYMAIL.items() if k != "MAILTRAP_INBOUND_SECRET"}
    payload = mailtrap_payload(every_esp)
    response = post_esp(client, "mailtrap", payload, postal_keys, signed=False)
    assert response.status_code == 200, response.content
    handed_once(email_receiver, "anymail:mailtrap")


def test_unset_signing_secrets_are_left_out_of_the_settings() -> None:
    """As settings.py reads the environment: an empty secret is no key at all."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "from django.conf import settings; "
        "print(sorted(k for k in settings.ANYMAIL if k.endswith('INBOUND_SECRET')))"
    )
    env = {**os.environ, "MAILTRAP_INBOUND_SECRET": "", "RESEND_INBOUND_SECRET": ""}
    env["MAILERSEND_INBOUND_SECRET"] = "s3cret"
    printed = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert printed.splitlines()[-1] == "['MAILERSEND_INBOUND_SECRET']"


def test_an_esp_api_that_never_answers_is_a_503_not_a_hung_request(
    client: Client,
    email_receiver: Recorder,
    every_esp: EspApi,
    postal_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey],
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """anymail fetches Resend's message with `requests` and no timeout: an API that took the
    connection and said nothing held the request for ever."""
    import socket
    import time

    from support.email import esp

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections are taken by the kernel and never answered
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        settings.ANYMAIL = {**settings.ANYMAIL, "RESEND_API_URL": url}
        monkeypatch.setattr(esp, "ESP_FETCH_TIMEOUT", (1.0, 1.0))
        started = time.monotonic()
        response = post_esp(client, "resend", resend_payload(every_esp), postal_keys)
        assert time.monotonic() - started < 10
    finally:
        silent.close()
    assert response.status_code == 503, response.content
    assert email_receiver.handed == []
