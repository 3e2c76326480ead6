"""Where the IMAP door stands in its mailbox, and the OAuth2 tokens it logs in with
(support/email/imap.py, support/email/oauth2.py)."""

from __future__ import annotations

from django.db import models


class MailboxCursor(models.Model):
    """How far one folder of one mailbox has been handed to the receive path.

    IMAP gives each message of a folder a UID that only grows, valid as long as the folder's
    UIDVALIDITY stays the same: `last_uid` under `uidvalidity` says which messages were handed
    over, so a restart neither skips nor repeats one. A changed UIDVALIDITY (the folder was
    recreated or the server migrated) voids every UID: the folder is read again from the start
    and the receive path's Message-ID dedupe drops what it already has."""

    host = models.CharField(max_length=255)
    user = models.CharField(max_length=320)
    folder = models.CharField(max_length=255)
    uidvalidity = models.BigIntegerField(null=True, blank=True)  # 32-bit unsigned in IMAP
    last_uid = models.BigIntegerField(default=0)
    # UIDs at or below last_uid whose hand-over raised, with the attempts so far: retried at the
    # start of each poll until they go through or reach imap.MAX_ATTEMPTS (then logged, dropped).
    retry_uids = models.JSONField(default=dict, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    # Why the last poll could not run (connection, log-in, token endpoint); empty when it ran.
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["host", "user", "folder"], name="mailboxcursor_mailbox_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user}@{self.host}/{self.folder} (uid {self.last_uid})"


class MailboxCredential(models.Model):
    """The OAuth2 tokens of one mailbox account (XOAUTH2: Gmail, Microsoft 365).

    The refresh token starts as IMAP_OAUTH2_REFRESH_TOKEN; a token endpoint that rotates it
    returns a new one with each access token, which replaces it here and is used next time (the
    configured one may be void by then). `seed_digest` remembers which configured token seeded
    the row: an operator who configures a new one (after re-consenting) replaces the stored one."""

    host = models.CharField(max_length=255)
    user = models.CharField(max_length=320)
    refresh_token = models.TextField()
    seed_digest = models.CharField(max_length=64)  # sha256 hex of the configured refresh token
    access_token = models.TextField(blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["host", "user"], name="mailboxcredential_account_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user}@{self.host}"
