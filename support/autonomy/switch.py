"""Whether anything may be sent without a human at all (#29): AUTONOMY_ENABLED, the
environment's master switch (off by default), AND the console's kill switch (AutonomySwitch,
flipped on the Autonomy page without a deploy). Either off: the ladder is still computed and
shown, every draft waits for a human. support/autosend.py asks autonomy_on() under its locks."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from resolver.audit_actor import Actor
from support.models import AuditAction, AuditLog, AutonomySwitch, IntentAutonomy
from support.vocabulary import AutonomyMode

logger = logging.getLogger(__name__)


def console_switch_on(lock: bool = False) -> bool:
    """The console's kill switch: on until a lead turns it off (no row = on). `lock`: read it
    FOR SHARE, held until the caller's transaction ends (a send in progress): flipping it takes
    the row FOR UPDATE, so it waits for the send, and once it commits no send reads it on."""
    if not lock:
        row = AutonomySwitch.objects.filter(pk=1).only("on").first()
        return row is None or row.on
    # A missing row is created (on) first: there would be nothing to lock, and a flip that
    # creates it could commit while the send goes on.
    AutonomySwitch.objects.bulk_create([AutonomySwitch(pk=1)], ignore_conflicts=True)
    table = AutonomySwitch._meta.db_table
    row = next(iter(AutonomySwitch.objects.raw(f"SELECT * FROM {table} WHERE id = 1 FOR SHARE")))
    return bool(row.on)


def autonomy_on(lock: bool = False) -> bool:
    return bool(settings.AUTONOMY_ENABLED) and console_switch_on(lock)


def still_sends_alone(intent: str) -> bool:
    """Whether an automatic reply of `intent` not yet delivered may still go out: auto-send is
    on and the intent's rung is auto and allowed. "Stop all auto-send" or a take-back after it
    was sent, while its e-mail waited for a retry, holds it (support/outbound.attempt)."""
    if not autonomy_on():
        return False
    rungs = IntentAutonomy.objects.filter(intent=intent, mode=AutonomyMode.AUTO, allowed=True)
    return rungs.exists()


def set_console_switch(on: bool, actor: Actor) -> AutonomySwitch:
    """Flips the kill switch, audited (AUTONOMY_SWITCHED with `global`); the intents' rungs are
    left as they are, so turning it back on resumes where the evidence stands."""
    with transaction.atomic():
        AutonomySwitch.objects.get_or_create(pk=1)
        row = AutonomySwitch.objects.select_for_update().get(pk=1)
        if row.on != on:
            before = {"on": row.on}
            row.on, row.changed_by = on, actor.label
            row.save()
            AuditLog.objects.record(
                actor,
                AuditAction.AUTONOMY_SWITCHED,
                conversation_id=None,
                before=before,
                after={"on": on},
                scope="global",
            )
            state = "on" if on else "off"
            transaction.on_commit(lambda: logger.warning("autonomy: kill switch %s", state))
    return row
