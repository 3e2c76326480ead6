"""The business profile and the enabled guard rules are kept per process between drafts
(agents/fingerprinted.py, #30), and an edit (the admin's, an audited switch, a bare UPDATE, a
deletion) shows in the very next read: nothing stale is served."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from agents.guard.learned import load_guard_rules
from agents.profile import load_profile
from knowledge.models import GuardRule
from resolver.audit_actor import Actor
from support.learning.guard_rules import set_enabled
from support.models import BusinessProfile

pytestmark = pytest.mark.django_db


def _edit_in_admin(client: Client, **changes: str) -> None:
    profile = BusinessProfile.load()
    profile.save()
    form = {**profile.values(), "live_chat_label": profile.live_chat_label}
    form.pop("live_chat")
    form = {**form, "labels": json.dumps(profile.labels), **changes}
    response = client.post("/admin/support/businessprofile/1/change/", form)
    assert response.status_code == 302, response.content[:2000]


def test_an_admins_edit_of_the_profile_reaches_the_next_draft(admin_client: Client) -> None:
    assert load_profile().values["company_name"] == "Northwind Outfitters"  # cached now
    _edit_in_admin(admin_client, company_name="Acme Outdoor", labels='{"Cart": "Basket"}')
    profile = load_profile()
    assert profile.values["company_name"] == "Acme Outdoor"
    assert profile.labels == {"Cart": "Basket"}
    # Even a write that bypasses save() (no updated_at) is seen: the fingerprint is the row's.
    BusinessProfile.objects.filter(pk=1).update(support_phone="+1 555 0199")
    assert load_profile().values["support_phone"] == "+1 555 0199"
    BusinessProfile.objects.all().delete()
    assert load_profile().values["company_name"] == "Northwind Outfitters"


def test_an_unchanged_profile_is_one_small_query(django_assert_num_queries: Any) -> None:
    BusinessProfile(company_name="Acme Outdoor").save()
    first = load_profile()
    with django_assert_num_queries(1):  # the fingerprint; no row read, no model built
        again = load_profile()
    assert again is first
    named = load_profile("Ada")
    assert (named.customer_name, named.values) == ("Ada", first.values)
    assert first.customer_name == ""  # the cached copy is not changed for one customer


def test_switching_a_guard_rule_reaches_the_next_draft() -> None:
    rule = GuardRule.objects.create(pattern=r"\bwaive\b", description="no waivers")
    assert load_guard_rules() == ()
    admin = Actor.system("test")
    set_enabled(rule.pk, admin, True)
    assert [r.pattern.pattern for r in load_guard_rules()] == [r"\bwaive\b"]
    GuardRule.objects.filter(pk=rule.pk).update(pattern=r"\brefund\b")  # same count, same time
    assert [r.pattern.pattern for r in load_guard_rules()] == [r"\brefund\b"]
    other = GuardRule.objects.create(pattern=r"\bfree\b", description="x", enabled=True)
    assert [r.rule_id for r in load_guard_rules()] == [rule.pk, other.pk]
    set_enabled(rule.pk, admin, False)
    assert [r.rule_id for r in load_guard_rules()] == [other.pk]
    other.delete()
    assert load_guard_rules() == ()


def test_unchanged_rules_are_one_small_query(django_assert_num_queries: Any) -> None:
    GuardRule.objects.create(pattern=r"\bwaive\b", description="no waivers", enabled=True)
    first = load_guard_rules()
    with django_assert_num_queries(1):
        assert load_guard_rules() is first
