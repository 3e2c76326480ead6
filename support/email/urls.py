"""anymail's standard inbound webhook paths, every one anymail has (anymail/urls.py), mounted
under /anymail/ by resolver/urls.py, each through support/email/esp.py:inbound_view (opened only
when configured, JSON errors)."""

from __future__ import annotations

from django.urls import path, re_path

from support.email.esp import inbound_view

urlpatterns = [
    path("amazon_ses/inbound/", inbound_view("amazon_ses"), name="anymail-amazon-ses-inbound"),
    path("brevo/inbound/", inbound_view("brevo"), name="anymail-brevo-inbound"),
    path("mailersend/inbound/", inbound_view("mailersend"), name="anymail-mailersend-inbound"),
    # Mailgun posts parsed fields to .../inbound/ and the raw MIME to a URL containing "mime".
    re_path(r"^mailgun/inbound(_mime)?/$", inbound_view("mailgun"), name="anymail-mailgun-inbound"),
    path("mailjet/inbound/", inbound_view("mailjet"), name="anymail-mailjet-inbound"),
    path("mailtrap/inbound/", inbound_view("mailtrap"), name="anymail-mailtrap-inbound"),
    path("postal/inbound/", inbound_view("postal"), name="anymail-postal-inbound"),
    path("postmark/inbound/", inbound_view("postmark"), name="anymail-postmark-inbound"),
    path("resend/inbound/", inbound_view("resend"), name="anymail-resend-inbound"),
    path("sendgrid/inbound/", inbound_view("sendgrid"), name="anymail-sendgrid-inbound"),
    # Brevo's old name, kept by anymail for webhooks set up before the rename.
    path("sendinblue/inbound/", inbound_view("sendinblue"), name="anymail-sendinblue-inbound"),
    path("sparkpost/inbound/", inbound_view("sparkpost"), name="anymail-sparkpost-inbound"),
]
