"""GET /autonomy (CONTRACTS.md, with additions): every intent of the taxonomy and any with a
rung, its mode and the evidence behind it since its last demotion (the reviewed suggestions at or
above the threshold, all of them for context); scope read."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from knowledge.taxonomy import intents
from resolver.audit_actor import Actor
from support import review
from support.autonomy.evidence import wilson_lower_bound
from support.tests.autonomy_fixtures import make_auto
from support.tests.conftest import API, MakeDraft, key_client

pytestmark = pytest.mark.django_db
CONTRACT_KEYS = {
    "intent",
    "mode",
    "reviewed",
    "sent_unchanged",
    "lower_bound",
    "since",
    "demoted_at",
}
ADDITIONS = {
    "allowed",
    "canary",
    "demoted_reason",
    "min_confidence",
    "enabled",
    "threshold",
    "all_reviewed",
}


def _items(**query: Any) -> dict[str, Any]:
    response = key_client("read").get(f"{API}/autonomy", query)
    assert response.status_code == 200, response.content
    return {item["intent"]: item for item in response.json()["items"]}


def test_every_intent_is_listed_with_its_evidence(
    small_kb: object, make_draft: MakeDraft, agent_user: User, settings: Any
) -> None:
    actor = Actor.for_user(agent_user)
    for n in range(3):
        review.approve(make_draft(f"where is NW-{n}?", customer_ref=f"c{n}").pk, actor)
    review.reject(make_draft("and NW-9?", customer_ref="c9").pk, actor, "wrong")
    make_auto("recover_password", settings, min_confidence=0.75, canary=True)

    items = _items()

    assert set(intents()) <= set(items) and "track_order" in items
    assert list(items) == sorted(items)
    track = items["track_order"]
    assert set(track) == CONTRACT_KEYS | ADDITIONS
    assert (track["mode"], track["reviewed"], track["sent_unchanged"]) == ("review", 4, 3)
    assert track["lower_bound"] == pytest.approx(wilson_lower_bound(3, 4), abs=1e-4)
    # No threshold earns auto yet: the evidence behind the rung is all of it.
    assert track["threshold"] is None
    assert track["all_reviewed"] == {
        k: track[k] for k in ("reviewed", "sent_unchanged", "lower_bound")
    }
    assert (track["allowed"], track["canary"], track["demoted_reason"]) == (True, False, None)
    password = items["recover_password"]
    assert (password["mode"], password["canary"], password["min_confidence"]) == (
        "auto",
        True,
        0.75,
    )
    assert password["since"] is not None and password["enabled"] is True


def test_enabled_follows_the_setting(small_kb: object, settings: Any) -> None:
    settings.AUTONOMY_ENABLED = False
    assert {item["enabled"] for item in _items().values()} == {False}


def test_scope_read_is_needed(db: None) -> None:
    assert key_client("ingest").get(f"{API}/autonomy").status_code == 403
    assert key_client("read").get(f"{API}/autonomy").status_code == 200
