"""Whether anything may be sent without a human at all (#29): AUTONOMY_ENABLED, the
environment's master switch (off by default), AND the console's kill switch (AutonomySwitch,
flipped on the Autonomy page without a deploy). Either off: the ladder is still computed and
shown, every draft waits for a human. support/autosend.py asks autonomy_on() under its locks."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from resolver.audit_actor import Actor
from support.models import AuditAction, AuditLog, AutonomySwitch

logger = logging.getLogger(__name__)


def console_switch_on() -> bool:
    """The console's kill switch: on until a lead turns it off (no row = on)."""
    row = AutonomySwitch.objects.filter(pk=1).only("on").first()
    return row is None or row.on


def autonomy_on() -> bool:
    return bool(settings.AUTONOMY_ENABLED) and console_switch_on()


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
