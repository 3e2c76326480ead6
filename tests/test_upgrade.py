"""An install upgrades with its data: `migrate` on a database an older version migrated and
filled, as a team running an older Resolver does. Real subprocesses on a database of its own on
the test PostgreSQL server; the rows are written at the old schema with SQL, as that version's
code stored them."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "resolver_upgrade_test"


def _connect(dbname: str) -> psycopg.Connection[Any]:
    conf = connection.settings_dict
    return psycopg.connect(
        dbname=dbname,
        user=conf["USER"],
        password=conf["PASSWORD"] or None,
        host=conf["HOST"],
        port=conf["PORT"] or None,
        autocommit=True,
    )


@pytest.fixture
def old_install(db: None) -> Iterator[str]:
    """A database of its own (dropped after), its URL."""
    conf = connection.settings_dict
    with _connect(conf["NAME"]) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        admin.execute(f"CREATE DATABASE {DATABASE}")
    url = f"postgresql://{conf['USER']}@/{DATABASE}?host={conf['HOST']}"
    if not conf["HOST"].startswith("/"):
        url = f"postgresql://{conf['USER']}@{conf['HOST']}:{conf['PORT'] or 5432}/{DATABASE}"
    if conf["PASSWORD"]:
        url = url.replace(f"{conf['USER']}@", f"{conf['USER']}:{conf['PASSWORD']}@", 1)
    try:
        yield url
    finally:
        with _connect(conf["NAME"]) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


# What the old code's model defaults stored in a NOT NULL column the test does not name.
BLANKS = {
    "character varying": "",
    "text": "",
    "jsonb": "{}",
    "boolean": False,
    "integer": 0,
    "bigint": 0,
    "smallint": 0,
    "double precision": 0.0,
    "numeric": 0,
}


def insert(db: psycopg.Connection[Any], table: str, **values: Any) -> None:
    """A row as the old version's models stored it: the named values, blanks elsewhere."""
    columns = db.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s "
        "AND is_nullable = 'NO' AND column_default IS NULL AND is_identity = 'NO'",
        [table],
    ).fetchall()
    row = dict(values)
    for name, kind in columns:
        if name not in row:
            row[name] = "now()" if kind.startswith("timestamp") else BLANKS[kind]
    names = ", ".join(row)
    marks = ", ".join("now()" if value == "now()" else "%s" for value in row.values())
    params = [value for value in row.values() if value != "now()"]
    db.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", params)


def migrate(url: str, *target: str) -> None:
    env = {**os.environ, "DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", *target],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]


def test_an_old_install_with_customers_conversations_and_orders_upgrades(
    old_install: str,
) -> None:
    # Before the e-mail channel (support 0017): a customer's conversation, channels upper-case,
    # and two orders whose numbers differ only in case (the unique constraint then was
    # case-sensitive). 0018 failed with "pending trigger events" on the first, 0028 on the
    # second.
    migrate(old_install, "support", "0017")
    customer, conversation = 41, uuid.uuid4()
    with _connect(DATABASE) as old:
        insert(old, "support_customer", id=customer, ref="cust-41", name="Ana")
        insert(
            old,
            "support_conversation",
            id=conversation,
            customer_ref="cust-41",
            customer_id=customer,
            channel="API",
            status="OPEN",
        )
        for number, saved in (("ord-2001", "2026-11-01T10:00Z"), ("ORD-2001", "2026-11-02T10:00Z")):
            insert(
                old,
                "support_order",
                number=number,
                status="SHIPPED",
                updated_at=saved,
                customer_id=customer,
            )
    migrate(old_install)
    with _connect(DATABASE) as new:
        channel, token = new.execute(
            "SELECT channel, thread_token FROM support_conversation WHERE id = %s",
            [conversation],
        ).fetchone()  # type: ignore[misc]
        numbers = [row[0] for row in new.execute("SELECT number FROM support_order ORDER BY id")]
    assert channel == "api" and len(token) == 13
    # The most recently saved keeps its number; the other is kept, renamed.
    assert numbers == ["ord-2001~2", "ORD-2001"]


def test_a_build_with_the_earlier_0044_upgrades(old_install: str) -> None:
    """Builds of one day applied an earlier 0044 (`refunded_reported_at`) and the 0045 after
    it; the 0044 that replaced it made their `migrate` stop ("InconsistentMigrationHistory")."""
    migrate(old_install, "support", "0045")
    with _connect(DATABASE) as old:  # that day's schema and history, with a reported order
        old.execute("ALTER TABLE support_order RENAME COLUMN reported_at TO refunded_reported_at")
        old.execute(
            "UPDATE django_migrations SET name = '0044_order_refunded_reported_at' "
            "WHERE app = 'support' AND name = '0044_order_reported_at'"
        )
        insert(old, "support_customer", id=7, ref="cust-7")
        for number, reported in (("ORD-1", "2026-12-06T09:00Z"), ("ORD-2", None)):
            insert(
                old,
                "support_order",
                number=number,
                status="SHIPPED",
                currency="EUR",
                customer_id=7,
                updated_at="2026-12-06T12:00Z",
                refunded_reported_at=reported,
            )
    migrate(old_install)
    with _connect(DATABASE) as new:
        reports = dict(
            new.execute("SELECT number, reported_at::text FROM support_order ORDER BY number")
        )
        columns = {
            row[0]
            for row in new.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'support_order'"
            )
        }
        applied = {row[0] for row in new.execute("SELECT name FROM django_migrations")}
    # The store's report kept; an order it never reported counts as reported when last saved.
    assert reports == {"ORD-1": "2026-12-06 09:00:00+00", "ORD-2": "2026-12-06 12:00:00+00"}
    assert "refunded_reported_at" not in columns
    assert {"0044_order_reported_at", "0049_order_reported_at_reconciled"} <= applied
