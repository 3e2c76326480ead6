"""The console's Autonomy page (/console/autonomy/, #29): the ladder per intent and the evidence
behind each rung, a switch per intent (support/autonomy/ladder.set_allowed) and the global kill
switch (support/autonomy/switch.py), both audited. htmx posts get the page's partial back (the
full page renders the same one); without htmx, post/redirect/get."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from resolver.audit_actor import Actor
from resolver.errors import ClientError
from support.autonomy import ladder, switch
from support.console.access import agent_required
from support.console.autonomy_screens import autonomy_context
from support.console.forms import first_error
from support.console.views import HtmxHttpRequest


class IntentSwitchForm(forms.Form):
    intent = forms.CharField(max_length=64)
    allowed = forms.BooleanField(required=False)  # absent = off


class KillSwitchForm(forms.Form):
    on = forms.BooleanField(required=False)  # absent = off


@agent_required
def autonomy_page(request: HttpRequest) -> HttpResponse:
    return render(request, "console/autonomy.html", autonomy_context())


def _answer(request: HtmxHttpRequest, error: str = "") -> HttpResponse:
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect("console:autonomy")
    context = {**autonomy_context(), "error": error}
    return render(request, "console/_autonomy.html", context, status=422 if error else 200)


@require_POST
@agent_required
def switch_intent(request: HtmxHttpRequest) -> HttpResponse:
    form = IntentSwitchForm(request.POST)
    if not form.is_valid():
        return _answer(request, first_error(form))
    try:
        ladder.set_allowed(
            form.cleaned_data["intent"], form.cleaned_data["allowed"], Actor.for_user(request.user)
        )
    except ClientError as exc:
        return _answer(request, exc.detail)
    return _answer(request)


@require_POST
@agent_required
def kill_switch(request: HtmxHttpRequest) -> HttpResponse:
    form = KillSwitchForm(request.POST)
    if not form.is_valid():
        return _answer(request, first_error(form))
    switch.set_console_switch(form.cleaned_data["on"], Actor.for_user(request.user))
    return _answer(request)
