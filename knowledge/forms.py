from __future__ import annotations

import json
from typing import Any

from django import forms

from knowledge.ingest import READERS
from knowledge.ingest.specs import unstorable_json
from knowledge.models import KBDocument


class ImportForm(forms.Form):
    source = forms.ChoiceField(choices=[(name, name) for name in READERS])
    file = forms.FileField(
        help_text="bitext: responses.csv · abcd: guidelines.json · jsonl: one article per line · "
        "markdown: a .md/.txt file or a .zip of them"
    )


class TestSearchForm(forms.Form):
    q = forms.CharField(label="Query", max_length=2000)
    limit = forms.IntegerField(min_value=1, max_value=50, initial=10)
    intent = forms.CharField(required=False, help_text="optional: boost this intent")


class MetadataField(forms.JSONField):
    """An article's metadata box; shown as JSON even when it holds what clean_metadata refuses."""

    def prepare_value(self, value: Any) -> Any:
        shown = super().prepare_value(value)
        try:
            shown.encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate typed as "\ud83d": shown escaped, as typed, since a page holding
            # it cannot be encoded (a 500 instead of the form's error).
            return json.dumps(value, cls=self.encoder)
        return shown


def _revisions_ok(revisions: Any) -> bool:
    """Earlier versions of a revised article, as approving a revision proposal appends them
    (support/learning/decisions.py: `_revise_article`); anything else failed that approval."""
    return isinstance(revisions, list) and all(
        isinstance(revision, dict)
        and isinstance(revision.get("proposal"), int)
        and not isinstance(revision.get("proposal"), bool)
        and isinstance(revision.get("previous"), str)
        for revision in revisions
    )


class KBDocumentForm(forms.ModelForm):
    """The admin's article form. Its metadata is what the reindex chunks (ingest/upsert.py:
    desired_chunks reads `questions`, one chunk per string): anything else there left the article
    PENDING and re-queued for ever, chunked a string per character, or failed the save."""

    class Meta:
        model = KBDocument
        # What the admin edits (it passes its own list; this is the form's when used alone).
        fields = [
            "source",
            "external_id",
            "title",
            "content",
            "intent",
            "category",
            "language",
            "metadata",
            "status",
            "public",
        ]
        field_classes = {"metadata": MetadataField}

    def clean_metadata(self) -> dict[str, Any]:
        metadata = self.cleaned_data.get("metadata")
        if metadata is None:  # an emptied box: no metadata (the column is not nullable)
            return {}
        if not isinstance(metadata, dict):
            raise forms.ValidationError('Metadata must be a JSON object, e.g. {"questions": []}.')
        questions = metadata.get("questions")
        if questions is not None and not (
            isinstance(questions, list) and all(isinstance(q, str) and q.strip() for q in questions)
        ):
            raise forms.ValidationError(
                '"questions" must be a list of customer questions, each a non-empty string.'
            )
        if not _revisions_ok(metadata.get("revisions", [])):
            raise forms.ValidationError(
                '"revisions" must be a list of earlier versions as the learning loop keeps them, '
                'each {"proposal": <proposal id>, "previous": "<earlier text>"}; '
                "or leave it out."
            )
        if problem := unstorable_json(metadata):
            raise forms.ValidationError(f"Metadata {problem}.")
        return metadata
