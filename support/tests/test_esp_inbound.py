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
from email import message_from_bytes
from typing import Any

import pytest
from django.test import Client

from support.tests.email_receiver import Recorder

pytestmark = pytest.mark.django_db

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
