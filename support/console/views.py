"""Console pages and actions. Thin: screens.py gathers, support/review.py acts, the templates'
partials render both the full page and the htmx/WebSocket updates."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_htmx.middleware import HtmxDetails

from knowledge import taxonomy
from knowledge.models import KBDocument
from resolver.audit_actor import Actor
from resolver.errors import ClientError
from support import review
from support.actions import decide
from support.console import dashboard as dashboard_screen
from support.console.access import agent_required
from support.console.actions import arguments_from
from support.console.filters import QueueFilter
from support.console.forms import (
    ApproveForm,
    CorrectForm,
    RejectForm,
    RelabelForm,
    ReplyForm,
    first_error,
)
from support.console.screens import ConversationScreen, QueueScreen
from support.models import Action, Conversation, Draft, EmailEnvelope, Message

# The original e-mail's page (email_original): its sanitised HTML may style itself inline and show
# images embedded as data: or its own inline images (receiving rewrote their cid: references to
# /api/v1/attachments/{id}, same origin, the agent's session), and nothing else: no script at all,
# no request to anyone else (a remote image would tell the sender the mail was read), no form, no
# frame. No `sandbox`: its opaque origin would send those image requests without the session.
ORIGINAL_EMAIL_POLICY = (
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


@agent_required
def queue(request: HttpRequest) -> HttpResponse:
    filters = QueueFilter.from_query(request.GET)
    context = {**QueueScreen.load(filters).context(), "intents": taxonomy.intents()}
    return render(request, "console/queue.html", context)


@agent_required
def conversation(request: HttpRequest, conversation_id: uuid.UUID) -> HttpResponse:
    try:
        screen = ConversationScreen.load(conversation_id)
    except Conversation.DoesNotExist:
        raise Http404("No such conversation") from None
    return render(request, "console/conversation.html", screen.context())


def _respond(
    request: HtmxHttpRequest, conversation_id: Any, error: str = "", status: int = 200
) -> HttpResponse:
    """htmx: the conversation's live fragments (swapped out of band, like a push); otherwise
    back to the conversation page (post/redirect/get) with the error as a flash message."""
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect("console:conversation", conversation_id=conversation_id)
    context = {**ConversationScreen.load(conversation_id).context(), "oob": True, "error": error}
    return render(request, "console/_conversation_live.html", context, status=status)


def _act(
    request: HtmxHttpRequest, conversation_id: Any, action: Callable[[Actor], Any]
) -> HttpResponse:
    try:
        action(Actor.for_user(request.user))
    except ClientError as exc:  # a review's or an action's refusal
        return _respond(request, conversation_id, exc.detail, exc.status_code)
    return _respond(request, conversation_id)


def _draft_conversation(draft_id: uuid.UUID) -> Any:
    return get_object_or_404(Draft.objects.only("conversation_id"), pk=draft_id).conversation_id


def _draft_form(
    request: HtmxHttpRequest,
    draft_id: uuid.UUID,
    form: forms.Form,
    action: Callable[[Actor, forms.Form], Any],
) -> HttpResponse:
    """A review action on a draft with a form body: 422 with the form's first error, else the
    action (through _act)."""
    conversation_id = _draft_conversation(draft_id)
    if not form.is_valid():
        return _respond(request, conversation_id, first_error(form), 422)
    return _act(request, conversation_id, lambda actor: action(actor, form))


@require_POST
@agent_required
def approve(request: HtmxHttpRequest, draft_id: uuid.UUID) -> HttpResponse:
    return _draft_form(
        request,
        draft_id,
        ApproveForm(request.POST),
        lambda actor, form: review.approve(
            draft_id,
            actor,
            form.edited_text(),  # type: ignore[attr-defined]
            basis=form.basis_digest(),  # type: ignore[attr-defined]
        ),
    )


@require_POST
@agent_required
def reject(request: HtmxHttpRequest, draft_id: uuid.UUID) -> HttpResponse:
    return _draft_form(
        request,
        draft_id,
        RejectForm(request.POST),
        lambda actor, form: review.reject(
            draft_id, actor, form.cleaned_data["reason"], form.cleaned_data["category"]
        ),
    )


@require_POST
@agent_required
def relabel(request: HtmxHttpRequest, draft_id: uuid.UUID) -> HttpResponse:
    """An agent corrects the draft's intent (the learning loop turns it into a triage example)."""
    return _draft_form(
        request,
        draft_id,
        RelabelForm(request.POST),
        lambda actor, form: review.relabel(
            draft_id, actor, form.cleaned_data["intent"], form.cleaned_data["category"]
        ),
    )


@require_POST
@agent_required
def correct(request: HtmxHttpRequest, draft_id: uuid.UUID) -> HttpResponse:
    """An agent corrects a reply sent without a human: the correction goes to the customer and
    the draft's intent is taken back to review (review.correct; the activity shows both)."""
    return _draft_form(
        request,
        draft_id,
        CorrectForm(request.POST),
        lambda actor, form: review.correct(draft_id, actor, form.cleaned_data["text"]),
    )


@require_POST
@agent_required
def escalate(request: HtmxHttpRequest, draft_id: uuid.UUID) -> HttpResponse:
    conversation_id = _draft_conversation(draft_id)
    return _act(request, conversation_id, lambda actor: review.escalate(draft_id, actor))


@require_POST
@agent_required
def reprocess(request: HtmxHttpRequest, message_id: uuid.UUID) -> HttpResponse:
    message = get_object_or_404(Message.objects.only("conversation_id"), pk=message_id)
    return _act(request, message.conversation_id, lambda actor: review.reprocess(message_id, actor))


@require_POST
@agent_required
def reply(request: HtmxHttpRequest, conversation_id: uuid.UUID) -> HttpResponse:
    get_object_or_404(Conversation.objects.only("id"), pk=conversation_id)
    form = ReplyForm(request.POST)
    if not form.is_valid():
        return _respond(request, conversation_id, first_error(form), 422)
    body = form.cleaned_data["body"]
    return _act(
        request,
        conversation_id,
        lambda actor: review.write_to_customer(conversation_id, actor, body),
    )


@require_POST
@agent_required
def resolve(request: HtmxHttpRequest, conversation_id: uuid.UUID) -> HttpResponse:
    get_object_or_404(Conversation.objects.only("id"), pk=conversation_id)
    return _act(request, conversation_id, lambda actor: review.resolve(conversation_id, actor))


@require_POST
@agent_required
def approve_action(request: HtmxHttpRequest, action_id: uuid.UUID) -> HttpResponse:
    """Approves a proposed action with the arguments as the agent left them in its form."""
    action = get_object_or_404(
        Action.objects.only("name", "arguments", "conversation_id"), pk=action_id
    )

    def approve(actor: Actor) -> Action:
        return decide.approve(action_id, actor, arguments_from(action, request.POST))

    return _act(request, action.conversation_id, approve)


@require_POST
@agent_required
def reject_action(request: HtmxHttpRequest, action_id: uuid.UUID) -> HttpResponse:
    action = get_object_or_404(Action.objects.only("conversation_id"), pk=action_id)
    reason = request.POST.get("reason", "")
    return _act(
        request, action.conversation_id, lambda actor: decide.reject(action_id, actor, reason)
    )


@agent_required
def kb_document(request: HttpRequest, kb_id: int) -> HttpResponse:
    document = get_object_or_404(KBDocument, pk=kb_id)
    return render(request, "console/kb_document.html", {"document": document})


@agent_required
def dashboard(request: HttpRequest) -> HttpResponse:
    days = dashboard_screen.window_days(request.GET.get("days"))
    return render(request, "console/dashboard.html", dashboard_screen.figures(days))


@agent_required
def email_original(request: HttpRequest, message_id: uuid.UUID) -> HttpResponse:
    """A customer's e-mail as it was written: its HTML (sanitised when it was received) as a
    page of its own, under a policy that lets it run nothing and fetch only its own images."""
    envelope = get_object_or_404(EmailEnvelope.objects.only("html", "subject"), pk=message_id)
    if not envelope.html:
        raise Http404("This e-mail had no HTML part")
    response = render(
        request, "console/email_original.html", {"subject": envelope.subject, "html": envelope.html}
    )
    response["Content-Security-Policy"] = ORIGINAL_EMAIL_POLICY
    response["Referrer-Policy"] = "no-referrer"
    return response
