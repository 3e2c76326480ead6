"""A transaction writes the tallies (0033) and the dashboard rollups (0037) into a shard no other
open transaction writes: `support_write_shard()`.

The shard was the backend's pid % 16. Two sessions whose pids share a shard add to the same rows,
and a transaction that changes drafts in several statements (a message stored, an older draft
superseded; a draft written, then updated) takes those rows' locks statement by statement, so two
such transactions could each wait for a row the other held: `bench/agent.py` hit "deadlock
detected" in POST /messages' transaction within a minute of load. Now the first tally or rollup
write of a transaction claims a shard with `pg_try_advisory_xact_lock` (its pid's first, then the
next free one), never waiting: no two open transactions add to the same row, so none waits on
another for one. The claim lasts until the transaction ends (the setting is transaction-local).
With every shard claimed (16 transactions writing drafts at once) it waits for its pid's shard,
as before. Readers sum every shard, unchanged."""

from django.db import migrations

SHARDS = 16
LOCK_CLASS = 31030  # the advisory-lock namespace of these shards (the first key)
OLD = "pg_backend_pid() % 16"
NEW = "support_write_shard()"
FUNCTIONS = ("support_draft_tally_add", "support_status_tally_add", "support_draft_rollup_apply")

CREATE_SHARD = f"""
CREATE OR REPLACE FUNCTION support_write_shard() RETURNS smallint
LANGUAGE plpgsql AS $$
DECLARE
    claimed text := current_setting('support.write_shard', true);
    first integer := pg_backend_pid() % {SHARDS};
    shard integer;
BEGIN
    IF claimed IS NOT NULL AND claimed <> '' THEN
        RETURN claimed::smallint;
    END IF;
    FOR step IN 0..{SHARDS - 1} LOOP
        shard := (first + step) % {SHARDS};
        IF pg_try_advisory_xact_lock({LOCK_CLASS}, shard) THEN
            PERFORM set_config('support.write_shard', shard::text, true);
            RETURN shard;
        END IF;
    END LOOP;
    PERFORM pg_advisory_xact_lock({LOCK_CLASS}, first);
    PERFORM set_config('support.write_shard', first::text, true);
    RETURN first;
END
$$;
"""


def _rewrite(old: str, new: str) -> str:
    names = ", ".join(f"'{name}'" for name in FUNCTIONS)
    return f"""
DO $do$
DECLARE
    f oid;
BEGIN
    FOR f IN SELECT oid FROM pg_proc WHERE proname IN ({names}) LOOP
        EXECUTE replace(pg_get_functiondef(f), '{old}', '{new}');
    END LOOP;
END
$do$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("support", "0037_dashboard_hourly_rollups"),
    ]

    operations = [
        migrations.RunSQL(
            CREATE_SHARD + _rewrite(OLD, NEW),
            _rewrite(NEW, OLD) + "DROP FUNCTION IF EXISTS support_write_shard();",
        ),
    ]
