"""An install that applied the earlier 0044 (support/management/commands/migrate.py renames its
row in django_migrations) has the store's last report as `refunded_reported_at` and no
`reported_at`: renamed, and filled from `updated_at` where the store never reported, as 0044
fills it. Its earlier 0045 also let a message's ignored reason be 'erased', which no stored
message has: the constraint is set back to the model's. Nothing happens on any other install."""

from django.db import migrations

RECONCILE = """
DO $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'support_order'
          AND column_name = 'refunded_reported_at'
    ) THEN
        IF EXISTS (
            SELECT 1 FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = 'support_order'
              AND column_name = 'reported_at'
        ) THEN
            UPDATE support_order SET reported_at = coalesce(refunded_reported_at, reported_at);
            ALTER TABLE support_order DROP COLUMN refunded_reported_at;
        ELSE
            ALTER TABLE support_order RENAME COLUMN refunded_reported_at TO reported_at;
        END IF;
        UPDATE support_order SET reported_at = updated_at WHERE reported_at IS NULL;
        ALTER TABLE support_message DROP CONSTRAINT IF EXISTS message_ignored_reason_valid;
        ALTER TABLE support_message ADD CONSTRAINT message_ignored_reason_valid CHECK (
            ignored_reason IN (
                'auto_reply', 'bounce', 'loop', 'own_address', 'mailing_list', 'rate_limited',
                'spam', ''
            )
        );
    END IF;
END
$$;
"""


class Migration(migrations.Migration):

    dependencies = [
        ("support", "0048_admin_list_indexes"),
    ]

    operations = [migrations.RunSQL(RECONCILE, migrations.RunSQL.noop)]
