"""Bodies of the console's actions. Django's CharField refuses NUL characters (which PostgreSQL
cannot store) and the length limits match the API's."""

from __future__ import annotations

from django import forms
from django.conf import settings

from support.models import RejectCategory

REASON_MAX_LENGTH = 2000


class ApproveForm(forms.Form):
    # Absent = send the draft as it is; present = the agent's (possibly edited) text.
    edited = forms.CharField(required=False, strip=False, max_length=settings.API_MESSAGE_MAX_BYTES)
    # The answer the box started from (Draft.answer_digest), kept with the box across pushes.
    basis = forms.CharField(required=False, max_length=64)

    def edited_text(self) -> str | None:
        return self.cleaned_data["edited"] if "edited" in self.data else None

    def basis_digest(self) -> str | None:
        return self.cleaned_data["basis"] or None


class ReplyForm(forms.Form):
    body = forms.CharField(strip=False, max_length=settings.API_MESSAGE_MAX_BYTES)


class RejectForm(forms.Form):
    # The console asks for a reason: it is what the learning loop learns from.
    reason = forms.CharField(max_length=REASON_MAX_LENGTH)
    category = forms.ChoiceField(choices=[("", "—"), *RejectCategory.choices], required=False)


def first_error(form: forms.Form) -> str:
    field, errors = next(iter(form.errors.items()))
    return f"{field}: {errors[0]}"


class RelabelForm(forms.Form):
    intent = forms.CharField(max_length=64)
    category = forms.CharField(max_length=64, required=False)


class CorrectForm(forms.Form):
    # The correction of a reply sent without a human (review.correct), sent as a new reply.
    text = forms.CharField(strip=False, max_length=settings.API_MESSAGE_MAX_BYTES)
