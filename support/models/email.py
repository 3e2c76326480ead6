"""What an e-mail carried beside its text: the headers that thread it, its addressees, the HTML it
was written in. One row per e-mail message, the customer's (received) and ours (a reply): a
customer's reply is threaded by the Message-IDs of either (support/email/threading.py)."""

from __future__ import annotations

from django.db import models


class EmailEnvelope(models.Model):
    message = models.OneToOneField(
        "support.Message", on_delete=models.CASCADE, primary_key=True, related_name="email"
    )
    # The RFC 5322 Message-ID, without its angle brackets; ours is fixed before the first
    # delivery attempt, so a retried send is the same message to the receiving server.
    message_id_header = models.CharField(max_length=998)
    in_reply_to = models.CharField(max_length=998, blank=True)
    references = models.JSONField(default=list, blank=True)  # oldest first, without brackets
    subject = models.CharField(max_length=998, blank=True)
    from_address = models.CharField(max_length=320, blank=True)  # normalised, lower case
    from_name = models.CharField(max_length=200, blank=True)
    to = models.JSONField(default=list, blank=True)  # addresses, normalised
    cc = models.JSONField(default=list, blank=True)
    # The HTML part, sanitised (the console shows it); the message's body is the text a person
    # wrote in this message, without the quoted history and the signature.
    html = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["message_id_header"], name="emailenvelope_message_id_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"<{self.message_id_header}> {self.subject[:60]}"
