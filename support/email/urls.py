"""anymail's standard inbound webhook paths, mounted under /anymail/ by resolver/urls.py, each
through support/email/esp.py:inbound_view (opened only when configured, JSON errors)."""

from __future__ import annotations

from django.urls import path, re_path

from support.email.esp import inbound_view

urlpatterns = [
    # Mailgun posts parsed fields to .../inbound/ and the raw MIME to a URL containing "mime".
    re_path(r"^mailgun/inbound(_mime)?/$", inbound_view("mailgun"), name="anymail-mailgun-inbound"),
    path("postmark/inbound/", inbound_view("postmark"), name="anymail-postmark-inbound"),
    path("sendgrid/inbound/", inbound_view("sendgrid"), name="anymail-sendgrid-inbound"),
    path("amazon_ses/inbound/", inbound_view("amazon_ses"), name="anymail-amazon-ses-inbound"),
]
