"""The console's learning page (/console/learning/): open proposals ranked by impact, each with
its source conversations and what its kind needs to be judged (a revision as a diff of the
article, a guard rule with the past drafts it would have stopped, the messages of a triage
example); approve (title and answer editable) or dismiss with a reason, through
support/learning/ like the API and admin."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from knowledge.models import Proposal, ProposalKind, ProposalStatus
from resolver.audit_actor import Actor
from support import learning
from support.console.access import agent_required
from support.console.forms import first_error
from support.learning.guard_rules import WouldStop, recent_drafts, would_stop
from support.learning.revisions import Segment, word_diff
from support.models import Draft
from support.review import ReviewError

PAGE_SIZE = 50


class ApproveProposalForm(forms.Form):
    title = forms.CharField(max_length=300)
    answer = forms.CharField(max_length=8000)


class DismissProposalForm(forms.Form):
    reason = forms.CharField(max_length=2000, required=False)


@dataclass
class ProposalCard:
    proposal: Proposal
    diff: list[Segment] = field(default_factory=list)  # kb_edit: the article → the revision
    stops: WouldStop | None = None  # guard_rule: past drafts the pattern matches

    @classmethod
    def of(cls, proposal: Proposal, recent: list[Draft]) -> ProposalCard:
        card = cls(proposal)
        if proposal.kind == ProposalKind.KB_EDIT and proposal.document is not None:
            card.diff = word_diff(proposal.document.content, proposal.answer)
        if proposal.kind == ProposalKind.GUARD_RULE:
            try:
                card.stops = would_stop(proposal.answer, recent)
            except ReviewError:
                card.stops = None
        return card


@agent_required
def proposals(request: HttpRequest) -> HttpResponse:
    open_ones = list(Proposal.objects.open().select_related("document").by_impact()[:PAGE_SIZE])
    decided = (
        Proposal.objects.exclude(status=ProposalStatus.OPEN)
        .select_related("decided_by")
        .order_by("-decided_at")[:20]
    )
    # The drafts guard-rule patterns are checked against, read once for the page.
    rules = any(p.kind == ProposalKind.GUARD_RULE for p in open_ones)
    recent = recent_drafts() if rules else []
    return render(
        request,
        "console/learning.html",
        {"cards": [ProposalCard.of(p, recent) for p in open_ones], "decided": list(decided)},
    )


def _decide(
    request: HttpRequest, form: forms.Form, decide: Callable[[Actor, dict[str, Any]], Any]
) -> HttpResponse:
    if not form.is_valid():
        messages.error(request, first_error(form))
        return redirect("console:learning")
    try:
        decide(Actor.for_user(request.user), form.cleaned_data)
    except (ReviewError, Proposal.DoesNotExist) as exc:
        messages.error(request, getattr(exc, "detail", "no such proposal"))
        return redirect("console:learning")
    messages.success(request, "Done.")
    return redirect("console:learning")


@require_POST
@agent_required
def approve(request: HttpRequest, proposal_id: int) -> HttpResponse:
    return _decide(
        request,
        ApproveProposalForm(request.POST),
        lambda actor, data: learning.approve(proposal_id, actor, data["answer"], data["title"]),
    )


@require_POST
@agent_required
def dismiss(request: HttpRequest, proposal_id: int) -> HttpResponse:
    return _decide(
        request,
        DismissProposalForm(request.POST),
        lambda actor, data: learning.dismiss(proposal_id, actor, data["reason"]),
    )
