"""The dashboard's approval rate counted every REJECTED draft as a person's rejection, also the
drafts the system closed unanswered: superseded by a reprocess, their conversation resolved, their
customer erased (support/models/draft.py: SUPERSEDED, CLOSED_BY_*). A team that resolves
conversations with a draft still open saw its approval rate fall for nothing its agents judged.
The hourly rollups (migration 0037) now also count those closes, a draft's `reject_reason`
moves its contribution as its status does, and the stored rollups get the closes of the drafts
already written (under a lock taken first: no draft is written between the fill and the new
trigger)."""

from django.db import migrations, models

SPANS = "(VALUES (1::smallint, 'hour'), (24::smallint, 'day'))"

# The system's close markers, as support/models/draft.py spells them (a test checks they agree:
# support/tests/test_dashboard_rollups.py).
FUNCTION_SQL = """
CREATE FUNCTION support_closed_unanswered(status text, reject_reason text) RETURNS boolean AS $$
    SELECT status = 'REJECTED' AND reject_reason IN (
        'superseded by a reprocess', 'closed: the conversation was resolved',
        'closed: the customer''s data was erased')
$$ LANGUAGE sql IMMUTABLE;
"""
DROP_FUNCTION_SQL = "DROP FUNCTION support_closed_unanswered(text, text);"

# The closes of the drafts already written, added to shard 0 of their hour's and day's rows (a
# sum over shards is what means anything: a row of shard 0 holding only closes is one).
FILL_SQL = f"""
INSERT INTO support_drafthour AS t (hour, span, shard, status, escalation_reason, intent,
    automated, completed, drafts, unedited, edited_n, edit_sum, confidence_n, confidence_sum,
    tokens, cost, cites_learned, closed_unanswered)
SELECT date_trunc(g.unit, d.created_at, 'UTC'), g.span, 0, d.status, d.escalation_reason,
    d.intent, d.automated, d.completed_at IS NOT NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, count(*)
FROM support_draft d, {SPANS} AS g(span, unit)
WHERE support_closed_unanswered(d.status, d.reject_reason)
GROUP BY 2, 1, 4, 5, 6, 7, 8
ORDER BY 2, 1, 4, 5, 6, 7, 8
ON CONFLICT (span, hour, shard, status, escalation_reason, intent, automated, completed)
DO UPDATE SET closed_unanswered = t.closed_unanswered + EXCLUDED.closed_unanswered;
"""


def _apply_sql(closes: bool) -> str:
    """support_draft_rollup_apply as migrations 0037 and 0038 left it (the transaction's own
    shard), with the closes counted or (to undo) not."""
    column = ", closed_unanswered" if closes else ""
    value = (
        ", sum(CASE WHEN support_closed_unanswered((v.d).status, (v.d).reject_reason)"
        " THEN v.sign ELSE 0 END)"
        if closes
        else ""
    )
    update = (
        ", closed_unanswered = t.closed_unanswered + EXCLUDED.closed_unanswered" if closes else ""
    )
    return f"""
CREATE OR REPLACE FUNCTION support_draft_rollup_apply(old support_draft, new support_draft)
RETURNS void AS $$
DECLARE
    s smallint := support_write_shard();
BEGIN
    INSERT INTO support_drafthour AS t (hour, span, shard, status, escalation_reason, intent,
        automated, completed, drafts, unedited, edited_n, edit_sum, confidence_n, confidence_sum,
        tokens, cost, cites_learned{column})
    SELECT date_trunc(g.unit, (v.d).created_at, 'UTC'), g.span, s, (v.d).status,
        (v.d).escalation_reason, (v.d).intent, (v.d).automated, (v.d).completed_at IS NOT NULL,
        sum(v.sign), sum(CASE WHEN (v.d).edit_distance = 0 THEN v.sign ELSE 0 END),
        sum(CASE WHEN (v.d).edit_distance IS NULL THEN 0 ELSE v.sign END),
        sum(v.sign * coalesce((v.d).edit_distance, 0)),
        sum(CASE WHEN (v.d).confidence IS NULL THEN 0 ELSE v.sign END),
        sum(v.sign * coalesce((v.d).confidence, 0)), sum(v.sign * (v.d).tokens),
        sum(v.sign * (v.d).cost), sum(CASE WHEN (v.d).cites_learned THEN v.sign ELSE 0 END)
        {value}
    FROM (VALUES (old, -1), (new, 1)) AS v(d, sign), {SPANS} AS g(span, unit)
    WHERE (v.d).id IS NOT NULL
    GROUP BY 2, 1, 4, 5, 6, 7, 8
    ORDER BY 2, 1, 4, 5, 6, 7, 8
    ON CONFLICT (span, hour, shard, status, escalation_reason, intent, automated, completed)
    DO UPDATE SET
        drafts = t.drafts + EXCLUDED.drafts, unedited = t.unedited + EXCLUDED.unedited,
        edited_n = t.edited_n + EXCLUDED.edited_n, edit_sum = t.edit_sum + EXCLUDED.edit_sum,
        confidence_n = t.confidence_n + EXCLUDED.confidence_n,
        confidence_sum = t.confidence_sum + EXCLUDED.confidence_sum,
        tokens = t.tokens + EXCLUDED.tokens, cost = t.cost + EXCLUDED.cost,
        cites_learned = t.cites_learned + EXCLUDED.cites_learned{update};
    INSERT INTO support_drafthourhistogram AS t (hour, span, shard, measure, bucket, drafts,
        total)
    SELECT date_trunc(g.unit, (v.d).created_at, 'UTC'), g.span, s, m.measure, m.bucket,
        sum(v.sign), sum(v.sign * m.value)
    FROM (VALUES (old, -1), (new, 1)) AS v(d, sign), support_draft_measures(v.d) m,
        {SPANS} AS g(span, unit)
    WHERE (v.d).id IS NOT NULL
    GROUP BY 2, 1, 4, 5
    HAVING sum(v.sign) <> 0 OR sum(v.sign * m.value) <> 0
    ORDER BY 2, 1, 4, 5
    ON CONFLICT (span, hour, shard, measure, bucket) DO UPDATE SET
        drafts = t.drafts + EXCLUDED.drafts, total = t.total + EXCLUDED.total;
    INSERT INTO support_citationhour AS t (hour, span, shard, kb_id, title, citations)
    SELECT date_trunc(g.unit, (v.d).created_at, 'UTC'), g.span, s, c.kb_id, c.title,
        sum(v.sign)
    FROM (VALUES (old, -1), (new, 1)) AS v(d, sign), support_draft_citations(v.d) c,
        {SPANS} AS g(span, unit)
    WHERE (v.d).id IS NOT NULL
    GROUP BY 2, 1, 4, 5
    HAVING sum(v.sign) <> 0
    ORDER BY 2, 1, 4, 5
    ON CONFLICT (span, hour, shard, kb_id, title) DO UPDATE SET
        citations = t.citations + EXCLUDED.citations;
END $$ LANGUAGE plpgsql;
"""


def _update_trigger_sql(closes: bool) -> str:
    """The rollup's UPDATE trigger of migration 0037, also fired when only the reject reason
    changes (a close marker set or cleared moves the draft between rejected and closed)."""
    reason = "OR OLD.reject_reason IS DISTINCT FROM NEW.reject_reason" if closes else ""
    return f"""
DROP TRIGGER support_draft_rollup_update ON support_draft;
CREATE TRIGGER support_draft_rollup_update AFTER UPDATE ON support_draft FOR EACH ROW
    WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at
          OR OLD.status IS DISTINCT FROM NEW.status
          OR OLD.escalation_reason IS DISTINCT FROM NEW.escalation_reason
          OR OLD.intent IS DISTINCT FROM NEW.intent
          OR OLD.automated IS DISTINCT FROM NEW.automated
          OR OLD.completed_at IS DISTINCT FROM NEW.completed_at
          OR OLD.reviewed_at IS DISTINCT FROM NEW.reviewed_at
          OR OLD.latency_ms IS DISTINCT FROM NEW.latency_ms
          OR OLD.edit_distance IS DISTINCT FROM NEW.edit_distance
          OR OLD.confidence IS DISTINCT FROM NEW.confidence
          OR OLD.tokens IS DISTINCT FROM NEW.tokens OR OLD.cost IS DISTINCT FROM NEW.cost
          OR OLD.citations IS DISTINCT FROM NEW.citations
          OR OLD.cites_learned IS DISTINCT FROM NEW.cites_learned
          {reason})
    EXECUTE FUNCTION support_draft_rollup();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("support", "0040_message_ignored_spam"),
    ]

    operations = [
        # Draft writers first, before the rollup table is altered: a writer locks the draft,
        # then its trigger the rollup rows, so taking them the other way round deadlocked with
        # a live writer. Held to the end: no draft is written between the fill and the trigger.
        migrations.RunSQL("LOCK TABLE support_draft IN SHARE MODE", migrations.RunSQL.noop),
        migrations.AddField(
            model_name="drafthour",
            name="closed_unanswered",
            field=models.BigIntegerField(
                default=0, help_text="Rejected drafts the system closed unanswered, not a person."
            ),
        ),
        migrations.RunSQL(FUNCTION_SQL, DROP_FUNCTION_SQL),
        migrations.RunSQL(FILL_SQL, migrations.RunSQL.noop),
        migrations.RunSQL(_apply_sql(closes=True), _apply_sql(closes=False)),
        migrations.RunSQL(_update_trigger_sql(closes=True), _update_trigger_sql(closes=False)),
    ]
