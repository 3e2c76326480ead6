"""History at scale (#30): running totals of drafts, conversations and webhook deliveries kept by
triggers (what
/metrics and the dashboard's queue read instead of counting every row), and the indexes the
screens over a year of history need (bench/history_scale.py, support/tests/test_query_plans.py).

The triggers add each row's contribution when it is inserted, subtract it when deleted, and both
on an update that changes a tallied column; TRUNCATE empties the tally. Each session adds to its
own shard (backend pid % 16) so concurrent workers do not wait on one row; an update touching two
rows of a shard touches them in key order (no deadlock between two sessions of one shard). The
tallies are filled from the stored rows (support/tallies.py:RECOUNT_SQL, as it was)."""

from __future__ import annotations

from django.db import migrations, models
from django.db.models.fields.json import KeyTransform

SHARDS = 16

TALLY_SQL = f"""
CREATE FUNCTION support_draft_tally_add(d support_draft, sign integer) RETURNS void AS $$
DECLARE
    took double precision := extract(epoch FROM d.completed_at - d.created_at);
BEGIN
    INSERT INTO support_drafttally AS t (shard, status, escalation_reason, drafts, completed,
        le_0_5, le_1, le_2, le_5, le_10, le_30, le_60, le_120, le_300, seconds_to_draft, tokens,
        cost)
    VALUES (pg_backend_pid() % {SHARDS}, d.status, d.escalation_reason, sign,
        CASE WHEN took IS NULL THEN 0 ELSE sign END,
        CASE WHEN took <= 0.5 THEN sign ELSE 0 END, CASE WHEN took <= 1 THEN sign ELSE 0 END,
        CASE WHEN took <= 2 THEN sign ELSE 0 END, CASE WHEN took <= 5 THEN sign ELSE 0 END,
        CASE WHEN took <= 10 THEN sign ELSE 0 END, CASE WHEN took <= 30 THEN sign ELSE 0 END,
        CASE WHEN took <= 60 THEN sign ELSE 0 END, CASE WHEN took <= 120 THEN sign ELSE 0 END,
        CASE WHEN took <= 300 THEN sign ELSE 0 END,
        sign * coalesce(took, 0), sign * d.tokens, sign * d.cost)
    ON CONFLICT (shard, status, escalation_reason) DO UPDATE SET
        drafts = t.drafts + EXCLUDED.drafts, completed = t.completed + EXCLUDED.completed,
        le_0_5 = t.le_0_5 + EXCLUDED.le_0_5, le_1 = t.le_1 + EXCLUDED.le_1,
        le_2 = t.le_2 + EXCLUDED.le_2, le_5 = t.le_5 + EXCLUDED.le_5,
        le_10 = t.le_10 + EXCLUDED.le_10, le_30 = t.le_30 + EXCLUDED.le_30,
        le_60 = t.le_60 + EXCLUDED.le_60, le_120 = t.le_120 + EXCLUDED.le_120,
        le_300 = t.le_300 + EXCLUDED.le_300,
        seconds_to_draft = t.seconds_to_draft + EXCLUDED.seconds_to_draft,
        tokens = t.tokens + EXCLUDED.tokens, cost = t.cost + EXCLUDED.cost;
END $$ LANGUAGE plpgsql;

CREATE FUNCTION support_draft_tally() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM support_draft_tally_add(NEW, 1);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM support_draft_tally_add(OLD, -1);
    ELSIF (OLD.status, OLD.escalation_reason) <= (NEW.status, NEW.escalation_reason) THEN
        PERFORM support_draft_tally_add(OLD, -1);
        PERFORM support_draft_tally_add(NEW, 1);
    ELSE
        PERFORM support_draft_tally_add(NEW, 1);
        PERFORM support_draft_tally_add(OLD, -1);
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER support_draft_tally_rows AFTER INSERT OR DELETE ON support_draft
    FOR EACH ROW EXECUTE FUNCTION support_draft_tally();
CREATE TRIGGER support_draft_tally_update AFTER UPDATE ON support_draft FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          OR OLD.escalation_reason IS DISTINCT FROM NEW.escalation_reason
          OR OLD.completed_at IS DISTINCT FROM NEW.completed_at
          OR OLD.created_at IS DISTINCT FROM NEW.created_at
          OR OLD.tokens IS DISTINCT FROM NEW.tokens OR OLD.cost IS DISTINCT FROM NEW.cost)
    EXECUTE FUNCTION support_draft_tally();

CREATE FUNCTION support_status_tally_add(kind text, status text, sign integer)
RETURNS void AS $$
    INSERT INTO support_statustally AS t (kind, shard, status, rows)
    VALUES (kind, pg_backend_pid() % {SHARDS}, status, sign)
    ON CONFLICT (kind, shard, status) DO UPDATE SET rows = t.rows + EXCLUDED.rows;
$$ LANGUAGE sql;

CREATE FUNCTION support_status_tally() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM support_status_tally_add(TG_TABLE_NAME::text, NEW.status, 1);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM support_status_tally_add(TG_TABLE_NAME::text, OLD.status, -1);
    ELSIF OLD.status <= NEW.status THEN
        PERFORM support_status_tally_add(TG_TABLE_NAME::text, OLD.status, -1);
        PERFORM support_status_tally_add(TG_TABLE_NAME::text, NEW.status, 1);
    ELSE
        PERFORM support_status_tally_add(TG_TABLE_NAME::text, NEW.status, 1);
        PERFORM support_status_tally_add(TG_TABLE_NAME::text, OLD.status, -1);
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER support_conversation_tally_rows AFTER INSERT OR DELETE ON support_conversation
    FOR EACH ROW EXECUTE FUNCTION support_status_tally();
CREATE TRIGGER support_conversation_tally_update AFTER UPDATE ON support_conversation
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION support_status_tally();
CREATE TRIGGER support_webhookdelivery_tally_rows AFTER INSERT OR DELETE
    ON support_webhookdelivery FOR EACH ROW EXECUTE FUNCTION support_status_tally();
CREATE TRIGGER support_webhookdelivery_tally_update AFTER UPDATE ON support_webhookdelivery
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION support_status_tally();

CREATE FUNCTION support_tally_truncated() RETURNS trigger AS $$
BEGIN
    IF TG_TABLE_NAME = 'support_draft' THEN
        DELETE FROM support_drafttally;
    ELSE
        DELETE FROM support_statustally WHERE kind = TG_TABLE_NAME;
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER support_draft_tally_truncate AFTER TRUNCATE ON support_draft
    FOR EACH STATEMENT EXECUTE FUNCTION support_tally_truncated();
CREATE TRIGGER support_conversation_tally_truncate AFTER TRUNCATE ON support_conversation
    FOR EACH STATEMENT EXECUTE FUNCTION support_tally_truncated();
CREATE TRIGGER support_webhookdelivery_tally_truncate AFTER TRUNCATE ON support_webhookdelivery
    FOR EACH STATEMENT EXECUTE FUNCTION support_tally_truncated();
"""

DROP_SQL = """
DROP TRIGGER support_webhookdelivery_tally_truncate ON support_webhookdelivery;
DROP TRIGGER support_conversation_tally_truncate ON support_conversation;
DROP TRIGGER support_draft_tally_truncate ON support_draft;
DROP FUNCTION support_tally_truncated();
DROP TRIGGER support_webhookdelivery_tally_update ON support_webhookdelivery;
DROP TRIGGER support_webhookdelivery_tally_rows ON support_webhookdelivery;
DROP TRIGGER support_conversation_tally_update ON support_conversation;
DROP TRIGGER support_conversation_tally_rows ON support_conversation;
DROP FUNCTION support_status_tally();
DROP FUNCTION support_status_tally_add(text, text, integer);
DROP TRIGGER support_draft_tally_update ON support_draft;
DROP TRIGGER support_draft_tally_rows ON support_draft;
DROP FUNCTION support_draft_tally();
DROP FUNCTION support_draft_tally_add(support_draft, integer);
"""

FILL_SQL = """
INSERT INTO support_drafttally (shard, status, escalation_reason, drafts, completed, le_0_5,
    le_1, le_2, le_5, le_10, le_30, le_60, le_120, le_300, seconds_to_draft, tokens, cost)
SELECT 0, status, escalation_reason, count(*), count(took),
    count(*) FILTER (WHERE took <= 0.5), count(*) FILTER (WHERE took <= 1),
    count(*) FILTER (WHERE took <= 2), count(*) FILTER (WHERE took <= 5),
    count(*) FILTER (WHERE took <= 10), count(*) FILTER (WHERE took <= 30),
    count(*) FILTER (WHERE took <= 60), count(*) FILTER (WHERE took <= 120),
    count(*) FILTER (WHERE took <= 300), coalesce(sum(took), 0), sum(tokens), sum(cost)
FROM (SELECT *, extract(epoch FROM completed_at - created_at)::double precision AS took
      FROM support_draft) AS d
GROUP BY status, escalation_reason;
INSERT INTO support_statustally (kind, shard, status, rows)
SELECT 'support_conversation', 0, status, count(*) FROM support_conversation GROUP BY status;
INSERT INTO support_statustally (kind, shard, status, rows)
SELECT 'support_webhookdelivery', 0, status, count(*) FROM support_webhookdelivery
GROUP BY status;
"""


class Migration(migrations.Migration):
    dependencies = [("support", "0032_review_verdict_and_reply_draft")]

    operations = [
        migrations.CreateModel(
            name="StatusTally",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("kind", models.CharField(max_length=64)),
                ("shard", models.SmallIntegerField()),
                ("status", models.CharField(max_length=16)),
                ("rows", models.BigIntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("kind", "shard", "status"), name="status_tally_key"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="DraftTally",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("shard", models.SmallIntegerField()),
                ("status", models.CharField(max_length=16)),
                ("escalation_reason", models.CharField(blank=True, max_length=32)),
                ("drafts", models.BigIntegerField(default=0)),
                ("completed", models.BigIntegerField(default=0)),
                ("le_0_5", models.BigIntegerField(default=0)),
                ("le_1", models.BigIntegerField(default=0)),
                ("le_2", models.BigIntegerField(default=0)),
                ("le_5", models.BigIntegerField(default=0)),
                ("le_10", models.BigIntegerField(default=0)),
                ("le_30", models.BigIntegerField(default=0)),
                ("le_60", models.BigIntegerField(default=0)),
                ("le_120", models.BigIntegerField(default=0)),
                ("le_300", models.BigIntegerField(default=0)),
                ("seconds_to_draft", models.FloatField(default=0)),
                ("tokens", models.BigIntegerField(default=0)),
                ("cost", models.DecimalField(decimal_places=6, default=0, max_digits=18)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("shard", "status", "escalation_reason"), name="draft_tally_key"
                    )
                ],
            },
        ),
        migrations.RemoveIndex(model_name="draft", name="draft_status_created_idx"),
        migrations.AddIndex(
            model_name="draft",
            index=models.Index(
                fields=["status", "-created_at", "-id"], name="draft_status_created_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="draft",
            index=models.Index(fields=["-created_at", "-id"], name="draft_created_idx"),
        ),
        migrations.RemoveIndex(model_name="draft", name="draft_queue_order_idx"),
        migrations.AddIndex(
            model_name="draft",
            index=models.Index(
                models.Case(models.When(status="PENDING", then=1), default=0),
                models.Case(
                    models.When(then=0, urgency="HIGH"),
                    models.When(then=1, urgency="NORMAL"),
                    models.When(then=2, urgency="LOW"),
                    default=3,
                ),
                models.F("created_at"),
                models.F("id"),
                models.F("status"),
                condition=models.Q(("status__in", ("PENDING", "SUGGESTED", "ESCALATED"))),
                name="draft_queue_order_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(fields=["updated_at"], name="conversation_updated_idx"),
        ),
        migrations.AddIndex(
            model_name="auditlog",
            index=models.Index(
                KeyTransform("customer_ref", "metadata"), name="audit_customer_ref_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="webhookdelivery",
            index=models.Index(
                KeyTransform("conversation_id", "payload"), name="delivery_conversation_idx"
            ),
        ),
        migrations.RunSQL(TALLY_SQL, DROP_SQL),
        migrations.RunSQL(
            FILL_SQL,
            "DELETE FROM support_drafttally; DELETE FROM support_statustally;",
        ),
    ]
