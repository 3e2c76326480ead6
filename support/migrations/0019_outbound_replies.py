"""One outbound seam (#25): the audit action of an automatic reply held by its limit, the
webhook events draft.closed and reply.sent, and endpoints that heard of drafts the system closed
(as draft.rejected) keep hearing of them (as draft.closed)."""

import support.models.webhook
from django.conf import settings
from django.db import migrations, models


def closes_reach_who_heard_of_them(apps, schema_editor):
    """Drafts the system closes were announced as draft.rejected; they are draft.closed now. An
    endpoint that subscribed to draft.rejected keeps hearing of them. (reply.sent, which carries
    the reply's text, is an endpoint's own choice: not added.)"""
    WebhookEndpoint = apps.get_model("support", "WebhookEndpoint")
    for endpoint in WebhookEndpoint.objects.all():
        events = list(endpoint.events or [])
        if "draft.rejected" in events and "draft.closed" not in events:
            endpoint.events = [*events, "draft.closed"]
            endpoint.save(update_fields=["events"])


class Migration(migrations.Migration):

    dependencies = [
        ('support', '0018_email_channel'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='auditlog',
            name='audit_action_valid',
        ),
        migrations.AlterField(
            model_name='auditlog',
            name='action',
            field=models.CharField(choices=[('created', 'Created'), ('suggested', 'Suggested'), ('escalated', 'Escalated'), ('edited', 'Edited'), ('approved', 'Approved'), ('sent', 'Sent'), ('auto_sent', 'Sent automatically'), ('auto_send_held', 'Held for a human: automatic reply limit'), ('rejected', 'Rejected'), ('reprocessed', 'Reprocessed'), ('resolved', 'Resolved'), ('proposal_approved', 'Proposal approved'), ('proposal_dismissed', 'Proposal dismissed'), ('rated', 'Rated by the customer'), ('relabelled', 'Re-labelled'), ('guard_rule_enabled', 'Guard rule enabled'), ('guard_rule_disabled', 'Guard rule disabled'), ('customer_exported', 'Customer data exported'), ('customer_erased', 'Customer data erased'), ('anonymised', 'Anonymised by retention')], max_length=32),
        ),
        migrations.AlterField(
            model_name='webhookendpoint',
            name='events',
            field=models.JSONField(default=support.models.webhook.default_events, help_text='Any of: draft.ready, draft.escalated, draft.sent, draft.rejected, draft.closed, reply.sent.'),
        ),
        migrations.RunPython(closes_reach_who_heard_of_them, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='auditlog',
            constraint=models.CheckConstraint(condition=models.Q(('action__in', ['created', 'suggested', 'escalated', 'edited', 'approved', 'sent', 'auto_sent', 'auto_send_held', 'rejected', 'reprocessed', 'resolved', 'proposal_approved', 'proposal_dismissed', 'rated', 'relabelled', 'guard_rule_enabled', 'guard_rule_disabled', 'customer_exported', 'customer_erased', 'anonymised'])), name='audit_action_valid'),
        ),
    ]
