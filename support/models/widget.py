"""The customer chat widget's public keys."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

PUBLIC_KEY_PREFIX = "pk_"
DEMO_KEY_NAME = "Demo page"
# The origins the demo key keeps (the server as reached by name, address, port: a few).
DEMO_ORIGINS = 5


def new_public_key() -> str:
    return PUBLIC_KEY_PREFIX + secrets.token_urlsafe(18)


def normalise_origin(value: str) -> str:
    """ "https://Shop.example/" → "https://shop.example"; ValueError if it is not an origin."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an origin such as https://shop.example")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{value!r} must be an origin only (scheme, host and port)")
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


def validate_origins(value: object) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError('a list of origins, such as ["https://shop.example"]')
    for item in value:
        try:
            if normalise_origin(item) != item:
                raise ValidationError(f"write {normalise_origin(item)!r}, not {item!r}")
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class WidgetKeyQuerySet(models.QuerySet["WidgetKey"]):
    def active(self) -> WidgetKeyQuerySet:
        return self.filter(active=True)

    def for_public_key(self, public_key: str) -> WidgetKey | None:
        if not public_key.startswith(PUBLIC_KEY_PREFIX) or len(public_key) > 64:
            return None
        return self.active().filter(public_key=public_key).first()

    def demo_for(self, origin: str) -> WidgetKey:
        """The demo page's key, allowing this server's own origin (created on first use)."""
        key, _ = self.get_or_create(
            name=DEMO_KEY_NAME, defaults={"company_name": "Northwind Outfitters"}
        )
        # Normalised before the check (the Host header comes in any case, with any port), and
        # at most DEMO_ORIGINS kept: each visit with another spelling appended one, for ever.
        own = normalise_origin(origin)
        if own not in key.allowed_origins:
            kept = [o for o in key.allowed_origins if o != own][-(DEMO_ORIGINS - 1) :]
            key.allowed_origins = [*kept, own]
            key.save(update_fields=["allowed_origins"])
        return key

    def any_allows(self, origin: str) -> bool:
        """Whether some active key allows `origin` (CORS preflights carry no key)."""
        return self.active().filter(allowed_origins__contains=[origin]).exists()


class WidgetKey(models.Model):
    """A public key pasted into a website's script tag. Public on purpose: what protects the
    conversations is the per-conversation token, and the Origin check keeps other sites from
    embedding the key."""

    name = models.CharField(max_length=100)
    public_key = models.CharField(max_length=64, unique=True, default=new_public_key)
    allowed_origins = models.JSONField(
        default=list,
        validators=[validate_origins],
        help_text='Sites that may embed the widget, e.g. ["https://shop.example"].',
    )
    company_name = models.CharField(max_length=100, default="Support")
    colour = models.CharField(
        max_length=7,
        default="#2f5bd3",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "a colour such as #2f5bd3")],
    )
    greeting = models.CharField(max_length=300, default="Hi! How can we help?")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WidgetKeyQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(public_key__startswith=PUBLIC_KEY_PREFIX),
                name="widgetkey_public_key_prefix",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def allows(self, origin: str | None) -> bool:
        return bool(origin) and origin in self.allowed_origins

    def script_tag(self, host: str) -> str:
        return f'<script src="{host}/static/widget.js" data-key="{self.public_key}" defer></script>'
