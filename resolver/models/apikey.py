"""API keys for integrations: shown once, stored as a SHA-256 hash, scoped, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.utils import timezone

if TYPE_CHECKING:
    from django.contrib.auth.models import User

KEY_PREFIX = "rk_"
# last_used_at is a hint for admins, not an audit trail: written at most once a minute per key
# so that a busy integration does not turn every request into an UPDATE.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class Scope(models.TextChoices):
    INGEST = "ingest", "Ingest messages"
    READ = "read", "Read conversations, drafts, KB, stats"
    ACT = "act", "Approve, reject, escalate, reprocess"
    # Export and erase a customer's data: only a superuser may make a key that holds it.
    PRIVACY = "privacy", "Export and erase customer data"


def hash_key(raw: str) -> str:
    # The key is 32 random bytes, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(raw.encode()).hexdigest()


def parse_scopes(raw: str) -> list[str]:
    """A comma-separated list of scopes, sorted and deduplicated; raises ValueError naming an
    unknown scope."""
    scopes = sorted({part.strip() for part in raw.split(",") if part.strip()})
    unknown = [scope for scope in scopes if scope not in Scope.values]
    if unknown or not scopes:
        raise ValueError(
            f"unknown scope(s) {', '.join(unknown) or '(none)'}; choose from "
            f"{', '.join(Scope.values)}"
        )
    return scopes


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def active(self) -> ApiKeyQuerySet:
        return self.filter(revoked_at__isnull=True)

    def authenticate(self, raw: str) -> ApiKey | None:
        """The active key matching a presented secret, or None."""
        if not raw.startswith(KEY_PREFIX) or len(raw) > 128:
            return None
        key = self.active().filter(prefix=raw[: ApiKey.PREFIX_LENGTH]).first()
        if key is None or not hmac.compare_digest(key.key_hash, hash_key(raw)):
            return None
        key.touch()
        return key


class ApiKey(models.Model):
    PREFIX_LENGTH = len(KEY_PREFIX) + 8

    name = models.CharField(max_length=100)
    # The first characters of the key, stored in clear so admins can tell keys apart and the
    # lookup is an index hit; the rest exists only as key_hash.
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list, help_text=f"Any of: {', '.join(Scope.values)}.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        # The table support created: the model moved, its rows did not (resolver.0003).
        db_table = "support_apikey"
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(
        cls, name: str, scopes: list[str], created_by: User | None = None
    ) -> tuple[ApiKey, str]:
        """A new key and its secret; the secret is not stored and cannot be shown again."""
        raw = KEY_PREFIX + secrets.token_urlsafe(32)
        key = cls.objects.create(
            name=name,
            prefix=raw[: cls.PREFIX_LENGTH],
            key_hash=hash_key(raw),
            scopes=parse_scopes(",".join(scopes)),
            created_by=created_by,
        )
        return key, raw

    @property
    def actor(self) -> str:
        return f"key:{self.name}"

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])

    def touch(self) -> None:
        now = timezone.now()
        if self.last_used_at and now - self.last_used_at < LAST_USED_RESOLUTION:
            return
        ApiKey.objects.filter(pk=self.pk).update(last_used_at=now)
        self.last_used_at = now
