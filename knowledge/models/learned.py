"""What approved proposals leave behind besides articles: triage examples `train_triage` adds to
its training rows, and policy guard rules, off until an admin enables them."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.functions import MD5

from knowledge.rule_patterns import compile_rule


class TriageExample(models.Model):
    """A customer message with the intent and category a human gave it."""

    text = models.TextField()
    intent = models.CharField(max_length=64)
    category = models.CharField(max_length=64, blank=True)
    proposal = models.ForeignKey(
        "knowledge.Proposal", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # On a hash of the text: a B-tree entry holds at most ~2.7 kB, a message more.
            models.UniqueConstraint(MD5("text"), "intent", name="triageexample_text_intent_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.intent}: {self.text[:60]}"


class GuardRuleQuerySet(models.QuerySet["GuardRule"]):
    def enabled(self) -> GuardRuleQuerySet:
        return self.filter(enabled=True)


class GuardRule(models.Model):
    """A pattern the policy guard stops drafts on (case-insensitive regular expression over one
    sentence), learned from drafts agents rejected for policy."""

    pattern = models.CharField(max_length=500)
    description = models.CharField(max_length=300)
    # A learned rule may stop good drafts: it waits for an admin to enable it.
    enabled = models.BooleanField(default=False)
    proposal = models.ForeignKey(
        "knowledge.Proposal", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = GuardRuleQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["enabled"], name="guardrule_enabled_idx")]

    def __str__(self) -> str:
        return f"{'on' if self.enabled else 'off'}: {self.description}"

    def compiled(self) -> Any:
        """The pattern as the guard searches with it (knowledge/rule_patterns.py)."""
        return compile_rule(self.pattern)
