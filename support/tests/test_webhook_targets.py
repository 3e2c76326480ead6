"""Webhook URLs may not reach internal addresses: loopback, link-local (cloud metadata), private,
reserved, multicast and unspecified ones, IPv4 and IPv6 (IPv4-mapped too), named by address or by
a host resolving to one, are refused when an admin saves the endpoint and again at each send,
after resolving the host, where a refusal is a failed attempt with its reason. The request goes to
the address that was checked (a DNS answer that changes afterwards cannot move it), unless
WEBHOOK_ALLOW_PRIVATE_TARGETS. The log names an endpoint by id and host, never its URL."""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client, override_settings

from resolver import http_guard
from support import webhooks
from support.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from support.tests.receiver import webhook_receiver

ADD = "/admin/support/webhookendpoint/add/"

# (URL, the class it is refused as): every class, IPv4 and IPv6, literal and resolved.
INTERNAL = [
    ("http://127.0.0.1:6379/", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://localhost:8080/hooks", "loopback"),  # a name resolving to 127.0.0.1
    ("http://169.254.169.254/latest/meta-data/", "link-local"),  # cloud metadata
    ("http://[fe80::1]/", "link-local"),
    ("http://10.0.0.5/", "private"),
    ("http://192.168.1.20/hooks", "private"),
    ("http://[fd00::5]/", "private"),
    ("https://redis.corp.example/hooks", "private"),  # an internal FQDN (resolves to 10.1.2.3)
    ("http://240.0.0.1/", "reserved"),
    ("http://224.0.0.251/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://0.0.0.0:8000/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),  # IPv4-mapped IPv6
    ("http://[::ffff:169.254.169.254]/", "link-local"),
    ("http://[::ffff:10.0.0.5]/", "private"),
]
Resolve = dict[str, list[str]]


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> Resolve:
    """Names answered by the test: host → its addresses, one per lookup (the last one repeats);
    other names resolve as usual."""
    table: Resolve = {"redis.corp.example": ["10.1.2.3"], "hooks.example.com": ["93.184.215.14"]}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in table:
            return real(host, port, *args, **kwargs)
        answers = table[host]
        address = answers.pop(0) if len(answers) > 1 else answers[0]
        if ipaddress.ip_address(address).version == 6:
            return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


def add_endpoint(client: Client, url: str) -> Any:
    return client.post(ADD, {"url": url, "events": ["draft.sent"], "is_active": "on"})


def delivery_to(url: str) -> WebhookDelivery:
    """A due delivery to an endpoint saved with `url` as it is (an old row, or one saved before
    its host's DNS changed)."""
    endpoint = WebhookEndpoint.objects.create(url=url)
    return WebhookDelivery.objects.create(
        endpoint=endpoint, event_id="e1", event_type="draft.sent", payload={"type": "draft.sent"}
    )


@pytest.mark.parametrize(("url", "kind"), INTERNAL)
def test_admin_refuses_an_internal_url(
    admin_client: Client, dns: Resolve, url: str, kind: str
) -> None:
    response = add_endpoint(admin_client, url)
    assert response.status_code == 200  # the form again, with the error
    errors = response.context["adminform"].form.errors["url"]
    assert f"is a {kind} address" in errors[0] or f"is an {kind} address" in errors[0]
    assert not WebhookEndpoint.objects.exists()


def test_admin_accepts_a_public_url_and_internal_ones_when_allowed(
    admin_client: Client, dns: Resolve
) -> None:
    assert add_endpoint(admin_client, "https://hooks.example.com/in").status_code == 302
    with override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=True):
        assert add_endpoint(admin_client, "http://127.0.0.1:9000/hooks").status_code == 302
    assert add_endpoint(admin_client, "ftp://hooks.example.com/in").status_code == 200
    assert sorted(WebhookEndpoint.objects.values_list("url", flat=True)) == [
        "http://127.0.0.1:9000/hooks",
        "https://hooks.example.com/in",
    ]


def test_an_endpoint_saved_before_the_check_can_still_be_switched_off(
    admin_client: Client, dns: Resolve
) -> None:
    """An internal URL saved before the check existed: its sends are refused, but an admin can
    deactivate or re-describe it without first allowing internal targets; a new internal URL
    is still refused."""
    old = WebhookEndpoint.objects.create(url="http://10.0.0.5/hooks")
    change = f"/admin/support/webhookendpoint/{old.pk}/change/"
    form = {"url": old.url, "events": ["draft.sent"], "description": "the old CRM"}
    assert admin_client.post(change, form).status_code == 302
    old.refresh_from_db()
    assert (old.is_active, old.description) == (False, "the old CRM")
    moved = admin_client.post(change, {**form, "url": "http://10.0.0.6/hooks"})
    assert moved.status_code == 200 and "is a private address" in str(
        moved.context["adminform"].form.errors["url"]
    )


@pytest.mark.parametrize(("url", "kind"), INTERNAL)
def test_a_send_to_an_internal_address_is_a_failed_attempt(
    db: None, dns: Resolve, url: str, kind: str
) -> None:
    delivery = delivery_to(url)

    assert webhooks.attempt(delivery.pk) is not None  # retried with backoff, as any failure

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
    attempt = delivery.attempt_log.get()
    assert (attempt.status_code, attempt.response_snippet) == (None, "")
    assert attempt.error.startswith("Refused:")
    assert f"is a {kind} address" in attempt.error or f"is an {kind} address" in attempt.error


def test_a_loopback_receiver_is_never_reached_unless_allowed(db: None) -> None:
    with webhook_receiver() as receiver:
        by_name = receiver.url.replace("127.0.0.1", "localhost")
        for url in (receiver.url, by_name):
            delivery = delivery_to(url)
            webhooks.attempt(delivery.pk)
            assert "loopback" in delivery.attempt_log.get().error
            WebhookEndpoint.objects.all().delete()
        assert receiver.requests == []

        with override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=True):
            delivery = delivery_to(receiver.url)
            assert webhooks.attempt(delivery.pk) is None
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED


def test_the_request_goes_to_the_address_that_was_checked(
    db: None, dns: Resolve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name's first answer passes the check (loopback counts as public here,
    to have a receiver), its next answers name an internal address where nothing listens. The
    POST must reach the checked address, with the name as its Host."""
    real_refusal: Callable[..., Any] = http_guard.refusal
    monkeypatch.setattr(
        http_guard,
        "refusal",
        lambda address: None if str(address) == "127.0.0.1" else real_refusal(address),
    )
    with webhook_receiver() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        dns["rebind.example"] = ["127.0.0.1", "127.0.0.2"]
        delivery = delivery_to(f"http://rebind.example:{port}/hooks")

        assert webhooks.attempt(delivery.pk) is None

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED, delivery.attempt_log.get().error
    assert [headers["host"] for headers, _ in receiver.requests] == [f"rebind.example:{port}"]


def test_https_keeps_the_hosts_name_for_tls_when_pinned(dns: Resolve) -> None:
    target = http_guard.pin("https://hooks.example.com/services/T1/B2/XYZ?sig=abc")
    assert target.url == "https://93.184.215.14/services/T1/B2/XYZ?sig=abc"
    assert target.headers == {"host": "hooks.example.com"}
    assert target.extensions == {"sni_hostname": "hooks.example.com"}


@override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=True)  # the receiver is on loopback
def test_the_log_names_the_endpoint_by_id_and_host_not_its_url(
    db: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with webhook_receiver() as receiver:
        secret_url = f"{receiver.url}/services/T0001/B0002/XXXXSECRET?sig=s3cr3tsig"
        delivery = delivery_to(secret_url)
        assert webhooks.attempt(delivery.pk) is None

    lines = [record.getMessage() for record in caplog.records]
    assert not [line for line in lines if "XXXXSECRET" in line or "s3cr3tsig" in line]
    assert [line for line in lines if f"endpoint {delivery.endpoint_id} (127.0.0.1)" in line]
