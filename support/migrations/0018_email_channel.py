"""The e-mail channel (#25): channels spelled as the contract spells them (api, widget, email),
a conversation's subject and thread token, why a stored message was not drafted, e-mail headers
per message, and the delivery of a reply by its transport."""

import django.db.models.deletion
import django.utils.timezone
import support.models.conversation
from django.conf import settings
from django.db import migrations, models


def fill_thread_tokens(apps, schema_editor):
    """A token for every conversation, a thousand rows per statement (one UPDATE per row held
    the table locked for minutes on a large install)."""
    Conversation = apps.get_model("support", "Conversation")
    ids = list(Conversation.objects.filter(thread_token="").values_list("pk", flat=True))
    with schema_editor.connection.cursor() as cursor:
        for start in range(0, len(ids), 1000):
            batch = [str(pk) for pk in ids[start : start + 1000]]
            tokens = [support.models.conversation.new_thread_token() for _ in batch]
            cursor.execute(
                "UPDATE support_conversation c SET thread_token = v.token "
                "FROM unnest(%s::uuid[], %s::text[]) AS v(id, token) WHERE c.id = v.id",
                [batch, tokens],
            )


# A row updated twice in one transaction queues the check of its deferred foreign keys (the
# conversation's customer), and PostgreSQL refuses to ALTER a table with such checks pending:
# on an install with customers' conversations this migration failed ("pending trigger events").
# The checks run at once after each fill, before the table is altered.
CHECK_NOW = migrations.RunSQL("SET CONSTRAINTS ALL IMMEDIATE", "SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):

    dependencies = [
        ('support', '0017_privacy'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='EmailEnvelope',
            fields=[
                ('message', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='email', serialize=False, to='support.message')),
                ('message_id_header', models.CharField(max_length=998)),
                ('in_reply_to', models.CharField(blank=True, max_length=998)),
                ('references', models.JSONField(blank=True, default=list)),
                ('subject', models.CharField(blank=True, max_length=998)),
                ('from_address', models.CharField(blank=True, max_length=320)),
                ('from_name', models.CharField(blank=True, max_length=200)),
                ('to', models.JSONField(blank=True, default=list)),
                ('cc', models.JSONField(blank=True, default=list)),
                ('html', models.TextField(blank=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
        ),
        migrations.CreateModel(
            name='ReplyDelivery',
            fields=[
                ('message', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='delivery', serialize=False, to='support.message')),
                ('channel', models.CharField(max_length=16)),
                ('status', models.CharField(choices=[('queued', 'Queued'), ('sent', 'Sent'), ('failed', 'Failed'), ('bounced', 'Bounced')], default='queued', max_length=16)),
                ('attempts', models.PositiveSmallIntegerField(default=0)),
                ('last_error', models.CharField(blank=True, max_length=500)),
                ('next_attempt_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('sent_at', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.RemoveConstraint(
            model_name='conversation',
            name='conversation_channel_valid',
        ),
        migrations.AddField(
            model_name='conversation',
            name='subject',
            field=models.CharField(blank=True, max_length=500),
        ),
        # A unique token per existing conversation: added blank, filled, then made unique.
        migrations.AddField(
            model_name='conversation',
            name='thread_token',
            field=models.CharField(blank=True, max_length=16),
        ),
        migrations.RunPython(fill_thread_tokens, migrations.RunPython.noop),
        CHECK_NOW,
        migrations.AlterField(
            model_name='conversation',
            name='thread_token',
            field=models.CharField(default=support.models.conversation.new_thread_token, max_length=16, unique=True),
        ),
        migrations.AddField(
            model_name='message',
            name='ignored_reason',
            field=models.CharField(blank=True, choices=[('auto_reply', 'Automatic reply (out of office, auto-responder)'), ('bounce', 'Bounce or delivery report'), ('loop', 'Mail loop (our own reply came back)'), ('own_address', 'Sent from our own address'), ('mailing_list', 'Mailing list or bulk mail'), ('rate_limited', 'The sender flooded the inbox')], max_length=16),
        ),
        migrations.RunSQL(
            "UPDATE support_conversation SET channel = lower(channel)",
            "UPDATE support_conversation SET channel = upper(channel)",
        ),
        CHECK_NOW,
        migrations.AlterField(
            model_name='conversation',
            name='channel',
            field=models.CharField(choices=[('api', 'API'), ('widget', 'Widget'), ('email', 'E-mail')], default='api', max_length=16),
        ),
        migrations.AddConstraint(
            model_name='conversation',
            constraint=models.CheckConstraint(condition=models.Q(('channel__in', ['api', 'widget', 'email'])), name='conversation_channel_valid'),
        ),
        migrations.AddConstraint(
            model_name='message',
            constraint=models.CheckConstraint(condition=models.Q(('ignored_reason__in', ['auto_reply', 'bounce', 'loop', 'own_address', 'mailing_list', 'rate_limited', ''])), name='message_ignored_reason_valid'),
        ),
        migrations.AddConstraint(
            model_name='emailenvelope',
            constraint=models.UniqueConstraint(fields=('message_id_header',), name='emailenvelope_message_id_unique'),
        ),
        migrations.AddIndex(
            model_name='replydelivery',
            index=models.Index(condition=models.Q(('status', 'queued')), fields=['next_attempt_at'], name='replydelivery_due_idx'),
        ),
        migrations.AddConstraint(
            model_name='replydelivery',
            constraint=models.CheckConstraint(condition=models.Q(('status__in', ['queued', 'sent', 'failed', 'bounced'])), name='replydelivery_status_valid'),
        ),
    ]
